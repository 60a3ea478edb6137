package transform

import (
	"strings"

	"github.com/gregor-streaming/gregor/connect"
)

// ReplaceField$Key / ReplaceField$Value: filter or rename fields (Kafka's
// ReplaceField). exclude takes precedence over include; renames is a list
// of old:new pairs. The deprecated whitelist and blacklist stand for
// include and exclude when those are not set. A null key or value passes
// unchanged.
const (
	replaceExclude   = "exclude"
	replaceInclude   = "include"
	replaceRenames   = "renames"
	replaceBlacklist = "blacklist"
	replaceWhitelist = "whitelist"
	replacePurpose   = "field replacement"
)

type renamesValidator struct{}

func (renamesValidator) EnsureValid(name string, v any) error {
	l, _ := v.([]string)
	_, err := parseRenames(l)
	return err
}

func (renamesValidator) String() string {
	return "list of colon-delimited pairs, e.g. <code>foo:bar,abc:xyz</code>"
}

var replaceFieldDef = connect.NewConfigDef().
	Define(connect.ConfigKey{Name: replaceExclude, Type: connect.ConfigList, Default: "", Importance: connect.ImportanceMedium,
		Documentation: "Fields to exclude. This takes precedence over the fields to include."}).
	Define(connect.ConfigKey{Name: replaceBlacklist, Type: connect.ConfigList, Importance: connect.ImportanceLow,
		Documentation: "Deprecated. Use " + replaceExclude + " instead."}).
	Define(connect.ConfigKey{Name: replaceInclude, Type: connect.ConfigList, Default: "", Importance: connect.ImportanceMedium,
		Documentation: "Fields to include. If specified, only these fields will be used."}).
	Define(connect.ConfigKey{Name: replaceWhitelist, Type: connect.ConfigList, Importance: connect.ImportanceLow,
		Documentation: "Deprecated. Use " + replaceInclude + " instead."}).
	Define(connect.ConfigKey{Name: replaceRenames, Type: connect.ConfigList, Default: "", Validator: renamesValidator{},
		Importance: connect.ImportanceMedium, Documentation: "Field rename mappings."})

// javaSplit splits as Java's String.split: trailing empty strings are
// dropped.
func javaSplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

func parseRenames(mappings []string) (map[string]string, error) {
	m := map[string]string{}
	for _, mapping := range mappings {
		parts := javaSplit(mapping, ":")
		if len(parts) != 2 {
			return nil, connect.ConfigError(replaceRenames, mappings, "Invalid rename mapping: "+mapping)
		}
		m[parts[0]] = parts[1]
	}
	return m, nil
}

type replaceField struct {
	part
	exclude, include map[string]bool
	renames, reverse map[string]string
	cache            schemaCache
}

func init() {
	registerKeyValue("ReplaceField", func(p part) Transformation { return &replaceField{part: p} })
}

func (t *replaceField) Config() *connect.ConfigDef { return replaceFieldDef }

func (t *replaceField) Configure(props map[string]string) error {
	props = translateDeprecated(props, [][2]string{{replaceInclude, replaceWhitelist}, {replaceExclude, replaceBlacklist}})
	c, err := parseConfig(replaceFieldDef, props)
	if err != nil {
		return err
	}
	t.exclude, t.include = set(c.GetList(replaceExclude)), set(c.GetList(replaceInclude))
	t.renames, err = parseRenames(c.GetList(replaceRenames))
	if err != nil {
		return err
	}
	t.reverse = map[string]string{}
	for k, v := range t.renames {
		t.reverse[v] = k
	}
	return nil
}

// translateDeprecated copies each deprecated key's value to its
// replacement when the replacement is not set (Kafka's
// ConfigUtils.translateDeprecatedConfigs).
func translateDeprecated(props map[string]string, pairs [][2]string) map[string]string {
	out := make(map[string]string, len(props))
	for k, v := range props {
		out[k] = v
	}
	for _, p := range pairs {
		if v, ok := out[p[1]]; ok {
			if _, set := out[p[0]]; !set {
				out[p[0]] = v
			}
			delete(out, p[1])
		}
	}
	return out
}

func set(l []string) map[string]bool {
	m := make(map[string]bool, len(l))
	for _, s := range l {
		m[s] = true
	}
	return m
}

func (t *replaceField) filter(name string) bool {
	return !t.exclude[name] && (len(t.include) == 0 || t.include[name])
}

func (t *replaceField) renamed(name string) string {
	if r, ok := t.renames[name]; ok {
		return r
	}
	return name
}

func (t *replaceField) reverseRenamed(name string) string {
	if r, ok := t.reverse[name]; ok {
		return r
	}
	return name
}

func (t *replaceField) Apply(r *Record) (*Record, error) {
	v := t.value(r)
	if v == nil {
		return r, nil
	}
	if t.schema(r) == nil {
		m, err := requireMap(v, replacePurpose)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			if t.filter(k) {
				out[t.renamed(k)] = e
			}
		}
		return t.with(r, nil, out), nil
	}
	s, err := requireStruct(v, replacePurpose)
	if err != nil {
		return nil, err
	}
	schema, err := t.cache.getOrBuild(s.Schema(), func(in *connect.Schema) (*connect.Schema, error) {
		out := structBasics(in)
		seen := map[string]bool{}
		for _, f := range in.Fields {
			if t.filter(f.Name) {
				name := t.renamed(f.Name)
				if seen[name] {
					return nil, schemaBuilderDuplicate(name)
				}
				seen[name] = true
				addField(out, name, f.Schema)
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	for _, f := range schema.Fields {
		values[f.Name] = s.Get(t.reverseRenamed(f.Name))
	}
	out, err := newStruct(schema, values)
	if err != nil {
		return nil, err
	}
	return t.with(r, schema, out), nil
}

func (t *replaceField) Close() error { return nil }
