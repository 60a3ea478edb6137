package connect

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	sdk "github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/connect/transform"
)

// Connector property names (Kafka's ConnectorConfig, SinkConnectorConfig,
// SourceConnectorConfig).
const (
	nameConfig              = "name"
	connectorClassConfig    = "connector.class"
	tasksMaxConfig          = "tasks.max"
	tasksMaxEnforceConfig   = "tasks.max.enforce"
	transformsConfig        = "transforms"
	predicatesConfig        = "predicates"
	configReloadConfig      = "config.action.reload"
	errorsRetryTimeout      = "errors.retry.timeout"
	errorsRetryMaxDelay     = "errors.retry.delay.max.ms"
	errorsToleranceConfig   = "errors.tolerance"
	errorsLogEnable         = "errors.log.enable"
	errorsLogIncludeMsgs    = "errors.log.include.messages"
	topicsConfig            = "topics"
	topicsRegexConfig       = "topics.regex"
	dlqTopicConfig          = "errors.deadletterqueue.topic.name"
	exactlyOnceConfig       = "exactly.once.support"
	transactionBoundary     = "transaction.boundary"
	offsetsStorageTopicConf = "offsets.storage.topic"
	taskClassConfig         = "task.class"

	commonGroup     = "Common"
	transformsGroup = "Transforms"
	predicatesGroup = "Predicates"
	errorGroup      = "Error Handling"
	eosGroup        = "Exactly Once Support"
	offsetsGroup    = "offsets.topic"
)

func trimmed(s string) string { return strings.TrimSpace(s) }

// knownPlugin validates a CLASS value names a registered plugin of type t.
func knownPlugin(t sdk.PluginType) sdk.Validator {
	return sdk.ValidatorFunc{Doc: "a " + string(t) + " class", Func: func(name string, v any) error {
		s, _ := v.(string)
		if s == "" {
			return nil
		}
		if _, err := sdk.LookupPlugin(s, t); err != nil {
			return sdk.ConfigError(name, v, "Class "+s+" could not be found.")
		}
		return nil
	}}
}

