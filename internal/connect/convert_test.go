package connect

import (
	"testing"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// key.converter / value.converter with their prefixed settings come from
// the worker unless the connector names its own class, whose settings
// then come from the connector only (Kafka's Plugins.newConverter).
func TestNewConverters(t *testing.T) {
	cfg, err := ParseConfig(map[string]string{
		KeyConverterConfig:               "org.apache.kafka.connect.json.JsonConverter",
		ValueConverterConfig:             "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "false",
		OffsetStorageFileConfig:          "unused",
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &Worker{cfg: cfg}
	convert := func(c sdk.Converter) string {
		t.Helper()
		b, err := c.FromConnectData("t", sdk.StringSchema, "x")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	convs, err := w.newConverters(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if got := convert(convs.value); got != `"x"` {
		t.Fatalf("worker value converter wrote %s", got)
	}
	if got := convert(convs.key); got != `{"schema":{"type":"string","optional":false},"payload":"x"}` {
		t.Fatalf("worker key converter wrote %s", got)
	}

	// The connector's own JsonConverter does not inherit the worker's
	// value.converter.schemas.enable=false.
	convs, err = w.newConverters(map[string]string{ValueConverterConfig: "JsonConverter", KeyConverterConfig: "StringConverter"})
	if err != nil {
		t.Fatal(err)
	}
	if got := convert(convs.value); got != `{"schema":{"type":"string","optional":false},"payload":"x"}` {
		t.Fatalf("connector value converter wrote %s", got)
	}
	if got := convert(convs.key); got != "x" {
		t.Fatalf("connector key converter wrote %s", got)
	}
	convs, err = w.newConverters(map[string]string{ValueConverterConfig: "JsonConverter", "value.converter.schemas.enable": "false"})
	if err != nil || convert(convs.value) != `"x"` {
		t.Fatalf("connector value converter settings: %v", err)
	}
	if _, err := w.newConverters(map[string]string{ValueConverterConfig: "JsonConverter", "value.converter.decimal.format": "HEX"}); err == nil {
		t.Fatal("invalid converter setting accepted")
	}
}
