package connect

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	sdk "github.com/gregor-streaming/gregor/connect"
)

// Worker property names (Kafka's WorkerConfig and StandaloneConfig).
const (
	BootstrapServersConfig        = "bootstrap.servers"
	KeyConverterConfig            = "key.converter"
	ValueConverterConfig          = "value.converter"
	HeaderConverterConfig         = "header.converter"
	OffsetStorageFileConfig       = "offset.storage.file.filename"
	OffsetFlushIntervalConfig     = "offset.flush.interval.ms"
	OffsetFlushTimeoutConfig      = "offset.flush.timeout.ms"
	TaskShutdownTimeoutConfig     = "task.shutdown.graceful.timeout.ms"
	ListenersConfig               = "listeners"
	RestAdvertisedHostConfig      = "rest.advertised.host.name"
	RestAdvertisedPortConfig      = "rest.advertised.port"
	RestAdvertisedListenerConfig  = "rest.advertised.listener"
	PluginPathConfig              = "plugin.path"
	TopicTrackingEnableConfig     = "topic.tracking.enable"
	TopicTrackingAllowResetConfig = "topic.tracking.allow.reset"
	ClientIDConfig                = "client.id"

	// Prefixes of client properties the worker passes on.
	ProducerPrefix = "producer."
	ConsumerPrefix = "consumer."
)

// The default converter of headers (Kafka's WorkerConfig default).
const defaultHeaderConverter = "org.apache.kafka.connect.storage.SimpleHeaderConverter"

var workerConfigDef = sdk.NewConfigDef().
	Define(sdk.ConfigKey{Name: BootstrapServersConfig, Type: sdk.ConfigList, Default: "localhost:9092", Importance: sdk.ImportanceHigh,
		Documentation: "A list of host/port pairs used to establish the initial connection to the Kafka cluster."}).
	Define(sdk.ConfigKey{Name: KeyConverterConfig, Type: sdk.ConfigClass, Default: sdk.NoDefaultValue, Importance: sdk.ImportanceHigh,
		Documentation: "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. This controls the format of the keys in messages written to or read from Kafka."}).
	Define(sdk.ConfigKey{Name: ValueConverterConfig, Type: sdk.ConfigClass, Default: sdk.NoDefaultValue, Importance: sdk.ImportanceHigh,
		Documentation: "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. This controls the format of the values in messages written to or read from Kafka."}).
	Define(sdk.ConfigKey{Name: HeaderConverterConfig, Type: sdk.ConfigClass, Default: defaultHeaderConverter, Importance: sdk.ImportanceLow,
		Documentation: "HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka."}).
	Define(sdk.ConfigKey{Name: OffsetStorageFileConfig, Type: sdk.ConfigString, Default: "", Importance: sdk.ImportanceHigh,
		Documentation: "File to store source connector offsets in."}).
	Define(sdk.ConfigKey{Name: OffsetFlushIntervalConfig, Type: sdk.ConfigLong, Default: "60000", Validator: sdk.AtLeast(1), Importance: sdk.ImportanceLow,
		Documentation: "Interval at which to try committing offsets for tasks."}).
	Define(sdk.ConfigKey{Name: OffsetFlushTimeoutConfig, Type: sdk.ConfigLong, Default: "5000", Validator: sdk.AtLeast(1), Importance: sdk.ImportanceLow,
		Documentation: "Maximum number of milliseconds to wait for records to flush and partition offset data to be committed to offset storage before cancelling the process and restoring the offset data to be committed in a future attempt."}).
	Define(sdk.ConfigKey{Name: TaskShutdownTimeoutConfig, Type: sdk.ConfigLong, Default: "5000", Validator: sdk.AtLeast(0), Importance: sdk.ImportanceLow,
		Documentation: "Amount of time to wait for tasks to shutdown gracefully. This is the total amount of time, not per task."}).
	Define(sdk.ConfigKey{Name: ListenersConfig, Type: sdk.ConfigList, Default: "http://:8083", Importance: sdk.ImportanceLow,
		Documentation: "List of comma-separated URIs the REST API will listen on. The supported protocols are HTTP and HTTPS. Specify hostname as 0.0.0.0 to bind to all interfaces. Leave hostname empty to bind to default interface. Examples of legal listener lists: HTTP://myhost:8083,HTTPS://myhost:8084"}).
	Define(sdk.ConfigKey{Name: RestAdvertisedHostConfig, Type: sdk.ConfigString, Importance: sdk.ImportanceLow,
		Documentation: "If this is set, this is the hostname that will be given out to other workers to connect to."}).
	Define(sdk.ConfigKey{Name: RestAdvertisedPortConfig, Type: sdk.ConfigInt, Importance: sdk.ImportanceLow,
		Documentation: "If this is set, this is the port that will be given out to other workers to connect to."}).
	Define(sdk.ConfigKey{Name: RestAdvertisedListenerConfig, Type: sdk.ConfigString, Importance: sdk.ImportanceLow,
		Documentation: "Sets the advertised listener (HTTP or HTTPS) which will be given to other workers to use."}).
	Define(sdk.ConfigKey{Name: PluginPathConfig, Type: sdk.ConfigList, Importance: sdk.ImportanceLow,
		Documentation: "List of paths separated by commas (,) that contain plugins. Gregor's plugins are compiled in, so the paths are not used."}).
	Define(sdk.ConfigKey{Name: TopicTrackingEnableConfig, Type: sdk.ConfigBoolean, Default: "true", Importance: sdk.ImportanceLow,
		Documentation: "Enable tracking the set of active topics per connector during runtime."}).
	Define(sdk.ConfigKey{Name: TopicTrackingAllowResetConfig, Type: sdk.ConfigBoolean, Default: "true", Importance: sdk.ImportanceLow,
		Documentation: "If set to true, it allows user requests to reset the set of active topics per connector."}).
	Define(sdk.ConfigKey{Name: ClientIDConfig, Type: sdk.ConfigString, Default: "", Importance: sdk.ImportanceLow,
		Documentation: "An id string to pass to the server when making requests."}).
	Define(sdk.ConfigKey{Name: ClientOverridePolicyConfig, Type: sdk.ConfigString, Default: PolicyAll, Importance: sdk.ImportanceMedium,
		Documentation: "Class name or alias of implementation of ConnectorClientConfigOverridePolicy. Defines what client configurations can be overridden by the connector. The default implementation is 'All', meaning connector configurations can override all client properties. The other possible policies in the framework include 'None' to disallow connectors from overriding client properties, and 'Principal' to allow connectors to override only client principals."})

