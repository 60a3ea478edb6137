package cli

// Building franz-go clients for the tools from Kafka client properties.
//
// Kafka's tools take client settings as Java properties: a file given by
// --command-config (admin tools), --producer.config / --consumer.config,
// and single overrides such as --producer-property k=v. clientOpts maps
// those property names onto kgo options so that a properties file written
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
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gregor-streaming/gregor/internal/security"
)

// clientRole selects which Kafka client properties apply.
type clientRole int

const (
	roleAdmin    clientRole = iota // common properties only
	roleProducer                   // common + producer properties
	roleConsumer                   // common + consumer properties
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
func splitBootstrap(s string) []string {
	var seeds []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			seeds = append(seeds, h)
		}
	}
	return seeds
}

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

// clientOpts maps Kafka client properties to kgo options for role. It
// returns the sorted names of properties it does not know (or that do not
// apply to role) and an error for a known property with a bad value.
//
// Supported, all roles: bootstrap.servers (read by newClient), client.id,
// request.timeout.ms, default.api.timeout.ms, retries, retry.backoff.ms,
// retry.backoff.max.ms, metadata.max.age.ms, connections.max.idle.ms,
// socket.connection.setup.timeout.ms, security.protocol (PLAINTEXT, SSL,
// SASL_PLAINTEXT, SASL_SSL), sasl.mechanism (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512) with sasl.jaas.config username/password, and PEM TLS:
// ssl.truststore.location/.certificates with ssl.truststore.type=PEM,
// ssl.keystore.location or ssl.keystore.certificate.chain+ssl.keystore.key
// with ssl.keystore.type=PEM (the key encrypted with ssl.key.password or
// not), ssl.endpoint.identification.algorithm.
//
// Producer: acks, enable.idempotence, linger.ms, batch.size,
// max.request.size, compression.type, delivery.timeout.ms,
// max.in.flight.requests.per.connection, buffer.memory, transactional.id,
// transaction.timeout.ms. As in Kafka, acks other than all turns
// idempotence off unless enable.idempotence=true is set explicitly.
//
// Consumer: group.id, group.instance.id, group.protocol, auto.offset.reset,
// enable.auto.commit, auto.commit.interval.ms, session.timeout.ms,
// heartbeat.interval.ms, max.poll.interval.ms, fetch.min.bytes,
// fetch.max.bytes, fetch.max.wait.ms, max.partition.fetch.bytes,
// isolation.level, client.rack, partition.assignment.strategy. Group
// settings apply only when group.id is set.
func clientOpts(props map[string]string, role clientRole) (opts []kgo.Opt, unknown []string, err error) {
	p := propReader{props: props, used: map[string]bool{"bootstrap.servers": true}}
	if v, ok := p.get("client.id"); ok {
		opts = append(opts, kgo.ClientID(v))
	}
	if d, ok := p.millis("request.timeout.ms"); ok {
		opts = append(opts, kgo.RequestTimeoutOverhead(d))
		if role == roleProducer {
			opts = append(opts, kgo.ProduceRequestTimeout(d))
		}
	}
	if d, ok := p.millis("default.api.timeout.ms"); ok {
		opts = append(opts, kgo.RetryTimeout(d))
	}
	if n, ok := p.int("retries"); ok {
		n = min(n, math.MaxInt32)
		opts = append(opts, kgo.RequestRetries(int(n)))
		if role == roleProducer {
			opts = append(opts, kgo.RecordRetries(int(n)))
		}
	}
	backoff, hasBackoff := p.millis("retry.backoff.ms")
	maxBackoff, hasMaxBackoff := p.millis("retry.backoff.max.ms")
	if hasBackoff || hasMaxBackoff {
		if !hasBackoff {
			backoff = 100 * time.Millisecond
		}
		if !hasMaxBackoff {
			maxBackoff = time.Second
		}
		maxBackoff = max(maxBackoff, backoff)
		opts = append(opts, kgo.RetryBackoffFn(func(tries int) time.Duration {
			d := backoff
			for i := 1; i < tries && d < maxBackoff; i++ {
				d *= 2
			}
			return min(d, maxBackoff)
		}))
	}
	if d, ok := p.millis("metadata.max.age.ms"); ok {
		opts = append(opts, kgo.MetadataMaxAge(d))
		if d < 5*time.Second { // kgo's default minimum age would exceed it
			opts = append(opts, kgo.MetadataMinAge(d))
		}
	}
	if d, ok := p.millis("connections.max.idle.ms"); ok {
		opts = append(opts, kgo.ConnIdleTimeout(d))
	}
	if d, ok := p.millis("socket.connection.setup.timeout.ms"); ok {
		opts = append(opts, kgo.DialTimeout(d))
	}
	secOpts, err := securityOpts(&p)
	if err != nil {
		return nil, nil, err
	}
	opts = append(opts, secOpts...)

	switch role {
	case roleProducer:
		o, err := producerOpts(&p)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, o...)
	case roleConsumer:
		o, err := consumerOpts(&p)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, o...)
	}
	if p.err != nil {
		return nil, nil, p.err
	}
	for k := range props {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	return opts, unknown, nil
}

