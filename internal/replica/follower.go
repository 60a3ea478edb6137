package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/record"
)

// This file is the follower side: num.replica.fetchers fetchers per
// leader broker (Kafka's ReplicaFetcherThread / AbstractFetcherThread,
// under a ReplicaFetcherManager), each with an incremental fetch session
// (KIP-227) with its leader, and the Partition methods they append and
// truncate through.
//
// A partition in a fetcher is in one of three modes:
//
//	           addPartition (new leader epoch)
//	                 │
//	     log has a leader epoch and Fetch >= v12?
//	        yes │                      │ no
//	            ▼                      ▼
//	      ┌──────────┐  OffsetForLeaderEpoch / truncate to HW  ┌────────────┐
//	      │ fetching │◀────────────────────────────────────────│ truncating │
//	      └──────────┘                                         └────────────┘
//	        │   ▲  │ DivergingEpoch (v12+): truncate, keep fetching
//	        │   │  └──────────────┘
//	        │   │ ListOffsets latest/earliest: truncate, or start over
//	        │   │ at the leader's log start offset
//	        ▼   │
//	      ┌───────────┐
//	      │ resetting │   (after OFFSET_OUT_OF_RANGE)
//	      └───────────┘
//
// FENCED_LEADER_EPOCH drops the partition until metadata brings a newer
// leader epoch; NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH and other
// partition errors delay it by replica.fetch.backoff.ms.

// Conn is a connection to another broker's inter-broker listener.
// Request sends one request at the version set on it and returns the
// response; a fetcher calls it from one goroutine at a time and honours
// ctx. Close releases the connection. A kgo.Broker-style requestor with
// pinned versions or NewConn over a net.Conn will do.
type Conn interface {
	kmsg.Requestor
	Close() error
}

// DialFunc opens a connection to broker node.
type DialFunc func(ctx context.Context, node int32) (Conn, error)

// FetcherConfig configures the follower fetchers, with Kafka's broker
// config names. Zero values take Kafka's defaults.
type FetcherConfig struct {
	// Dial connects to a leader. nil: this node runs no fetchers (single
	// node, or replication wired later).
	Dial DialFunc
	// MaxWaitMs is replica.fetch.wait.max.ms (default 500).
	MaxWaitMs int32
	// MinBytes is replica.fetch.min.bytes (default 1).
	MinBytes int32
	// ResponseMaxBytes is replica.fetch.response.max.bytes (default 10485760).
	ResponseMaxBytes int32
	// MaxBytes is replica.fetch.max.bytes, per partition (default 1048576).
	MaxBytes int32
	// BackoffMs is replica.fetch.backoff.ms (default 1000).
	BackoffMs int64
	// FetchVersion is the Fetch version sent (default 17). From v12 the
	// leader reports a diverging log in the fetch response (KIP-320) and
	// the fetcher truncates as it goes; below, it first truncates with
	// OffsetForLeaderEpoch (KIP-101, KIP-279). From v7 fetches use an
	// incremental fetch session (KIP-227).
	FetchVersion int16
	// NumFetchers is num.replica.fetchers, the fetchers per leader
	// broker (default 1); Config.Dynamic changes it at runtime.
	NumFetchers int
}

