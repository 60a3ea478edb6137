package streams

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
)

// Stream–stream joins (Kafka's KStream.join / leftJoin / outerJoin with
// JoinWindows): a record of one side joins every record of the other side
// with the same key whose timestamp is within the join window of its own,
// whichever arrives first. Each side is buffered in a window store that
// retains duplicates (retention before + after + grace); the result
// record's timestamp is the larger of the two.
//
// Left and outer joins (Kafka ≥ 3.1, KIP-633) emit a record without a
// partner only once its window has closed (stream time passed its
// timestamp + after + grace), so they never emit a "[A, null]" that a
// later match contradicts: such records wait in a third store shared by
// both sides (<name>-outer-shared-join-store, or -left-shared-join-store),
// keyed
//
//	+------------------------+---------------------+----------------+--------------+
//	| timestamp (8, BE ms)   | side (1: left = 1)  | serialized key | seqnum (4)   |
//	+------------------------+---------------------+----------------+--------------+
//
// with the value [side (1)][serialized value]. (Kafka keeps a list of
// values under the key without the seqnum.) A record of a left or outer
// join with a null key is joined with nothing at once (KIP-962); other
// records with a null key or value are dropped.
//
// Both inputs must be co-partitioned: the join declares a co-partition
// group that Start checks. A side whose key may have changed is
// repartitioned first, through <application.id>-<name>-repartition.

// Join joins two streams on their keys within w (Kafka's
// KStream.join(KStream, ValueJoinerWithKey, JoinWindows)). Options: Named
// (prefix of the processor names), As (prefix of the store names,
// Kafka's StreamJoined.withStoreName), InMemory, WithLoggingDisabled,
// WithKeySerde and WithValueSerde (for left's records in the store and
// repartition topic; right's serdes are right's own).
func Join[K, V, VO, VR any](left KStream[K, V], right KStream[K, VO], joiner func(key K, left V, right VO) VR, w JoinWindows, opts ...OpOpt) KStream[K, VR] {
	return streamJoin(left, right, false, false, func(k K, l *V, r *VO) VR { return joiner(k, *l, *r) }, w, opts)
}

// LeftJoin is Join keeping every left record: one that joins nothing
// within its window is joined with a nil right value once the window has
// closed (Kafka's KStream.leftJoin).
func LeftJoin[K, V, VO, VR any](left KStream[K, V], right KStream[K, VO], joiner func(key K, left V, right *VO) VR, w JoinWindows, opts ...OpOpt) KStream[K, VR] {
	return streamJoin(left, right, true, false, func(k K, l *V, r *VO) VR { return joiner(k, *l, r) }, w, opts)
}

// OuterJoin is Join keeping every record of both sides: the missing side
// is nil (Kafka's KStream.outerJoin).
func OuterJoin[K, V, VO, VR any](left KStream[K, V], right KStream[K, VO], joiner func(key K, left *V, right *VO) VR, w JoinWindows, opts ...OpOpt) KStream[K, VR] {
	return streamJoin(left, right, true, true, joiner, w, opts)
}

// joinTimeTracker is the stream time both processors of a join share in
// one task (Kafka's TimeTracker), and the smallest timestamp in the
// outer-join store.
type joinTimeTracker struct {
	streamTime int64
	// minTime is the smallest timestamp in the outer-join store, if
	// pending; unknown until the store has been scanned once (it may
	// hold records from before a restart).
	minTime int64
	pending bool
	unknown bool
	users   int
}

// joinTrackers holds the trackers of one join's tasks. A topology may
// back several runtimes at once, hence the lock and the key by task.
type joinTrackers struct {
	mu struct {
		sync.Mutex
		byTask map[*task]*joinTimeTracker
	}
}

func (j *joinTrackers) get(t *task) *joinTimeTracker {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.mu.byTask == nil {
		j.mu.byTask = map[*task]*joinTimeTracker{}
	}
	tr := j.mu.byTask[t]
	if tr == nil {
		tr = &joinTimeTracker{streamTime: math.MinInt64, unknown: true}
		j.mu.byTask[t] = tr
	}
	tr.users++
	return tr
}

func (j *joinTrackers) release(t *task) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if tr := j.mu.byTask[t]; tr != nil {
		if tr.users--; tr.users <= 0 {
			delete(j.mu.byTask, t)
		}
	}
}

