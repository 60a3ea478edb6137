package connect

// The worker's Kafka clients and their settings (Kafka's
// Worker.baseProducerConfigs/baseConsumerConfigs/adminConfigs and
// KIP-458's connector client overrides). Every client is configured by
// package clientconfig from Kafka's client property names; later
// settings win:
//
//	the worker's own clients     the worker properties (bootstrap.servers,
//	(cluster id lookup, internal security.protocol, ssl.*, sasl.*,
//	topics, group membership)    request.timeout.ms, …), client id "connect-…"
//
//	a task's producer            1. the worker's security.protocol, ssl.*, sasl.*
//	(and a sink's DLQ producer)  2. the worker's producer.*
//	                             3. the connector's producer.override.*
//	a sink task's consumer       1. the same  2. consumer.*  3. consumer.override.*
//	the admin client             1. every unprefixed worker property
//	                             2. admin.*   3. admin.override.*
//
// The override policy (connector.client.config.override.policy) decides
// which step-3 settings a connector may give. Kafka gives a task's
// producer and consumer no step 1: Gregor does, so that security settings
// written once reach every client, and a configuration that repeats them
// under producer./consumer. (as Kafka requires) means the same.

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	sdk "github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/internal/clientconfig"
)

// Client property prefixes (Kafka's WorkerConfig and ConnectorConfig).
const (
	AdminPrefix            = "admin."
	ProducerOverridePrefix = "producer.override."
	ConsumerOverridePrefix = "consumer.override."
	AdminOverridePrefix    = "admin.override."

	// ClientOverridePolicyConfig names the policy deciding which client
	// properties a connector may override (KIP-458).
	ClientOverridePolicyConfig = "connector.client.config.override.policy"
)

// The override policies (Kafka's ConnectorClientConfigOverridePolicy
// implementations, by alias).
const (
	PolicyNone      = "None"
	PolicyPrincipal = "Principal"
	PolicyAll       = "All"
)

// parseOverridePolicy accepts a policy's alias, simple class name or
// class name, as Kafka's plugin lookup does, and returns its alias.
func parseOverridePolicy(s string) (string, error) {
	s = trimmed(s)
	for _, alias := range []string{PolicyNone, PolicyPrincipal, PolicyAll} {
		simple := alias + "ConnectorClientConfigOverridePolicy"
		if s == alias || s == simple || s == "org.apache.kafka.connect.connector.policy."+simple {
			return alias, nil
		}
	}
	return "", errors.New(sdk.ConfigError(ClientOverridePolicyConfig, s, "Class "+s+" could not be found.").Error())
}

// overrideAllowed reports whether policy lets a connector override the
// client property k (Kafka's PrincipalConnectorClientConfigOverridePolicy
// allows the principal's settings only).
func overrideAllowed(policy, k string) bool {
	switch policy {
	case PolicyAll, "": // "": a Config not from ParseConfig; All is the default
		return true
	case PolicyPrincipal:
		return k == "security.protocol" || k == "sasl.jaas.config" || k == "sasl.mechanism"
	}
	return false
}

// clientKind is one of a task's clients: its role, the worker prefix and
// the connector override prefix of its settings.
type clientKind struct {
	role           clientconfig.Role
	prefix         string
	overridePrefix string
}

var (
	producerClient = clientKind{clientconfig.Producer, ProducerPrefix, ProducerOverridePrefix}
	consumerClient = clientKind{clientconfig.Consumer, ConsumerPrefix, ConsumerOverridePrefix}
	adminClient    = clientKind{clientconfig.Admin, AdminPrefix, AdminOverridePrefix}
)

// workerClientOpts returns the options of a client the worker makes for
// itself (its admin client, the internal topics' clients, the group
// membership client): the worker properties' client settings, the
// bootstrap servers and the client id clientID(c, id).
func (c *Config) workerClientOpts(id string) ([]kgo.Opt, error) {
	opts, _, err := clientconfig.Options(c.Props, clientconfig.Admin)
	if err != nil {
		return nil, err
	}
	return append(opts, kgo.SeedBrokers(c.BootstrapServers...), kgo.ClientID(clientID(c, id))), nil
}

// taskClientProps returns the settings of one of a connector's clients:
// the worker's security settings, then the worker properties with the
// kind's prefix, then the connector's overrides. An override the policy
// does not allow is an error (Kafka's Worker: "Client Config Overrides
// not allowed").
func (c *Config) taskClientProps(kind clientKind, connConfig map[string]string) (map[string]string, error) {
	props := map[string]string{}
	for k, v := range c.Props {
		switch {
		case clientconfig.IsSecurityProperty(k):
			props[k] = v
		case kind.role == clientconfig.Admin && k != BootstrapServersConfig && k != ClientIDConfig && !strings.HasPrefix(k, ProducerPrefix) &&
			!strings.HasPrefix(k, ConsumerPrefix) && !strings.HasPrefix(k, AdminPrefix):
			// Kafka's Worker.adminConfigs starts from every
			// worker property that has no client prefix.
			props[k] = v
		}
	}
	maps.Copy(props, sdk.WithPrefix(c.Props, kind.prefix))
	overrides := sdk.WithPrefix(connConfig, kind.overridePrefix)
	var refused []string
	for k := range overrides {
		if !overrideAllowed(c.OverridePolicy, k) {
			refused = append(refused, kind.overridePrefix+k)
		}
	}
	if len(refused) > 0 {
		sort.Strings(refused)
		return nil, fmt.Errorf("Client Config Overrides not allowed %v (%s=%s)", refused, ClientOverridePolicyConfig, c.OverridePolicy)
	}
	maps.Copy(props, overrides)
	return props, nil
}