func (c *FetcherConfig) setDefaults() {
	if c.MaxWaitMs <= 0 {
		c.MaxWaitMs = 500
	}
	if c.MinBytes <= 0 {
		c.MinBytes = 1
	}
	if c.ResponseMaxBytes <= 0 {
		c.ResponseMaxBytes = 10 << 20
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	if c.BackoffMs <= 0 {
		c.BackoffMs = 1000
	}
	if c.FetchVersion <= 0 {
		c.FetchVersion = 17
	}
	if c.NumFetchers <= 0 {
		c.NumFetchers = 1
	}
}

type fetcherIDKey struct{}

// FetcherIDFromContext returns the id, among the fetchers of one leader,
// of the fetcher dialing with ctx (Kafka names its fetcher threads and
// client ids broker-<self>-fetcher-<id>).
func FetcherIDFromContext(ctx context.Context) (int, bool) {
	id, ok := ctx.Value(fetcherIDKey{}).(int)
	return id, ok
}

// Versions of the other requests a fetcher sends.
const (
	offsetForLeaderEpochVersion = 4
	listOffsetsVersion          = 7
)

// truncateOnFetch reports whether Fetch at this version carries
// last_fetched_epoch and diverging_epoch (KIP-320).
func (c *FetcherConfig) truncateOnFetch() bool { return c.FetchVersion >= 12 }

// ---- Partition, follower side ----

// checkFollower returns errNotFollower unless the partition is a live
// follower at leaderEpoch. appendMu must be held.
func (p *Partition) checkFollower(leaderEpoch int32) error {
	p.mu.Lock()
	closed := p.mu.closed
	p.mu.Unlock()
	st := p.state.Load()
	if closed || st == nil || st.isLeader || st.leaderEpoch != leaderEpoch {
		return errNotFollower
	}
	return nil
}

// appendAsFollower appends batches fetched at fetchOffset from the
// leader at leaderEpoch (Kafka's ReplicaFetcherThread.processPartitionData)
// and takes the leader's high watermark (bounded by the local log end
// offset) and log start offset. It returns the new log end offset. A
// trailing partial batch is ignored.
func (p *Partition) appendAsFollower(leaderEpoch int32, fetchOffset int64, data []byte, leaderHW, leaderLSO int64) (int64, error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.checkFollower(leaderEpoch); err != nil {
		return 0, err
	}
	leo := p.log.LogEndOffset()
	if fetchOffset != leo {
		return leo, fmt.Errorf("%w: fetched at %d, log ends at %d", errOffsetMismatch, fetchOffset, leo)
	}
	if data = wholeBatches(data); len(data) > 0 {
		h, err := record.ParseHeader(data)
		if err != nil {
			return leo, fmt.Errorf("replica: fetched batch: %w", err)
		}
		// The leader's log start offset may fall inside its first batch
		// (DeleteRecords): an empty log then restarts at the batch.
		if h.BaseOffset < leo && leo == p.log.LogStartOffset() && h.LastOffset() >= leo {
			if err := p.log.TruncateFullyAndStartAt(h.BaseOffset); err != nil {
				return leo, err
			}
		}
		if _, err := p.log.AppendAsFollower(data); err != nil {
			return p.log.LogEndOffset(), err
		}
	}
	p.log.SetHighWatermark(leaderHW)
	if lso := min(leaderLSO, p.log.HighWatermark()); lso > p.log.LogStartOffset() {
		if _, err := p.log.DeleteRecordsBefore(lso); err != nil {
			return p.log.LogEndOffset(), err
		}
	}
	leo = p.log.LogEndOffset()
	p.wake()
	return leo, nil
}

// truncateAsFollower truncates the log to offset as a follower at
// leaderEpoch and returns the new log end offset (which may be below
// offset when offset falls inside a batch).
func (p *Partition) truncateAsFollower(leaderEpoch int32, offset int64) (int64, error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.checkFollower(leaderEpoch); err != nil {
		return 0, err
	}
	if err := p.log.TruncateTo(offset); err != nil {
		return 0, err
	}
	return p.log.LogEndOffset(), nil
}

// truncateFullyAsFollower empties the log and restarts it at offset.
func (p *Partition) truncateFullyAsFollower(leaderEpoch int32, offset int64) (int64, error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.checkFollower(leaderEpoch); err != nil {
		return 0, err
	}
	if err := p.log.TruncateFullyAndStartAt(offset); err != nil {
		return 0, err
	}
	return p.log.LogEndOffset(), nil
}

// latestEpoch is the log's latest leader epoch, -1 if none.
func (p *Partition) latestEpoch() int32 {
	if e, ok := p.log.LatestEpoch(); ok {
		return e
	}
	return -1
}

// wholeBatches returns the prefix of b made of whole batches.
func wholeBatches(b []byte) []byte {
	n := 0
	for len(b)-n >= record.LogOverhead {
		size := int(int32(binary.BigEndian.Uint32(b[n+8:]))) + record.LogOverhead
		if size < record.LogOverhead || n+size > len(b) {
			break
		}
		n += size
	}
	return b[:n]
}

// truncationOffset is Kafka's getOffsetTruncationState: where a follower
// whose log ends at logEndOffset truncates given the leader's answer for
// one of its epochs (OffsetForLeaderEpoch, or a fetch's DivergingEpoch),
// and whether that is final. localEndOffsetFor is the follower's own
// epoch lookup (storage.Log.EndOffsetForEpoch). When the leader's epoch is
// one the follower also has, the logs agree up to the smaller end of that
// epoch (KIP-279); when the follower does not have it, it truncates to the
// end of its own largest smaller epoch and asks again.
func truncationOffset(leaderEpoch int32, leaderEndOffset, fetchOffset, logEndOffset int64, localEndOffsetFor func(int32) (int32, int64)) (offset int64, completed bool) {
	switch {
	case leaderEndOffset < 0:
		// The leader knows none of our epochs: fall back to where
		// fetching started (the high watermark when truncating first).
		return min(fetchOffset, logEndOffset), true
	case leaderEpoch < 0:
		return min(leaderEndOffset, logEndOffset), true
	}
	epoch, end := localEndOffsetFor(leaderEpoch)
	switch {
	case end < 0:
		return min(leaderEndOffset, logEndOffset), true
	case epoch != leaderEpoch:
		return min(end, logEndOffset), false
	default:
		return min(end, leaderEndOffset, logEndOffset), true
	}
}

// ---- fetchers ----

type fetchMode int8

const (
	modeFetching fetchMode = iota
	modeTruncating
	modeResetting
)

// fetchState is Kafka's PartitionFetchState.
type fetchState struct {
	leaderEpoch      int32 // the current leader epoch, sent as current_leader_epoch
	fetchOffset      int64
	lastFetchedEpoch int32 // -1: none
	mode             fetchMode
	delayUntilMs     int64 // backing off until then
	// lag is the leader's high watermark minus the fetch offset after
	// the last fetch that brought records; -1 until one has.
	lag int64
}

// inSync is Kafka's isReplicaInSync: the last records fetched reached
// the leader's high watermark. A follower quota never holds such a
// partition back.
func (st *fetchState) inSync() bool { return st.lag == 0 }

// fetcherManager is Kafka's ReplicaFetcherManager: num.replica.fetchers
// fetchers per leader broker, each with its own goroutine, started on
// first use and stopped once it has no partitions. A partition goes to
// fetcher fetcherID(topic, partition) of its leader.
type fetcherManager struct {
	cfg         FetcherConfig
	self        int32
	brokerEpoch func() int64
	now         func() time.Time
	logger      *slog.Logger
	// quota is the follower replication quota (KIP-73); nil: none.
	quota *ReplicationQuota
	wg    sync.WaitGroup

	mu struct {
		sync.Mutex
		fetchers map[fetcherKey]*fetcher
		// numFetchers is num.replica.fetchers as last applied.
		numFetchers int
		closed      bool
	}
}

// fetcherKey names a fetcher: its leader broker and its id among that
// broker's fetchers (Kafka's BrokerIdAndFetcherId).
type fetcherKey struct {
	source int32
	id     int
}

func newFetcherManager(cfg FetcherConfig, self int32, brokerEpoch func() int64, now func() time.Time, logger *slog.Logger) *fetcherManager {
	cfg.setDefaults()
	if brokerEpoch == nil {
		brokerEpoch = func() int64 { return -1 }
	}
	fm := &fetcherManager{cfg: cfg, self: self, brokerEpoch: brokerEpoch, now: now, logger: logger}
	fm.mu.fetchers = map[fetcherKey]*fetcher{}
	fm.mu.numFetchers = cfg.NumFetchers
	return fm
}

// fetcherID is Kafka's AbstractFetcherManager.getFetcherId:
// Utils.abs(31 * topic.hashCode() + partition) % numFetchers, in Java's
// int arithmetic (Utils.abs maps Integer.MIN_VALUE to 0).
func fetcherID(topic string, partition int32, numFetchers int) int {
	h := 31*javaStringHash(topic) + partition
	switch {
	case h == math.MinInt32:
		h = 0
	case h < 0:
		h = -h
	}
	return int(h) % numFetchers
}

// javaStringHash is Java's String.hashCode over the UTF-16 code units of
// s, wrapping as Java's int does.
func javaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// add makes the fetcher for leader that p hashes to fetch p at
// leaderEpoch, removing p from any other fetcher. start=false leaves a
// new fetcher's goroutine unstarted (tests drive doWork themselves).
func (fm *fetcherManager) add(leader int32, p *Partition, leaderEpoch int32, start bool) *fetcher {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.mu.closed {
		return nil
	}
	key := fetcherKey{source: leader, id: fetcherID(p.Topic, p.Index, fm.mu.numFetchers)}
	for k, f := range fm.mu.fetchers {
		if k != key {
			f.removePartition(p)
		}
	}
	f := fm.fetcherLocked(key, start)
	f.addPartition(p, leaderEpoch)
	return f
}

// fetcherLocked returns the fetcher for key, creating it (and starting
// its goroutine if start) when there is none. fm.mu must be held.
func (fm *fetcherManager) fetcherLocked(key fetcherKey, start bool) *fetcher {
	f := fm.mu.fetchers[key]
	if f == nil {
		f = newFetcher(fm, key)
		fm.mu.fetchers[key] = f
		if start {
			f.started = true
			fm.wg.Add(1)
			go f.run()
		}
	}
	return f
}

// resize applies a new num.replica.fetchers (Kafka's resizeThreadPool):
// every partition moves, with its fetch state, to the fetcher it now
// hashes to, and fetchers left without partitions stop.
func (fm *fetcherManager) resize(numFetchers int, start bool) {
	numFetchers = max(numFetchers, 1)
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.mu.closed || numFetchers == fm.mu.numFetchers {
		return
	}
	fm.logger.Info("resizing replica fetchers", "from", fm.mu.numFetchers, "to", numFetchers)
	fm.mu.numFetchers = numFetchers
	type moving struct {
		source int32
		p      *Partition
		st     fetchState
	}
	var all []moving
	for _, f := range fm.mu.fetchers {
		for p, st := range f.takePartitions() {
			all = append(all, moving{f.key.source, p, st})
		}
	}
	for _, mv := range all {
		key := fetcherKey{source: mv.source, id: fetcherID(mv.p.Topic, mv.p.Index, numFetchers)}
		fm.fetcherLocked(key, start).adoptPartition(mv.p, mv.st)
	}
	fm.shutdownIdleLocked()
}

// shutdownIdle stops the fetchers that have no partitions (Kafka's
// shutdownIdleFetcherThreads).
func (fm *fetcherManager) shutdownIdle() {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	fm.shutdownIdleLocked()
}

func (fm *fetcherManager) shutdownIdleLocked() {
	for k, f := range fm.mu.fetchers {
		if f.idle() {
			delete(fm.mu.fetchers, k)
			f.stop()
		}
	}
}

// remove stops fetching p. Once it returns, no fetcher appends to p.
func (fm *fetcherManager) remove(p *Partition) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	for _, f := range fm.mu.fetchers {
		f.removePartition(p)
	}
}