func producerOpts(p *propReader) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	idempotent := true
	if v, ok := p.get("acks"); ok {
		switch strings.TrimSpace(strings.ToLower(v)) {
		case "all", "-1":
			opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
		case "1":
			opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
			idempotent = false
		case "0":
			opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
			idempotent = false
		default:
			return nil, badProp("acks", v, "String must be one of: all, -1, 0, 1")
		}
	}
	if b, ok := p.bool("enable.idempotence"); ok {
		if b && !idempotent {
			return nil, errors.New("must set acks to all in order to use the idempotent producer")
		}
		idempotent = b
	}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if d, ok := p.millis("linger.ms"); ok {
		opts = append(opts, kgo.ProducerLinger(d))
	}
	maxRequest, hasMaxRequest := p.int32("max.request.size")
	if hasMaxRequest {
		opts = append(opts, kgo.BrokerMaxWriteBytes(max(maxRequest, 1<<10)))
	}
	if n, ok := p.int32("batch.size"); ok && n > 0 {
		if hasMaxRequest {
			n = min(n, maxRequest)
		}
		opts = append(opts, kgo.ProducerBatchMaxBytes(n))
	} else if hasMaxRequest {
		opts = append(opts, kgo.ProducerBatchMaxBytes(min(maxRequest, 1<<20)))
	}
	if v, ok := p.get("compression.type"); ok {
		var c kgo.CompressionCodec
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "none":
			c = kgo.NoCompression()
		case "gzip":
			c = kgo.GzipCompression()
		case "snappy":
			c = kgo.SnappyCompression()
		case "lz4":
			c = kgo.Lz4Compression()
		case "zstd":
			c = kgo.ZstdCompression()
		default:
			return nil, badProp("compression.type", v, "String must be one of: none, gzip, snappy, lz4, zstd")
		}
		opts = append(opts, kgo.ProducerBatchCompression(c))
	}
	if d, ok := p.millis("delivery.timeout.ms"); ok {
		opts = append(opts, kgo.RecordDeliveryTimeout(d))
	}
	if n, ok := p.int("max.in.flight.requests.per.connection"); ok && n > 0 {
		opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(int(min(n, math.MaxInt32))))
	}
	if n, ok := p.int("buffer.memory"); ok && n > 0 {
		opts = append(opts, kgo.MaxBufferedBytes(int(min(n, math.MaxInt32))))
	}
	if v, ok := p.get("transactional.id"); ok && v != "" {
		if !idempotent {
			return nil, errors.New("Cannot set a transactional.id without also enabling idempotence.")
		}
		opts = append(opts, kgo.TransactionalID(v))
	}
	if d, ok := p.millis("transaction.timeout.ms"); ok {
		opts = append(opts, kgo.TransactionTimeout(d))
	}
	return opts, nil
}