// baseConnectorDef defines what every connector configuration has (Kafka's
// ConnectorConfig.configDef).
func baseConnectorDef() *sdk.ConfigDef {
	order := 0
	next := func() int { order++; return order }
	errOrder := 0
	nextErr := func() int { errOrder++; return errOrder }
	return sdk.NewConfigDef().
		Define(sdk.ConfigKey{Name: nameConfig, Type: sdk.ConfigString, Default: sdk.NoDefaultValue, Validator: sdk.NonEmptyStringWithoutControlChars(),
			Importance: sdk.ImportanceHigh, Documentation: "Globally unique name to use for this connector.",
			Group: commonGroup, OrderInGroup: next(), Width: sdk.WidthMedium, DisplayName: "Connector name"}).
		Define(sdk.ConfigKey{Name: connectorClassConfig, Type: sdk.ConfigString, Default: sdk.NoDefaultValue,
			Importance:    sdk.ImportanceHigh,
			Documentation: "Name or alias of the class for this connector. Must be a subclass of org.apache.kafka.connect.connector.Connector. If the connector is org.apache.kafka.connect.file.FileStreamSinkConnector, you can either specify this full name,  or use \"FileStreamSink\" or \"FileStreamSinkConnector\" to make the configuration a bit shorter",
			Group:         commonGroup, OrderInGroup: next(), Width: sdk.WidthLong, DisplayName: "Connector class"}).
		Define(sdk.ConfigKey{Name: tasksMaxConfig, Type: sdk.ConfigInt, Default: "1", Validator: sdk.AtLeast(1),
			Importance: sdk.ImportanceHigh, Documentation: "Maximum number of tasks to use for this connector.",
			Group: commonGroup, OrderInGroup: next(), Width: sdk.WidthShort, DisplayName: "Tasks max"}).
		Define(sdk.ConfigKey{Name: tasksMaxEnforceConfig, Type: sdk.ConfigBoolean, Default: "true",
			Importance: sdk.ImportanceLow, Documentation: "(Deprecated) Whether to enforce that the tasks.max property is respected by the connector.",
			Group: commonGroup, OrderInGroup: next(), Width: sdk.WidthShort, DisplayName: "Enforce tasks max"}).
		Define(sdk.ConfigKey{Name: KeyConverterConfig, Type: sdk.ConfigClass, Validator: knownPlugin(sdk.PluginConverter),
			Importance: sdk.ImportanceLow, Documentation: "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. This controls the format of the keys in messages written to or read from Kafka.",
			Group: commonGroup, OrderInGroup: next(), Width: sdk.WidthShort, DisplayName: "Key converter class"}).
		Define(sdk.ConfigKey{Name: ValueConverterConfig, Type: sdk.ConfigClass, Validator: knownPlugin(sdk.PluginConverter),
			Importance: sdk.ImportanceLow, Documentation: "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. This controls the format of the values in messages written to or read from Kafka.",
			Group: commonGroup, OrderInGroup: next(), Width: sdk.WidthShort, DisplayName: "Value converter class"}).
		Define(sdk.ConfigKey{Name: HeaderConverterConfig, Type: sdk.ConfigClass, Validator: knownPlugin(sdk.PluginHeaderConverter),
			Importance: sdk.ImportanceLow, Documentation: "HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.",
			Group: commonGroup, OrderInGroup: next(), Width: sdk.WidthShort, DisplayName: "Header converter class"}).
		Define(sdk.ConfigKey{Name: transformsConfig, Type: sdk.ConfigList, Default: "", Validator: aliasValidator("transformation"),
			Importance: sdk.ImportanceLow, Documentation: "Aliases for the transformations to be applied to records.",
			Group: transformsGroup, OrderInGroup: next(), Width: sdk.WidthLong, DisplayName: "Transforms"}).
		Define(sdk.ConfigKey{Name: predicatesConfig, Type: sdk.ConfigList, Default: "", Validator: aliasValidator("predicate"),
			Importance: sdk.ImportanceLow, Documentation: "Aliases for the predicates used by transformations.",
			Group: predicatesGroup, OrderInGroup: next(), Width: sdk.WidthLong, DisplayName: "Predicates"}).
		Define(sdk.ConfigKey{Name: configReloadConfig, Type: sdk.ConfigString, Default: "restart", Validator: sdk.In("none", "restart"),
			Importance: sdk.ImportanceLow, Documentation: "The action that Connect should take on the connector when changes in external configuration providers result in a change in the connector's configuration properties.",
			Group: commonGroup, OrderInGroup: next(), Width: sdk.WidthMedium, DisplayName: "Reload Action"}).
		Define(sdk.ConfigKey{Name: errorsRetryTimeout, Type: sdk.ConfigLong, Default: "0", Importance: sdk.ImportanceMedium,
			Documentation: "The maximum duration in milliseconds that a failed operation will be reattempted. The default is 0, which means no retries will be attempted. Use -1 for infinite retries.",
			Group:         errorGroup, OrderInGroup: nextErr(), Width: sdk.WidthMedium, DisplayName: "Retry Timeout for Errors"}).
		Define(sdk.ConfigKey{Name: errorsRetryMaxDelay, Type: sdk.ConfigLong, Default: "60000", Importance: sdk.ImportanceMedium,
			Documentation: "The maximum duration in milliseconds between consecutive retry attempts.",
			Group:         errorGroup, OrderInGroup: nextErr(), Width: sdk.WidthMedium, DisplayName: "Maximum Delay Between Retries for Errors"}).
		Define(sdk.ConfigKey{Name: errorsToleranceConfig, Type: sdk.ConfigString, Default: "none",
			Validator:  sdk.In("none", "all"),
			Importance: sdk.ImportanceMedium, Documentation: "Behavior for tolerating errors during connector operation. 'none' is the default value and signals that any error will result in an immediate connector task failure; 'all' changes the behavior to skip over problematic records.",
			Group: errorGroup, OrderInGroup: nextErr(), Width: sdk.WidthShort, DisplayName: "Error Tolerance"}).
		Define(sdk.ConfigKey{Name: errorsLogEnable, Type: sdk.ConfigBoolean, Default: "false", Importance: sdk.ImportanceMedium,
			Documentation: "If true, write each error and the details of the failed operation and problematic record to the Connect application log.",
			Group:         errorGroup, OrderInGroup: nextErr(), Width: sdk.WidthShort, DisplayName: "Log Errors"}).
		Define(sdk.ConfigKey{Name: errorsLogIncludeMsgs, Type: sdk.ConfigBoolean, Default: "false", Importance: sdk.ImportanceMedium,
			Documentation: "Whether to include in the log the Connect record that resulted in a failure.",
			Group:         errorGroup, OrderInGroup: nextErr(), Width: sdk.WidthShort, DisplayName: "Log Error Details"})
}

