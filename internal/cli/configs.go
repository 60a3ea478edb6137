package cli

// kafka-configs: Kafka's ConfigCommand, for the entity types whose configs
// live in DescribeConfigs / IncrementalAlterConfigs resources: topics,
// brokers (one broker or the cluster default), broker-loggers, groups and
// client-metrics.
//
//	kafka-configs --bootstrap-server HOST:PORT --describe [--all] --entity-type topics [--entity-name T]
//	kafka-configs --bootstrap-server HOST:PORT --describe --broker 1 | --broker-defaults
//	kafka-configs --bootstrap-server HOST:PORT --alter --topic T --add-config 'k1=v1,k2=[a,b]' --delete-config k3
//
// Output, as Kafka 4 prints it:
//
//	Dynamic configs for topic T are:
//	  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000, DEFAULT_CONFIG:log.retention.hours=168}
//	Completed updating config for topic T.
//	Completed updating default config for brokers in the cluster.
//
// Users carry SCRAM credentials (KIP-554), set and described through
// AlterUserScramCredentials and DescribeUserScramCredentials:
//
//	kafka-configs --bootstrap-server HOST:PORT --alter --entity-type users --entity-name alice \
//	    --add-config 'SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=alice-secret]'
//	kafka-configs --bootstrap-server HOST:PORT --alter --user alice --delete-config SCRAM-SHA-512
//	kafka-configs --bootstrap-server HOST:PORT --describe --entity-type users [--entity-name alice]
//	SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192
//
// Users, clients (alone or together) and ips carry client quotas
// (KIP-546), set and described through AlterClientQuotas and
// DescribeClientQuotas (configs_quotas.go).

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&Command{
		Name:    "kafka-configs",
		Summary: "Describe or alter dynamic configs of topics and brokers (kafka-configs.sh).",
		Run:     runConfigs,
	})
}

// Entity types, as ConfigCommand names them.
const (
	entityTopics        = "topics"
	entityClients       = "clients"
	entityUsers         = "users"
	entityBrokers       = "brokers"
	entityBrokerLoggers = "broker-loggers"
	entityIPs           = "ips"
	entityClientMetrics = "client-metrics"
	entityGroups        = "groups"
)

var allEntityTypes = []string{entityBrokerLoggers, entityTopics, entityClients, entityUsers, entityBrokers,
	entityIPs, entityClientMetrics, entityGroups}

// configSourceName is the Java ConfigEntry.ConfigSource name of a source.
func configSourceName(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "DYNAMIC_TOPIC_CONFIG"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "DYNAMIC_BROKER_CONFIG"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "STATIC_BROKER_CONFIG"
	case kmsg.ConfigSourceDefaultConfig:
		return "DEFAULT_CONFIG"
	case kmsg.ConfigSourceDynamicBrokerLoggerConfig:
		return "DYNAMIC_BROKER_LOGGER_CONFIG"
	case kmsg.ConfigSourceClientMetricsConfig:
		return "DYNAMIC_CLIENT_METRICS_CONFIG"
	case kmsg.ConfigSourceGroupConfig:
		return "DYNAMIC_GROUP_CONFIG"
	}
	return "UNKNOWN"
}

type configsCommand struct {
	env     *Env
	args    []string
	fs      *FlagSet
	cl      *kgo.Client
	types   []string // entity types, in ConfigCommand's order
	names   []string // entity names; "" is the default entity
	addKV   *string
	addFile *string
	deletes *[]string
}

