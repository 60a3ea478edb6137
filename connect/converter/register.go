package converter

import "github.com/gregor-streaming/gregor/connect"

// Kafka's class names of the converters in this package.
const (
	StringConverterClass       = "org.apache.kafka.connect.storage.StringConverter"
	ByteArrayConverterClass    = "org.apache.kafka.connect.converters.ByteArrayConverter"
	JsonConverterClass         = "org.apache.kafka.connect.json.JsonConverter"
	SimpleHeaderConverterClass = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
)

func init() {
	reg := func(class string, t connect.PluginType, f func() any) {
		connect.RegisterPlugin(connect.Plugin{Class: class, Type: t, Version: connect.Version, New: f})
	}
	reg(StringConverterClass, connect.PluginConverter, func() any { return NewStringConverter() })
	reg(StringConverterClass, connect.PluginHeaderConverter, func() any { return AsHeaderConverter(NewStringConverter()) })
	reg(ByteArrayConverterClass, connect.PluginConverter, func() any { return ByteArrayConverter{} })
	reg(ByteArrayConverterClass, connect.PluginHeaderConverter, func() any { return AsHeaderConverter(ByteArrayConverter{}) })
	reg(JsonConverterClass, connect.PluginConverter, func() any { return NewJsonConverter() })
	reg(JsonConverterClass, connect.PluginHeaderConverter, func() any { return AsHeaderConverter(NewJsonConverter()) })
	reg(SimpleHeaderConverterClass, connect.PluginHeaderConverter, func() any { return SimpleHeaderConverter{} })
}
