package clientconfig

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/gregor-streaming/gregor/internal/security/securitytest"
)

// client builds a client (that never dials: nothing is requested) from
// props for role.
func client(t *testing.T, props map[string]string, role Role) *kgo.Client {
	t.Helper()
	opts, _, err := Options(props, role)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestOptionsApplied(t *testing.T) {
	for _, c := range []struct {
		role  Role
		props map[string]string
		opt   any
		want  any
	}{
		{Admin, map[string]string{"client.id": "c-1"}, kgo.ClientID, "c-1"},
		{Admin, map[string]string{"request.timeout.ms": "1500"}, kgo.RequestTimeoutOverhead, 1500 * time.Millisecond},
		{Producer, map[string]string{"request.timeout.ms": "1500"}, kgo.ProduceRequestTimeout, 1500 * time.Millisecond},
		{Admin, map[string]string{"default.api.timeout.ms": "9000"}, kgo.RetryTimeout, 9 * time.Second},
		{Admin, map[string]string{"retries": "7"}, kgo.RequestRetries, int64(7)},
		{Admin, map[string]string{"metadata.max.age.ms": "2000"}, kgo.MetadataMaxAge, 2 * time.Second},
		{Admin, map[string]string{"metadata.max.age.ms": "2000"}, kgo.MetadataMinAge, 2 * time.Second},
		{Admin, map[string]string{"connections.max.idle.ms": "3000"}, kgo.ConnIdleTimeout, 3 * time.Second},
		{Admin, map[string]string{"socket.connection.setup.timeout.ms": "4000"}, kgo.DialTimeout, 4 * time.Second},
		{Producer, map[string]string{"linger.ms": "25"}, kgo.ProducerLinger, 25 * time.Millisecond},
		{Producer, map[string]string{"batch.size": "65536"}, kgo.ProducerBatchMaxBytes, int32(65536)},
		{Producer, map[string]string{"batch.size": "65536", "max.request.size": "4096"}, kgo.ProducerBatchMaxBytes, int32(4096)},
		{Producer, map[string]string{"max.request.size": "4096"}, kgo.BrokerMaxWriteBytes, int32(4096)},
		{Producer, map[string]string{"acks": "1"}, kgo.DisableIdempotentWrite, true},
		{Producer, map[string]string{"acks": "all"}, kgo.DisableIdempotentWrite, false},
		{Producer, map[string]string{"enable.idempotence": "false"}, kgo.DisableIdempotentWrite, true},
		{Producer, map[string]string{"delivery.timeout.ms": "30000"}, kgo.RecordDeliveryTimeout, 30 * time.Second},
		{Producer, map[string]string{"max.in.flight.requests.per.connection": "1"}, kgo.MaxProduceRequestsInflightPerBroker, 1},
		{Producer, map[string]string{"transactional.id": "tx"}, kgo.TransactionalID, "tx"},
		{Consumer, map[string]string{"fetch.min.bytes": "10"}, kgo.FetchMinBytes, int32(10)},
		{Consumer, map[string]string{"fetch.max.bytes": "1000"}, kgo.FetchMaxBytes, int32(1000)},
		{Consumer, map[string]string{"fetch.max.wait.ms": "100"}, kgo.FetchMaxWait, 100 * time.Millisecond},
		{Consumer, map[string]string{"max.partition.fetch.bytes": "2048"}, kgo.FetchMaxPartitionBytes, int32(2048)},
		{Consumer, map[string]string{"client.rack": "r1"}, kgo.Rack, "r1"},
		{Consumer, map[string]string{"group.id": "g"}, kgo.ConsumerGroup, "g"},
		{Consumer, map[string]string{"group.id": "g", "enable.auto.commit": "false"}, kgo.DisableAutoCommit, true},
		{Consumer, map[string]string{"group.id": "g", "session.timeout.ms": "10000"}, kgo.SessionTimeout, 10 * time.Second},
		{Consumer, map[string]string{"group.id": "g", "heartbeat.interval.ms": "1000"}, kgo.HeartbeatInterval, time.Second},
		{Consumer, map[string]string{"group.id": "g", "max.poll.interval.ms": "60000"}, kgo.RebalanceTimeout, time.Minute},
		{Consumer, map[string]string{"group.id": "g", "group.instance.id": "i"}, kgo.InstanceID, "i"},
		// Without group.id the group settings are not applied.
		{Consumer, map[string]string{"session.timeout.ms": "10000"}, kgo.SessionTimeout, 45 * time.Second},
	} {
		cl := client(t, c.props, c.role)
		if got := cl.OptValue(c.opt); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v %v: got %v (%T), want %v (%T)", c.role, c.props, got, got, c.want, c.want)
		}
	}
}

