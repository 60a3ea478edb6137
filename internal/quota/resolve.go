package quota

// Lookup returns the quota configs of entity e, by key (nil when it has
// none). The caller's map must not be modified.
type Lookup func(e Entity) map[string]float64

// Tags say who shares a measured rate: Kafka's quota metric tags "user"
// and "client-id", "" when the rate is not split by that part.
type Tags struct {
	User     string
	ClientID string
}

// Resolve finds the quota of type key for a client (the principal's
// name and the client id) as Kafka's DefaultQuotaCallback does: Tags are
// the rate the client's requests are measured in (quotaMetricTags) and
// bound the limit of that rate (quotaLimit); ok is false when no entity
// sets key, and the client is not limited.
func Resolve(look Lookup, key, user, clientID string) (tags Tags, bound float64, ok bool) {
	has := func(e Entity) bool { _, ok := look(e)[key]; return ok }
	u, c, d := Named(user), Named(clientID), Default()
	switch {
	case has(Entity{User: u, ClientID: c}), has(Entity{User: u, ClientID: d}):
		tags = Tags{User: user, ClientID: clientID} // 1, 2
	case has(Entity{User: u}):
		tags = Tags{User: user} // 3
	case has(Entity{User: d, ClientID: c}), has(Entity{User: d, ClientID: d}):
		tags = Tags{User: user, ClientID: clientID} // 4, 5
	case has(Entity{User: d}):
		tags = Tags{User: user} // 6
	default:
		tags = Tags{ClientID: clientID} // 7, 8
	}
	bound, ok = limit(look, key, tags)
	return tags, bound, ok
}

// limit is DefaultQuotaCallback.quotaLimit: the bound of the rate named
// by tags.
func limit(look Lookup, key string, tags Tags) (float64, bool) {
	u, c, d := Named(tags.User), Named(tags.ClientID), Default()
	var candidates []Entity
	switch {
	case tags.User != "" && tags.ClientID != "":
		candidates = []Entity{{User: u, ClientID: c}, {User: u, ClientID: d}, {User: d, ClientID: c}, {User: d, ClientID: d}}
	case tags.User != "":
		candidates = []Entity{{User: u}, {User: d}}
	case tags.ClientID != "":
		candidates = []Entity{{ClientID: c}, {ClientID: d}}
	}
	for _, e := range candidates {
		if v, ok := look(e)[key]; ok {
			return v, true
		}
	}
	return 0, false
}

// IPConnectionRate is the connection_creation_rate of ip: its own
// entity's, else the <default> IP entity's (ConnectionQuotas).
func IPConnectionRate(look Lookup, ip string) (float64, bool) {
	for _, e := range []Entity{{IP: Named(ip)}, {IP: Default()}} {
		if v, ok := look(e)[ConnectionCreationRate]; ok {
			return v, true
		}
	}
	return 0, false
}