// streamSourcesOf returns the source topics feeding node (within its
// sub-topology).
func (b *Builder) streamSourcesOf(node string) []string {
	seen := map[string]bool{}
	var topics []string
	var walk func(string)
	walk = func(name string) {
		n := b.byName[name]
		if n == nil || seen[name] {
			return
		}
		seen[name] = true
		if n.kind == kindSource {
			topics = append(topics, n.topics...)
		}
		for _, p := range n.parents {
			walk(p)
		}
	}
	walk(node)
	return topics
}

func streamJoin[K, V, VO, VR any](left KStream[K, V], right KStream[K, VO], leftOuter, rightOuter bool, joiner func(K, *V, *VO) VR, w JoinWindows, opts []OpOpt) KStream[K, VR] {
	b := left.b
	o := collectOpts(opts)
	if w.err != nil {
		b.fail(w.err)
	}
	if right.b != b {
		b.fail(fmt.Errorf("%w: joined streams come from different builders", ErrTopology))
		return KStream[K, VR]{b: b}
	}
	ks := serdeOr(b, "key", o.keySerde, left.keySerde)
	vs := serdeOr(b, "value", o.valueSerde, left.valueSerde)
	ovs := right.valueSerdeOrDefault()

	leftIn, rightIn := left.node, right.node
	if left.repartitionRequired {
		base := left.node
		if o.name != "" {
			base = o.name + "-left"
		}
		leftIn = repartitionThrough(b, base, left.node, true, ks, vs, nil, 0)
	}
	if right.repartitionRequired {
		base := right.node
		if o.name != "" {
			base = o.name + "-right"
		}
		rightIn = repartitionThrough(b, base, right.node, true, ks, ovs, nil, 0)
	}
	group := append(b.streamSourcesOf(leftIn), b.streamSourcesOf(rightIn)...)
	sort.Strings(group)
	group = slices.Compact(group)
	if len(group) > 1 {
		b.copartition = append(b.copartition, group)
	}

	named := func(suffix, prefix string) string {
		if o.name != "" {
			return o.name + suffix
		}
		return b.newName(prefix)
	}
	thisWindowed := named("-this-windowed", "KSTREAM-WINDOWED-")
	otherWindowed := named("-other-windowed", "KSTREAM-WINDOWED-")
	// Kafka's names: OUTERTHIS when the right side is outer (an outer
	// join), OUTEROTHER when the left side is (left and outer joins).
	thisPrefix, otherPrefix := "KSTREAM-JOINTHIS-", "KSTREAM-JOINOTHER-"
	if rightOuter {
		thisPrefix = "KSTREAM-OUTERTHIS-"
	}
	if leftOuter {
		otherPrefix = "KSTREAM-OUTEROTHER-"
	}
	thisGenerated, otherGenerated := b.newName(thisPrefix), b.newName(otherPrefix)
	thisJoin, otherJoin := thisGenerated, otherGenerated
	if o.name != "" {
		thisJoin, otherJoin = o.name+"-this-join", o.name+"-other-join"
	}
	merge := named("-merge", "KSTREAM-MERGE-")

	thisStore, otherStore := thisGenerated+"-store", otherGenerated+"-store"
	sharedSuffix := "-left-shared-join-store"
	if rightOuter {
		sharedSuffix = "-outer-shared-join-store"
	}
	sharedStore := thisGenerated + sharedSuffix
	if o.storeName != "" {
		thisStore, otherStore = o.storeName+"-this-join-store", o.storeName+"-other-join-store"
		sharedStore = o.storeName + sharedSuffix
	}
	size := time.Duration(w.before+w.after) * time.Millisecond
	retention := size + time.Duration(w.grace)*time.Millisecond
	mkSupplier := func(name string) state.WindowSupplier {
		if o.inMemory {
			return state.InMemoryWindowStore(name, retention, size, true)
		}
		return state.PersistentWindowStore(name, retention, size, true)
	}
	thisSB := WindowStoreBuilder(mkSupplier(thisStore), ks, vs)
	otherSB := WindowStoreBuilder(mkSupplier(otherStore), ks, ovs)
	if o.loggingDisabled {
		thisSB.WithLoggingDisabled()
		otherSB.WithLoggingDisabled()
	}
	b.addStore(thisSB)
	b.addStore(otherSB)
	shared := ""
	if leftOuter {
		shared = sharedStore
		var sup state.Supplier = state.PersistentKeyValueStore(shared)
		if o.inMemory {
			sup = state.InMemoryKeyValueStore(shared)
		}
		sb := KeyValueStoreBuilder(sup, serde.Bytes(), serde.Bytes())
		if o.loggingDisabled {
			sb.WithLoggingDisabled()
		}
		b.addStore(sb)
	}

	addProcessor(b, thisWindowed, []string{leftIn}, []string{thisStore}, joinWindowProcessor[K, V](thisStore))
	addProcessor(b, otherWindowed, []string{rightIn}, []string{otherStore}, joinWindowProcessor[K, VO](otherStore))
	trackers := &joinTrackers{}
	storesOf := func(window string) []string {
		if shared == "" {
			return []string{window}
		}
		return []string{window, shared}
	}
	addProcessor(b, thisJoin, []string{thisWindowed}, storesOf(otherStore), func() Processor[K, V, K, VR] {
		return &streamJoinProc[K, V, VO, VR]{
			otherStore: otherStore, shared: shared, left: true, outer: leftOuter,
			before: w.before, after: w.after, lookBack: w.after, grace: w.grace,
			joiner: joiner, keySerde: ks, thisSerde: vs, otherSerde: ovs, trackers: trackers,
		}
	})
	addProcessor(b, otherJoin, []string{otherWindowed}, storesOf(thisStore), func() Processor[K, VO, K, VR] {
		return &streamJoinProc[K, VO, V, VR]{
			otherStore: thisStore, shared: shared, left: false, outer: rightOuter,
			before: w.after, after: w.before, lookBack: w.before, grace: w.grace,
			joiner: func(k K, r *VO, l *V) VR { return joiner(k, l, r) }, keySerde: ks, thisSerde: ovs, otherSerde: vs, trackers: trackers,
		}
	})
	addProcessor(b, merge, []string{thisJoin, otherJoin}, nil, ProcessorFunc(func(ctx ProcessorContext[K, VR], rec Record[K, VR]) error {
		ctx.Forward(rec)
		return nil
	}))
	return KStream[K, VR]{b: b, node: merge, keySerde: ks}
}