var (
	sourceConnectorDef = baseConnectorDef().
				Define(sdk.ConfigKey{Name: exactlyOnceConfig, Type: sdk.ConfigString, Default: "requested", Validator: sdk.CaseInsensitiveIn("requested", "required"),
			Importance: sdk.ImportanceMedium, Documentation: "Permitted values are requested, required. If set to \"required\", forces a preflight check for the connector to ensure that it can provide exactly-once semantics with the given configuration. Some connectors may be capable of providing exactly-once semantics but not signal to Connect that they support this; in that case, documentation for the connector should be consulted carefully before creating it, and the value for this property should be set to \"requested\". Additionally, if the value is set to \"required\" but the worker that performs preflight validation does not have exactly-once support enabled for source connectors, requests to create or validate the connector will fail.",
			Group: eosGroup, OrderInGroup: 1, Width: sdk.WidthShort, DisplayName: "Exactly once support"}).
		Define(sdk.ConfigKey{Name: transactionBoundary, Type: sdk.ConfigString, Default: "poll", Validator: sdk.CaseInsensitiveIn("poll", "interval", "connector"),
			Importance: sdk.ImportanceMedium, Documentation: "Permitted values are: poll, interval, connector. If set to 'poll', a new producer transaction will be started and committed for every batch of records that each task from this connector provides to Connect. If set to 'connector', relies on connector-defined transaction boundaries; note that not all connectors are capable of defining their own transaction boundaries, and in that case, attempts to instantiate a connector with this value will fail. Finally, if set to 'interval', commits transactions only after a user-defined time interval has passed.",
			Group: eosGroup, OrderInGroup: 2, Width: sdk.WidthShort, DisplayName: "Transaction Boundary"}).
		Define(sdk.ConfigKey{Name: transactionBoundaryInterval, Type: sdk.ConfigLong, Validator: nonNegativeInterval{},
			Importance: sdk.ImportanceLow, Documentation: "If 'transaction.boundary' is set to 'interval', determines the interval for producer transaction commits by connector tasks. If unset, defaults to the value of the worker-level 'offset.flush.interval.ms' property. It has no effect if a different transaction.boundary is specified.",
			Group: eosGroup, OrderInGroup: 3, Width: sdk.WidthShort, DisplayName: "Transaction boundary interval"}).
		Define(sdk.ConfigKey{Name: offsetsStorageTopicConf, Type: sdk.ConfigString, Importance: sdk.ImportanceLow,
			Documentation: "The name of a separate offsets topic to use for this connector. If empty or not specified, the worker’s global offsets topic name will be used. If specified, the offsets topic will be created if it does not already exist on the Kafka cluster targeted by this connector (which may be different from the one used for the worker's global offsets topic if the bootstrap.servers property of the connector's producer has been overridden from the worker's). Only applicable in distributed mode; in standalone mode, setting this property will have no effect.",
			Group:         offsetsGroup, OrderInGroup: 1, Width: sdk.WidthLong, DisplayName: "Offsets topic"})

	sinkConnectorDef = baseConnectorDef().
				Define(sdk.ConfigKey{Name: topicsConfig, Type: sdk.ConfigList, Default: "", Importance: sdk.ImportanceHigh,
			Documentation: "List of topics to consume, separated by commas",
			Group:         commonGroup, OrderInGroup: 4, Width: sdk.WidthLong, DisplayName: "Topics"}).
		Define(sdk.ConfigKey{Name: topicsRegexConfig, Type: sdk.ConfigString, Default: "", Validator: regexValidator{},
			Importance: sdk.ImportanceHigh, Documentation: "Regular expression giving topics to consume. Gregor compiles it with Go's regexp (RE2) syntax, anchored at both ends as Java's Pattern.matches. Only one of topics or topics.regex should be specified.",
			Group: commonGroup, OrderInGroup: 4, Width: sdk.WidthLong, DisplayName: "Topics regex"}).
		Define(sdk.ConfigKey{Name: dlqTopicConfig, Type: sdk.ConfigString, Default: "",
			Importance: sdk.ImportanceMedium, Documentation: "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters. The topic name is blank by default, which means that no messages are to be recorded in the DLQ.",
			Group: errorGroup, OrderInGroup: 6, Width: sdk.WidthMedium, DisplayName: "Dead Letter Queue Topic Name"}).
		Define(sdk.ConfigKey{Name: dlqReplicationFactorConfig, Type: sdk.ConfigShort, Default: "3",
			Importance: sdk.ImportanceMedium, Documentation: "Replication factor used to create the dead letter queue topic when it doesn't already exist.",
			Group: errorGroup, OrderInGroup: 7, Width: sdk.WidthMedium, DisplayName: "Dead Letter Queue Topic Replication Factor"}).
		Define(sdk.ConfigKey{Name: dlqContextHeadersConfig, Type: sdk.ConfigBoolean, Default: "false",
			Importance: sdk.ImportanceMedium, Documentation: "If true, add headers containing error context to the messages written to the dead letter queue. To avoid clashing with headers from the original record, all error context header keys, all error context header keys will start with <code>__connect.errors.</code>",
			Group: errorGroup, OrderInGroup: 8, Width: sdk.WidthMedium, DisplayName: "Enable Error Context Headers"})
)