func runConfigs(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet("kafka-configs", "This tool helps to manipulate and describe entity config for a topic, client, user, broker, ip, client-metrics or group")
	c := &configsCommand{env: env, args: args, fs: fs}
	conn := addAdminFlags(fs)
	bootstrapController := fs.String("bootstrap-controller", "String: controller to connect to", "The Kafka controllers to connect to.")
	fs.Bool("alter", "Alter the configuration for the entity.")
	fs.Bool("describe", "List configs for the given entity.")
	fs.Bool("all", "List all configs for the given entity, including static configs if available.")
	entityType := fs.Strings("entity-type", "String", "Type of entity (topics/clients/users/brokers/broker-loggers/ips/client-metrics/groups)")
	entityName := fs.Strings("entity-name", "String", "Name of entity (topic name/client id/user principal name/broker id/ip/client metrics/group id)")
	fs.Bool("entity-default", "Default entity name for clients/users/brokers/ips (applies to corresponding entity type)")
	c.addKV = fs.String("add-config", "String",
		"Key Value pairs of configs to add. Square brackets can be used to group values which contain commas: 'k1=v1,k2=[v1,v2,v2],k3=v3'.")
	c.addFile = fs.String("add-config-file", "String", "Path to a properties file with configs to add. See add-config for a list of valid configurations.")
	c.deletes = fs.Strings("delete-config", "String", "config keys to remove 'k1,k2'")
	type entityFlag struct{ flag, typ string }
	flags := []entityFlag{{"topic", entityTopics}, {"client", entityClients}, {"user", entityUsers},
		{"broker", entityBrokers}, {"broker-logger", entityBrokerLoggers}, {"ip", entityIPs},
		{"client-metrics", entityClientMetrics}, {"group", entityGroups}}
	defaults := []entityFlag{{"client-defaults", entityClients}, {"user-defaults", entityUsers},
		{"broker-defaults", entityBrokers}, {"ip-defaults", entityIPs}}
	values := map[string]*string{}
	for _, f := range flags {
		values[f.flag] = fs.String(f.flag, "String", "The "+strings.TrimSuffix(f.typ, "s")+"'s name or ID.")
	}
	for _, f := range defaults {
		fs.Bool(f.flag, "The config defaults for all "+f.typ+".")
	}
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	// Split --delete-config values on commas, as joptsimple does.
	var dels []string
	for _, d := range *c.deletes {
		for _, k := range strings.Split(d, ",") {
			dels = append(dels, strings.TrimSpace(k))
		}
	}
	*c.deletes = dels

	c.types = append(c.types, *entityType...)
	// In command-line order, as they pair with --entity-type
	// (configs_quotas.go).
	c.names = append(c.names, entityNamesInOrder(args, *entityName, fs.Changed("entity-default"))...)
	for _, f := range flags {
		if fs.Changed(f.flag) {
			c.types = append(c.types, f.typ)
			c.names = append(c.names, *values[f.flag])
		}
	}
	for _, f := range defaults {
		if fs.Changed(f.flag) {
			c.types = append(c.types, f.typ)
			c.names = append(c.names, "")
		}
	}
	specific := false
	for _, f := range append(flags, defaults...) {
		specific = specific || fs.Changed(f.flag)
	}
	if err := c.check(specific); err != nil {
		return err
	}
	if fs.Changed("bootstrap-controller") && !fs.Changed("bootstrap-server") {
		*conn.bootstrap = *bootstrapController
	}
	if fs.Changed("alter") && len(c.types) != len(c.names) {
		return &kafkaError{Msg: "An entity name must be specified for every entity type"}
	}
	cl, err := conn.connect(env)
	if err != nil {
		return err
	}
	defer cl.Close()
	c.cl = cl
	if fs.Changed("alter") {
		err = c.alter(ctx)
	} else {
		err = c.describe(ctx)
	}
	return c.commandError(err)
}

// commandError turns a failure into what ConfigCommand prints on stderr:
// argument and configuration errors as their message, anything else after
// "Error while executing config command with args '...'".
func (c *configsCommand) commandError(err error) error {
	if err == nil {
		return nil
	}
	var ue *UsageError
	var ke *kafkaError
	if errors.As(err, &ue) || errors.As(err, &ke) || errors.Is(err, context.Canceled) {
		return err
	}
	var be *brokerError
	if errors.As(err, &be) {
		trace := "java.util.concurrent.ExecutionException: " + be.javaString()
		if be.Code == kerr.InvalidTopicException.Code {
			trace = be.javaString() // thrown by the tool's own name check
		}
		return &kafkaError{Msg: fmt.Sprintf("Error while executing config command with args '%s'\n%s",
			strings.Join(c.args, " "), trace), Err: err}
	}
	return &kafkaError{Msg: fmt.Sprintf("Error while executing config command with args '%s'\n%v", strings.Join(c.args, " "), err), Err: err}
}