func consumerOpts(p *propReader) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if v, ok := p.get("auto.offset.reset"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "earliest":
			opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		case "latest":
			opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
		case "none":
			opts = append(opts, kgo.ConsumeResetOffset(kgo.NoResetOffset()))
		default:
			return nil, badProp("auto.offset.reset", v, "String must be one of: latest, earliest, none")
		}
	}
	if n, ok := p.int32("fetch.min.bytes"); ok {
		opts = append(opts, kgo.FetchMinBytes(n))
	}
	if n, ok := p.int32("fetch.max.bytes"); ok {
		opts = append(opts, kgo.FetchMaxBytes(n))
	}
	if d, ok := p.millis("fetch.max.wait.ms"); ok {
		opts = append(opts, kgo.FetchMaxWait(d))
	}
	if n, ok := p.int32("max.partition.fetch.bytes"); ok {
		opts = append(opts, kgo.FetchMaxPartitionBytes(n))
	}
	if v, ok := p.get("isolation.level"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "read_committed":
			opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		case "read_uncommitted":
			opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
		default:
			return nil, badProp("isolation.level", v, "String must be one of: read_committed, read_uncommitted")
		}
	}
	if v, ok := p.get("client.rack"); ok && v != "" {
		opts = append(opts, kgo.Rack(v))
	}

	group, hasGroup := p.get("group.id")
	if !hasGroup || group == "" {
		// Without a group the group settings mean nothing; mark them
		// known so that they are not reported.
		for _, k := range []string{"group.instance.id", "group.protocol", "enable.auto.commit",
			"auto.commit.interval.ms", "session.timeout.ms", "heartbeat.interval.ms",
			"max.poll.interval.ms", "partition.assignment.strategy"} {
			p.get(k)
		}
		return opts, nil
	}
	opts = append(opts, kgo.ConsumerGroup(group))
	if v, ok := p.get("group.instance.id"); ok && v != "" {
		opts = append(opts, kgo.InstanceID(v))
	}
	if v, ok := p.get("group.protocol"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "classic", "consumer":
			opts = append(opts, kgo.GroupProtocol(strings.ToLower(strings.TrimSpace(v))))
		default:
			return nil, badProp("group.protocol", v, "String must be one of (case insensitive): CLASSIC, CONSUMER")
		}
	}
	if b, ok := p.bool("enable.auto.commit"); ok && !b {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	if d, ok := p.millis("auto.commit.interval.ms"); ok {
		opts = append(opts, kgo.AutoCommitInterval(d))
	}
	if d, ok := p.millis("session.timeout.ms"); ok {
		opts = append(opts, kgo.SessionTimeout(d))
	}
	if d, ok := p.millis("heartbeat.interval.ms"); ok {
		opts = append(opts, kgo.HeartbeatInterval(d))
	}
	if d, ok := p.millis("max.poll.interval.ms"); ok {
		opts = append(opts, kgo.RebalanceTimeout(d))
	}
	if v, ok := p.get("partition.assignment.strategy"); ok {
		var balancers []kgo.GroupBalancer
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			// Kafka names assignors by class; accept the simple name too.
			switch s[strings.LastIndex(s, ".")+1:] {
			case "RangeAssignor", "range":
				balancers = append(balancers, kgo.RangeBalancer())
			case "RoundRobinAssignor", "roundrobin":
				balancers = append(balancers, kgo.RoundRobinBalancer())
			case "StickyAssignor", "sticky":
				balancers = append(balancers, kgo.StickyBalancer())
			case "CooperativeStickyAssignor", "cooperative-sticky":
				balancers = append(balancers, kgo.CooperativeStickyBalancer())
			default:
				return nil, badProp("partition.assignment.strategy", v, "unknown assignor "+s)
			}
		}
		if len(balancers) > 0 {
			opts = append(opts, kgo.Balancers(balancers...))
		}
	}
	return opts, nil
}