// nonNegativeInterval is transaction.boundary.interval.ms's validator.
type nonNegativeInterval struct{}

func (nonNegativeInterval) EnsureValid(name string, v any) error {
	if n, ok := v.(int64); ok && n < 0 {
		return sdk.ConfigError(name, v, "Interval must be non-negative")
	}
	return nil
}

func (nonNegativeInterval) String() string { return "" }

type regexValidator struct{}

func (regexValidator) EnsureValid(name string, v any) error {
	s, _ := v.(string)
	if s == "" {
		return nil
	}
	if _, err := regexp.Compile(s); err != nil {
		return sdk.ConfigError(name, v, "Not a valid regular expression: "+err.Error())
	}
	return nil
}

func (regexValidator) String() string { return "valid regex" }

// ConfigKeyInfo describes a configuration key (Kafka's REST entity
// ConfigKeyInfo).
type ConfigKeyInfo struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         *string  `json:"group"`
	Order         int      `json:"order"`
	Width         string   `json:"width"`
	DisplayName   *string  `json:"display_name"`
	Dependents    []string `json:"dependents"`
}

// ConfigValueInfo is the validation result of one key (Kafka's
// ConfigValueInfo).
type ConfigValueInfo struct {
	Name              string   `json:"name"`
	Value             *string  `json:"value"`
	RecommendedValues []string `json:"recommended_values"`
	Errors            []string `json:"errors"`
	Visible           bool     `json:"visible"`
}

// ConfigInfo pairs a key's definition with its validation result.
type ConfigInfo struct {
	Definition *ConfigKeyInfo   `json:"definition"`
	Value      *ConfigValueInfo `json:"value"`
}

