package connect

// Topic creation for source connectors (KIP-158; Kafka's
// TopicCreationConfig, TopicCreationGroup, TopicCreation and
// AbstractWorkerSourceTask.maybeCreateTopic).
//
// With the worker's topic.creation.enable (default true) and a source
// connector configuration holding any "topic.creation." property, each
// task creates the topics it writes to, before the first record to each:
//
//	topic.creation.groups=compacted,…          groups, in order (the default group is implicit)
//	topic.creation.default.replication.factor  required; -1: the broker's default
//	topic.creation.default.partitions          required; -1: the broker's default
//	topic.creation.default.<topic config>      e.g. cleanup.policy=compact
//	topic.creation.<group>.include             regexes (whole name) the group applies to
//	topic.creation.<group>.exclude             regexes it never applies to (exclusion wins)
//	topic.creation.<group>.replication.factor  default: the default group's
//	topic.creation.<group>.partitions          default: the default group's
//	topic.creation.<group>.<topic config>      passed to CreateTopics
//
// A topic takes the settings of the first group whose include matches
// and whose exclude does not, else the default group's (whose include and
// exclude are ignored: it matches every topic). The task asks the brokers
// whether the topic exists (Metadata); if not it creates it (CreateTopics);
// either way the topic is remembered for the task's life and not looked
// up again. A topic that can neither be found nor created fails the task,
// with Kafka's message; a retriable error (a timeout, no controller yet)
// is retried until the task stops.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	sdk "github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/connect/transform"
)

// Topic creation property names (Kafka's WorkerConfig,
// SourceConnectorConfig and TopicCreationConfig).
const (
	// TopicCreationEnableConfig is the worker's switch.
	TopicCreationEnableConfig = "topic.creation.enable"

	topicCreationPrefix        = "topic.creation."
	topicCreationGroupsConfig  = "topic.creation.groups"
	defaultTopicCreationGroup  = "default"
	defaultTopicCreationPrefix = topicCreationPrefix + defaultTopicCreationGroup + "."
	topicCreationGroupName     = "Topic Creation"

	includeRegexConfig      = "include"
	excludeRegexConfig      = "exclude"
	replicationFactorConfig = "replication.factor"
	partitionsConfig        = "partitions"

	// noPartitions and noReplicationFactor ask for the broker's default
	// (Kafka's TopicAdmin.NO_PARTITIONS, NO_REPLICATION_FACTOR).
	noPartitions        = -1
	noReplicationFactor = -1
)

const (
	includeRegexDoc      = "A list of regular expression literals used to match the topic names used by the source connector. This list is used to include topics that should be created using the topic settings defined by this group."
	excludeRegexDoc      = "A list of regular expression literals used to match the topic names used by the source connector. This list is used to exclude topics from being created with the topic settings defined by this group. Note that exclusion rules have precedent and override any inclusion rules for the topics."
	replicationFactorDoc = "The replication factor for new topics created for this connector using this group. This value may be -1 to use the broker's default replication factor, or may be a positive number not larger than the number of brokers in the Kafka cluster. A value larger than the number of brokers in the Kafka cluster will result in an error when the new topic is created. For the default group this configuration is required. For any other group defined in topic.creation.groups this config is optional and if it's missing it gets the value of the default group"
	partitionsDoc        = "The number of partitions new topics created for this connector. This value may be -1 to use the broker's default number of partitions, or a positive number representing the desired number of partitions. For the default group this configuration is required. For any other group defined in topic.creation.groups this config is optional and if it's missing it gets the value of the default group"
)

func init() {
	workerConfigDef.Define(sdk.ConfigKey{Name: TopicCreationEnableConfig, Type: sdk.ConfigBoolean, Default: "true", Importance: sdk.ImportanceLow,
		Documentation: "Whether to allow automatic creation of topics used by source connectors, when source connectors are configured with `topic.creation.` properties. Each task will use an admin client to create its topics and will not depend on the Kafka brokers to create topics automatically."})
	sourceConnectorDef.Define(topicCreationGroupsKey)
}