func TestOptionsEnums(t *testing.T) {
	for _, c := range []struct {
		props map[string]string
		opt   any
		want  string
	}{
		{map[string]string{"auto.offset.reset": "earliest"}, kgo.ConsumeResetOffset, kgo.NewOffset().AtStart().String()},
		{map[string]string{"auto.offset.reset": "latest"}, kgo.ConsumeResetOffset, kgo.NewOffset().AtEnd().String()},
		{map[string]string{"auto.offset.reset": "NONE"}, kgo.ConsumeResetOffset, kgo.NoResetOffset().String()},
		{map[string]string{"isolation.level": "read_committed"}, kgo.FetchIsolationLevel, "1"},
		{map[string]string{"isolation.level": "read_uncommitted"}, kgo.FetchIsolationLevel, "0"},
	} {
		if got := fmt.Sprint(client(t, c.props, Consumer).OptValue(c.opt)); got != c.want {
			t.Errorf("%v: got %s, want %s", c.props, got, c.want)
		}
	}
	for codec, want := range map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "ZSTD": kgo.ZstdCompression(),
	} {
		got := client(t, map[string]string{"compression.type": codec}, Producer).OptValue(kgo.ProducerBatchCompression)
		if !reflect.DeepEqual(got, []kgo.CompressionCodec{want}) {
			t.Errorf("compression.type=%s: got %v", codec, got)
		}
	}
}

func TestOptionsUnknown(t *testing.T) {
	props := map[string]string{
		"bootstrap.servers": "x:1", "client.id": "c", "acks": "all", "group.id": "g",
		"fetch.min.bytes": "1", "not.a.config": "x", "security.protocol": "PLAINTEXT", "ssl.keystore.location": "/unused",
	}
	for role, want := range map[Role][]string{
		Admin:    {"acks", "fetch.min.bytes", "group.id", "not.a.config"},
		Producer: {"fetch.min.bytes", "group.id", "not.a.config"},
		Consumer: {"acks", "not.a.config"},
	} {
		_, unknown, err := Options(props, role)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(unknown, want) {
			t.Errorf("%v: unknown = %q, want %q", role, unknown, want)
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, c := range []struct {
		props map[string]string
		role  Role
		want  string
	}{
		{map[string]string{"acks": "2"}, Producer, "Invalid value 2 for configuration acks: String must be one of: all, -1, 0, 1"},
		{map[string]string{"linger.ms": "soon"}, Producer, "Invalid value soon for configuration linger.ms: Expected value to be a number"},
		{map[string]string{"linger.ms": "-1"}, Producer, "Invalid value -1 for configuration linger.ms: Value must be at least 0"},
		{map[string]string{"batch.size": "3000000000"}, Producer, "Invalid value 3000000000 for configuration batch.size: Expected a value between 0 and 2147483647"},
		{map[string]string{"acks": "0", "enable.idempotence": "true"}, Producer, "Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence."},
		{map[string]string{"acks": "1", "transactional.id": "t"}, Producer, "Cannot set a transactional.id without also enabling idempotence."},
		{map[string]string{"compression.type": "brotli"}, Producer, "Invalid value brotli for configuration compression.type: String must be one of: none, gzip, snappy, lz4, zstd"},
		{map[string]string{"auto.offset.reset": "middle"}, Consumer, "Invalid value middle for configuration auto.offset.reset: String must be one of: latest, earliest, none"},
		{map[string]string{"isolation.level": "dirty"}, Consumer, "Invalid value dirty for configuration isolation.level: String must be one of: read_committed, read_uncommitted"},
		{map[string]string{"enable.auto.commit": "yes", "group.id": "g"}, Consumer, "Invalid value yes for configuration enable.auto.commit: Expected value to be either true or false"},
		{map[string]string{"group.protocol": "x", "group.id": "g"}, Consumer, "Invalid value x for configuration group.protocol: String must be one of (case insensitive): CLASSIC, CONSUMER"},
		{map[string]string{"security.protocol": "KERBEROS"}, Admin, "Invalid value KERBEROS for configuration security.protocol: String must be one of: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"},
		{map[string]string{"security.protocol": "SASL_PLAINTEXT"}, Admin, "Invalid value GSSAPI for configuration sasl.mechanism: supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
		{map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER"}, Admin, "Invalid value OAUTHBEARER for configuration sasl.mechanism: supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
		{map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "JCEKS", "ssl.truststore.location": "/x.jceks"}, Admin, "Invalid value JCEKS for configuration ssl.truststore.type: supported key store types: JKS, PKCS12, PEM"},
		{map[string]string{"security.protocol": "SSL", "ssl.keystore.type": "BCFKS"}, Admin, "Invalid value BCFKS for configuration ssl.keystore.type: supported key store types: JKS, PKCS12, PEM"},
		{map[string]string{"security.protocol": "SSL", "ssl.truststore.certificates": "not pem"}, Admin, "ssl.truststore: no PEM certificates found"},
	} {
		_, _, err := Options(c.props, c.role)
		if err == nil || err.Error() != c.want {
			t.Errorf("%v: err = %v, want %q", c.props, err, c.want)
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%v: %v does not match ErrInvalidConfig", c.props, err)
		}
	}
	_, _, err := Options(map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "PEM",
		"ssl.truststore.location": filepath.Join(t.TempDir(), "missing.pem")}, Admin)
	if !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing truststore: %v", err)
	}
}

func TestMaxPollRecords(t *testing.T) {
	for _, c := range []struct {
		v    string
		want int
		err  string
	}{
		{"", 500, ""},
		{"7", 7, ""},
		{"0", 0, "Invalid value 0 for configuration max.poll.records: Value must be at least 1"},
		{"x", 0, "Invalid value x for configuration max.poll.records: Expected value to be a number"},
	} {
		props := map[string]string{}
		if c.v != "" {
			props["max.poll.records"] = c.v
		}
		n, err := MaxPollRecords(props)
		if n != c.want || fmt.Sprint(err) != map[bool]string{true: "<nil>", false: c.err}[c.err == ""] {
			t.Errorf("%q: %d, %v", c.v, n, err)
		}
	}
}

func TestSASLMechanisms(t *testing.T) {
	jaas := `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s\"cret";`
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		for _, proto := range []string{"SASL_PLAINTEXT", "SASL_SSL"} {
			cl := client(t, map[string]string{"security.protocol": proto, "sasl.mechanism": mech, "sasl.jaas.config": jaas}, Admin)
			mechs, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
			if len(mechs) != 1 || mechs[0].Name() != mech {
				t.Errorf("%s %s: mechanisms %v", proto, mech, cl.OptValue(kgo.SASL))
			}
			if tc, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config); (tc != nil) != (proto == "SASL_SSL") {
				t.Errorf("%s: TLS config %v", proto, tc)
			}
		}
	}
	if u, p := JAASCredentials(jaas); u != "alice" || p != `s"cret` {
		t.Errorf("jaas = %q %q", u, p)
	}
	// PLAINTEXT ignores the SASL settings.
	cl := client(t, map[string]string{"sasl.mechanism": "PLAIN", "sasl.jaas.config": jaas}, Admin)
	if mechs, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism); len(mechs) != 0 {
		t.Errorf("PLAINTEXT with SASL settings: %v", mechs)
	}
}