// joinWindowProcessor buffers a side's records in its window store and
// passes them on (Kafka's KStreamJoinWindow).
func joinWindowProcessor[K, V any](store string) ProcessorSupplier[K, V, K, V] {
	return func() Processor[K, V, K, V] { return &joinWindowProc[K, V]{store: store} }
}

type joinWindowProc[K, V any] struct {
	store string
	ctx   ProcessorContext[K, V]
	ws    WindowStore[K, V]
}

func (p *joinWindowProc[K, V]) Init(ctx ProcessorContext[K, V]) error {
	p.ctx = ctx
	return storeOf(ctx, p.store, &p.ws)
}

func (p *joinWindowProc[K, V]) Process(rec Record[K, V]) error {
	p.ctx.Forward(rec)
	if rec.nullKey || rec.nullValue {
		return nil // never joined
	}
	return p.ws.Put(rec.Key, rec.Value, rec.Timestamp)
}

func (p *joinWindowProc[K, V]) Close() error { return nil }

// streamJoinProc joins the records of one side with the other side's
// window store (Kafka's KStreamKStreamJoinLeftSide / RightSide). VThis is
// its side's value, VOther the other's; joiner takes them in that order.
type streamJoinProc[K, VThis, VOther, VR any] struct {
	otherStore string
	shared     string
	left       bool // this is the left side
	outer      bool // emit this side's records that join nothing
	// before and after bound the other side's timestamps around this
	// record's; lookBack is how long after its timestamp a record of
	// this side may still be joined (the window's after for the left
	// side, before for the right).
	before, after, lookBack, grace int64
	joiner                         func(K, *VThis, *VOther) VR
	keySerde                       serde.Serde[K]
	thisSerde                      serde.Serde[VThis]
	otherSerde                     serde.Serde[VOther]
	trackers                       *joinTrackers

	ctx     ProcessorContext[K, VR]
	t       *task
	tracker *joinTimeTracker
	other   WindowStore[K, VOther]
	outerKV KeyValueStore[[]byte, []byte]
	seq     uint32
}