// topicCreationGroupsKey is Kafka's SourceConnectorConfig key listing the
// groups.
var topicCreationGroupsKey = sdk.ConfigKey{Name: topicCreationGroupsConfig, Type: sdk.ConfigList, Default: "",
	Validator:     sdk.AllOf(sdk.NonNull(), aliasValidator("topic creation group")),
	Importance:    sdk.ImportanceLow,
	Documentation: "Groups of configurations for topics created by source connectors",
	Group:         topicCreationGroupName, OrderInGroup: 1, Width: sdk.WidthLong, DisplayName: "Topic Creation Groups"}

// topicCreationRegexes checks that each list entry compiles (Kafka's
// TopicCreationConfig.REGEX_VALIDATOR).
var topicCreationRegexes = sdk.ValidatorFunc{Doc: "Positive number, or -1 to use the broker's default", Func: func(name string, v any) error {
	l, _ := v.([]string)
	for _, re := range l {
		if _, err := regexp.Compile(re); err != nil {
			return sdk.ConfigError(name, v, "Syntax error in regular expression: "+err.Error())
		}
	}
	return nil
}}

var topicCreationReplication = sdk.ValidatorFunc{Doc: "Positive number not larger than the number of brokers in the Kafka cluster, or -1 to use the broker's default", Func: func(name string, v any) error {
	if f, ok := v.(int16); ok && f != noReplicationFactor && f < 1 {
		return sdk.ConfigError(name, v, "Replication factor must be positive and not larger than the number of brokers in the Kafka cluster, or -1 to use the broker's default")
	}
	return nil
}}

var topicCreationPartitions = sdk.ValidatorFunc{Doc: "Positive number, or -1 to use the broker's default", Func: func(name string, v any) error {
	if n, ok := v.(int32); ok && n != noPartitions && n < 1 {
		return sdk.ConfigError(name, v, "Number of partitions must be positive, or -1 to use the broker's default")
	}
	return nil
}}

// usesTopicCreation reports whether a source connector configuration
// asks for topic creation (Kafka's SourceConnectorConfig: any property
// under "topic.creation.").
func usesTopicCreation(props map[string]string) bool {
	for k := range props {
		if strings.HasPrefix(k, topicCreationPrefix) {
			return true
		}
	}
	return false
}