// check applies ConfigCommandOptions.checkArgs.
func (c *configsCommand) check(specific bool) error {
	fs := c.fs
	if n := len(fs.Given("alter", "describe")); n != 1 {
		return usagef("Command must include exactly one action: --describe, --alter")
	}
	if fs.Changed("describe") {
		for _, o := range []string{"add-config", "delete-config"} {
			if fs.Changed(o) {
				return usagef("Option \"[describe]\" can't be used with option \"[%s]\"", o)
			}
		}
	}
	var dups []string
	for i, t := range c.types {
		if slices.Contains(c.types[:i], t) && !slices.Contains(dups, t) {
			dups = append(dups, t)
		}
	}
	if len(dups) > 0 {
		return &kafkaError{Msg: "Duplicate entity type(s) specified: " + strings.Join(dups, ",")}
	}
	if !fs.Changed("bootstrap-server") && !fs.Changed("bootstrap-controller") {
		return &kafkaError{Msg: "Either --bootstrap-server or --bootstrap-controller must be specified."}
	}
	for _, t := range c.types {
		if !slices.Contains(allEntityTypes, t) {
			return &kafkaError{Msg: fmt.Sprintf("Invalid entity type %s, the entity type must be one of %s with a --bootstrap-server or --bootstrap-controller argument",
				t, strings.Join(allEntityTypes, ", "))}
		}
	}
	if len(c.types) == 0 {
		return &kafkaError{Msg: "At least one entity type must be specified"}
	}
	if len(c.types) > 1 && !(len(c.types) == 2 && slices.Contains(c.types, entityUsers) && slices.Contains(c.types, entityClients)) {
		return &kafkaError{Msg: fmt.Sprintf("Only '%s' and '%s' entity types may be specified together", entityUsers, entityClients)}
	}
	if (fs.Changed("entity-name") || fs.Changed("entity-type") || fs.Changed("entity-default")) && specific {
		return &kafkaError{Msg: "--entity-{type,name,default} should not be used in conjunction with specific entity flags"}
	}
	hasName := slices.ContainsFunc(c.names, func(n string) bool { return n != "" })
	hasDefault := slices.Contains(c.names, "")
	if fs.Changed("bootstrap-server") && fs.Changed("bootstrap-controller") {
		return &kafkaError{Msg: "Only one of --bootstrap-server or --bootstrap-controller can be specified"}
	}
	if hasName && (slices.Contains(c.types, entityBrokers) || slices.Contains(c.types, entityBrokerLoggers)) {
		for _, n := range c.names {
			if _, err := strconv.ParseInt(n, 10, 32); n != "" && err != nil {
				return &kafkaError{Msg: fmt.Sprintf("The entity name for %s must be a valid integer broker id, but it is: %s", c.types[0], n)}
			}
		}
	}
	quotaOrBroker := slices.ContainsFunc(c.types, func(t string) bool {
		return t == entityUsers || t == entityClients || t == entityBrokers || t == entityIPs
	})
	if fs.Changed("describe") {
		if !quotaOrBroker && fs.Changed("entity-default") {
			return &kafkaError{Msg: "--entity-default must not be specified with --describe of " + strings.Join(c.types, ",")}
		}
		if slices.Contains(c.types, entityBrokerLoggers) && !hasName {
			return &kafkaError{Msg: "An entity name must be specified with --describe of " + strings.Join(c.types, ",")}
		}
	}
	if fs.Changed("alter") {
		if quotaOrBroker {
			if !hasName && !hasDefault {
				return &kafkaError{Msg: "An entity-name or default entity must be specified with --alter of users, clients, brokers or ips"}
			}
		} else if !hasName {
			return &kafkaError{Msg: "An entity name must be specified with --alter of " + strings.Join(c.types, ",")}
		}
		if fs.Changed("add-config") && fs.Changed("add-config-file") {
			return &kafkaError{Msg: "Only one of --add-config or --add-config-file must be specified"}
		}
		if len(fs.Given("add-config", "add-config-file", "delete-config")) == 0 {
			return &kafkaError{Msg: "At least one of --add-config, --add-config-file, or --delete-config must be specified with --alter"}
		}
	}
	return nil
}

// parseAddConfig parses an --add-config value as ConfigCommand does: pairs
// separated by commas outside square brackets, key=value split on the
// first '=' outside brackets, brackets removed from values.
func parseAddConfig(s string) (map[string]string, []string, error) {
	out := map[string]string{}
	var order []string
	for _, pair := range splitOutsideBrackets(s, ',') {
		kv := splitKeyValueOutsideBrackets(pair)
		if len(kv) != 2 {
			return nil, nil, &kafkaError{Msg: "Invalid entity config: all configs to be added must be in the format \"key=val\" or  \"key=[val1,val2]\" to group values which contain commas."}
		}
		k := strings.TrimSpace(kv[0])
		v := strings.TrimSpace(strings.NewReplacer("[", "", "]", "").Replace(kv[1]))
		if _, dup := out[k]; !dup {
			order = append(order, k)
		}
		out[k] = v
	}
	return out, order, nil
}

