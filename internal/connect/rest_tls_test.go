package connect

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streaming/gregor/internal/security/securitytest"
)

// restTLS is a CA made for a test and a certificate it issued for
// 127.0.0.1, written as PEM stores.
type restTLS struct {
	ca                   *securitytest.CA
	leaf                 *securitytest.Leaf
	keystore, truststore string
}

func newRESTTLS(t *testing.T) *restTLS {
	dir := t.TempDir()
	ca := securitytest.NewCA(t, "Connect Test CA")
	leaf := ca.Issue(t, "CN=connect", "127.0.0.1", "localhost")
	return &restTLS{ca: ca, leaf: leaf, keystore: leaf.WriteKeystore(t, dir, "worker.pem"), truststore: ca.WriteTruststore(t, dir, "ca.pem")}
}

// props are the listeners.https.* settings of a worker serving with the
// test certificate and trusting the test CA.
func (r *restTLS) props(clientAuth string) map[string]string {
	p := map[string]string{
		"listeners.https.ssl.keystore.type":       "PEM",
		"listeners.https.ssl.keystore.location":   r.keystore,
		"listeners.https.ssl.truststore.type":     "PEM",
		"listeners.https.ssl.truststore.location": r.truststore,
	}
	if clientAuth != "" {
		p["listeners.https.ssl.client.auth"] = clientAuth
	}
	return p
}

