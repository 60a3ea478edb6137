package converter

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gregor-streaming/gregor/connect"
)

// EncodingConfig names StringConverter's character set (Kafka's
// StringConverterConfig "converter.encoding").
const EncodingConfig = "converter.encoding"

var stringConfigDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: EncodingConfig, Type: connect.ConfigString, Default: "UTF-8",
		Validator:  connect.ValidatorFunc{Func: validEncoding, Doc: "UTF-8, ISO-8859-1 or US-ASCII"},
		Importance: connect.ImportanceHigh, Group: "Converter", OrderInGroup: 1, Width: connect.WidthMedium, DisplayName: "Encoding",
		Documentation: "The name of the Java character set to use for encoding strings as byte arrays."}).
	Define(converterTypeKey())

func validEncoding(name string, v any) error {
	if _, err := encodingOf(fmt.Sprint(v)); err != nil {
		return connect.ConfigError(name, v, err.Error())
	}
	return nil
}

type encoding int

const (
	encUTF8 encoding = iota
	encLatin1
	encASCII
)

func encodingOf(name string) (encoding, error) {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "UTF-8", "UTF8":
		return encUTF8, nil
	case "ISO-8859-1", "ISO8859_1", "LATIN1":
		return encLatin1, nil
	case "US-ASCII", "ASCII":
		return encASCII, nil
	}
	return 0, fmt.Errorf("Unsupported encoding %s (Gregor supports UTF-8, ISO-8859-1 and US-ASCII)", name)
}

// StringConverter converts strings (Kafka's
// org.apache.kafka.connect.storage.StringConverter): any value is written
// as its string form (connect.FormatValue, Kafka's toString), and bytes
// read back as an optional STRING. Its only setting is
// converter.encoding (UTF-8 by default).
type StringConverter struct {
	enc encoding
}

// NewStringConverter returns a UTF-8 StringConverter.
func NewStringConverter() *StringConverter { return &StringConverter{} }

// Config describes StringConverter's configuration.
func (c *StringConverter) Config() *connect.ConfigDef { return stringConfigDef }

// Configure reads converter.encoding.
func (c *StringConverter) Configure(configs map[string]string, isKey bool) error {
	pc, err := stringConfigDef.Parse(configs)
	if err != nil {
		return err
	}
	c.enc, _ = encodingOf(pc.GetString(EncodingConfig))
	return nil
}

// FromConnectData writes the value's string form; nil stays nil.
func (c *StringConverter) FromConnectData(topic string, schema *connect.Schema, value any) ([]byte, error) {
	if value == nil {
		return nil, nil
	}
	s := connect.FormatValue(value)
	switch c.enc {
	case encLatin1, encASCII:
		limit := rune(0xff)
		if c.enc == encASCII {
			limit = 0x7f
		}
		out := make([]byte, 0, len(s))
		for _, r := range s {
			if r > limit {
				r = '?'
			}
			out = append(out, byte(r))
		}
		return out, nil
	}
	return []byte(s), nil
}

// ToConnectData reads a string with an optional STRING schema.
func (c *StringConverter) ToConnectData(topic string, data []byte) (connect.SchemaAndValue, error) {
	if data == nil {
		return connect.SchemaAndValue{Schema: connect.OptionalStringSchema}, nil
	}
	var s string
	switch c.enc {
	case encLatin1, encASCII:
		rs := make([]rune, len(data))
		for i, b := range data {
			rs[i] = rune(b)
		}
		s = string(rs)
	default:
		s = string(data)
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\ufffd")
		}
	}
	return connect.SchemaAndValue{Schema: connect.OptionalStringSchema, Value: s}, nil
}