// enrichTopicCreationDef adds to a source connector's ConfigDef the
// default group's keys and each group's, when props use topic creation
// (Kafka's SourceConnectorConfig.embedDefaultGroup and enrich). Groups'
// replication factor and partitions default to the default group's.
func enrichTopicCreationDef(base *sdk.ConfigDef, props map[string]string) *sdk.ConfigDef {
	if !usesTopicCreation(props) {
		return base
	}
	d := base.Clone()
	const dg = defaultTopicCreationGroup
	d.Define(sdk.ConfigKey{Name: defaultTopicCreationPrefix + includeRegexConfig, Type: sdk.ConfigList, Default: ".*", Validator: sdk.NonNull(),
		Importance: sdk.ImportanceLow, Documentation: includeRegexDoc, Group: dg, OrderInGroup: 1, Width: sdk.WidthLong, DisplayName: "Inclusion Topic Pattern for " + dg})
	d.Define(sdk.ConfigKey{Name: defaultTopicCreationPrefix + excludeRegexConfig, Type: sdk.ConfigList, Default: "", Validator: sdk.NonNull(),
		Importance: sdk.ImportanceLow, Documentation: excludeRegexDoc, Group: dg, OrderInGroup: 2, Width: sdk.WidthLong, DisplayName: "Exclusion Topic Pattern for " + dg})
	d.Define(sdk.ConfigKey{Name: defaultTopicCreationPrefix + replicationFactorConfig, Type: sdk.ConfigShort, Default: sdk.NoDefaultValue, Validator: topicCreationReplication,
		Importance: sdk.ImportanceLow, Documentation: replicationFactorDoc, Group: dg, OrderInGroup: 3, Width: sdk.WidthLong, DisplayName: "Replication Factor for Topics in " + dg})
	d.Define(sdk.ConfigKey{Name: defaultTopicCreationPrefix + partitionsConfig, Type: sdk.ConfigInt, Default: sdk.NoDefaultValue, Validator: topicCreationPartitions,
		Importance: sdk.ImportanceLow, Documentation: partitionsDoc, Group: dg, OrderInGroup: 4, Width: sdk.WidthLong, DisplayName: "Partition Count for Topics in " + dg})
	// The other groups default to the default group's values, when those
	// parse; otherwise the default group's keys report the error.
	rf, parts := any(nil), any(nil)
	if v := trimmed(props[defaultTopicCreationPrefix+replicationFactorConfig]); v != "" {
		if n, err := strconv.ParseInt(v, 10, 16); err == nil {
			rf = int16(n)
		}
	}
	if v := trimmed(props[defaultTopicCreationPrefix+partitionsConfig]); v != "" {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			parts = int32(n)
		}
	}
	if rf == nil {
		rf = sdk.NoDefaultValue
	}
	if parts == nil {
		parts = sdk.NoDefaultValue
	}
	seen := map[string]bool{}
	for _, g := range transform.ListValue(props[topicCreationGroupsConfig]) {
		if seen[g] || g == defaultTopicCreationGroup {
			continue
		}
		seen[g] = true
		prefix := topicCreationPrefix + g + "."
		group := topicCreationGroupName + ": " + g
		d.Define(sdk.ConfigKey{Name: prefix + includeRegexConfig, Type: sdk.ConfigList, Default: "", Validator: topicCreationRegexes,
			Importance: sdk.ImportanceLow, Documentation: includeRegexDoc, Group: group, OrderInGroup: 1, Width: sdk.WidthLong, DisplayName: "Inclusion Topic Pattern for " + group})
		d.Define(sdk.ConfigKey{Name: prefix + excludeRegexConfig, Type: sdk.ConfigList, Default: "", Validator: topicCreationRegexes,
			Importance: sdk.ImportanceLow, Documentation: excludeRegexDoc, Group: group, OrderInGroup: 2, Width: sdk.WidthLong, DisplayName: "Exclusion Topic Pattern for " + group})
		d.Define(sdk.ConfigKey{Name: prefix + replicationFactorConfig, Type: sdk.ConfigShort, Default: rf, Validator: topicCreationReplication,
			Importance: sdk.ImportanceLow, Documentation: replicationFactorDoc, Group: group, OrderInGroup: 3, Width: sdk.WidthLong, DisplayName: "Replication Factor for Topics in " + group})
		d.Define(sdk.ConfigKey{Name: prefix + partitionsConfig, Type: sdk.ConfigInt, Default: parts, Validator: topicCreationPartitions,
			Importance: sdk.ImportanceLow, Documentation: partitionsDoc, Group: group, OrderInGroup: 4, Width: sdk.WidthLong, DisplayName: "Partition Count for Topics in " + group})
	}
	return d
}

// topicCreationGroup is one group's settings (Kafka's
// TopicCreationGroup).
type topicCreationGroup struct {
	name              string
	include, exclude  *regexp.Regexp // nil include: matches every topic (the default group)
	partitions        int32
	replicationFactor int16
	configs           map[string]string // other topic configs
}

// matches reports whether the group applies to topic: its exclude does
// not match the whole name and its include does.
func (g *topicCreationGroup) matches(topic string) bool {
	if g.exclude != nil && g.exclude.MatchString(topic) {
		return false
	}
	return g.include == nil || g.include.MatchString(topic)
}