// Config is a worker's configuration, parsed once from Kafka's worker
// property names (ParseConfig). Durations are in the units the property
// names give (milliseconds), converted to time.Duration.
type Config struct {
	// BootstrapServers are the brokers' host:port pairs.
	BootstrapServers []string
	// KeyConverter, ValueConverter and HeaderConverter are the default
	// converter classes; their settings are the worker properties with
	// the "key.converter." (…) prefix.
	KeyConverter, ValueConverter, HeaderConverter string
	// OffsetsFile is where source offsets are kept (standalone; required
	// there, ignored in distributed mode).
	OffsetsFile string
	// OffsetFlushInterval is how often tasks commit offsets.
	OffsetFlushInterval time.Duration
	// OffsetFlushTimeout bounds one offset commit (producer flush or
	// consumer commit).
	OffsetFlushTimeout time.Duration
	// TaskShutdownTimeout bounds the wait for tasks to stop, in total.
	TaskShutdownTimeout time.Duration
	// Listeners are the REST API's listeners, as URLs (http://host:port,
	// https://host:port: rest_tls.go).
	Listeners []*url.URL
	// AdvertisedHost, AdvertisedPort and AdvertisedListener override the
	// REST URL the worker gives out ("" / 0 for the listener's).
	AdvertisedHost     string
	AdvertisedPort     int
	AdvertisedListener string
	// AdminListeners is admin.listeners: nil to serve /admin on the
	// REST listeners, empty to serve it nowhere, else where to serve it
	// (rest_loggers.go).
	AdminListeners []*url.URL
	// PluginPath is accepted for compatibility and not used.
	PluginPath []string
	// TopicTracking and TopicTrackingAllowReset: KIP-558's active topics.
	TopicTracking           bool
	TopicTrackingAllowReset bool
	// ClientID prefixes the clients' ids ("" for Kafka's
	// "connector-producer-<task>" style ids).
	ClientID string
	// TopicCreation is topic.creation.enable: source tasks create the
	// topics their connectors' topic.creation.* settings describe
	// (KIP-158, topic_creation.go).
	TopicCreation bool
	// OverridePolicy is the connector client config override policy
	// (KIP-458): PolicyNone, PolicyPrincipal or PolicyAll.
	OverridePolicy string
	// Props are all the worker properties, for the prefixed converter and
	// client settings (clients.go).
	Props map[string]string
}