// fetcher returns the fetcher of leader with the lowest id, if any
// (tests; with one fetcher per leader, the only one).
func (fm *fetcherManager) fetcher(leader int32) *fetcher {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	var out *fetcher
	for k, f := range fm.mu.fetchers {
		if k.source == leader && (out == nil || k.id < out.key.id) {
			out = f
		}
	}
	return out
}

// fetcherFor returns the fetcher that fetches p, if any (tests).
func (fm *fetcherManager) fetcherFor(p *Partition) *fetcher {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	for _, f := range fm.mu.fetchers {
		if _, ok := f.state(p); ok {
			return f
		}
	}
	return nil
}

// close stops every fetcher and waits for their goroutines.
func (fm *fetcherManager) close() {
	fm.mu.Lock()
	fm.mu.closed = true
	fs := fm.mu.fetchers
	fm.mu.fetchers = map[fetcherKey]*fetcher{}
	fm.mu.Unlock()
	for _, f := range fs {
		f.cancel()
	}
	fm.wg.Wait()
	for _, f := range fs {
		f.closeConn()
	}
}

// fetcher replicates the partitions led by one broker that hash to its id
// (Kafka's ReplicaFetcherThread). Its goroutine loops over doWork; tests
// call doWork directly.
type fetcher struct {
	fm      *fetcherManager
	key     fetcherKey
	source  int32
	logger  *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	wakeC   chan struct{}
	started bool // the goroutine runs; set before it starts

	// connMu guards conn; it is held across a request, so doWork runs
	// one round trip at a time.
	connMu sync.Mutex
	conn   Conn

	mu struct {
		sync.Mutex
		// parts holds the partitions fetched from source. It is held
		// while fetched data is appended, so removePartition waits for
		// an append in progress.
		parts map[*Partition]*fetchState
		// session is the incremental fetch session with the leader.
		session fetchSessionHandler
	}
}