// String describes the group as Kafka's TopicCreationGroup.toString.
func (g *topicCreationGroup) String() string {
	return fmt.Sprintf("TopicCreationGroup{name='%s', inclusionPattern=%s, exclusionPattern=%s, numPartitions=%d, replicationFactor=%d, otherConfigs=%s}",
		g.name, patternString(g.include, ".*"), patternString(g.exclude, ""), g.partitions, g.replicationFactor, javaMap(g.configs))
}

func patternString(re *regexp.Regexp, none string) string {
	if re == nil {
		return none
	}
	s := strings.TrimSuffix(strings.TrimPrefix(re.String(), "^(?:"), ")$")
	return s
}

// newTopicString describes the topic to create as Kafka's
// NewTopic.toString.
func (g *topicCreationGroup) newTopicString(topic string) string {
	return fmt.Sprintf("(name=%s, numPartitions=%s, replicationFactor=%s, replicasAssignments=null, configs=%s)",
		topic, defaultOr(int(g.partitions)), defaultOr(int(g.replicationFactor)), javaMap(g.configs))
}

func defaultOr(n int) string {
	if n < 0 {
		return "default"
	}
	return strconv.Itoa(n)
}

// wholeMatch compiles regexes into one that matches a whole name
// matching any of them (Java's Pattern.matcher(…).matches() over the
// patterns joined by "|"); nil for none.
func wholeMatch(res []string) (*regexp.Regexp, error) {
	if len(res) == 0 {
		return nil, nil
	}
	return regexp.Compile("^(?:" + strings.Join(res, "|") + ")$")
}

// topicCreation is a task's topic creation state (Kafka's TopicCreation):
// the groups and the topics found or created so far. Used by the task's
// run goroutine only.
type topicCreation struct {
	groups  []*topicCreationGroup // in topic.creation.groups order
	dflt    *topicCreationGroup
	created map[string]bool // topics known to exist
}

// newTopicCreation returns the task's topic creation, or nil when the
// worker disables it or the connector does not use it. Errors read as
// Kafka's ConfigException.
func newTopicCreation(cfg *Config, connConfig map[string]string) (*topicCreation, error) {
	if !cfg.TopicCreation || !usesTopicCreation(connConfig) {
		return nil, nil
	}
	// Kafka ignores the default group's include and exclude.
	props := maps.Clone(connConfig)
	delete(props, defaultTopicCreationPrefix+includeRegexConfig)
	delete(props, defaultTopicCreationPrefix+excludeRegexConfig)
	def := enrichTopicCreationDef(sdk.NewConfigDef().Define(topicCreationGroupsKey), props)
	for _, v := range def.Validate(props) {
		if len(v.Errors) > 0 {
			return nil, errors.New(v.Errors[0])
		}
	}
	pc, err := def.Parse(props)
	if err != nil {
		return nil, err
	}
	group := func(name string) (*topicCreationGroup, error) {
		prefix := topicCreationPrefix + name + "."
		g := &topicCreationGroup{name: name, partitions: pc.GetInt(prefix + partitionsConfig), replicationFactor: pc.GetShort(prefix + replicationFactorConfig), configs: map[string]string{}}
		if name != defaultTopicCreationGroup {
			if g.include, err = wholeMatch(pc.GetList(prefix + includeRegexConfig)); err != nil {
				return nil, err
			}
			if g.include == nil {
				// An empty include list matches no topic name (Java's
				// Pattern "" matches only "").
				g.include = regexp.MustCompile(`^$`)
			}
			if g.exclude, err = wholeMatch(pc.GetList(prefix + excludeRegexConfig)); err != nil {
				return nil, err
			}
		}
		for k, v := range sdk.WithPrefix(props, prefix) {
			switch k {
			case includeRegexConfig, excludeRegexConfig, replicationFactorConfig, partitionsConfig:
				continue
			}
			g.configs[k] = v
		}
		return g, nil
	}
	tc := &topicCreation{created: map[string]bool{}}
	if tc.dflt, err = group(defaultTopicCreationGroup); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, name := range pc.GetList(topicCreationGroupsConfig) {
		if seen[name] || name == defaultTopicCreationGroup {
			continue
		}
		seen[name] = true
		g, err := group(name)
		if err != nil {
			return nil, err
		}
		tc.groups = append(tc.groups, g)
	}
	return tc, nil
}