func (p *streamJoinProc[K, VThis, VOther, VR]) Init(ctx ProcessorContext[K, VR]) error {
	p.ctx = ctx
	n, ok := ctx.(*processorNode[K, VThis, K, VR])
	if !ok {
		return fmt.Errorf("%w: join processor run outside a task", ErrTopology)
	}
	p.t = n.t
	p.tracker = p.trackers.get(p.t)
	if err := storeOf(ctx, p.otherStore, &p.other); err != nil {
		return err
	}
	if p.shared == "" {
		return nil
	}
	if err := storeOf(ctx, p.shared, &p.outerKV); err != nil {
		return err
	}
	// Carry on numbering after the records restored into the store, so
	// that a put cannot replace one of them.
	it, err := p.outerKV.All()
	if err != nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		if k := it.Key(); len(k) >= 13 && (k[8] == 1) == p.left {
			p.seq = max(p.seq, binary.BigEndian.Uint32(k[len(k)-4:]))
		}
	}
	return it.Err()
}

func (p *streamJoinProc[K, VThis, VOther, VR]) Close() error {
	if p.t != nil {
		p.trackers.release(p.t)
	}
	return nil
}

func (p *streamJoinProc[K, VThis, VOther, VR]) Process(rec Record[K, VThis]) error {
	ts := rec.Timestamp.UnixMilli()
	tr := p.tracker
	tr.streamTime = max(tr.streamTime, ts)
	if p.outer && rec.nullKey && !rec.nullValue {
		v := rec.Value
		p.forward(rec, p.joiner(rec.Key, &v, nil), rec.Timestamp)
		return nil
	}
	if rec.nullKey || rec.nullValue {
		p.ctx.Logger().Warn("streams: Skipping record due to null key or value", "node", p.otherStore)
		return nil
	}
	if ts == tr.streamTime && p.outerKV != nil {
		if err := p.emitNonJoined(rec); err != nil {
			return err
		}
	}
	from, to := max(0, ts-p.before), max(0, ts+p.after)
	it, err := p.other.Fetch(rec.Key, time.UnixMilli(from), time.UnixMilli(to))
	if err != nil {
		return err
	}
	joined := false
	for it.Next() {
		joined = true
		otherTs := it.Key()
		if p.outerKV != nil {
			// The other record has a partner now: it is no longer a
			// candidate for an unmatched result.
			if err := p.deleteOuter(otherTs.UnixMilli(), !p.left, rec.Key); err != nil {
				it.Close()
				return err
			}
		}
		this, other := rec.Value, it.Value()
		resTs := rec.Timestamp
		if otherTs.After(resTs) {
			resTs = otherTs
		}
		p.forward(rec, p.joiner(rec.Key, &this, &other), resTs)
	}
	err = it.Err()
	it.Close()
	if err != nil || joined || !p.outer {
		return err
	}
	if p.outerKV == nil || to < tr.streamTime {
		// Its window has closed already (an out-of-order record).
		v := rec.Value
		p.forward(rec, p.joiner(rec.Key, &v, nil), rec.Timestamp)
		return nil
	}
	if !tr.pending || ts < tr.minTime {
		tr.minTime = ts
	}
	tr.pending = true
	return p.putOuter(rec)
}

func (p *streamJoinProc[K, VThis, VOther, VR]) forward(rec Record[K, VThis], v VR, ts time.Time) {
	p.ctx.Forward(Record[K, VR]{Key: rec.Key, Value: v, Timestamp: ts, Headers: rec.Headers, nullKey: rec.nullKey})
}

func outerKeyPrefix(ts int64, left bool, key []byte) []byte {
	out := make([]byte, 0, 9+len(key)+4)
	out = binary.BigEndian.AppendUint64(out, uint64(ts))
	side := byte(0)
	if left {
		side = 1
	}
	out = append(out, side)
	return append(out, key...)
}

// splitOuterKey splits an outer-join store key.
func splitOuterKey(b []byte) (ts int64, left bool, key []byte, ok bool) {
	if len(b) < 9+4 {
		return 0, false, nil, false
	}
	return int64(binary.BigEndian.Uint64(b)), b[8] == 1, b[9 : len(b)-4], true
}