func newFetcher(fm *fetcherManager, key fetcherKey) *fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{fm: fm, key: key, source: key.source, ctx: ctx, cancel: cancel, wakeC: make(chan struct{}, 1),
		logger: fm.logger.With("fetcher_source", key.source, "fetcher_id", key.id)}
	f.mu.parts = map[*Partition]*fetchState{}
	f.mu.session.disabled = fm.cfg.FetchVersion < 7
	return f
}

// idle reports whether f has no partitions.
func (f *fetcher) idle() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mu.parts) == 0
}

// stop ends f's goroutine, which closes its connection; a fetcher without
// one closes it here.
func (f *fetcher) stop() {
	f.cancel()
	if !f.started {
		f.closeConn()
	}
}

// takePartitions removes every partition and returns their states.
func (f *fetcher) takePartitions() map[*Partition]fetchState {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[*Partition]fetchState, len(f.mu.parts))
	for p, st := range f.mu.parts {
		out[p] = *st
	}
	f.mu.parts = map[*Partition]*fetchState{}
	return out
}

// adoptPartition fetches p on from st, a state another fetcher had.
func (f *fetcher) adoptPartition(p *Partition, st fetchState) {
	f.mu.Lock()
	f.mu.parts[p] = &st
	f.mu.Unlock()
	f.wake()
}

func (f *fetcher) nowMs() int64 { return f.fm.now().UnixMilli() }

// addPartition starts fetching p at leaderEpoch (Kafka's addPartitions
// with initialFetchOffset): from the log end offset with the log's latest
// epoch when fetches truncate on the fly and the log has epochs, else
// truncating first from the high watermark.
func (f *fetcher) addPartition(p *Partition, leaderEpoch int32) {
	f.mu.Lock()
	if st := f.mu.parts[p]; st != nil && st.leaderEpoch == leaderEpoch {
		f.mu.Unlock()
		return
	}
	st := &fetchState{leaderEpoch: leaderEpoch, lastFetchedEpoch: -1, lag: -1}
	if latest := p.latestEpoch(); latest >= 0 && f.fm.cfg.truncateOnFetch() {
		st.fetchOffset, st.lastFetchedEpoch, st.mode = p.log.LogEndOffset(), latest, modeFetching
	} else {
		st.fetchOffset, st.mode = p.log.HighWatermark(), modeTruncating
	}
	f.mu.parts[p] = st
	f.mu.Unlock()
	f.wake()
}

func (f *fetcher) removePartition(p *Partition) {
	f.mu.Lock()
	delete(f.mu.parts, p)
	f.mu.Unlock()
}

func (f *fetcher) wake() {
	select {
	case f.wakeC <- struct{}{}:
	default:
	}
}

// state returns a copy of p's fetch state (tests).
func (f *fetcher) state(p *Partition) (fetchState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.mu.parts[p]
	if !ok {
		return fetchState{}, false
	}
	return *st, true
}

// run is the fetcher's goroutine; it closes the connection when it ends.
func (f *fetcher) run() {
	defer f.fm.wg.Done()
	defer f.closeConn()
	for f.ctx.Err() == nil {
		wait, err := f.doWork(f.ctx)
		if err != nil && f.ctx.Err() == nil {
			f.logger.Info("replica fetch failed", "err", err)
		}
		if wait <= 0 {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-f.ctx.Done():
		case <-f.wakeC:
		case <-t.C:
		}
		t.Stop()
	}
}

func (f *fetcher) closeConn() {
	f.connMu.Lock()
	defer f.connMu.Unlock()
	if f.conn != nil {
		_ = f.conn.Close()
		f.conn = nil
	}
}

// request sends req to the source broker, dialing first if needed. A
// failed request closes the connection; the next one dials again.
func (f *fetcher) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	f.connMu.Lock()
	defer f.connMu.Unlock()
	if f.conn == nil {
		c, err := f.fm.cfg.Dial(context.WithValue(ctx, fetcherIDKey{}, f.key.id), f.source)
		if err != nil {
			return nil, fmt.Errorf("replica: dial broker %d: %w", f.source, err)
		}
		f.conn = c
	}
	resp, err := f.conn.Request(ctx, req)
	if err != nil {
		_ = f.conn.Close()
		f.conn = nil
		return nil, fmt.Errorf("replica: request to broker %d: %w", f.source, err)
	}
	return resp, nil
}

// doWork runs one round (Kafka's AbstractFetcherThread.doWork): the
// truncations and offset resets due, then one Fetch. It returns how long
// to wait before the next round (0: go on at once), and the error of a
// failed request.
func (f *fetcher) doWork(ctx context.Context) (time.Duration, error) {
	if err := f.maybeTruncate(ctx); err != nil {
		return f.backoff(), err
	}
	if err := f.maybeResetOffsets(ctx); err != nil {
		return f.backoff(), err
	}
	return f.fetch(ctx)
}