// ConfigInfos is the answer of config/validate (Kafka's ConfigInfos).
type ConfigInfos struct {
	Name       string       `json:"name"`
	ErrorCount int          `json:"error_count"`
	Groups     []string     `json:"groups"`
	Configs    []ConfigInfo `json:"configs"`
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func keyInfo(k sdk.ConfigKey) *ConfigKeyInfo {
	info := &ConfigKeyInfo{
		Name: k.Name, Type: k.Type.String(), Required: k.Required(),
		Importance: k.Importance.String(), Documentation: k.Documentation,
		Group: optStr(k.Group), Order: k.OrderInGroup, Width: k.Width.String(),
		DisplayName: optStr(k.DisplayName), Dependents: k.Dependents,
	}
	if info.Dependents == nil {
		info.Dependents = []string{}
	}
	if !k.Required() {
		if s, ok := sdk.FormatConfigValue(k.Default, k.Type); ok {
			info.DefaultValue = &s
		}
	}
	return info
}

func valueInfo(v sdk.ConfigValue, t sdk.ConfigType) *ConfigValueInfo {
	info := &ConfigValueInfo{Name: v.Name, RecommendedValues: []string{}, Errors: v.Errors, Visible: v.Visible}
	if info.Errors == nil {
		info.Errors = []string{}
	}
	if s, ok := sdk.FormatConfigValue(v.Value, t); ok {
		info.Value = &s
	}
	for _, r := range v.RecommendedValues {
		s, _ := sdk.FormatConfigValue(r, t)
		info.RecommendedValues = append(info.RecommendedValues, s)
	}
	return info
}

// connectorKind returns a registered connector plugin's type.
func lookupConnector(class string) (sdk.Plugin, error) {
	p, err := sdk.LookupPlugin(class, sdk.PluginSource, sdk.PluginSink)
	if err != nil {
		var names []string
		for _, q := range sdk.Plugins() {
			if q.Type == sdk.PluginSource || q.Type == sdk.PluginSink {
				names = append(names, q.Class)
			}
		}
		return sdk.Plugin{}, fmt.Errorf("Failed to find any class that implements Connector and which name matches %s, available connectors are: %s", class, strings.Join(names, ", "))
	}
	return p, nil
}

// javaMap formats a map as Java's AbstractMap.toString, keys sorted.
func javaMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// validateConnectorConfig validates a connector configuration as Kafka's
// AbstractHerder.validateConnectorConfig: the framework's keys for a
// source or sink, then the connector's own. nullKeys are keys the request
// gave as JSON null.
func validateConnectorConfig(props map[string]string, nullKeys []string) (*ConfigInfos, error) {
	class, ok := props[connectorClassConfig]
	if !ok {
		return nil, badRequestf("Connector config %s contains no connector type", javaMap(props))
	}
	plugin, err := lookupConnector(class)
	if err != nil {
		return nil, err
	}
	inst := plugin.New()
	conn, ok := inst.(sdk.Connector)
	if !ok {
		return nil, fmt.Errorf("plugin %s is not a connector", plugin.Class)
	}
	base := sourceConnectorDef
	if plugin.Type == sdk.PluginSink {
		base = sinkConnectorDef
	}
	base = enrichConfigDef(base, props)
	if plugin.Type == sdk.PluginSource {
		base = enrichTopicCreationDef(base, props) // topic_creation.go
	}
	values := base.Validate(props)
	if plugin.Type == sdk.PluginSink {
		validateSinkTopics(props, values)
		validateSinkDLQ(props, values)
	}
	for _, k := range nullKeys {
		values = append(values, sdk.ConfigValue{Name: k, Visible: true, Errors: []string{"Null value can not be supplied as the configuration value."}})
	}
	def := conn.Config()
	if def == nil {
		return nil, badRequestf("%s.config() must return a ConfigDef that is not null.", plugin.Class)
	}
	var own []sdk.ConfigValue
	if v, ok := inst.(sdk.ConfigValidator); ok {
		own = v.Validate(props)
	} else {
		own = def.Validate(props)
	}
	values = append(values, own...)

	keys := map[string]sdk.ConfigKey{}
	var order []string
	for _, d := range []*sdk.ConfigDef{base, def} {
		for _, k := range d.Keys() {
			if _, seen := keys[k.Name]; !seen {
				order = append(order, k.Name)
			}
			keys[k.Name] = k
		}
	}
	groups := append([]string(nil), base.Groups()...)
	for _, g := range def.Groups() {
		if !contains(groups, g) {
			groups = append(groups, g)
		}
	}
	return generateResult(class, keys, order, values, groups), nil
}

// generateResult builds ConfigInfos (Kafka's AbstractHerder.generateResult):
// values of undefined keys first, then every key in order with its merged
// validation result.
func generateResult(class string, keys map[string]sdk.ConfigKey, order []string, values []sdk.ConfigValue, groups []string) *ConfigInfos {
	res := &ConfigInfos{Name: class, Groups: groups, Configs: []ConfigInfo{}}
	if res.Groups == nil {
		res.Groups = []string{}
	}
	merged := map[string]*sdk.ConfigValue{}
	var undefined []string
	for i := range values {
		v := values[i]
		if m, ok := merged[v.Name]; ok {
			m.Errors = append(m.Errors, v.Errors...)
			if v.Value != nil {
				m.Value = v.Value
			}
			continue
		}
		merged[v.Name] = &v
		if _, ok := keys[v.Name]; !ok {
			undefined = append(undefined, v.Name)
		}
	}
	for _, name := range undefined {
		v := merged[name]
		res.Configs = append(res.Configs, ConfigInfo{Value: valueInfo(*v, 0)})
		res.ErrorCount += len(v.Errors)
	}
	for _, name := range order {
		k := keys[name]
		ci := ConfigInfo{Definition: keyInfo(k)}
		if v, ok := merged[name]; ok {
			ci.Value = valueInfo(*v, k.Type)
			res.ErrorCount += len(v.Errors)
		}
		res.Configs = append(res.Configs, ci)
	}
	return res
}

// validateSinkTopics adds SinkConnectorConfig.validate's errors.
func validateSinkTopics(props map[string]string, values []sdk.ConfigValue) {
	hasTopics := trimmed(props[topicsConfig]) != ""
	hasRegex := trimmed(props[topicsRegexConfig]) != ""
	add := func(msg string) {
		for i := range values {
			if values[i].Name == topicsConfig || values[i].Name == topicsRegexConfig {
				values[i].Errors = append(values[i].Errors, msg)
			}
		}
	}
	switch {
	case hasTopics && hasRegex:
		add("topics and topics.regex are mutually exclusive options, but both are set.")
	case !hasTopics && !hasRegex:
		add("Must configure one of topics or topics.regex")
	}
}

// validateSinkDLQ adds SinkConnectorConfig.validate's errors for a dead
// letter queue topic the connector also consumes.
func validateSinkDLQ(props map[string]string, values []sdk.ConfigValue) {
	dlq := trimmed(props[dlqTopicConfig])
	if dlq == "" {
		return
	}
	add := func(name, msg string) {
		for i := range values {
			if values[i].Name == name {
				values[i].Errors = append(values[i].Errors, msg)
			}
		}
	}
	topics := transform.ListValue(props[topicsConfig])
	if contains(topics, dlq) {
		msg := fmt.Sprintf("The DLQ topic '%s' may not be included in the list of topics ('%s=[%s]') consumed by the connector", dlq, topicsConfig, strings.Join(topics, ", "))
		add(topicsConfig, msg)
		add(dlqTopicConfig, msg)
	}
	if re := trimmed(props[topicsRegexConfig]); re != "" {
		if r, err := regexp.Compile("^(?:" + re + ")$"); err == nil && r.MatchString(dlq) {
			msg := fmt.Sprintf("The DLQ topic '%s' may not be included in the regex matching the topics ('%s=%s') consumed by the connector", dlq, topicsRegexConfig, re)
			add(topicsRegexConfig, msg)
			add(dlqTopicConfig, msg)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// configErrors turns validation errors into Kafka's 400 message for
// creating a connector (AbstractHerder.maybeAddConfigErrors).
func configErrors(infos *ConfigInfos) error {
	if infos.ErrorCount == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("Connector configuration is invalid and contains the following " + strconv.Itoa(infos.ErrorCount) + " error(s):")
	for _, c := range infos.Configs {
		if c.Value == nil {
			continue
		}
		for _, e := range c.Value.Errors {
			b.WriteString("\n" + e)
		}
	}
	b.WriteString("\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`")
	return badRequestf("%s", b.String())
}

// pluginConfig lists a plugin's configuration keys (GET
// /connector-plugins/{plugin}/config): the plugin's own, then the
// framework's for connectors.
func pluginConfig(name string) ([]*ConfigKeyInfo, error) {
	p, err := sdk.LookupPlugin(name)
	if err != nil {
		return nil, notFoundf("Unknown plugin %s.", name)
	}
	inst := p.New()
	var own, base *sdk.ConfigDef
	switch p.Type {
	case sdk.PluginSource:
		base = sourceConnectorDef
	case sdk.PluginSink:
		base = sinkConnectorDef
	}
	if c, ok := inst.(sdk.Configurable); ok {
		own = c.Config()
	}
	if own == nil {
		own = sdk.NewConfigDef()
	}
	out := []*ConfigKeyInfo{}
	seen := map[string]bool{}
	for _, k := range own.Keys() {
		seen[k.Name] = true
		out = append(out, keyInfo(k))
	}
	if base != nil {
		for _, k := range base.Keys() {
			if !seen[k.Name] {
				out = append(out, keyInfo(k))
			}
		}
	}
	return out, nil
}