// splitOutsideBrackets splits s at sep where sep is not inside [...].
func splitOutsideBrackets(s string, sep byte) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// splitKeyValueOutsideBrackets splits on every '=' (with surrounding
// spaces) outside brackets, keeping empty parts, like Java's
// split("\\s*=\\s*", -1).
func splitKeyValueOutsideBrackets(s string) []string {
	parts := splitOutsideBrackets(s, '=')
	for i := range parts {
		if i > 0 {
			parts[i] = strings.TrimLeft(parts[i], " \t\n\r\f\v")
		}
		if i < len(parts)-1 {
			parts[i] = strings.TrimRight(parts[i], " \t\n\r\f\v")
		}
	}
	return parts
}

var validConfigKey = regexp.MustCompile(`^[$a-zA-Z0-9._-]*$`)

// configsToAdd returns --add-config / --add-config-file entries, sorted by
// name.
func (c *configsCommand) configsToAdd() ([]string, map[string]string, error) {
	props := map[string]string{}
	if *c.addFile != "" {
		p, err := loadProperties(*c.addFile)
		if err != nil {
			return nil, nil, err
		}
		props = p
	}
	if c.fs.Changed("add-config") {
		kv, _, err := parseAddConfig(*c.addKV)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range kv {
			props[k] = v
		}
	}
	for k := range props {
		if !validConfigKey.MatchString(k) {
			return nil, nil, &kafkaError{Msg: "Invalid character found for config key: " + k}
		}
	}
	return sortedKeys(props), props, nil
}

// resourceType maps an entity type to its config resource type.
func resourceType(entityType string) kmsg.ConfigResourceType {
	switch entityType {
	case entityTopics:
		return kmsg.ConfigResourceTypeTopic
	case entityBrokers:
		return kmsg.ConfigResourceTypeBroker
	case entityBrokerLoggers:
		return kmsg.ConfigResourceTypeBrokerLogger
	case entityClientMetrics:
		return kmsg.ConfigResourceTypeClientMetrics
	case entityGroups:
		return kmsg.ConfigResourceTypeGroupConfig
	}
	return kmsg.ConfigResourceTypeUnknown
}

// dynamicSource is the source ConfigCommand keeps when describing only
// dynamic configs; ok is false when it keeps everything (broker loggers).
func dynamicSource(entityType, name string) (kmsg.ConfigSource, bool) {
	switch entityType {
	case entityTopics:
		return kmsg.ConfigSourceDynamicTopicConfig, true
	case entityBrokers:
		if name == "" {
			return kmsg.ConfigSourceDynamicDefaultBrokerConfig, true
		}
		return kmsg.ConfigSourceDynamicBrokerConfig, true
	case entityClientMetrics:
		return kmsg.ConfigSourceClientMetricsConfig, true
	case entityGroups:
		return kmsg.ConfigSourceGroupConfig, true
	}
	return 0, false
}

