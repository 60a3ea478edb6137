package connect

import (
	"testing"

	"github.com/gregor-streaming/gregor/internal/config"
)

// Kafka's sample configurations, as shipped in config/, are valid as they
// are: the worker's parses with Kafka's defaults and the two FileStream
// connectors validate without errors.
func TestSampleConfigs(t *testing.T) {
	props, err := config.ReadPropertiesFile("../../config/connect-standalone.properties")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(props)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OffsetsFile != "/tmp/connect.offsets" || cfg.OffsetFlushInterval.Milliseconds() != 10000 ||
		cfg.BootstrapServers[0] != "localhost:9092" || cfg.Listeners[0].Host != ":8083" {
		t.Fatalf("connect-standalone.properties: %+v", cfg)
	}
	for file, want := range map[string]ConnectorType{
		"../../config/connect-file-source.properties": "source",
		"../../config/connect-file-sink.properties":   "sink",
	} {
		props, err := config.ReadPropertiesFile(file)
		if err != nil {
			t.Fatal(err)
		}
		infos, err := validateConnectorConfig(props, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := configErrors(infos); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if connectorType(props) != want {
			t.Fatalf("%s: type %s", file, connectorType(props))
		}
	}
}