// securityOpts maps security.protocol, ssl.* and sasl.* properties.
func securityOpts(p *propReader) ([]kgo.Opt, error) {
	proto := "PLAINTEXT"
	if v, ok := p.get("security.protocol"); ok {
		proto = strings.ToUpper(strings.TrimSpace(v))
	}
	var useTLS, useSASL bool
	switch proto {
	case "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		return nil, badProp("security.protocol", proto, "String must be one of: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL")
	}
	// Mark the settings of the other protocols as known either way.
	sslKeys := []string{"ssl.truststore.type", "ssl.truststore.location", "ssl.truststore.certificates",
		"ssl.truststore.password", "ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.password",
		"ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.key.password",
		"ssl.endpoint.identification.algorithm", "ssl.protocol", "ssl.enabled.protocols"}
	saslKeys := []string{"sasl.mechanism", "sasl.jaas.config"}
	var opts []kgo.Opt
	if useTLS {
		tc, err := tlsConfig(p)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if useSASL {
		mech := "GSSAPI"
		if v, ok := p.get("sasl.mechanism"); ok {
			mech = strings.ToUpper(strings.TrimSpace(v))
		}
		jaas, _ := p.get("sasl.jaas.config")
		user, pass := jaasCredentials(jaas)
		switch mech {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
		default:
			return nil, badProp("sasl.mechanism", mech, "supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
		}
	}
	for _, k := range append(sslKeys, saslKeys...) {
		p.get(k)
	}
	return opts, nil
}

var jaasOption = regexp.MustCompile(`(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"`)

// jaasCredentials extracts username and password from a sasl.jaas.config
// value such as `org.apache.kafka.common.security.plain.PlainLoginModule
// required username="alice" password="secret";`, parsed as Kafka's
// JaasConfig does; text that does not parse is searched for the two
// options.
func jaasCredentials(jaas string) (user, pass string) {
	if m, err := security.ParseJAASModule(jaas); err == nil {
		return m.Username(), m.Password()
	}
	for _, m := range jaasOption.FindAllStringSubmatch(jaas, -1) {
		v := strings.ReplaceAll(strings.ReplaceAll(m[2], `\"`, `"`), `\\`, `\`)
		switch m[1] {
		case "username":
			user = v
		case "password":
			pass = v
		}
	}
	return user, pass
}

// tlsConfig builds a client TLS config from PEM ssl.* properties. Java key
// stores (JKS, PKCS12) cannot be read; use ssl.truststore.type=PEM.
func tlsConfig(p *propReader) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	readPEM := func(typeKey, locKey, inlineKey string) ([]byte, bool, error) {
		if typ, ok := p.get(typeKey); ok && !strings.EqualFold(typ, "PEM") {
			return nil, false, badProp(typeKey, typ, "only PEM stores are supported")
		}
		if inline, ok := p.get(inlineKey); ok && inline != "" {
			return []byte(inline), true, nil
		}
		loc, ok := p.get(locKey)
		if !ok || loc == "" {
			return nil, false, nil
		}
		if typ, _ := p.get(typeKey); !strings.EqualFold(typ, "PEM") {
			return nil, false, badProp(typeKey, typ, "only PEM stores are supported; set "+typeKey+"=PEM")
		}
		b, err := os.ReadFile(loc)
		if err != nil {
			return nil, false, fmt.Errorf("read %s: %w", locKey, err)
		}
		return b, true, nil
	}
	trust, ok, err := readPEM("ssl.truststore.type", "ssl.truststore.location", "ssl.truststore.certificates")
	if err != nil {
		return nil, err
	}
	if ok {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(trust) {
			return nil, errors.New("ssl.truststore: no PEM certificates found")
		}
		tc.RootCAs = pool
	}
	// A PEM key store (mutual TLS); its key may be encrypted
	// (ssl.key.password), as Kafka's PEM key stores allow.
	chain, hasChain := p.get("ssl.keystore.certificate.chain")
	key, hasKey := p.get("ssl.keystore.key")
	keyPassword, _ := p.get("ssl.key.password")
	if hasChain && hasKey {
		cert, err := security.TLSSettings{KeystoreType: "PEM", KeystoreKey: key, KeystoreCertificateChain: chain, KeyPassword: keyPassword}.Keystore()
		if err != nil {
			return nil, fmt.Errorf("ssl.keystore.certificate.chain/key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	} else if loc, ok := p.get("ssl.keystore.location"); ok && loc != "" {
		if typ, _ := p.get("ssl.keystore.type"); !strings.EqualFold(typ, "PEM") {
			return nil, badProp("ssl.keystore.type", typ, "only PEM stores are supported; set ssl.keystore.type=PEM")
		}
		cert, err := security.TLSSettings{KeystoreType: "PEM", KeystoreLocation: loc, KeyPassword: keyPassword}.Keystore()
		if err != nil {
			return nil, fmt.Errorf("ssl.keystore.location: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if alg, ok := p.get("ssl.endpoint.identification.algorithm"); ok && strings.TrimSpace(alg) == "" {
		// Kafka's empty value turns off host name verification but
		// still verifies the chain.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: no peer certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: tc.RootCAs, Intermediates: inter})
			return err
		}
	}
	return tc, nil
}

// propReader reads typed values out of a property map, remembering which
// keys were read and the first bad value.
type propReader struct {
	props map[string]string
	used  map[string]bool
	err   error
}

func (p *propReader) get(k string) (string, bool) {
	v, ok := p.props[k]
	if ok {
		p.used[k] = true
	}
	return v, ok
}

func (p *propReader) int(k string) (int64, bool) {
	v, ok := p.get(k)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		if p.err == nil {
			p.err = badProp(k, v, "Expected value to be a number")
		}
		return 0, false
	}
	return n, true
}

func (p *propReader) int32(k string) (int32, bool) {
	n, ok := p.int(k)
	if !ok {
		return 0, false
	}
	if n < 0 || n > math.MaxInt32 {
		if p.err == nil {
			p.err = badProp(k, p.props[k], "Expected a value between 0 and 2147483647")
		}
		return 0, false
	}
	return int32(n), true
}

func (p *propReader) millis(k string) (time.Duration, bool) {
	n, ok := p.int(k)
	if !ok {
		return 0, false
	}
	if n < 0 {
		if p.err == nil {
			p.err = badProp(k, p.props[k], "Value must be at least 0")
		}
		return 0, false
	}
	return time.Duration(n) * time.Millisecond, true
}

func (p *propReader) bool(k string) (bool, bool) {
	v, ok := p.get(k)
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	if p.err == nil {
		p.err = badProp(k, v, "Expected value to be either true or false")
	}
	return false, false
}

// badProp formats Kafka's ConfigException message.
func badProp(k, v, why string) error {
	return fmt.Errorf("Invalid value %s for configuration %s: %s", v, k, why)
}

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