// TestTLS handshakes with a TLS server whose certificate is issued for
// localhost only: the trust store from a file or inline verifies it; a
// client without it, or one that checks host names against 127.0.0.1,
// fails; ssl.endpoint.identification.algorithm="" skips the host check
// but not the chain; the PEM key store presents a client certificate.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "ca")
	other := securitytest.NewCA(t, "other")
	server := ca.Issue(t, "CN=broker", "localhost")
	clientLeaf := ca.Issue(t, "CN=connect")
	keystore := clientLeaf.WriteKeystore(t, dir, "client")
	truststore := ca.WriteTruststore(t, dir, "ca")
	otherTrust := other.WriteTruststore(t, dir, "other")

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{server.TLSCertificate(t)},
		ClientAuth:   tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	peers := make(chan int, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			if tc.Handshake() == nil {
				peers <- len(tc.ConnectionState().PeerCertificates)
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	dial := func(props map[string]string, host string) (int, error) {
		t.Helper()
		props["security.protocol"] = "SSL"
		tc, _ := client(t, props, Admin).OptValue(kgo.DialTLSConfig).(*tls.Config)
		if tc == nil {
			t.Fatal("no TLS config")
		}
		tc = tc.Clone()
		tc.ServerName = host // kgo sets it from the broker's host
		c, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", port), tc)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return <-peers, nil
	}
	for _, c := range []struct {
		name  string
		props map[string]string
		host  string
		ok    bool
		certs int
	}{
		{"truststore file", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": truststore}, "localhost", true, 0},
		{"inline truststore", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.PEM)}, "localhost", true, 0},
		{"wrong CA", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": otherTrust}, "localhost", false, 0},
		{"host name checked", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": truststore}, "127.0.0.1", false, 0},
		{"host name not checked", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": truststore, "ssl.endpoint.identification.algorithm": ""}, "127.0.0.1", true, 0},
		{"chain still checked", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": otherTrust, "ssl.endpoint.identification.algorithm": ""}, "127.0.0.1", false, 0},
		{"key store file", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": truststore, "ssl.keystore.type": "PEM", "ssl.keystore.location": keystore}, "localhost", true, 1},
		{"inline key store", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": truststore, "ssl.keystore.type": "PEM",
			"ssl.keystore.certificate.chain": string(clientLeaf.CertPEM), "ssl.keystore.key": string(clientLeaf.KeyPEM)}, "localhost", true, 1},
	} {
		certs, err := dial(c.props, c.host)
		if (err == nil) != c.ok || (err == nil && (certs > 0) != (c.certs > 0)) {
			t.Errorf("%s: err %v, client certificates %d; want ok=%v, %d", c.name, err, certs, c.ok, c.certs)
		}
	}
}
