package cli

// Building franz-go clients for the tools from Kafka client properties.
//
// Kafka's tools take client settings as Java properties: a file given by
// --command-config (admin tools), --producer.config / --consumer.config,
// and single overrides such as --producer-property k=v. clientOpts maps
// those property names onto kgo options (package clientconfig does the
// mapping, shared with Gregor Connect) so that a properties file written
// for Kafka's tools works unchanged:
//
//	props, err := loadClientProps(*producerConfig, "--producer-property", *overrides) // file, then k=v
//	warnUnknownProps(env.Stderr, props, roleProducer)
//	cl, err := newClient(*bootstrap, props, roleProducer, kgo.DefaultProduceTopic(t)) // Close it
//
// Admin tools declare --bootstrap-server and --command-config with
// addAdminFlags and get their client from adminFlags.connect.
//
// Properties that have no kgo equivalent are returned by clientOpts as
// unknown; callers warn about them the way Kafka does
// ("The configuration 'x' was supplied but isn't a known config.") and go on.

import (
	"fmt"
	"io"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/internal/clientconfig"
)

// clientRole selects which Kafka client properties apply.
type clientRole = clientconfig.Role

const (
	roleAdmin    = clientconfig.Admin    // common properties only
	roleProducer = clientconfig.Producer // common + producer properties
	roleConsumer = clientconfig.Consumer // common + consumer properties
)

// loadClientProps reads the properties file at path (if path is not "")
// and then applies the "k=v" overrides in order. what names the override
// option for error messages (e.g. "--producer-property").
func loadClientProps(path string, what string, overrides []string) (map[string]string, error) {
	props := map[string]string{}
	if path != "" {
		p, err := loadProperties(path)
		if err != nil {
			return nil, fmt.Errorf("load client config %s: %w", path, err)
		}
		props = p
	}
	kv, err := parseKeyValues(what, overrides)
	if err != nil {
		return nil, err
	}
	for k, v := range kv {
		props[k] = v
	}
	return props, nil
}

// splitBootstrap splits "host:port,host:port" into seed addresses.
func splitBootstrap(s string) []string { return clientconfig.SplitBootstrap(s) }

// newClient returns a kgo client for bootstrap (comma-separated
// host:port list; props["bootstrap.servers"] is used when bootstrap is
// empty) configured from props for role, followed by extra options (which
// win over props). Unknown properties are ignored; call clientOpts first
// to report them.
func newClient(bootstrap string, props map[string]string, role clientRole, extra ...kgo.Opt) (*kgo.Client, error) {
	if bootstrap == "" {
		bootstrap = props["bootstrap.servers"]
	}
	seeds := splitBootstrap(bootstrap)
	if len(seeds) == 0 {
		return nil, usagef("missing required argument \"[bootstrap-server]\"")
	}
	opts, _, err := clientOpts(props, role)
	if err != nil {
		return nil, err
	}
	opts = append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)
	opts = append(opts, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return cl, nil
}

// warnUnknownProps writes Kafka's warning for each property of props that
// clientOpts does not know for role, except those listed in handled (keys
// the caller reads itself).
func warnUnknownProps(w io.Writer, props map[string]string, role clientRole, handled ...string) {
	_, unknown, err := clientOpts(props, role)
	if err != nil {
		return
	}
	for _, k := range unknown {
		skip := false
		for _, h := range handled {
			skip = skip || h == k
		}
		if !skip {
			fmt.Fprintf(w, "WARN The configuration '%s' was supplied but isn't a known config.\n", k)
		}
	}
}

// clientOpts maps Kafka client properties to kgo options for role
// (clientconfig.Options: the properties and their kgo options are listed
// there). It returns the sorted names of properties it does not know (or
// that do not apply to role) and an error, Kafka's ConfigException text,
// for a known property with a bad value.
func clientOpts(props map[string]string, role clientRole) (opts []kgo.Opt, unknown []string, err error) {
	return clientconfig.Options(props, role)
}

// badProp formats Kafka's ConfigException message.
func badProp(k, v, why string) error { return clientconfig.InvalidValue(k, v, why) }

// adminFlags are the connection options every admin tool declares.
type adminFlags struct {
	bootstrap     *string
	commandConfig *string
}

// addAdminFlags declares --bootstrap-server and --command-config on fs.
func addAdminFlags(fs *FlagSet) adminFlags {
	return adminFlags{
		bootstrap: fs.String("bootstrap-server", "String: server to connect to",
			"REQUIRED: The Kafka server to connect to."),
		commandConfig: fs.String("command-config", "String: command config property file",
			"Property file containing configs to be passed to Admin Client."),
	}
}

// connect checks that --bootstrap-server was given, loads --command-config
// and returns a client for admin requests; the caller closes it. Wrap it
// with kadm.NewClient for the kadm helpers (closing either closes both).
func (a adminFlags) connect(env *Env) (*kgo.Client, error) {
	if strings.TrimSpace(*a.bootstrap) == "" {
		return nil, usagef("Missing required argument \"[bootstrap-server]\"")
	}
	props, err := loadClientProps(*a.commandConfig, "--command-config", nil)
	if err != nil {
		return nil, err
	}
	warnUnknownProps(env.Stderr, props, roleAdmin)
	return newClient(*a.bootstrap, props, roleAdmin)
}