// ParseConfig parses a standalone worker's properties. Unknown properties
// are kept in Props and otherwise ignored, as Kafka logs and ignores them.
// Errors wrap ErrWorkerConfig and read as Kafka's ConfigException.
func ParseConfig(props map[string]string) (*Config, error) {
	c, err := parseWorkerConfig(props)
	if err != nil {
		return nil, err
	}
	if _, ok := props[OffsetStorageFileConfig]; !ok {
		return nil, fmt.Errorf("%w: Missing required configuration %q which has no default value.", ErrWorkerConfig, OffsetStorageFileConfig)
	}
	if c.OffsetsFile == "" {
		return nil, fmt.Errorf("%w: %s", ErrWorkerConfig, sdk.ConfigError(OffsetStorageFileConfig, "", "String must be non-empty"))
	}
	return c, nil
}

// parseWorkerConfig parses the properties standalone and distributed
// workers share (Kafka's WorkerConfig).
func parseWorkerConfig(props map[string]string) (*Config, error) {
	pc, err := workerConfigDef.Parse(props)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWorkerConfig, err)
	}
	c := &Config{
		BootstrapServers:        pc.GetList(BootstrapServersConfig),
		KeyConverter:            pc.GetString(KeyConverterConfig),
		ValueConverter:          pc.GetString(ValueConverterConfig),
		HeaderConverter:         pc.GetString(HeaderConverterConfig),
		OffsetsFile:             pc.GetString(OffsetStorageFileConfig),
		OffsetFlushInterval:     time.Duration(pc.GetLong(OffsetFlushIntervalConfig)) * time.Millisecond,
		OffsetFlushTimeout:      time.Duration(pc.GetLong(OffsetFlushTimeoutConfig)) * time.Millisecond,
		TaskShutdownTimeout:     time.Duration(pc.GetLong(TaskShutdownTimeoutConfig)) * time.Millisecond,
		AdvertisedHost:          pc.GetString(RestAdvertisedHostConfig),
		AdvertisedPort:          int(pc.GetInt(RestAdvertisedPortConfig)),
		AdvertisedListener:      pc.GetString(RestAdvertisedListenerConfig),
		PluginPath:              pc.GetList(PluginPathConfig),
		TopicTracking:           pc.GetBool(TopicTrackingEnableConfig),
		TopicTrackingAllowReset: pc.GetBool(TopicTrackingAllowResetConfig),
		ClientID:                pc.GetString(ClientIDConfig),
		TopicCreation:           pc.GetBool(TopicCreationEnableConfig),
		Props:                   maps.Clone(props),
	}
	if len(c.BootstrapServers) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrWorkerConfig, sdk.ConfigError(BootstrapServersConfig, "", "no bootstrap servers"))
	}
	if c.OverridePolicy, err = parseOverridePolicy(pc.GetString(ClientOverridePolicyConfig)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWorkerConfig, err)
	}
	if err := c.validateClientSettings(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWorkerConfig, err)
	}
	for _, l := range pc.GetList(ListenersConfig) {
		u, err := parseListener(l)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrWorkerConfig, sdk.ConfigError(ListenersConfig, l, err.Error()))
		}
		c.Listeners = append(c.Listeners, u)
	}
	if len(c.Listeners) == 0 {
		u, _ := parseListener("http://:8083")
		c.Listeners = []*url.URL{u}
	}
	if l := strings.ToLower(c.AdvertisedListener); l != "" && l != "http" && l != "https" {
		return nil, fmt.Errorf("%w: %s", ErrWorkerConfig, sdk.ConfigError(RestAdvertisedListenerConfig, c.AdvertisedListener, "must be http or https"))
	}
	if c.AdminListeners, err = parseAdminListeners(props); err != nil { // rest_loggers.go
		return nil, fmt.Errorf("%w: %w", ErrWorkerConfig, err)
	}
	for _, k := range []string{KeyConverterConfig, ValueConverterConfig} {
		if _, err := sdk.LookupPlugin(props[k], sdk.PluginConverter); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrWorkerConfig, sdk.ConfigError(k, props[k], "Class "+props[k]+" could not be found."))
		}
	}
	if _, err := sdk.LookupPlugin(c.HeaderConverter, sdk.PluginHeaderConverter); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrWorkerConfig, sdk.ConfigError(HeaderConverterConfig, c.HeaderConverter, "Class "+c.HeaderConverter+" could not be found."))
	}
	return c, nil
}

// parseListener parses "http://host:port" or "https://host:port" (host
// may be empty: all interfaces).
func parseListener(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("listener must be http://host:port or https://host:port")
	}
	_, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return nil, fmt.Errorf("listener must be %s://host:port: %v", scheme, err)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return nil, fmt.Errorf("invalid port %q", port)
	}
	u.Scheme = scheme
	return u, nil
}
