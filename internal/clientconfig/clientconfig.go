// Package clientconfig maps Kafka client properties onto franz-go kgo
// options, so that a properties file written for Kafka's Java clients
// (the tools' --command-config, --producer.config, --consumer.config; a
// Connect worker's client settings) configures a kgo client the same way.
//
// # Using it
//
//	opts, unknown, err := clientconfig.Options(props, clientconfig.Producer)
//	if err != nil {
//		return err // Kafka's ConfigException text; errors.Is(err, clientconfig.ErrInvalidConfig)
//	}
//	for _, k := range unknown {
//		log.Warn("The configuration '" + k + "' was supplied but isn't a known config.")
//	}
//	opts = append([]kgo.Opt{kgo.SeedBrokers(clientconfig.SplitBootstrap(props["bootstrap.servers"])...)}, opts...)
//	cl, err := kgo.NewClient(append(opts, mine...)...) // options after props win
//
// Options never dials and never reads bootstrap.servers (the caller
// does, so that a tool's --bootstrap-server can take its place); it reads
// the files named by ssl.*.location at once, so a missing certificate is
// an error from Options, not from the first connection.
//
// # Properties
//
// Every role (Admin, Producer, Consumer):
//
//	client.id                            kgo.ClientID
//	request.timeout.ms                   kgo.RequestTimeoutOverhead (+ ProduceRequestTimeout for producers)
//	default.api.timeout.ms               kgo.RetryTimeout
//	retries                              kgo.RequestRetries (+ RecordRetries for producers)
//	retry.backoff.ms, retry.backoff.max.ms  kgo.RetryBackoffFn, doubling from the first to the second
//	metadata.max.age.ms                  kgo.MetadataMaxAge (and MetadataMinAge when below 5 s)
//	connections.max.idle.ms              kgo.ConnIdleTimeout
//	socket.connection.setup.timeout.ms   kgo.DialTimeout
//	security.protocol                    PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
//	sasl.mechanism                       PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (kgo.SASL); GSSAPI and
//	                                     OAUTHBEARER are refused
//	sasl.jaas.config                     username="…" password="…" of the login module; with
//	                                     SCRAM, tokenauth="true" logs in with a delegation token
//	                                     (username = token id, password = HMAC; scram.Auth.IsToken);
//	                                     with SASL_*, a missing or malformed one is an error
//	                                     (Kafka's JaasConfig messages, checkJAAS)
//	ssl.truststore.type=PEM with ssl.truststore.location or ssl.truststore.certificates
//	ssl.keystore.type=PEM with ssl.keystore.location, or ssl.keystore.certificate.chain +
//	ssl.keystore.key; ssl.key.password decrypts an encrypted key   (kgo.DialTLSConfig)
//	ssl.endpoint.identification.algorithm  "" verifies the chain but not the host name
//
// Producer: acks, enable.idempotence, linger.ms, batch.size,
// max.request.size, compression.type, delivery.timeout.ms,
// max.in.flight.requests.per.connection, buffer.memory, transactional.id,
// transaction.timeout.ms. As in Kafka, acks other than all turns
// idempotence off unless enable.idempotence=true is set, which is then an
// error.
//
// Consumer: group.id, group.instance.id, group.protocol,
// auto.offset.reset, enable.auto.commit, auto.commit.interval.ms,
// session.timeout.ms, heartbeat.interval.ms, max.poll.interval.ms,
// fetch.min.bytes, fetch.max.bytes, fetch.max.wait.ms,
// max.partition.fetch.bytes, isolation.level, client.rack,
// partition.assignment.strategy. Group settings apply only when group.id
// is set. max.poll.records is not a kgo option (it is the argument of
// PollRecords): MaxPollRecords reads it.
//
// Key and trust stores are JKS (Kafka's default), PKCS12 or PEM, read as
// Kafka's client reads them (ssl.keystore.password, ssl.key.password,
// ssl.truststore.password). Properties that have no kgo equivalent, or
// belong to another role, are returned as unknown; Kafka warns about
// them and goes on, and so should callers.
//
// # Errors
//
// A bad value is an error that reads as Kafka's ConfigException
// ("Invalid value 2 for configuration acks: String must be one of: all,
// -1, 0, 1") and matches ErrInvalidConfig with errors.Is; an unreadable
// certificate file is that error wrapped with its path.
//
// ClientException turns an error a kgo client returned into the Java
// exception Kafka's client raises for it, naming the topic or group of an
// authorization failure as Kafka does ("TopicAuthorizationException: Not
// authorized to access topics: [payments]"); IsFatalConsumerError tells
// which errors a poll reports that Kafka's consumer would throw rather
// than retry.
package clientconfig

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Role selects which Kafka client properties apply.
type Role int

const (
	Admin    Role = iota // common properties only (Kafka's AdminClientConfig)
	Producer             // common + producer properties (ProducerConfig)
	Consumer             // common + consumer properties (ConsumerConfig)
)

// String returns the role's name in lower case ("admin", "producer",
// "consumer").
func (r Role) String() string {
	switch r {
	case Admin:
		return "admin"
	case Producer:
		return "producer"
	case Consumer:
		return "consumer"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// SplitBootstrap splits a bootstrap.servers value ("host:port,host:port")
// into seed addresses, dropping empty entries.
func SplitBootstrap(s string) []string {
	var seeds []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			seeds = append(seeds, h)
		}
	}
	return seeds
}

// IsSecurityProperty reports whether k is one of the client security
// settings: security.protocol, ssl.* or sasl.*.
func IsSecurityProperty(k string) bool {
	return k == "security.protocol" || strings.HasPrefix(k, "ssl.") || strings.HasPrefix(k, "sasl.")
}

// Options maps Kafka client properties to kgo options for role (see the
// package doc for the list). It returns the sorted names of the
// properties it does not know, or that do not apply to role, and an error
// for a known property with a bad value. bootstrap.servers is neither
// mapped nor reported: the caller turns it into kgo.SeedBrokers. props is
// only read.
func Options(props map[string]string, role Role) (opts []kgo.Opt, unknown []string, err error) {
	p := propReader{props: props, used: map[string]bool{"bootstrap.servers": true}}
	if v, ok := p.get("client.id"); ok {
		opts = append(opts, kgo.ClientID(v))
	}
	if d, ok := p.millis("request.timeout.ms"); ok {
		opts = append(opts, kgo.RequestTimeoutOverhead(d))
		if role == Producer {
			opts = append(opts, kgo.ProduceRequestTimeout(d))
		}
	}
	if d, ok := p.millis("default.api.timeout.ms"); ok {
		opts = append(opts, kgo.RetryTimeout(d))
	}
	if n, ok := p.int("retries"); ok {
		n = min(n, math.MaxInt32)
		opts = append(opts, kgo.RequestRetries(int(n)))
		if role == Producer {
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
	case Producer:
		o, err := producerOpts(&p)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, o...)
	case Consumer:
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

// MaxPollRecords returns max.poll.records from props: the most records
// one poll returns (Kafka's default, 500, when unset). It is the argument
// of kgo's PollRecords, not a client option.
func MaxPollRecords(props map[string]string) (int, error) {
	p := propReader{props: props, used: map[string]bool{}}
	n, ok := p.int("max.poll.records")
	if p.err != nil {
		return 0, p.err
	}
	if !ok {
		return 500, nil
	}
	if n < 1 || n > math.MaxInt32 {
		return 0, InvalidValue("max.poll.records", props["max.poll.records"], "Value must be at least 1")
	}
	return int(n), nil
}
