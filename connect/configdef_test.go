package connect

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func testDef() *ConfigDef {
	return NewConfigDef().
		Define(ConfigKey{Name: "host", Type: ConfigString, Default: NoDefaultValue, Validator: NonEmptyString(), Importance: ImportanceHigh, Documentation: "The host."}).
		Define(ConfigKey{Name: "port", Type: ConfigInt, Default: "8080", Validator: Between(1, 65535), Importance: ImportanceMedium}).
		Define(ConfigKey{Name: "retries", Type: ConfigShort, Default: 3, Importance: ImportanceLow}).
		Define(ConfigKey{Name: "timeout.ms", Type: ConfigLong, Default: "30000", Validator: AtLeast(0), Importance: ImportanceLow}).
		Define(ConfigKey{Name: "ratio", Type: ConfigDouble, Default: "0.5", Importance: ImportanceLow}).
		Define(ConfigKey{Name: "enabled", Type: ConfigBoolean, Default: "true", Importance: ImportanceLow}).
		Define(ConfigKey{Name: "tables", Type: ConfigList, Default: "", Importance: ImportanceLow}).
		Define(ConfigKey{Name: "mode", Type: ConfigString, Default: "bulk", Validator: In("bulk", "incrementing"), Importance: ImportanceLow}).
		Define(ConfigKey{Name: "password", Type: ConfigPassword, Default: nil, Importance: ImportanceLow, Group: "Security"})
}

func TestConfigDefParse(t *testing.T) {
	c, err := testDef().Parse(map[string]string{
		"host": " db ", "port": "5432", "tables": "a, b ,c", "enabled": "FALSE", "password": " secret ", "extra": "kept",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetString("host") != "db" || c.GetInt("port") != 5432 || c.GetShort("retries") != 3 ||
		c.GetLong("timeout.ms") != 30000 || c.GetDouble("ratio") != 0.5 || c.GetBool("enabled") ||
		!reflect.DeepEqual(c.GetList("tables"), []string{"a", "b", "c"}) || c.GetString("mode") != "bulk" {
		t.Fatalf("parsed %+v", c.values)
	}
	if p := c.GetPassword("password"); p.Value() != " secret " || p.String() != "[hidden]" {
		t.Fatalf("password %q", p.Value())
	}
	if c.Originals()["extra"] != "kept" || !reflect.DeepEqual(c.OriginalsWithPrefix("ta"), map[string]string{"bles": "a, b ,c"}) {
		t.Fatalf("originals %v", c.Originals())
	}
}

// Error messages are Kafka's ConfigException texts.
func TestConfigDefErrors(t *testing.T) {
	cases := []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{}, `Missing required configuration "host" which has no default value.`},
		{map[string]string{"host": ""}, "Invalid value  for configuration host: String must be non-empty"},
		{map[string]string{"host": "h", "port": "http"}, "Invalid value http for configuration port: Not a number of type INT"},
		{map[string]string{"host": "h", "port": "0"}, "Invalid value 0 for configuration port: Value must be at least 1"},
		{map[string]string{"host": "h", "port": "70000"}, "Invalid value 70000 for configuration port: Value must be no more than 65535"},
		{map[string]string{"host": "h", "port": "99999999999"}, "Invalid value 99999999999 for configuration port: Not a number of type INT"},
		{map[string]string{"host": "h", "enabled": "yes"}, "Invalid value yes for configuration enabled: Expected value to be either true or false"},
		{map[string]string{"host": "h", "mode": "x"}, "Invalid value x for configuration mode: String must be one of: bulk, incrementing"},
		{map[string]string{"host": "h", "ratio": "half"}, "Invalid value half for configuration ratio: Not a number of type DOUBLE"},
		{map[string]string{"host": "h", "timeout.ms": "-1"}, "Invalid value -1 for configuration timeout.ms: Value must be at least 0"},
	}
	d := testDef()
	for _, tc := range cases {
		_, err := d.Parse(tc.props)
		if !errors.Is(err, ErrConfig) || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("Parse(%v) = %v, want ...%s", tc.props, err, tc.want)
		}
	}
}

func TestConfigDefValidate(t *testing.T) {
	values := testDef().Validate(map[string]string{"port": "x", "mode": "incrementing"})
	if len(values) != 9 {
		t.Fatalf("%d values", len(values))
	}
	got := map[string][]string{}
	for _, v := range values {
		if len(v.Errors) > 0 {
			got[v.Name] = v.Errors
		}
		if v.Name == "mode" && v.Value != "incrementing" {
			t.Fatalf("mode value %v", v.Value)
		}
	}
	want := map[string][]string{
		"host": {`Missing required configuration "host" which has no default value.`},
		"port": {"Invalid value x for configuration port: Not a number of type INT"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("errors %v", got)
	}
}

func TestConfigDefMetadata(t *testing.T) {
	d := testDef()
	if !reflect.DeepEqual(d.Groups(), []string{"Security"}) {
		t.Fatalf("groups %v", d.Groups())
	}
	k, ok := d.Key("host")
	if !ok || !k.Required() {
		t.Fatal("host should be required")
	}
	k, _ = d.Key("port")
	if s, ok := FormatConfigValue(k.Default, k.Type); !ok || s != "8080" {
		t.Fatalf("port default %q", s)
	}
	if s, _ := FormatConfigValue([]string{"a", "b"}, ConfigList); s != "a,b" {
		t.Fatalf("list %q", s)
	}
	if s, _ := FormatConfigValue(Password("x"), ConfigPassword); s != "[hidden]" {
		t.Fatalf("password %q", s)
	}
	if _, ok := FormatConfigValue(nil, ConfigString); ok {
		t.Fatal("nil should be null")
	}
	mustPanic(t, "duplicate", func() { d.Clone().Define(ConfigKey{Name: "host", Type: ConfigString}) })
	mustPanic(t, "bad default", func() { NewConfigDef().Define(ConfigKey{Name: "n", Type: ConfigInt, Default: "x"}) })
	mustPanic(t, "invalid default", func() {
		NewConfigDef().Define(ConfigKey{Name: "n", Type: ConfigInt, Default: "0", Validator: AtLeast(1)})
	})
}

func TestNonEmptyStringWithoutControlChars(t *testing.T) {
	v := NonEmptyStringWithoutControlChars()
	if err := v.EnsureValid("name", "ok name"); err != nil {
		t.Fatal(err)
	}
	if err := v.EnsureValid("name", ""); err == nil || err.Error() != "Invalid value  for configuration name: String may not be empty" {
		t.Fatal(err)
	}
	if err := v.EnsureValid("name", "a\tb"); err == nil || !strings.HasSuffix(err.Error(), "had the following ASCII chars: 9") {
		t.Fatal(err)
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s: no panic", what)
		}
	}()
	f()
}
