package connect

// HTTPS for the REST API (Kafka's RestServer and SSLUtils): listeners
// given as https://host:port serve TLS; the worker's requests to other
// workers (forwarding to the leader, task configurations) use TLS for
// https URLs. The settings are Kafka's ssl.* names, taken all or nothing
// (Kafka's valuesWithPrefixAllOrNothing): if any property starts with
// "listeners.https.", only the listeners.https.ssl.* properties count;
// otherwise the worker's plain ssl.* properties do (the ones its Kafka
// clients also use). The admin listeners (admin.listeners) take
// "admin.listeners.https." the same way.
//
//	listeners=http://:8083,https://:8443
//	listeners.https.ssl.keystore.location=/etc/connect/rest.keystore.jks   JKS (the default type), PKCS12 or PEM
//	listeners.https.ssl.keystore.password=...
//	listeners.https.ssl.key.password=...                                  if the key's differs from the store's
//	listeners.https.ssl.truststore.location=/etc/connect/rest.truststore.jks  clients' CAs (mTLS), and the CA other workers' certificates chain to
//	listeners.https.ssl.truststore.password=...                           optional
//	listeners.https.ssl.client.auth=required                              none (default), requested, required
//	rest.advertised.listener=https                                        the URL other workers forward to
//
// Stores are read by package security as everywhere in Gregor, as
// Kafka reads them: ssl.keystore.type and ssl.truststore.type are JKS
// (the default), PKCS12 or PEM (key stores: ssl.keystore.location, or
// ssl.keystore.key with ssl.keystore.certificate.chain; trust stores:
// ssl.truststore.location or ssl.truststore.certificates).

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gregor-streaming/gregor/internal/security"
)

// Prefixes of the REST listeners' TLS settings (Kafka's
// RestServerConfig).
const (
	ListenersHTTPSPrefix      = "listeners.https."
	AdminListenersHTTPSPrefix = "admin.listeners.https."
)

// restTLSSettings returns the ssl.* settings under prefix, all or
// nothing: the prefixed ones if any property has the prefix, else the
// unprefixed ones.
func restTLSSettings(props map[string]string, prefix string) security.TLSSettings {
	use := ""
	for k := range props {
		if strings.HasPrefix(k, prefix) {
			use = prefix
			break
		}
	}
	str := func(k string) string { return strings.TrimSpace(props[use+k]) }
	list := func(k string) []string {
		var out []string
		for _, s := range strings.Split(props[use+k], ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	s := security.TLSSettings{
		KeystoreType:                    str("ssl.keystore.type"),
		KeystoreLocation:                str("ssl.keystore.location"),
		KeystoreKey:                     props[use+"ssl.keystore.key"],
		KeystoreCertificateChain:        props[use+"ssl.keystore.certificate.chain"],
		KeystorePassword:                props[use+"ssl.keystore.password"],
		KeyPassword:                     props[use+"ssl.key.password"],
		TruststoreType:                  str("ssl.truststore.type"),
		TruststoreLocation:              str("ssl.truststore.location"),
		TruststoreCertificates:          props[use+"ssl.truststore.certificates"],
		TruststorePassword:              props[use+"ssl.truststore.password"],
		ClientAuth:                      str("ssl.client.auth"),
		EndpointIdentificationAlgorithm: "https", // Kafka's default
		EnabledProtocols:                list("ssl.enabled.protocols"),
		CipherSuites:                    list("ssl.cipher.suites"),
	}
	if v, ok := props[use+"ssl.endpoint.identification.algorithm"]; ok {
		s.EndpointIdentificationAlgorithm = strings.TrimSpace(v)
	}
	return s
}

// restListen binds a REST listener: TCP for http URLs, TLS over TCP for
// https ones, with the TLS settings under prefix.
func restListen(u *url.URL, props map[string]string, prefix string) (net.Listener, error) {
	var tc *tls.Config
	if u.Scheme == "https" {
		var err error
		if tc, err = restTLSSettings(props, prefix).ServerConfig(); err != nil {
			return nil, fmt.Errorf("%w: REST listener %s: %w", ErrWorkerConfig, u, err)
		}
	}
	l, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("REST listener %s: %w", u, err)
	}
	if tc != nil {
		l = tls.NewListener(l, tc)
	}
	return l, nil
}

// newRESTClient returns the client a worker sends requests to other
// workers with (Kafka's RestClient): https URLs use the
// listeners.https.* (else ssl.*) settings as a client: the trust store's
// CAs, the key store's certificate when there is one, host name
// verification unless ssl.endpoint.identification.algorithm is empty.
// Without a trust store the system's roots are used.
func newRESTClient(cfg *Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	s := restTLSSettings(cfg.Props, ListenersHTTPSPrefix)
	if needsRESTClientTLS(cfg) || s.HasTruststore() || s.HasKeystore() {
		tc, err := s.ClientConfig("")
		if err != nil {
			return nil, fmt.Errorf("%w: REST client: %w", ErrWorkerConfig, err)
		}
		tr.TLSClientConfig = tc
	}
	return &http.Client{Timeout: 90 * time.Second, Transport: tr}, nil
}

// needsRESTClientTLS reports whether any listener or the advertised
// listener is https.
func needsRESTClientTLS(cfg *Config) bool {
	for _, u := range cfg.Listeners {
		if u.Scheme == "https" {
			return true
		}
	}
	return strings.EqualFold(cfg.AdvertisedListener, "https")
}

// advertisedListener returns the index of the listener whose URL the
// worker gives out (Kafka's RestServer.advertisedUrl and
// determineAdvertisedProtocol): the first of rest.advertised.listener's
// protocol, else the first http one, else the first.
func advertisedListener(cfg *Config) int {
	want := strings.ToLower(cfg.AdvertisedListener)
	if want == "" {
		want = "http"
		if !hasScheme(cfg.Listeners, "http") {
			want = "https"
		}
	}
	for i, u := range cfg.Listeners {
		if u.Scheme == want {
			return i
		}
	}
	return 0
}

func hasScheme(ls []*url.URL, scheme string) bool {
	for _, u := range ls {
		if u.Scheme == scheme {
			return true
		}
	}
	return false
}
