package config

// ConfigEntry is one config in a DescribeConfigs response, computed as
// Kafka's ConfigHelper does. The handler drops Synonyms or Documentation
// when the request did not ask for them.
type ConfigEntry struct {
	Name string
	// Value is the effective value in Kafka's string form; nil when the
	// config is sensitive or has no value (a null default such as
	// log.retention.ms).
	Value *string
	// Source is where the value came from: the source of the first
	// synonym, else SourceDefault.
	Source    ConfigSource
	ReadOnly  bool
	Sensitive bool
	Type      Type
	// Documentation is the config's doc text.
	Documentation string
	// Synonyms lists every place the config is set, highest precedence
	// first: the topic override, then dynamic per-broker, dynamic
	// cluster-default, static broker and default values of the broker
	// synonyms (KIP-226).
	Synonyms []Synonym
}

// Synonym is one place a described config is set.
type Synonym struct {
	Name   string
	Value  *string // nil when sensitive
	Source ConfigSource
}

// defaultStrings is Kafka's staticDefaultConfigs: every broker config
// with a non-null default, in string form.
var defaultStrings = func() map[string]string {
	m := map[string]string{}
	for n, d := range brokerDefs {
		if d.HasDefault {
			m[n] = d.Default
		}
	}
	return m
}()

type layer struct {
	props  map[string]string
	source ConfigSource
}

// layers returns b's config layers, highest precedence first.
func (b *Broker) layers(perBroker map[string]string) []layer {
	return []layer{
		{perBroker, SourceDynamicBroker},
		{b.dynDefault, SourceDynamicDefaultBroker},
		{b.static, SourceStaticBroker},
		{defaultStrings, SourceDefault},
	}
}

// configSynonyms is Kafka's ConfigHelper.configSynonyms: for each layer
// in turn, each synonym set there, then everything before the first
// entry for name is dropped. Note the consequence Kafka has too: a
// config whose own name is set nowhere and has a null default (for
// example log.retention.ms when only log.retention.hours is set) has
// no synonyms at all.
func configSynonyms(name string, synonyms []string, sensitive bool, layers []layer) []Synonym {
	var out []Synonym
	for _, l := range layers {
		for _, s := range synonyms {
			if v, ok := l.props[s]; ok {
				var val *string
				if !sensitive {
					val = ptr(v)
				}
				out = append(out, Synonym{Name: s, Value: val, Source: l.source})
			}
		}
	}
	for len(out) > 0 && out[0].Name != name {
		out = out[1:]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// DescribeTopicConfig describes every topic config of a topic whose
// overrides are given (DescribeConfigs on a TOPIC resource), sorted by
// name. Each value is the effective one (ResolveTopic). An overridden
// config has source DYNAMIC_TOPIC_CONFIG and the override as its first
// synonym; the rest of its synonyms, and the source of a config that is
// not overridden, come from the configs its broker synonym is set by,
// in b's dynamic and static layers (Kafka's createTopicConfigEntry).
// The override is prepended to configSynonyms' answer, so when that is
// empty the override is the only synonym. For example retention.ms=1000,
// on a broker that sets none of log.retention.{ms,minutes,hours}, lists
// only itself: configSynonyms keeps entries from the first one named
// log.retention.ms, which has a null default, so the
// log.retention.hours=168 default is dropped (as in Kafka 4.x).
func (b *Broker) DescribeTopicConfig(overrides map[string]string) []ConfigEntry {
	layers := b.layers(b.dynBroker)
	out := make([]ConfigEntry, 0, len(topicNames))
	for _, name := range topicNames {
		d := topicDefs[name]
		value := formatValue(d.Type, b.topicValue(name, overrides))
		sensitive := d.Sensitive()
		var syns []Synonym
		if len(d.Synonyms) > 0 {
			s := d.Synonyms[0]
			syns = configSynonyms(s, brokerConfigSynonyms(s), sensitive, layers)
		}
		if _, ok := overrides[name]; ok {
			syns = append([]Synonym{{Name: name, Value: ptr(value), Source: SourceDynamicTopic}}, syns...)
		}
		e := ConfigEntry{
			Name:          name,
			Value:         ptr(value),
			Source:        SourceDefault,
			Sensitive:     sensitive,
			Type:          d.Type,
			Documentation: d.Documentation,
			Synonyms:      syns,
		}
		if sensitive {
			e.Value = nil
		}
		if len(syns) > 0 {
			e.Source = syns[0].Source
		}
		out = append(out, e)
	}
	return out
}

// DescribeBrokerConfig describes every broker config of this broker
// (DescribeConfigs on BROKER "<node.id>"), sorted by name. dynamic is
// this broker's per-broker dynamic configuration; nil means the one b
// was built with (WithDynamic). Cluster-default dynamic configs are the
// ones b was built with. Configs that cannot change without a restart
// are ReadOnly (Kafka's createBrokerConfigEntry).
func (b *Broker) DescribeBrokerConfig(dynamic map[string]string) []ConfigEntry {
	if dynamic == nil {
		dynamic = b.dynBroker
	}
	layers := b.layers(dynamic)
	out := make([]ConfigEntry, 0, len(brokerNames))
	for _, name := range brokerNames {
		d := brokerDefs[name]
		e := ConfigEntry{
			Name:          name,
			Value:         effectiveString(d.Def, layers),
			Source:        SourceDefault,
			ReadOnly:      d.UpdateMode == ReadOnly,
			Sensitive:     d.Sensitive(),
			Type:          d.Type,
			Documentation: d.Documentation,
			Synonyms:      configSynonyms(name, brokerConfigSynonyms(name), d.Sensitive(), layers),
		}
		if e.Sensitive {
			e.Value = nil
		}
		if len(e.Synonyms) > 0 {
			e.Source = e.Synonyms[0].Source
		}
		out = append(out, e)
	}
	return out
}

// DescribeBrokerDefaultConfig describes the cluster-default dynamic
// configs (DescribeConfigs on BROKER ""): only the configs set at that
// level, with only synonyms of that level, sorted by name.
func (b *Broker) DescribeBrokerDefaultConfig() []ConfigEntry {
	layers := b.layers(nil)
	var out []ConfigEntry
	for _, name := range sortedKeys(b.dynDefault) {
		d, ok := brokerDefs[name]
		if !ok {
			continue
		}
		var syns []Synonym
		for _, s := range configSynonyms(name, brokerConfigSynonyms(name), d.Sensitive(), layers) {
			if s.Source == SourceDynamicDefaultBroker {
				syns = append(syns, s)
			}
		}
		e := ConfigEntry{
			Name:          name,
			Value:         ptr(b.dynDefault[name]),
			Source:        SourceDefault,
			ReadOnly:      d.UpdateMode == ReadOnly,
			Sensitive:     d.Sensitive(),
			Type:          d.Type,
			Documentation: d.Documentation,
			Synonyms:      syns,
		}
		if e.Sensitive {
			e.Value = nil
		}
		if len(syns) > 0 {
			e.Source = syns[0].Source
		}
		out = append(out, e)
	}
	return out
}

// effectiveString is the current value of d in Kafka's string form: the
// first layer that sets it (parsed and re-formatted), else its default;
// nil for a null default.
func effectiveString(d Def, layers []layer) *string {
	for _, l := range layers[:len(layers)-1] {
		if raw, ok := l.props[d.Name]; ok {
			if v, err := d.Parse(raw); err == nil {
				return ptr(formatValue(d.Type, v))
			}
			return ptr(raw)
		}
	}
	if !d.HasDefault {
		return nil
	}
	return ptr(d.Default)
}

func ptr(s string) *string { return &s }