func (f *fetcher) backoff() time.Duration {
	return time.Duration(f.fm.cfg.BackoffMs) * time.Millisecond
}

// ready lists the partitions in mode whose backoff is over, with a copy
// of their state; next is the time until the earliest delayed partition
// is ready (0 if none is delayed). f.mu must be held.
func (f *fetcher) readyLocked(mode fetchMode, nowMs int64) (ready map[*Partition]fetchState, next time.Duration) {
	ready = map[*Partition]fetchState{}
	for p, st := range f.mu.parts {
		if st.delayUntilMs > nowMs {
			d := time.Duration(st.delayUntilMs-nowMs) * time.Millisecond
			if next == 0 || d < next {
				next = d
			}
			continue
		}
		if st.mode == mode {
			ready[p] = *st
		}
	}
	return ready, next
}

// currentLocked returns p's state if it is still the one a request was
// built from (same leader epoch and mode, and fetch offset).
func (f *fetcher) currentLocked(p *Partition, sent fetchState) *fetchState {
	st := f.mu.parts[p]
	if st == nil || st.leaderEpoch != sent.leaderEpoch || st.mode != sent.mode || st.fetchOffset != sent.fetchOffset {
		return nil
	}
	return st
}

func (f *fetcher) delayLocked(st *fetchState) {
	st.delayUntilMs = f.nowMs() + f.fm.cfg.BackoffMs
}

// partitionErrorLocked handles a partition-level error answer. f.mu must
// be held.
func (f *fetcher) partitionErrorLocked(p *Partition, st *fetchState, code int16) {
	err := kerr.ErrorForCode(code)
	switch err {
	case kerr.FencedLeaderEpoch:
		// The leader is at a newer epoch than we know: wait for the
		// metadata that says so (Kafka's onPartitionFenced).
		f.logger.Info("fenced by a newer leader epoch; awaiting metadata", "topic", p.Topic, "partition", p.Index, "leader_epoch", st.leaderEpoch)
		delete(f.mu.parts, p)
	case kerr.OffsetOutOfRange:
		st.mode = modeResetting
	default:
		// NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH,
		// UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR, ...: retry
		// after the backoff.
		f.logger.Debug("partition fetch error", "topic", p.Topic, "partition", p.Index, "err", err)
		f.delayLocked(st)
	}
}

// localErrorLocked handles a failed local append or truncation.
func (f *fetcher) localErrorLocked(p *Partition, st *fetchState, err error) {
	switch {
	case errors.Is(err, errNotFollower):
		delete(f.mu.parts, p)
	case errors.Is(err, errOffsetMismatch):
		// Something else moved the log: start again from its end.
		f.logger.Warn("fetch offset does not match the log end offset", "topic", p.Topic, "partition", p.Index, "err", err)
		st.fetchOffset, st.lastFetchedEpoch = p.log.LogEndOffset(), p.latestEpoch()
		if !f.fm.cfg.truncateOnFetch() || st.lastFetchedEpoch < 0 {
			st.fetchOffset, st.mode = p.log.HighWatermark(), modeTruncating
		}
	default:
		f.logger.Error("replicating partition failed", "topic", p.Topic, "partition", p.Index, "err", err)
		f.delayLocked(st)
	}
}

// truncateLocked truncates p after the leader answered (epoch, end) for
// one of p's epochs and moves it to fetching, or keeps it truncating
// when the answer was not final and OffsetForLeaderEpoch is in use.
func (f *fetcher) truncateLocked(p *Partition, st *fetchState, epoch int32, end int64) {
	off, completed := truncationOffset(epoch, end, st.fetchOffset, p.log.LogEndOffset(), p.log.EndOffsetForEpoch)
	leo, err := p.truncateAsFollower(st.leaderEpoch, off)
	if err != nil {
		f.localErrorLocked(p, st, err)
		return
	}
	if hw := p.log.HighWatermark(); off < hw {
		f.logger.Warn("truncated below the high watermark", "topic", p.Topic, "partition", p.Index, "offset", off, "high_watermark", hw)
	}
	f.logger.Info("truncated", "topic", p.Topic, "partition", p.Index, "offset", off, "log_end_offset", leo,
		"leader_epoch_answer", epoch, "leader_end_offset", end, "completed", completed)
	st.fetchOffset, st.lastFetchedEpoch = leo, p.latestEpoch()
	if f.fm.cfg.truncateOnFetch() || completed {
		st.mode = modeFetching
	} else {
		st.mode = modeTruncating
	}
}

