package config

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Listener is one endpoint of listeners or advertised.listeners.
type Listener struct {
	// Name is the listener name, upper-cased as Kafka's
	// ListenerName.normalised ("PLAINTEXT", "CONTROLLER").
	Name string
	// Host is the host to bind or advertise. "" binds every interface
	// (Kafka's convention); in an advertised listener it has already
	// been replaced by the machine's hostname.
	Host string
	// Port is the TCP port; 0 binds an ephemeral port.
	Port int
	// SecurityProtocol is the protocol from listener.security.protocol.map:
	// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	SecurityProtocol string
}

// Addr returns host:port for net.Listen or net.Dial.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// String returns the listener in config form, NAME://host:port.
func (l Listener) String() string {
	host := l.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return l.Name + "://" + host + ":" + strconv.Itoa(l.Port)
}

// QuorumVoter is one entry of controller.quorum.voters.
type QuorumVoter struct {
	ID   int32
	Host string
	Port int
}

// Addr returns host:port.
func (v QuorumVoter) Addr() string { return net.JoinHostPort(v.Host, strconv.Itoa(v.Port)) }

// hostname returns the name advertised for wildcard hosts, as Kafka's
// InetAddress.getLocalHost().getCanonicalHostName(). A variable so tests
// can fix it.
var hostname = func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// listenerURI is Kafka's SocketServerConfigs URI_PARSE_REGEXP.
var listenerURI = regexp.MustCompile(`^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)$`)

// parseEndpoints parses a listener list. protocols maps listener names
// to security protocols.
func parseEndpoints(prop string, list []string, protocols map[string]string) ([]Listener, error) {
	var out []Listener
	for _, entry := range list {
		m := listenerURI.FindStringSubmatch(entry)
		if m == nil {
			return nil, conflict(prop, "Unable to parse %s to a broker endpoint", entry)
		}
		port, err := strconv.Atoi(m[3])
		if err != nil || port < 0 || port > 65535 {
			return nil, conflict(prop, "Unable to parse %s to a broker endpoint: invalid port %s", entry, m[3])
		}
		name := strings.ToUpper(m[1])
		proto, ok := protocols[name]
		if !ok {
			return nil, conflict(prop, "No security protocol defined for listener %s", name)
		}
		out = append(out, Listener{Name: name, Host: m[2], Port: port, SecurityProtocol: proto})
	}
	return out, nil
}

// checkDistinct is Kafka's listener uniqueness rule: names must differ,
// and ports too unless one listener is IPv4 and the other IPv6.
func checkDistinct(prop string, ls []Listener, raw string, ports bool) error {
	for i := range ls {
		for j := i + 1; j < len(ls); j++ {
			if ls[i].Name == ls[j].Name {
				return conflict(prop, "Each listener must have a different name, %s: %s", prop, raw)
			}
			if ports && ls[i].Port == ls[j].Port && ls[i].Port != 0 && !ipv4AndIPv6(ls[i].Host, ls[j].Host) {
				return conflict(prop, "Each listener must have a different port unless exactly one listener has an IPv4 address and the other IPv6 address, %s: %s", prop, raw)
			}
		}
	}
	return nil
}

func ipv4AndIPv6(a, b string) bool {
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	if ia == nil || ib == nil {
		return false
	}
	return (ia.To4() == nil) != (ib.To4() == nil)
}

// parseProtocolMap parses listener.security.protocol.map.
func parseProtocolMap(raw string) (map[string]string, error) {
	const prop = "listener.security.protocol.map"
	out := map[string]string{}
	raw = javaTrim(raw)
	if raw == "" {
		return out, nil
	}
	for _, entry := range strings.Split(raw, ",") {
		k, v, ok := strings.Cut(entry, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.Contains(v, ":") {
			return nil, conflict(prop, "Error parsing configuration property '%s': Map entry '%s' is not of the form key:value", prop, entry)
		}
		name := strings.ToUpper(k)
		if _, dup := out[name]; dup {
			return nil, conflict(prop, "Error parsing configuration property '%s': duplicate listener name %s", prop, name)
		}
		proto := strings.ToUpper(v)
		if !slices.Contains(securityProtocols, proto) {
			return nil, conflict(prop, "Invalid security protocol `%s` defined in %s", v, prop)
		}
		out[name] = proto
	}
	return out, nil
}

// parseVoters parses controller.quorum.voters: {id}@{host}:{port}.
func parseVoters(list []string) ([]QuorumVoter, error) {
	const prop = "controller.quorum.voters"
	var out []QuorumVoter
	for _, entry := range list {
		id, addr, ok := strings.Cut(entry, "@")
		n, err := strconv.ParseInt(id, 10, 32)
		if !ok || err != nil || n < 0 {
			return nil, conflict(prop, "Invalid value %s for configuration %s: Unable to parse voter %q: expected {id}@{host}:{port}", strings.Join(list, ","), prop, entry)
		}
		host, port, err := splitHostPort(addr)
		if err != nil {
			return nil, conflict(prop, "Invalid value %s for configuration %s: Unable to parse voter %q: %v", strings.Join(list, ","), prop, entry, err)
		}
		for _, v := range out {
			if v.ID == int32(n) {
				return nil, conflict(prop, "Invalid value %s for configuration %s: duplicate voter id %d", strings.Join(list, ","), prop, n)
			}
		}
		out = append(out, QuorumVoter{ID: int32(n), Host: host, Port: port})
	}
	return out, nil
}

// parseBootstrap checks controller.quorum.bootstrap.servers entries.
func parseBootstrap(list []string) ([]string, error) {
	const prop = "controller.quorum.bootstrap.servers"
	out := make([]string, 0, len(list))
	for _, entry := range list {
		host, port, err := splitHostPort(entry)
		if err != nil {
			return nil, conflict(prop, "Invalid value %s for configuration %s: Unable to parse %q: %v", strings.Join(list, ","), prop, entry, err)
		}
		out = append(out, net.JoinHostPort(host, strconv.Itoa(port)))
	}
	return out, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("expected {host}:{port}")
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 || host == "" {
		return "", 0, fmt.Errorf("expected {host}:{port} with a port in 1..65535")
	}
	return host, port, nil
}

// isWildcardHost reports a host that cannot be advertised as is.
func isWildcardHost(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