// taskClientOpts returns the options of one of a connector's clients:
// its seeds (bootstrap.servers of its settings, else the worker's), the
// default client id clientID(c, id), defaults, then its settings (which
// win over both), with the properties of fixed set over them. The caller
// appends what Connect itself requires. It logs the settings no kgo
// option takes, as Kafka warns about unknown configs; ignore names those
// Connect reads itself. The settings are returned too.
func (c *Config) taskClientOpts(kind clientKind, connConfig map[string]string, id string, log *slog.Logger, defaults []kgo.Opt, fixed map[string]string, ignore ...string) ([]kgo.Opt, map[string]string, error) {
	props, err := c.taskClientProps(kind, connConfig)
	if err != nil {
		return nil, nil, err
	}
	maps.Copy(props, fixed)
	fromProps, unknown, err := clientconfig.Options(props, kind.role)
	if err != nil {
		return nil, nil, err
	}
	seeds := c.BootstrapServers
	if s := clientconfig.SplitBootstrap(props[BootstrapServersConfig]); len(s) > 0 {
		seeds = s
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ClientID(clientID(c, id))}, defaults...)
	opts = append(opts, fromProps...)
	if log != nil {
		for _, k := range unknown {
			if !contains(ignore, k) {
				log.Warn("The configuration '"+k+"' was supplied but isn't a known config.", "client", id)
			}
		}
	}
	return opts, props, nil
}

// validateClientSettings checks the worker's client settings once, at
// start: the worker's own clients' and those its tasks start from.
func (c *Config) validateClientSettings() error {
	if _, _, err := clientconfig.Options(c.Props, clientconfig.Admin); err != nil {
		return err
	}
	for _, kind := range []clientKind{producerClient, consumerClient, adminClient} {
		props, err := c.taskClientProps(kind, nil)
		if err != nil {
			return err
		}
		if _, _, err := clientconfig.Options(props, kind.role); err != nil {
			return fmt.Errorf("%s.*: %w", strings.TrimSuffix(kind.prefix, "."), err)
		}
		if kind.role == clientconfig.Consumer {
			if _, err := clientconfig.MaxPollRecords(props); err != nil {
				return fmt.Errorf("consumer.*: %w", err)
			}
		}
	}
	return nil
}

// clientOverrideInfos validates a connector's client overrides (Kafka's
// AbstractHerder.validateClientOverrides): one entry per override, with
// the policy's error for a property it does not allow ("The 'None'
// policy does not allow 'compression.type' to be overridden in the
// connector configuration.") and the client's error for a bad value. A
// source connector's producer, a sink connector's consumer and dead
// letter queue producer, and either's admin client are checked.
func (c *Config) clientOverrideInfos(connType sdk.PluginType, props map[string]string) ([]ConfigInfo, int) {
	kinds := []clientKind{adminClient}
	switch connType {
	case sdk.PluginSource:
		kinds = append([]clientKind{producerClient}, kinds...)
	case sdk.PluginSink: // its producer writes the dead letter queue
		kinds = append([]clientKind{consumerClient, producerClient}, kinds...)
	}
	var infos []ConfigInfo
	errCount := 0
	for _, kind := range kinds {
		overrides := sdk.WithPrefix(props, kind.overridePrefix)
		if len(overrides) == 0 {
			continue
		}
		names := make([]string, 0, len(overrides))
		for k := range overrides {
			names = append(names, k)
		}
		sort.Strings(names)
		values := map[string]*ConfigValueInfo{}
		allowed := true
		for _, k := range names {
			v := overrides[k]
			info := &ConfigValueInfo{Name: kind.overridePrefix + k, Value: &v, RecommendedValues: []string{}, Errors: []string{}, Visible: true}
			if !overrideAllowed(c.OverridePolicy, k) {
				info.Errors = append(info.Errors, "The '"+c.OverridePolicy+"' policy does not allow '"+k+"' to be overridden in the connector configuration.")
				allowed = false
			}
			values[k] = info
		}
		if allowed {
			// The values themselves, as the client would take them.
			merged, err := c.taskClientProps(kind, props)
			if err == nil {
				_, _, err = clientconfig.Options(merged, kind.role)
				if err == nil && kind.role == clientconfig.Consumer {
					_, err = clientconfig.MaxPollRecords(merged)
				}
			}
			if err != nil {
				target := values[names[0]]
				var ce *clientconfig.ConfigError
				if errors.As(err, &ce) && values[ce.Name] != nil {
					target = values[ce.Name]
				}
				target.Errors = append(target.Errors, err.Error())
			}
		}
		for _, k := range names {
			infos = append(infos, ConfigInfo{Value: values[k]})
			errCount += len(values[k].Errors)
		}
	}
	return infos, errCount
}

// validateConnector validates a connector configuration as
// validateConnectorConfig does, adding the client overrides' results
// under this worker's policy.
func (c *Config) validateConnector(props map[string]string, nullKeys []string) (*ConfigInfos, error) {
	infos, err := validateConnectorConfig(props, nullKeys)
	if err != nil {
		return nil, err
	}
	p, err := lookupConnector(props[connectorClassConfig])
	if err != nil {
		return nil, err
	}
	extra, n := c.clientOverrideInfos(p.Type, props)
	infos.Configs = append(infos.Configs, extra...)
	infos.ErrorCount += n
	return infos, nil
}