// maybeTruncate handles the partitions in truncating mode: those whose
// log has no leader epoch truncate to their fetch offset (the high
// watermark); the others ask the leader where their latest epoch ends
// (OffsetForLeaderEpoch, KIP-101/KIP-279).
func (f *fetcher) maybeTruncate(ctx context.Context) error {
	f.mu.Lock()
	ready, _ := f.readyLocked(modeTruncating, f.nowMs())
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version = offsetForLeaderEpochVersion
	req.ReplicaID = f.fm.self
	asked := map[string]map[int32]*Partition{}
	askedState := map[*Partition]fetchState{}
	for p, sent := range ready {
		latest := p.latestEpoch()
		if latest < 0 {
			st := f.mu.parts[p]
			leo, err := p.truncateAsFollower(st.leaderEpoch, st.fetchOffset)
			if err != nil {
				f.localErrorLocked(p, st, err)
				continue
			}
			st.fetchOffset, st.lastFetchedEpoch, st.mode = leo, -1, modeFetching
			continue
		}
		t := addOFLETopic(req, p.Topic)
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = p.Index, sent.leaderEpoch, latest
		t.Partitions = append(t.Partitions, rp)
		if asked[p.Topic] == nil {
			asked[p.Topic] = map[int32]*Partition{}
		}
		asked[p.Topic][p.Index] = p
		askedState[p] = sent
	}
	f.mu.Unlock()
	if len(askedState) == 0 {
		return nil
	}
	kresp, err := f.request(ctx, req)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		for p, sent := range askedState {
			if st := f.currentLocked(p, sent); st != nil {
				f.delayLocked(st)
			}
		}
		return err
	}
	resp := kresp.(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			p := asked[rt.Topic][rp.Partition]
			if p == nil {
				continue
			}
			st := f.currentLocked(p, askedState[p])
			if st == nil {
				continue
			}
			if rp.ErrorCode != 0 {
				f.partitionErrorLocked(p, st, rp.ErrorCode)
				continue
			}
			f.truncateLocked(p, st, rp.LeaderEpoch, rp.EndOffset)
		}
	}
	return nil
}

func addOFLETopic(req *kmsg.OffsetForLeaderEpochRequest, topic string) *kmsg.OffsetForLeaderEpochRequestTopic {
	for i := range req.Topics {
		if req.Topics[i].Topic == topic {
			return &req.Topics[i]
		}
	}
	t := kmsg.NewOffsetForLeaderEpochRequestTopic()
	t.Topic = topic
	req.Topics = append(req.Topics, t)
	return &req.Topics[len(req.Topics)-1]
}

