package connect

import (
	"strings"

	sdk "github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/connect/transform"
)

// aliasValidator refuses duplicate aliases in "transforms" and
// "predicates" (Kafka's ConnectorConfig.aliasValidator).
func aliasValidator(kind string) sdk.Validator {
	return sdk.ValidatorFunc{Doc: "unique " + kind + " aliases", Func: func(name string, v any) error {
		l, _ := v.([]string)
		seen := map[string]bool{}
		for _, a := range l {
			if seen[a] {
				return sdk.ConfigError(name, v, "Duplicate alias provided.")
			}
			seen[a] = true
		}
		return nil
	}}
}

// enrichConfigDef adds to a connector ConfigDef the keys of the
// transformations and predicates props names (Kafka's
// ConnectorConfig.enrich): for each alias a group "Transforms: <alias>"
// (or "Predicates: <alias>") with "transforms.<alias>.type", then, for a
// transformation, "transforms.<alias>.predicate" and ".negate", then the
// plugin's own keys, prefixed. An alias whose type is missing or invalid
// gets its type key only, which reports the error.
func enrichConfigDef(base *sdk.ConfigDef, props map[string]string) *sdk.ConfigDef {
	d := base.Clone()
	enrichAliases(d, props, transformsConfig, transformsGroup, "Transformation", sdk.PluginTransformation)
	enrichAliases(d, props, predicatesConfig, predicatesGroup, "Predicate", sdk.PluginPredicate)
	return d
}

func enrichAliases(d *sdk.ConfigDef, props map[string]string, aliasConfig, aliasGroup, kind string, t sdk.PluginType) {
	seen := map[string]bool{}
	for _, alias := range transform.ListValue(props[aliasConfig]) {
		if seen[alias] {
			continue
		}
		seen[alias] = true
		prefix := aliasConfig + "." + alias + "."
		group := aliasGroup + ": " + alias
		typeKey := prefix + transform.TypeConfig
		if _, dup := d.Key(typeKey); dup {
			continue
		}
		d.Define(sdk.ConfigKey{Name: typeKey, Type: sdk.ConfigClass, Default: sdk.NoDefaultValue,
			Validator:  aliasTypeValidator(props, prefix, alias, kind, t),
			Importance: sdk.ImportanceHigh, Documentation: "Class for the '" + alias + "' " + strings.ToLower(kind) + ".",
			Group: group, OrderInGroup: 0, Width: sdk.WidthLong, DisplayName: kind + " type for " + alias})
		p, err := sdk.LookupPlugin(props[typeKey], t)
		if err != nil {
			continue
		}
		c, ok := p.New().(sdk.Configurable)
		if !ok || c.Config() == nil {
			continue
		}
		var keys []sdk.ConfigKey
		if t == sdk.PluginTransformation {
			keys = append(keys,
				sdk.ConfigKey{Name: transform.PredicateConfig, Type: sdk.ConfigString, Default: "", Importance: sdk.ImportanceMedium,
					Documentation: "The alias of a predicate used to determine whether to apply this transformation."},
				sdk.ConfigKey{Name: transform.NegateConfig, Type: sdk.ConfigBoolean, Default: "false", Importance: sdk.ImportanceMedium,
					Documentation: "Whether the configured predicate should be negated."})
		}
		for _, k := range c.Config().Keys() {
			// The implicit keys mask the plugin's own of the same name.
			if t == sdk.PluginTransformation && (k.Name == transform.PredicateConfig || k.Name == transform.NegateConfig) {
				continue
			}
			keys = append(keys, k)
		}
		order := 1
		for _, k := range keys {
			e := k
			e.Name = prefix + k.Name
			if _, dup := d.Key(e.Name); dup {
				continue
			}
			e.Group = group
			if k.Group != "" {
				e.Group = group + "-" + k.Group
			}
			e.OrderInGroup = order
			order++
			if e.DisplayName == "" {
				e.DisplayName = k.Name // Kafka's short define() uses the name
			}
			if k.Validator != nil {
				inner := k.Validator
				e.Validator = sdk.ValidatorFunc{Doc: inner.String(), Func: func(name string, v any) error {
					return inner.EnsureValid(strings.TrimPrefix(name, prefix), v)
				}}
			}
			e.Dependents = nil
			for _, dep := range k.Dependents {
				e.Dependents = append(e.Dependents, prefix+dep)
			}
			d.Define(e)
		}
	}
}

// aliasTypeValidator checks "transforms.<alias>.type" or
// "predicates.<alias>.type": a registered plugin of the right kind, and
// for a transformation no negate without a predicate.
func aliasTypeValidator(props map[string]string, prefix, alias, kind string, t sdk.PluginType) sdk.Validator {
	return sdk.ValidatorFunc{Doc: "valid configs for " + alias + " " + strings.ToLower(kind), Func: func(name string, v any) error {
		if t == sdk.PluginTransformation {
			_, hasNegate := props[prefix+transform.NegateConfig]
			_, hasPredicate := props[prefix+transform.PredicateConfig]
			if hasNegate && !hasPredicate {
				return errorString("Config '" + prefix + transform.NegateConfig + "' was provided but there is no config '" +
					prefix + transform.PredicateConfig + "' defining a predicate to be negated.")
			}
		}
		class, _ := v.(string)
		if _, err := sdk.LookupPlugin(class, t); err == nil {
			return nil
		}
		if _, err := sdk.LookupPlugin(class); err == nil {
			return sdk.ConfigError(name, class, "Not a "+kind)
		}
		return sdk.ConfigError(name, class, "Class "+class+" could not be found.")
	}}
}

// errorString is an error whose text is exactly the message, as Kafka's
// ConfigException(String).
type errorString string

func (e errorString) Error() string { return string(e) }
