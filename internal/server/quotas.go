package server

// Client quotas (KIP-13, KIP-55, KIP-124) enforced as Kafka does since
// KIP-219: a request is never failed for being over a quota. Its
// response carries throttle_time_ms, and the connection is muted — no
// request is read from it — for that long after the response is sent
// (the client, which knows the throttle, waits too). A client at a
// response version from before KIP-219 instead gets the response late.
//
//	quota               recorded, after the handler ran
//	producer_byte_rate  the Produce request's size
//	consumer_byte_rate  the Fetch response's size; a Fetch over the quota
//	                    is answered empty (its bytes unrecorded) and its
//	                    max_bytes is capped at what the quota allows in a
//	                    window span (getMaxValueInQuotaWindow)
//	request_percentage  the handler's time, as a percentage of one
//	                    second, for every request but the exempt ones
//	controller_mutation_rate  before CreateTopics, CreatePartitions and
//	                    DeleteTopics: partitions, in a token bucket
//	                    (quotas_mutations.go)
//
// Exempt, as Kafka's cluster actions: followers' fetches (replication
// quotas cover them), requests on the controller listener, the SASL
// exchange and the requests only brokers send. The throttle is the
// largest of the quotas' (ClientQuotaManager's throttle time).

import (
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/protocol"
	"github.com/gregor-streaming/gregor/internal/quota"
)

// serverQuotas are the server's client and connection quota state.
type serverQuotas struct {
	clients     *quota.Manager
	mutations   *quota.MutationQuotas
	connections *quota.ConnectionQuotas
	// look returns the quota configs of the latest metadata image.
	look func() quota.Lookup
}

func newServerQuotas(s *Server) *serverQuotas {
	limits := s.cfg.ConnectionLimits
	if limits == nil {
		limits = func() quota.ConnectionLimits { return quota.ConnectionLimits{} }
	}
	look := func() quota.Lookup {
		if s.deps.Controller == nil {
			return func(quota.Entity) map[string]float64 { return nil }
		}
		return s.image().QuotaLookup()
	}
	return &serverQuotas{
		clients:     quota.NewManager(s.cfg.QuotaWindow),
		mutations:   quota.NewMutationQuotas(s.cfg.ControllerQuotaWindow),
		connections: quota.NewConnectionQuotas(s.cfg.QuotaWindow, limits, look, s.cfg.Now),
		look:        look,
	}
}

// quotaExemptKeys are requests no client quota applies to: the SASL
// exchange and what only brokers and controllers send each other.
var quotaExemptKeys = map[int16]bool{
	17: true, // SaslHandshake
	36: true, // SaslAuthenticate
	27: true, // WriteTxnMarkers
	52: true, // Vote
	53: true, // BeginQuorumEpoch
	54: true, // EndQuorumEpoch
	56: true, // AlterPartition
	59: true, // FetchSnapshot
	62: true, // BrokerRegistration
	63: true, // BrokerHeartbeat
	64: true, // UnregisterBroker
	67: true, // AllocateProducerIds
}

// waitingKeys are requests whose handler mostly waits (a long poll, a
// purgatory, a rebalance) rather than works: request_percentage does
// not count their time, which Kafka measures on its request threads
// only.
var waitingKeys = map[int16]bool{
	0:  true, // Produce (acks=all waits for replication)
	1:  true, // Fetch
	11: true, // JoinGroup
	14: true, // SyncGroup
}

// firstClientThrottleVersion is, per API, the first response version
// whose client throttles itself (KIP-219, AbstractResponse
// shouldClientThrottle); below it the broker delays the response. APIs
// not listed throttle in every version.
var firstClientThrottleVersion = map[int16]int16{
	0: 6, 1: 8, 2: 3, 3: 6, 8: 4, 9: 4, 10: 2, 11: 3, 12: 2, 13: 2, 14: 2,
	15: 2, 16: 2, 18: 2, 19: 3, 20: 2, 21: 1, 22: 1, 23: 2, 24: 1, 25: 1,
	26: 1, 28: 1, 29: 1, 30: 1, 31: 1, 32: 2, 33: 1, 34: 1, 35: 1, 37: 1,
	38: 1, 39: 1, 40: 1, 41: 1, 42: 1,
}

// isFollowerFetch reports whether req is a replica's fetch.
func isFollowerFetch(req kmsg.Request) bool {
	f, ok := req.(*kmsg.FetchRequest)
	if !ok {
		return false
	}
	if f.Version >= 15 {
		return f.ReplicaState.ID >= 0
	}
	return f.ReplicaID >= 0
}

// quotaExempt reports whether no client quota applies to req on c: an
// exempt request, or no client quota configured at all (Kafka's
// ClientQuotaManager.quotasEnabled, which then records nothing).
func (c *conn) quotaExempt(req kmsg.Request) bool {
	if c.s.cfg.ControllerEndpoint || quotaExemptKeys[req.Key()] || isFollowerFetch(req) {
		return true
	}
	return c.s.deps.Controller == nil || !c.s.image().HasClientQuotas()
}

// capFetchToQuota lowers a consumer fetch's max_bytes to what the
// client's consumer_byte_rate allows in a window span.
func (c *conn) capFetchToQuota(req kmsg.Request) {
	f, ok := req.(*kmsg.FetchRequest)
	if !ok || c.quotaExempt(req) {
		return
	}
	if limit, ok := c.s.quotas.clients.MaxValueInWindow(c.s.quotas.look(), quota.ConsumerByteRate, c.session.Principal.Name, c.clientID); ok {
		f.MaxBytes = int32(min(float64(f.MaxBytes), max(limit, 1)))
	}
}