// resourceConfig is getResourceConfig: the entity's configs, sorted by
// name, only the dynamic ones unless all.
func (c *configsCommand) resourceConfig(ctx context.Context, entityType, name string, synonyms, all bool) ([]kmsg.DescribeConfigsResponseResourceConfig, error) {
	if entityType == entityTopics && name != "" {
		if err := validateTopicName(name); err != nil {
			return nil, err
		}
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = synonyms
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType = resourceType(entityType)
	r.ResourceName = name
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return nil, err
	}
	if len(resp.Resources) != 1 {
		return nil, fmt.Errorf("DescribeConfigs: broker returned %d resources, expected 1", len(resp.Resources))
	}
	res := resp.Resources[0]
	if err := newBrokerError(res.ErrorCode, res.ErrorMessage); err != nil {
		return nil, err
	}
	src, filter := dynamicSource(entityType, name)
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, e := range res.Configs {
		if all || !filter || e.Source == src {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b kmsg.DescribeConfigsResponseResourceConfig) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (c *configsCommand) describe(ctx context.Context) error {
	entityType := c.types[0]
	switch entityType {
	case entityUsers, entityClients, entityIPs:
		return c.describeQuotaEntity(ctx) // configs_quotas.go
	}
	all := c.fs.Changed("all")
	w := c.env.Stdout
	singular := strings.TrimSuffix(entityType, "s")
	var entities []string
	if len(c.names) > 0 {
		name := c.names[0]
		if !all {
			exists, err := c.entityExists(ctx, entityType, name)
			if err != nil {
				return err
			}
			if !exists {
				fmt.Fprintf(w, "The %s '%s' doesn't exist and doesn't have dynamic config.\n", singular, name)
				return nil
			}
		}
		entities = []string{name}
	} else {
		var err error
		if entities, err = c.listEntities(ctx, entityType); err != nil {
			return err
		}
	}
	for _, e := range entities {
		if e == "" {
			fmt.Fprintf(w, "Default configs for %s in the cluster are:\n", entityType)
		} else {
			kind := "Dynamic"
			if all {
				kind = "All"
			}
			fmt.Fprintf(w, "%s configs for %s %s are:\n", kind, singular, e)
		}
		entries, err := c.resourceConfig(ctx, entityType, e, true, all)
		if err != nil {
			return err
		}
		for _, ce := range entries {
			syn := make([]string, len(ce.ConfigSynonyms))
			for i, s := range ce.ConfigSynonyms {
				syn[i] = configSourceName(s.Source) + ":" + s.Name + "=" + nullable(s.Value)
			}
			fmt.Fprintf(w, "  %s=%s sensitive=%t synonyms={%s}\n", ce.Name, nullable(ce.Value), ce.IsSensitive, strings.Join(syn, ", "))
		}
	}
	return nil
}

// nullable prints a nullable string as Java does.
func nullable(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// entityExists is the existence check ConfigCommand makes before
// describing a named entity.
func (c *configsCommand) entityExists(ctx context.Context, entityType, name string) (bool, error) {
	switch entityType {
	case entityTopics:
		if err := validateTopicName(name); err != nil {
			return false, err
		}
		topics, err := metadataTopics(ctx, c.cl, false)
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(topics, func(t listedTopic) bool { return t.name == name }), nil
	case entityBrokers, entityBrokerLoggers:
		if name == "" {
			return true, nil
		}
		ids, err := c.brokerIDs(ctx)
		if err != nil {
			return false, err
		}
		return slices.Contains(ids, name), nil
	case entityGroups:
		groups, err := c.listGroups(ctx)
		if err != nil {
			return false, err
		}
		if slices.Contains(groups, name) {
			return true, nil
		}
		res, ok, err := c.listConfigResources(ctx, kmsg.ConfigResourceTypeGroupConfig)
		if err != nil {
			return false, err
		}
		return ok && slices.Contains(res, name), nil
	case entityClientMetrics:
		res, _, err := c.listConfigResources(ctx, kmsg.ConfigResourceTypeClientMetrics)
		if err != nil {
			return false, err
		}
		return slices.Contains(res, name), nil
	}
	return false, &kafkaError{Msg: "Invalid entity type: " + entityType}
}

// listEntities lists every entity of a type, for --describe without a name.
func (c *configsCommand) listEntities(ctx context.Context, entityType string) ([]string, error) {
	switch entityType {
	case entityTopics:
		topics, err := metadataTopics(ctx, c.cl, false)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(topics))
		for i, t := range topics {
			names[i] = t.name
		}
		return names, nil
	case entityBrokers, entityBrokerLoggers:
		ids, err := c.brokerIDs(ctx)
		if err != nil {
			return nil, err
		}
		return append(ids, ""), nil
	case entityGroups:
		groups, err := c.listGroups(ctx)
		if err != nil {
			return nil, err
		}
		res, _, err := c.listConfigResources(ctx, kmsg.ConfigResourceTypeGroupConfig)
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			if !slices.Contains(groups, r) {
				groups = append(groups, r)
			}
		}
		slices.Sort(groups)
		return groups, nil
	case entityClientMetrics:
		res, _, err := c.listConfigResources(ctx, kmsg.ConfigResourceTypeClientMetrics)
		return res, err
	}
	return nil, &kafkaError{Msg: "Invalid entity type: " + entityType}
}

// brokerIDs lists the cluster's brokers (DescribeCluster's nodes) as
// strings, in the order the broker gave.
func (c *configsCommand) brokerIDs(ctx context.Context) ([]string, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(resp.Brokers))
	for i, b := range resp.Brokers {
		ids[i] = strconv.Itoa(int(b.NodeID))
	}
	return ids, nil
}