// findGroup returns the first group that matches topic, else the default
// group (Kafka's TopicCreation.findFirstGroup).
func (tc *topicCreation) findGroup(topic string) *topicCreationGroup {
	for _, g := range tc.groups {
		if g.matches(topic) {
			return g
		}
	}
	return tc.dflt
}

// maybeCreateTopic makes sure topic exists before the task's first record
// to it (Kafka's AbstractWorkerSourceTask.maybeCreateTopic): once found
// or created the topic is not looked up again. Retriable failures are
// retried until the task stops.
func (t *sourceTask) maybeCreateTopic(topic string) error {
	tc := t.creation
	if tc == nil || tc.created[topic] {
		return nil
	}
	backoff := 100 * time.Millisecond
	for {
		retry, err := t.createTopic(tc, topic)
		if err == nil {
			tc.created[topic] = true
			return nil
		}
		if !retry || t.ctx.Err() != nil {
			return err
		}
		t.log.Warn("Failed to find or create topic; retrying", "topic", topic, "err", err)
		select {
		case <-t.ctx.Done():
			return t.ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// createTopic looks topic up and creates it with its group's settings if
// it does not exist (TopicAdmin.createOrFindTopics). retry is set for
// failures worth retrying: timeouts, unreachable brokers, retriable
// error codes.
func (t *sourceTask) createTopic(tc *topicCreation, topic string) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
	defer cancel()
	admin, release, err := t.w.connectorAdmin(t.id.Connector, t.connConfig)
	if err != nil {
		return false, fmt.Errorf("topic creation admin client: %w", err)
	}
	defer release()
	t.log.Info("The task will send records to topic '" + topic + "' for the first time. Checking whether topic exists")
	existing, err := admin.ListTopics(ctx, topic)
	if err != nil {
		var authErr *kadm.AuthError
		return !errors.As(err, &authErr), fmt.Errorf("Timed out while checking for or creating topic(s) '%s': %w", topic, err)
	}
	if existing.Has(topic) {
		t.log.Info("Topic '" + topic + "' already exists.")
		return false, nil
	}
	g := tc.findGroup(topic)
	t.log.Info("Creating topic '" + topic + "'")
	t.log.Debug("Topic '"+topic+"' matched topic creation group: "+g.String(), "topic", topic)
	configs := make(map[string]*string, len(g.configs))
	keys := make([]string, 0, len(g.configs))
	for k := range g.configs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		configs[k] = new(g.configs[k])
	}
	newTopic := g.newTopicString(topic)
	resp, err := admin.CreateTopic(ctx, g.partitions, g.replicationFactor, configs, topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		t.log.Info("Created topic '" + newTopic + "' using creation group " + g.String())
		return false, nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		t.log.Info("Found existing topic '" + newTopic + "'")
		return false, nil
	case errors.Is(err, kerr.InvalidConfig), errors.Is(err, kerr.InvalidReplicationFactor), errors.Is(err, kerr.InvalidPartitions), errors.Is(err, kerr.PolicyViolation):
		return false, fmt.Errorf("Unable to create topic(s) '%s': %w", topic, err)
	case kerr.IsRetriable(err) || errors.Is(err, context.DeadlineExceeded):
		return true, fmt.Errorf("Timed out while checking for or creating topic(s) '%s': %w", topic, err)
	}
	t.log.Warn("Request to create new topic '"+topic+"' failed", "err", err)
	return false, fmt.Errorf("Task failed to create new topic %s. Ensure that the task is authorized to create topics or that the topic exists and restart the task: %w", newTopic, err)
}