// client returns an HTTPS client trusting the CA (or not), presenting
// the leaf certificate (or not).
func (r *restTLS) client(t *testing.T, trust, present bool) *http.Client {
	tc := &tls.Config{}
	if trust {
		tc.RootCAs = r.ca.Pool()
	}
	if present {
		tc.Certificates = []tls.Certificate{r.leaf.TLSCertificate(t)}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
}

func get(cl *http.Client, u string) (int, error) {
	resp, err := cl.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// HTTPS REST listeners (Kafka's listeners=https://…): an http and an
// https listener at once; a client trusting the CA is served over https,
// one that does not fails the handshake; rest.advertised.listener=https
// advertises the https listener; ssl.client.auth=required refuses a
// client without a certificate and serves one with a certificate from
// the CA.
func TestRESTHTTPS(t *testing.T) {
	c := startBroker(t)
	certs := newRESTTLS(t)
	for _, clientAuth := range []string{"", "required"} {
		t.Run("client.auth="+clientAuth, func(t *testing.T) {
			props := withProps(workerProps(c, t.TempDir()), certs.props(clientAuth))
			props[ListenersConfig] = "http://127.0.0.1:0,https://127.0.0.1:0"
			props[RestAdvertisedListenerConfig] = "https"
			w, err := StartStandalone(context.Background(), props, nil, StandaloneOptions{Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close(context.Background())
			addrs := w.REST().Addrs()
			httpURL, httpsURL := "http://"+addrs[0].String()+"/", "https://"+addrs[1].String()+"/"
			if got := w.URL().String(); got != httpsURL {
				t.Fatalf("advertised %s, want %s", got, httpsURL)
			}
			if code, err := get(http.DefaultClient, httpURL); err != nil || code != http.StatusOK {
				t.Fatalf("http listener: %d %v", code, err)
			}
			var unknownCA x509.UnknownAuthorityError
			if _, err := get(certs.client(t, false, true), httpsURL); !errors.As(err, &unknownCA) {
				t.Fatalf("a client not trusting the CA: %v, want an unknown authority", err)
			}
			code, err := get(certs.client(t, true, false), httpsURL)
			if clientAuth == "required" {
				if err == nil {
					t.Fatalf("ssl.client.auth=required served a client without a certificate (%d)", code)
				}
				if code, err = get(certs.client(t, true, true), httpsURL); err != nil || code != http.StatusOK {
					t.Fatalf("a client with a certificate: %d %v", code, err)
				}
				return
			}
			if err != nil || code != http.StatusOK {
				t.Fatalf("a client trusting the CA: %d %v", code, err)
			}
		})
	}
}

// The REST TLS settings are all or nothing (Kafka's
// valuesWithPrefixAllOrNothing): listeners.https.ssl.* if any
// listeners.https. property is set, else the worker's ssl.*; a bad store
// fails the worker's start with a ConfigException-style error.
func TestRESTTLSSettings(t *testing.T) {
	props := map[string]string{
		"ssl.keystore.location":                 "/plain.pem",
		"ssl.truststore.location":               "/plain-ca.pem",
		"listeners.https.ssl.keystore.location": "/prefixed.pem",
	}
	s := restTLSSettings(props, ListenersHTTPSPrefix)
	if s.KeystoreLocation != "/prefixed.pem" || s.TruststoreLocation != "" || s.EndpointIdentificationAlgorithm != "https" {
		t.Fatalf("prefixed: %+v", s)
	}
	delete(props, "listeners.https.ssl.keystore.location")
	props["ssl.endpoint.identification.algorithm"] = ""
	s = restTLSSettings(props, ListenersHTTPSPrefix)
	if s.KeystoreLocation != "/plain.pem" || s.TruststoreLocation != "/plain-ca.pem" || s.EndpointIdentificationAlgorithm != "" {
		t.Fatalf("fallback: %+v", s)
	}

	cfg := testWorkerConfig(t, map[string]string{ListenersConfig: "https://127.0.0.1:0", "listeners.https.ssl.keystore.type": "JKS",
		"listeners.https.ssl.keystore.location": "/x.jks"})
	if _, err := NewRESTServer(cfg, slog.New(slog.DiscardHandler)); !errors.Is(err, ErrWorkerConfig) || !strings.Contains(err.Error(), "ssl.keystore.password") {
		t.Fatalf("a JKS key store without its password: %v", err)
	}
	if _, err := ParseConfig(withProps(cfg.Props, map[string]string{RestAdvertisedListenerConfig: "ftp"})); !errors.Is(err, ErrWorkerConfig) {
		t.Fatalf("rest.advertised.listener=ftp: %v", err)
	}
}

// Distributed workers serving https only forward a POST /connectors from
// a follower to the leader over https, presenting their certificate to a
// leader that requires one (Kafka's RestClient uses the listeners.https
// settings as a client). A source connector created so creates its topic
// (KIP-158 in distributed mode).
func TestDistributedForwardHTTPS(t *testing.T) {
	t.Parallel()
	c := startBroker(t)
	certs := newRESTTLS(t)
	props := withProps(distributedProps(c), certs.props("required"))
	props[ListenersConfig] = "https://127.0.0.1:0"
	w1 := startDistributed(t, props)
	defer w1.Close(context.Background())
	w2 := startDistributed(t, props)
	defer w2.Close(context.Background())
	cl := certs.client(t, true, true)
	var follower *Distributed
	eventually(t, "a leader", func() bool {
		switch {
		case w1.Herder().IsLeader():
			follower = w2
		case w2.Herder().IsLeader():
			follower = w1
		}
		return follower != nil
	})
	if follower.URL().Scheme != "https" {
		t.Fatalf("advertised %s", follower.URL())
	}
	body, _ := json.Marshal(map[string]any{"name": "fwd", "config": map[string]string{
		"connector.class": "com.example.test.TestSourceConnector", "tasks.max": "1"}})
	var code int
	var answer []byte
	eventually(t, "POST /connectors outside a rebalance", func() bool {
		resp, err := cl.Post(follower.URL().String()+"connectors", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		code = resp.StatusCode
		answer, _ = io.ReadAll(resp.Body)
		return code != http.StatusConflict
	})
	if code != http.StatusCreated {
		t.Fatalf("POST /connectors on the follower: %d %s", code, answer)
	}
	var info ConnectorInfo
	if err := json.Unmarshal(answer, &info); err != nil || info.Name != "fwd" {
		t.Fatalf("answer %s: %v", answer, err)
	}
	// Whichever worker runs the connector, its task configurations reach
	// the leader (over https when the follower runs it) and the task runs.
	eventually(t, "the connector and its task running", func() bool {
		resp, err := cl.Get(follower.URL().String() + "connectors/fwd/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st ConnectorStateInfo
		return json.NewDecoder(resp.Body).Decode(&st) == nil && allRunning(st, 1)
	})

	// Topic creation (KIP-158) in distributed mode: a source connector
	// created through the follower creates its topic with its settings.
	body, _ = json.Marshal(map[string]any{"name": "creator", "config": map[string]string{
		"connector.class": "com.example.test.KeyedSourceConnector", "topic": "distributed-created",
		"topic.creation.default.replication.factor": "-1", "topic.creation.default.partitions": "3"}})
	eventually(t, "POST /connectors (creator) outside a rebalance", func() bool {
		resp, err := cl.Post(follower.URL().String()+"connectors", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		code = resp.StatusCode
		answer, _ = io.ReadAll(resp.Body)
		return code != http.StatusConflict
	})
	if code != http.StatusCreated {
		t.Fatalf("POST /connectors (creator): %d %s", code, answer)
	}
	awaitRecords(t, c, "distributed-created", 4)
	kc, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if n, configs := topicShape(t, kadm.NewClient(kc), "distributed-created"); n != 3 || len(configs) != 0 {
		t.Fatalf("distributed-created: %d partitions, configs %v", n, configs)
	}
}