// listGroups lists group IDs with ListGroups on every broker.
func (c *configsCommand) listGroups(ctx context.Context) ([]string, error) {
	req := kmsg.NewPtrListGroupsRequest()
	var groups []string
	for _, shard := range c.cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			return nil, shard.Err
		}
		resp := shard.Resp.(*kmsg.ListGroupsResponse)
		if err := newBrokerError(resp.ErrorCode, nil); err != nil {
			return nil, err
		}
		for _, g := range resp.Groups {
			if !slices.Contains(groups, g.Group) {
				groups = append(groups, g.Group)
			}
		}
	}
	slices.Sort(groups)
	return groups, nil
}

// listConfigResources lists config resources of a type (KIP-1142). ok is
// false when the cluster does not support it or denies it, as Kafka treats
// those.
func (c *configsCommand) listConfigResources(ctx context.Context, t kmsg.ConfigResourceType) ([]string, bool, error) {
	req := kmsg.NewPtrListConfigResourcesRequest()
	req.ResourceTypes = []int8{int8(t)}
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, err
		}
		return nil, false, nil
	}
	if resp.ErrorCode == kerr.ClusterAuthorizationFailed.Code || resp.ErrorCode == kerr.UnsupportedVersion.Code {
		return nil, false, nil
	}
	if err := newBrokerError(resp.ErrorCode, nil); err != nil {
		return nil, false, err
	}
	var names []string
	for _, r := range resp.ConfigResources {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	return names, true, nil
}

func (c *configsCommand) alter(ctx context.Context) error {
	entityType, name := c.types[0], c.names[0]
	order, adds, err := c.configsToAdd()
	if err != nil {
		return err
	}
	switch entityType {
	case entityUsers, entityClients, entityIPs:
		if err := c.alterQuotaEntity(ctx, order, adds, *c.deletes); err != nil { // configs_quotas.go
			return err
		}
		if name == "" {
			fmt.Fprintf(c.env.Stdout, "Completed updating default config for %s in the cluster.\n", entityType)
		} else {
			fmt.Fprintf(c.env.Stdout, "Completed updating config for %s %s.\n", strings.TrimSuffix(entityType, "s"), name)
		}
		return nil
	}
	deletes := *c.deletes
	var current []kmsg.DescribeConfigsResponseResourceConfig
	if entityType == entityBrokerLoggers {
		current, err = c.resourceConfig(ctx, entityType, name, true, false)
	} else {
		current, err = c.resourceConfig(ctx, entityType, name, false, false)
	}
	if err != nil {
		return err
	}
	known := func(k string) bool {
		return slices.ContainsFunc(current, func(e kmsg.DescribeConfigsResponseResourceConfig) bool { return e.Name == k })
	}
	var invalid []string
	if entityType == entityBrokerLoggers {
		for _, k := range deletes {
			if !known(k) {
				invalid = append(invalid, k)
			}
		}
		for _, k := range order {
			if !known(k) {
				invalid = append(invalid, k)
			}
		}
		if len(invalid) > 0 {
			return &kafkaError{Msg: "Invalid broker logger(s): " + strings.Join(invalid, ",")}
		}
	} else {
		for _, k := range deletes {
			if !known(k) {
				invalid = append(invalid, k)
			}
		}
		if len(invalid) > 0 {
			return &kafkaError{Msg: "Invalid config(s): " + strings.Join(invalid, ",")}
		}
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType = resourceType(entityType)
	r.ResourceName = name
	for _, k := range deletes {
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name = k
		cfg.Op = kmsg.IncrementalAlterConfigOpDelete
		cfg.Value = kmsg.StringPtr("")
		r.Configs = append(r.Configs, cfg)
	}
	for _, k := range order {
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name = k
		cfg.Op = kmsg.IncrementalAlterConfigOpSet
		cfg.Value = kmsg.StringPtr(adds[k])
		r.Configs = append(r.Configs, cfg)
	}
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		if errors.Is(err, kerr.UnsupportedVersion) {
			return &kafkaError{Msg: "The INCREMENTAL_ALTER_CONFIGS API is not supported by the cluster. The API is supported starting from version 2.3.0. You may want to use an older version of this tool to interact with your cluster, or upgrade your brokers to version 2.3.0 or newer to avoid this error."}
		}
		return err
	}
	for _, rr := range resp.Resources {
		if err := newBrokerError(rr.ErrorCode, rr.ErrorMessage); err != nil {
			return err
		}
	}
	if name != "" {
		fmt.Fprintf(c.env.Stdout, "Completed updating config for %s %s.\n", strings.TrimSuffix(entityType, "s"), name)
	} else {
		fmt.Fprintf(c.env.Stdout, "Completed updating default config for %s in the cluster.\n", entityType)
	}
	return nil
}
