// Package quota is Kafka's client quotas (KIP-13, KIP-55, KIP-124,
// KIP-219, KIP-546, KIP-612) without I/O: the quota entities and their
// precedence, the sampled rate a quota is measured with, the throttle
// time of a violation, and the connection limits of a broker. The server
// package records into it and mutes connections; the metadata package
// stores the quota configs (ClientQuotaRecord); the controller validates
// changes with Validate.
//
// # Entities and precedence
//
// A quota config applies to an entity: a user (the principal's name), a
// client id, both, or an IP (connection_creation_rate only). Any part
// may be <default>. For a request by (user, client-id) the first entity
// that has the quota type wins, as Kafka's documentation lists them:
//
//	1  /config/users/<user>/clients/<client-id>
//	2  /config/users/<user>/clients/<default>
//	3  /config/users/<user>
//	4  /config/users/<default>/clients/<client-id>
//	5  /config/users/<default>/clients/<default>
//	6  /config/users/<default>
//	7  /config/clients/<client-id>
//	8  /config/clients/<default>
//
// The winning entity also says who shares the measured rate (Kafka's
// quota metric tags): a /config/users/<user> quota is shared by all of
// the user's clients, a <default> entity gives each user or client its
// own rate.
//
// # Rates and throttling
//
// A rate is Kafka's Rate over a SampledStat: quota.window.num samples of
// quota.window.size.seconds each.
//
//	samples  [ s0 | s1 | ... | s10 ]      each: start ms, value
//	Record(v, now)   the current sample takes v, or the next one starts
//	                 (reset) once the current one is a window old
//	Measure(now)     sum of the live samples / WindowSize(now) in seconds;
//	                 a sample window.num windows old is reset first
//	WindowSize(now)  now - oldest start, at least (window.num-1) windows
//
// After a client's value is recorded, a rate above the bound is a
// violation, and the client is throttled for
//
//	throttle = (rate - bound) / bound * WindowSize(now)     (QuotaUtils.throttleTime)
//
// the time the rate needs to fall back to the bound if nothing more is
// recorded; request_percentage throttles are capped at one window. The
// request is never failed: the broker answers it with throttle_time_ms
// and stops reading from the connection for that long (KIP-219).
//
// # Use
//
// Manager is safe for concurrent use; callers pass the quota configs of
// the moment (a Lookup over the metadata image) and the time with every
// call. MutationQuotas holds the controller_mutation_rate token buckets
// (mutations.go). ConnectionQuotas decides on accepted connections; the
// accept loop waits, refuses or delays the close as it says.
package quota
