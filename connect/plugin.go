package connect

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Converter turns Connect data into the bytes of a Kafka record's key or
// value and back (Kafka's Converter). The worker makes one per task for
// keys and one for values, configured from key.converter.* and
// value.converter.* properties. A Converter is used by one goroutine at a
// time.
type Converter interface {
	// Configure configures the converter; isKey says whether it converts
	// keys (configs then hold "converter.type"="key") or values.
	Configure(configs map[string]string, isKey bool) error
	// FromConnectData serializes value, described by schema (which may be
	// nil for schemaless data). A nil result is a null key or value.
	FromConnectData(topic string, schema *Schema, value any) ([]byte, error)
	// ToConnectData deserializes data (nil for a null key or value, such
	// as a tombstone's value).
	ToConnectData(topic string, data []byte) (SchemaAndValue, error)
}

// HeaderConverter turns Connect header values into header bytes and back
// (Kafka's HeaderConverter).
type HeaderConverter interface {
	Configure(configs map[string]string) error
	FromConnectHeader(topic, headerKey string, schema *Schema, value any) ([]byte, error)
	ToConnectHeader(topic, headerKey string, data []byte) (SchemaAndValue, error)
}

// Configurable is implemented by plugins that describe their
// configuration: connectors always, converters optionally.
type Configurable interface {
	Config() *ConfigDef
}

// PluginType is the kind of a plugin, named as Kafka's REST API names it.
type PluginType string

// The plugin types.
const (
	PluginSource          PluginType = "source"
	PluginSink            PluginType = "sink"
	PluginConverter       PluginType = "converter"
	PluginHeaderConverter PluginType = "header_converter"
	PluginTransformation  PluginType = "transformation"
	PluginPredicate       PluginType = "predicate"
)

// Plugin describes a connector, converter or other plugin the worker can
// instantiate by class name (Kafka's PluginDesc).
type Plugin struct {
	// Class is the plugin's class name as configurations spell it, Java
	// style: "org.apache.kafka.connect.file.FileStreamSourceConnector".
	Class string
	// Type is what the plugin is.
	Type PluginType
	// Version is the plugin's version.
	Version string
	// New returns a new instance: a SourceConnector, SinkConnector,
	// Converter or HeaderConverter, as Type says.
	New func() any
	// TaskClass names a connector's task class, as task configurations
	// carry it in "task.class"; optional.
	TaskClass string
}

// SimpleName returns the class name after the last dot.
func (p Plugin) SimpleName() string {
	return p.Class[strings.LastIndexByte(p.Class, '.')+1:]
}

// PrunedName returns SimpleName without the suffix of the plugin's kind
// ("Connector", "Converter"), as Kafka's PluginUtils.prunedName, or ""
// if that would leave nothing.
func (p Plugin) PrunedName() string {
	simple := p.SimpleName()
	var suffix string
	switch p.Type {
	case PluginSource, PluginSink:
		suffix = "Connector"
	case PluginConverter:
		suffix = "Converter"
	case PluginHeaderConverter:
		suffix = "HeaderConverter"
		if !strings.HasSuffix(simple, suffix) {
			suffix = "Converter"
		}
	case PluginTransformation:
		suffix = "Transformation"
	case PluginPredicate:
		suffix = "Predicate"
	}
	pruned, ok := strings.CutSuffix(simple, suffix)
	if !ok || pruned == "" {
		return ""
	}
	return pruned
}

var registry struct {
	sync.Mutex
	plugins []Plugin
}

// RegisterPlugin makes p available to workers in this process by its
// class name and by the aliases Kafka allows: its simple name and its
// pruned name ("FileStreamSource"), when no other plugin of the same kind
// claims them. Register plugins from an init function. RegisterPlugin
// panics if p has no class, type or factory, or if the class is already
// registered for that type.
func RegisterPlugin(p Plugin) {
	if p.Class == "" || p.Type == "" || p.New == nil {
		panic("connect: RegisterPlugin needs a class, a type and a factory")
	}
	registry.Lock()
	defer registry.Unlock()
	for _, q := range registry.plugins {
		if q.Class == p.Class && q.Type == p.Type {
			panic(fmt.Sprintf("connect: plugin %s (%s) registered twice", p.Class, p.Type))
		}
	}
	registry.plugins = append(registry.plugins, p)
}

// Plugins returns the registered plugins sorted by type, then class.
func Plugins() []Plugin {
	registry.Lock()
	out := append([]Plugin(nil), registry.plugins...)
	registry.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Class < out[j].Class
	})
	return out
}

// LookupPlugin finds a registered plugin of one of the given types (any
// type if none is given) by class name or unique alias. An unknown name
// gives an error wrapping ErrUnknownPlugin.
func LookupPlugin(name string, types ...PluginType) (Plugin, error) {
	name = strings.TrimSpace(name)
	all := Plugins()
	match := func(p Plugin) bool {
		if len(types) == 0 {
			return true
		}
		for _, t := range types {
			if p.Type == t {
				return true
			}
		}
		return false
	}
	for _, p := range all {
		if match(p) && p.Class == name {
			return p, nil
		}
	}
	var found []Plugin
	for _, p := range all {
		if match(p) && (p.SimpleName() == name || p.PrunedName() == name) {
			found = append(found, p)
		}
	}
	classes := map[string]bool{}
	for _, p := range found {
		classes[p.Class] = true
	}
	if len(classes) == 1 {
		return found[0], nil
	}
	return Plugin{}, fmt.Errorf("%w: %s", ErrUnknownPlugin, name)
}