func (p *streamJoinProc[K, VThis, VOther, VR]) putOuter(rec Record[K, VThis]) error {
	kb, err := p.keySerde.Serialize("", rec.Key)
	if err != nil {
		return fmt.Errorf("streams: join: serialize key: %w", err)
	}
	vb, err := p.thisSerde.Serialize("", rec.Value)
	if err != nil {
		return fmt.Errorf("streams: join: serialize value: %w", err)
	}
	p.seq++
	key := binary.BigEndian.AppendUint32(outerKeyPrefix(rec.Timestamp.UnixMilli(), p.left, kb), p.seq)
	side := byte(0)
	if p.left {
		side = 1
	}
	return p.outerKV.Put(key, append([]byte{side}, vb...))
}

// deleteOuter removes the waiting records of one side with key at ts.
func (p *streamJoinProc[K, VThis, VOther, VR]) deleteOuter(ts int64, left bool, key K) error {
	kb, err := p.keySerde.Serialize("", key)
	if err != nil {
		return fmt.Errorf("streams: join: serialize key: %w", err)
	}
	prefix := outerKeyPrefix(ts, left, kb)
	it, err := p.outerKV.Range(append(slices.Clone(prefix), 0, 0, 0, 0), append(slices.Clone(prefix), 0xff, 0xff, 0xff, 0xff))
	if err != nil {
		return err
	}
	var dead [][]byte
	for it.Next() {
		if k := it.Key(); len(k) == len(prefix)+4 && bytes.HasPrefix(k, prefix) {
			dead = append(dead, k)
		}
	}
	err = it.Err()
	it.Close()
	if err != nil {
		return err
	}
	for _, k := range dead {
		if _, _, err := p.outerKV.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// emitNonJoined emits, in timestamp order, the waiting records whose
// window has closed, and deletes them (Kafka's
// emitNonJoinedOuterRecords). Kafka throttles this scan by wall-clock
// time (1 s); here it runs whenever it may find something.
func (p *streamJoinProc[K, VThis, VOther, VR]) emitNonJoined(rec Record[K, VThis]) error {
	tr := p.tracker
	if !tr.unknown && (!tr.pending || tr.minTime+min(p.lookBack, p.before)+p.grace >= tr.streamTime) {
		return nil // nothing can have closed yet
	}
	it, err := p.outerKV.All()
	if err != nil {
		return err
	}
	defer it.Close()
	tr.unknown, tr.pending = false, false
	// The window of a left record stays open for the join window's
	// after, that of a right record for its before.
	leftLookBack, rightLookBack := p.lookBack, p.before
	if !p.left {
		leftLookBack, rightLookBack = p.before, p.lookBack
	}
	var dead [][]byte
	leftOpen, rightOpen := false, false
	for it.Next() {
		ts, left, kb, ok := splitOuterKey(it.Key())
		if !ok || len(it.Value()) < 1 {
			continue
		}
		if leftOpen && rightOpen {
			break
		}
		lookBack := rightLookBack
		if left {
			lookBack = leftLookBack
		}
		if ts+lookBack+p.grace >= tr.streamTime {
			if !tr.pending {
				tr.minTime, tr.pending = ts, true
			}
			if left {
				leftOpen = true
			} else {
				rightOpen = true
			}
			continue
		}
		k, err := p.keySerde.Deserialize("", kb)
		if err != nil {
			return fmt.Errorf("streams: join: deserialize key: %w", err)
		}
		var out VR
		if left == p.left {
			v, err := p.thisSerde.Deserialize("", it.Value()[1:])
			if err != nil {
				return fmt.Errorf("streams: join: deserialize value: %w", err)
			}
			out = p.joiner(k, &v, nil)
		} else {
			v, err := p.otherSerde.Deserialize("", it.Value()[1:])
			if err != nil {
				return fmt.Errorf("streams: join: deserialize value: %w", err)
			}
			out = p.joiner(k, nil, &v)
		}
		p.ctx.Forward(Record[K, VR]{Key: k, Value: out, Timestamp: time.UnixMilli(ts), Headers: rec.Headers})
		dead = append(dead, slices.Clone(it.Key()))
	}
	if err := it.Err(); err != nil {
		return err
	}
	for _, k := range dead {
		if _, _, err := p.outerKV.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