// recordQuotas records a handled request against the client's quotas and
// returns the throttle. requestBytes is the request's size, handled the
// handler's time; resp is the response (a fetch's counts by its size,
// fetchResponseBytes). A fetch whose bytes put the client over
// consumer_byte_rate is unrecorded and emptyFetch is true: the caller
// answers it empty.
func (c *conn) recordQuotas(req kmsg.Request, resp kmsg.Response, requestBytes int, handled time.Duration) (throttle time.Duration, emptyFetch bool) {
	if c.quotaExempt(req) {
		return 0, false
	}
	m := c.s.quotas.clients
	look := c.s.quotas.look()
	user, client := c.session.Principal.Name, c.clientID
	now := c.s.cfg.Now()
	switch req.Key() {
	case 0:
		throttle = m.Record(look, quota.ProducerByteRate, user, client, float64(requestBytes), now)
	case 1:
		responseBytes := fetchResponseBytes(resp)
		throttle = m.Record(look, quota.ConsumerByteRate, user, client, float64(responseBytes), now)
		if throttle > 0 {
			m.Unrecord(look, quota.ConsumerByteRate, user, client, float64(responseBytes), now)
			emptyFetch = true
		}
	}
	if !waitingKeys[req.Key()] {
		// A percentage of one thread's second (ClientRequestQuotaManager
		// nanosToPercentage).
		pct := float64(handled.Nanoseconds()) * 100 / float64(time.Second)
		throttle = max(throttle, m.Record(look, quota.RequestPercentage, user, client, pct, now))
	}
	return throttle, emptyFetch
}

// emptyFetchResponse is the answer to a throttled fetch (Kafka's
// FetchContext.getThrottledResponse): no partitions, the session kept.
func emptyFetchResponse(resp *kmsg.FetchResponse) *kmsg.FetchResponse {
	out := kmsg.NewPtrFetchResponse()
	out.Version = resp.Version
	out.ErrorCode = resp.ErrorCode
	out.SessionID = resp.SessionID
	return out
}

// setThrottle puts throttle in resp's throttle_time_ms, keeping a larger
// one a handler set.
func setThrottle(resp kmsg.Response, throttle time.Duration) {
	tr, ok := resp.(kmsg.ThrottleResponse)
	if !ok {
		return
	}
	ms := int32(min(throttle.Milliseconds(), int64(1<<31-1)))
	if cur, _ := tr.Throttle(); cur >= ms {
		return
	}
	if st, ok := resp.(interface{ SetThrottle(int32) }); ok {
		st.SetThrottle(ms)
	}
}

// clientThrottles reports whether a client at version of key throttles
// itself (KIP-219).
func clientThrottles(key, version int16) bool {
	return version >= firstClientThrottleVersion[key]
}

// acquireConnection applies the connection limits to an accepted
// connection (Kafka's ConnectionQuotas.inc). It reports whether the
// connection may be served; when it may, releaseConnection must be
// called once it closes. A refused connection is closed here, at once or
// (over its IP's connection_creation_rate) after the throttle.
func (s *Server) acquireConnection(nc net.Conn, l boundListener) bool {
	ip := remoteIP(nc)
	closeAfter, err := s.quotas.connections.Acquire(s.ctx, l.Name, ip)
	switch {
	case err != nil:
		if s.ctx.Err() == nil {
			s.log.Info("refusing connection", "listener", l.Name, "remote", nc.RemoteAddr().String(), "err", err)
		}
		nc.Close()
		return false
	case closeAfter > 0:
		s.log.Debug("throttling connection: over the IP's connection_creation_rate", "listener", l.Name, "remote", nc.RemoteAddr().String(), "close_after", closeAfter)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTimer(closeAfter)
			defer t.Stop()
			select {
			case <-t.C:
			case <-s.ctx.Done():
			}
			nc.Close()
		}()
		return false
	}
	return true
}

func (s *Server) releaseConnection(nc net.Conn, l boundListener) {
	s.quotas.connections.Release(l.Name, remoteIP(nc))
}

func remoteIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return nc.RemoteAddr().String()
	}
	return host
}

// throttle records a handled request against the client's quotas and
// returns the response to send (an empty one for a throttled fetch) with
// its throttle_time_ms set; the connection is muted for the throttle
// (c.mute), or, for a client from before KIP-219, the response is held
// back instead (c.delay). resp may be nil (acks=0 produce).
func (c *conn) throttle(hdr protocol.Header, req kmsg.Request, resp kmsg.Response, requestBytes int, handled time.Duration) kmsg.Response {
	throttle, emptyFetch := c.recordQuotas(req, resp, requestBytes, handled)
	throttle = max(throttle, c.mutationThrottle)
	c.mutationThrottle = 0
	if throttle <= 0 {
		return resp
	}
	if resp == nil {
		c.mute = throttle
		return nil
	}
	if fr, ok := resp.(*kmsg.FetchResponse); ok && emptyFetch {
		out := emptyFetchResponse(fr)
		releaseResponse(fr)
		resp = out
	}
	setThrottle(resp, throttle)
	if clientThrottles(hdr.APIKey, hdr.APIVersion) {
		c.mute = throttle
	} else {
		c.delay = max(c.delay, throttle)
	}
	return resp
}

// fetchResponseBytes is the size a fetch response counts against
// consumer_byte_rate: its record bytes and a little per partition (the
// rest of the response is small beside them); 0 for other responses.
func fetchResponseBytes(resp kmsg.Response) int {
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 0
	for i := range fr.Topics {
		n += 32 + len(fr.Topics[i].Topic)
		for j := range fr.Topics[i].Partitions {
			n += 48 + len(fr.Topics[i].Partitions[j].RecordBatches)
		}
	}
	return n
}

// waitMute stops reading from the connection for c.mute, if set. It
// returns false when the server is closing.
func (c *conn) waitMute() bool {
	d := c.mute
	c.mute = 0
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}