// maybeResetOffsets handles the partitions that got OFFSET_OUT_OF_RANGE
// (Kafka's fetchOffsetAndTruncate): a follower ahead of the leader's log
// end (unclean election) truncates to it; one behind the leader's log
// start offset empties its log and starts over there; otherwise it keeps
// its log and fetches on.
func (f *fetcher) maybeResetOffsets(ctx context.Context) error {
	f.mu.Lock()
	ready, _ := f.readyLocked(modeResetting, f.nowMs())
	f.mu.Unlock()
	if len(ready) == 0 {
		return nil
	}
	ends, err := f.listOffsets(ctx, ready, LatestTimestamp)
	if err != nil {
		f.delayAll(ready)
		return err
	}
	starts, err := f.listOffsets(ctx, ready, EarliestTimestamp)
	if err != nil {
		f.delayAll(ready)
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, sent := range ready {
		st := f.currentLocked(p, sent)
		if st == nil {
			continue
		}
		end, start := ends[p], starts[p]
		if end.err != 0 || start.err != 0 {
			code := end.err
			if code == 0 {
				code = start.err
			}
			f.partitionErrorLocked(p, st, code)
			if st := f.mu.parts[p]; st != nil && st.mode == modeResetting {
				f.delayLocked(st)
			}
			continue
		}
		leo := p.log.LogEndOffset()
		var err error
		switch {
		case end.offset < leo:
			f.logger.Warn("leader's log ends before ours; truncating (unclean leader election?)", "topic", p.Topic, "partition", p.Index, "leader_log_end_offset", end.offset, "log_end_offset", leo)
			leo, err = p.truncateAsFollower(st.leaderEpoch, end.offset)
		case start.offset > leo:
			f.logger.Info("leader's log starts after ours ends; starting over", "topic", p.Topic, "partition", p.Index, "leader_log_start_offset", start.offset, "log_end_offset", leo)
			leo, err = p.truncateFullyAsFollower(st.leaderEpoch, start.offset)
		}
		if err != nil {
			f.localErrorLocked(p, st, err)
			continue
		}
		st.fetchOffset, st.lastFetchedEpoch, st.mode = leo, p.latestEpoch(), modeFetching
	}
	return nil
}

type listedOffset struct {
	offset int64
	err    int16
}

// listOffsets asks the leader, as a replica, for the given offset of each
// partition.
func (f *fetcher) listOffsets(ctx context.Context, parts map[*Partition]fetchState, timestamp int64) (map[*Partition]listedOffset, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = listOffsetsVersion
	req.ReplicaID = f.fm.self
	byName := map[string]map[int32]*Partition{}
	for p, st := range parts {
		var t *kmsg.ListOffsetsRequestTopic
		for i := range req.Topics {
			if req.Topics[i].Topic == p.Topic {
				t = &req.Topics[i]
			}
		}
		if t == nil {
			nt := kmsg.NewListOffsetsRequestTopic()
			nt.Topic = p.Topic
			req.Topics = append(req.Topics, nt)
			t = &req.Topics[len(req.Topics)-1]
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = p.Index, st.leaderEpoch, timestamp
		t.Partitions = append(t.Partitions, rp)
		if byName[p.Topic] == nil {
			byName[p.Topic] = map[int32]*Partition{}
		}
		byName[p.Topic][p.Index] = p
	}
	kresp, err := f.request(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[*Partition]listedOffset{}
	for p := range parts {
		out[p] = listedOffset{offset: -1, err: kerr.UnknownServerError.Code}
	}
	for _, rt := range kresp.(*kmsg.ListOffsetsResponse).Topics {
		for _, rp := range rt.Partitions {
			if p := byName[rt.Topic][rp.Partition]; p != nil {
				out[p] = listedOffset{offset: rp.Offset, err: rp.ErrorCode}
			}
		}
	}
	return out, nil
}

func (f *fetcher) delayAll(parts map[*Partition]fetchState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, sent := range parts {
		if st := f.currentLocked(p, sent); st != nil {
			f.delayLocked(st)
		}
	}
}

// fetchKey names a partition in a Fetch request: by topic id from v13,
// by name before.
type fetchKey struct {
	topic     string
	topicID   [16]byte
	partition int32
}

// fetch sends one Fetch for the partitions ready to fetch and processes
// the answer. Within a fetch session only the partitions whose fetch
// position changed are listed, and the leader answers only partitions
// with news (KIP-227). Throttled partitions that are not caught up are
// left out while the follower quota is exceeded (KIP-73).
func (f *fetcher) fetch(ctx context.Context) (time.Duration, error) {
	cfg := &f.fm.cfg
	f.mu.Lock()
	ready, next := f.readyLocked(modeFetching, f.nowMs())
	for p := range ready {
		if shouldFollowerThrottle(f.fm.quota, p, f.mu.parts[p]) {
			delete(ready, p)
		}
	}
	if len(ready) == 0 {
		idle := len(f.mu.parts) == 0
		f.mu.Unlock()
		switch {
		case next > 0:
		case idle:
			next = time.Minute // no partitions: addPartition wakes us
		default:
			next = f.backoff()
		}
		return next, nil
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version = cfg.FetchVersion
	if req.Version >= 15 {
		req.ReplicaID = -1
		req.ReplicaState.ID, req.ReplicaState.Epoch = f.fm.self, f.fm.brokerEpoch()
	} else {
		req.ReplicaID = f.fm.self
	}
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = cfg.MaxWaitMs, cfg.MinBytes, cfg.ResponseMaxBytes
	req.IsolationLevel = ReadUncommitted
	useIDs := req.Version >= 13
	sent := map[fetchKey]*Partition{}
	want := map[fetchKey]sessionPartitionData{}
	for p, st := range ready {
		k := fetchKey{partition: p.Index}
		if useIDs {
			k.topicID = p.TopicID
		} else {
			k.topic = p.Topic
		}
		d := sessionPartitionData{
			fetchOffset: st.fetchOffset, logStartOffset: p.log.LogStartOffset(), maxBytes: cfg.MaxBytes,
			currentLeaderEpoch: st.leaderEpoch, lastFetchedEpoch: -1,
		}
		if cfg.truncateOnFetch() {
			d.lastFetchedEpoch = st.lastFetchedEpoch
		}
		want[k] = d
		sent[k] = p
	}
	var send, forget []fetchKey
	req.SessionID, req.SessionEpoch, send, forget = f.mu.session.build(want)
	for _, k := range send {
		t := fetchRequestTopic(req, k)
		d := want[k]
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = k.partition
		rp.CurrentLeaderEpoch, rp.FetchOffset, rp.LastFetchedEpoch = d.currentLeaderEpoch, d.fetchOffset, d.lastFetchedEpoch
		rp.LogStartOffset, rp.PartitionMaxBytes = d.logStartOffset, d.maxBytes
		t.Partitions = append(t.Partitions, rp)
	}
	for _, k := range forget {
		var ft *kmsg.FetchRequestForgottenTopic
		for i := range req.ForgottenTopics {
			if req.ForgottenTopics[i].Topic == k.topic && req.ForgottenTopics[i].TopicID == k.topicID {
				ft = &req.ForgottenTopics[i]
			}
		}
		if ft == nil {
			nt := kmsg.NewFetchRequestForgottenTopic()
			nt.Topic, nt.TopicID = k.topic, k.topicID
			req.ForgottenTopics = append(req.ForgottenTopics, nt)
			ft = &req.ForgottenTopics[len(req.ForgottenTopics)-1]
		}
		ft.Partitions = append(ft.Partitions, k.partition)
	}
	f.mu.Unlock()

	kresp, err := f.request(ctx, req)
	if err != nil {
		f.mu.Lock()
		f.mu.session.handleError()
		f.mu.Unlock()
		f.delayAll(ready)
		return f.backoff(), err
	}
	resp := kresp.(*kmsg.FetchResponse)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.mu.session.handleResponse(resp.ErrorCode, resp.SessionID) && isSessionError(resp.ErrorCode) {
		// The leader lost or rejects our session: the next fetch, at
		// once, opens a new one with every partition (Kafka's
		// FetchSessionHandler.handleResponse).
		return 0, fmt.Errorf("replica: fetch session %d with broker %d: %w", req.SessionID, f.source, kerr.ErrorForCode(resp.ErrorCode))
	}
	if resp.ErrorCode != 0 {
		for p, s := range ready {
			if st := f.currentLocked(p, s); st != nil {
				f.delayLocked(st)
			}
		}
		return 0, fmt.Errorf("replica: fetch from broker %d: %w", f.source, kerr.ErrorForCode(resp.ErrorCode))
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			k := fetchKey{partition: rp.Partition}
			if useIDs {
				k.topicID = rt.TopicID
			} else {
				k.topic = rt.Topic
			}
			p := sent[k]
			if p == nil {
				continue
			}
			st := f.currentLocked(p, ready[p])
			if st == nil {
				continue // removed, or moved on, while we were away
			}
			f.processPartitionLocked(p, st, &rp)
		}
	}
	return 0, nil
}

// fetchRequestTopic returns req's topic for k, adding it if missing.
func fetchRequestTopic(req *kmsg.FetchRequest, k fetchKey) *kmsg.FetchRequestTopic {
	for i := range req.Topics {
		if req.Topics[i].Topic == k.topic && req.Topics[i].TopicID == k.topicID {
			return &req.Topics[i]
		}
	}
	nt := kmsg.NewFetchRequestTopic()
	nt.Topic, nt.TopicID = k.topic, k.topicID
	req.Topics = append(req.Topics, nt)
	return &req.Topics[len(req.Topics)-1]
}

// processPartitionLocked applies one partition of a Fetch response.
func (f *fetcher) processPartitionLocked(p *Partition, st *fetchState, rp *kmsg.FetchResponseTopicPartition) {
	if rp.ErrorCode != 0 {
		f.partitionErrorLocked(p, st, rp.ErrorCode)
		return
	}
	if f.fm.cfg.truncateOnFetch() && rp.DivergingEpoch.Epoch >= 0 && rp.DivergingEpoch.EndOffset >= 0 {
		// KIP-320: our log diverges; truncate and fetch again, without
		// touching the records (there are none).
		f.truncateLocked(p, st, rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset)
		return
	}
	leo, err := p.appendAsFollower(st.leaderEpoch, st.fetchOffset, rp.RecordBatches, rp.HighWatermark, rp.LogStartOffset)
	if err != nil {
		f.localErrorLocked(p, st, err)
		return
	}
	if leo > st.fetchOffset {
		// Kafka's lag, kept from the last fetch that brought records.
		st.lag = max(0, rp.HighWatermark-leo)
		if q := f.fm.quota; q != nil && q.IsThrottled(p.Topic, p.Index) {
			q.Record(len(rp.RecordBatches))
		}
	}
	st.fetchOffset = leo
	if e := p.latestEpoch(); e >= 0 {
		st.lastFetchedEpoch = e
	}
}

// ---- fetch sessions (KIP-227), the fetcher's side ----

// sessionPartitionData is what a Fetch says about one partition; the
// leader's session keeps the last one sent.
type sessionPartitionData struct {
	fetchOffset        int64
	logStartOffset     int64
	maxBytes           int32
	currentLeaderEpoch int32
	lastFetchedEpoch   int32
}

// fetchSessionHandler is Kafka's FetchSessionHandler: it tracks the
// session a fetcher has with its leader and turns the partitions to fetch
// into a full or an incremental request.
//
//	id  epoch   next request
//	0   0       full, asks for a session (also after the leader had none free)
//	X   0       full, closes X and asks for a new one (after an error)
//	X   N>0     incremental in X: changed partitions, forgotten ones
//
// A full answer with a session id starts the session at epoch 1; each
// incremental answer moves to the next epoch. FETCH_SESSION_ID_NOT_FOUND
// starts over without an id; any other top-level error, or no answer,
// closes the session and starts over with it. The zero value is a
// handler with no session yet; disabled (Fetch below v7) sends every
// request full and sessionless.
type fetchSessionHandler struct {
	disabled bool
	id       int32
	epoch    int32
	// parts is the leader's view of the session: the data last sent for
	// each partition in it.
	parts map[fetchKey]sessionPartitionData
}

// build returns the session id and epoch of the next request, the
// partitions it must list and those it forgets, given want, every
// partition to fetch now. The handler assumes the leader will apply the
// request; handleResponse or handleError corrects it otherwise.
func (h *fetchSessionHandler) build(want map[fetchKey]sessionPartitionData) (id, epoch int32, send, forget []fetchKey) {
	if h.disabled {
		return 0, -1, slices.Collect(maps.Keys(want)), nil
	}
	if h.epoch == 0 {
		send = slices.Collect(maps.Keys(want))
	} else {
		for k, d := range want {
			if old, ok := h.parts[k]; !ok || old != d {
				send = append(send, k)
			}
		}
		for k := range h.parts {
			if _, ok := want[k]; !ok {
				forget = append(forget, k)
			}
		}
	}
	h.parts = maps.Clone(want)
	return h.id, h.epoch, send, forget
}

// handleResponse applies the answer's top-level error code and session
// id, and reports whether the request succeeded.
func (h *fetchSessionHandler) handleResponse(errorCode int16, sessionID int32) bool {
	if h.disabled {
		return errorCode == 0
	}
	switch {
	case errorCode == kerr.FetchSessionIDNotFound.Code:
		h.id, h.epoch = 0, 0
		return false
	case errorCode != 0:
		h.epoch = 0
		return false
	case h.epoch == 0 && sessionID == 0:
		h.id = 0 // the leader had no session to give: full again
	case h.epoch == 0:
		h.id, h.epoch = sessionID, 1
	default:
		h.epoch = nextSessionEpoch(h.epoch)
	}
	return true
}

// handleError is handleResponse for a request that got no answer.
func (h *fetchSessionHandler) handleError() { h.epoch = 0 }

// nextSessionEpoch follows epoch, wrapping to 1 after the largest.
func nextSessionEpoch(epoch int32) int32 {
	if epoch == math.MaxInt32 {
		return 1
	}
	return epoch + 1
}

// isSessionError reports whether a Fetch's top-level error is about the
// fetch session rather than the leader.
func isSessionError(code int16) bool {
	switch code {
	case kerr.FetchSessionIDNotFound.Code, kerr.InvalidFetchSessionEpoch.Code, kerr.FetchSessionTopicIDError.Code:
		return true
	}
	return false
}
