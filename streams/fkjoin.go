package streams

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/gregor-streaming/gregor/streams/serde"
	"github.com/gregor-streaming/gregor/streams/state"
)

// Foreign-key table-table joins (KIP-213). The left table's rows name a
// row of the right table by a foreign key computed from their value; the
// two tables need not be co-partitioned. Each left row subscribes to its
// foreign key's partition of the right table through a repartition
// topic, and the right side answers through another:
//
//	left table ──subscribe──▶ <app>-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-n-topic   (key: FK)
//	                                         │ partitioned like the right table
//	                                         ▼
//	                      subscription store (FK, PK) ◀── right table updates
//	                                         │ (prefix scan by FK)
//	                                         ▼
//	left table ◀──resolve── <app>-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-n-topic         (key: PK)
//	    │                        to the partition the subscription came from
//	    ▼
//	result table (materialized)
//
// A subscription carries a hash of the left value that sent it; a
// response whose hash no longer matches the left row's current value is
// stale (the row changed since) and is dropped, so that a quick
// succession of foreign-key changes never leaves an old join result
// behind. Kafka's instructions decide when a response is sent: inner
// joins propagate a missing right row only to delete an earlier result.
//
// Wire formats (Kafka's, so that the internal topics read the same):
//
//	subscription value (SubscriptionWrapper v1):
//	+--------------------------+-------------+----------------+-------------+-----------------+
//	| hash-null bit | version  | instruction | hash (16, opt) | primary key | partition (4 BE)|
//	+--------------------------+-------------+----------------+-------------+-----------------+
//	response value (SubscriptionResponseWrapper v0):
//	+--------------------------+----------------+----------------------------+
//	| hash-null bit | version  | hash (16, opt) | right value (absent: null) |
//	+--------------------------+----------------+----------------------------+
//	subscription store key (CombinedKey):
//	+------------------+-------------+-------------+
//	| FK length (4 BE) | foreign key | primary key |
//	+------------------+-------------+-------------+
//
// The hash is Murmur3 x64 128 (seed 104729, as Kafka's Murmur3.hash128)
// of the serialized left value, as two big-endian longs.

// fkInstruction is Kafka's SubscriptionWrapper.Instruction.
type fkInstruction byte

const (
	fkDeleteNoPropagate    fkInstruction = 0 // DELETE_KEY_NO_PROPAGATE
	fkDeleteAndPropagate   fkInstruction = 1 // DELETE_KEY_AND_PROPAGATE
	fkPropagateNullIfNoFK  fkInstruction = 2 // PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE
	fkPropagateOnlyIfFKVal fkInstruction = 3 // PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE
)

const (
	subscriptionVersion = 1
	responseVersion     = 0
)

// subscriptionWrapper is a left row's subscription to a foreign key.
type subscriptionWrapper[K any] struct {
	hash        []byte // 16 bytes, or nil for a deleted left row
	instruction fkInstruction
	primaryKey  K
	partition   int32 // of the left row, where the response must go
}

// responseWrapper is the right side's answer to a subscription.
type responseWrapper[VO any] struct {
	hash      []byte
	value     VO
	hasValue  bool
	partition int32 // not serialized: picks the response's partition
}

func subscriptionSerde[K any](pk serde.Serde[K]) serde.Serde[subscriptionWrapper[K]] {
	return serde.New(
		func(topic string, w subscriptionWrapper[K]) ([]byte, error) {
			kb, err := pk.Serialize(topic, w.primaryKey)
			if err != nil {
				return nil, err
			}
			head := byte(subscriptionVersion)
			if w.hash == nil {
				head |= 0x80
			}
			out := []byte{head, byte(w.instruction)}
			out = append(out, w.hash...)
			out = append(out, kb...)
			return binary.BigEndian.AppendUint32(out, uint32(w.partition)), nil
		},
		func(topic string, b []byte) (subscriptionWrapper[K], error) {
			var w subscriptionWrapper[K]
			if len(b) < 2 {
				return w, fmt.Errorf("%w: subscription of %d bytes", serde.ErrSize, len(b))
			}
			version, hashNull := b[0]&0x7f, b[0]&0x80 != 0
			if version > subscriptionVersion {
				return w, fmt.Errorf("%w: subscription version %d", serde.ErrFormat, version)
			}
			w.instruction = fkInstruction(b[1])
			rest := b[2:]
			if !hashNull {
				if len(rest) < 16 {
					return w, fmt.Errorf("%w: subscription hash", serde.ErrSize)
				}
				w.hash, rest = bytes.Clone(rest[:16]), rest[16:]
			}
			if version > 0 {
				if len(rest) < 4 {
					return w, fmt.Errorf("%w: subscription partition", serde.ErrSize)
				}
				w.partition = int32(binary.BigEndian.Uint32(rest[len(rest)-4:]))
				rest = rest[:len(rest)-4]
			}
			k, err := pk.Deserialize(topic, rest)
			if err != nil {
				return w, err
			}
			w.primaryKey = k
			return w, nil
		},
	)
}

func responseSerde[VO any](vs serde.Serde[VO]) serde.Serde[responseWrapper[VO]] {
	return serde.New(
		func(topic string, w responseWrapper[VO]) ([]byte, error) {
			head := byte(responseVersion)
			if w.hash == nil {
				head |= 0x80
			}
			out := append([]byte{head}, w.hash...)
			if w.hasValue {
				vb, err := vs.Serialize(topic, w.value)
				if err != nil {
					return nil, err
				}
				out = append(out, vb...)
			}
			return out, nil
		},
		func(topic string, b []byte) (responseWrapper[VO], error) {
			var w responseWrapper[VO]
			if len(b) < 1 {
				return w, fmt.Errorf("%w: empty subscription response", serde.ErrSize)
			}
			if v := b[0] & 0x7f; v != responseVersion {
				return w, fmt.Errorf("%w: subscription response version %d", serde.ErrFormat, v)
			}
			rest := b[1:]
			if b[0]&0x80 == 0 {
				if len(rest) < 16 {
					return w, fmt.Errorf("%w: subscription response hash", serde.ErrSize)
				}
				w.hash, rest = bytes.Clone(rest[:16]), rest[16:]
			}
			if len(rest) > 0 { // as Kafka: an empty value reads as null
				v, err := vs.Deserialize(topic, rest)
				if err != nil {
					return w, err
				}
				w.value, w.hasValue = v, true
			}
			return w, nil
		},
	)
}

// combinedKey is the subscription store's key: FK length, FK, PK.
func combinedKey(fk, pk []byte) []byte {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(fk)+len(pk)), uint32(len(fk)))
	return append(append(out, fk...), pk...)
}

// combinedPrefix is the key prefix of every subscription to fk.
func combinedPrefix(fk []byte) []byte {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(fk)), uint32(len(fk)))
	return append(out, fk...)
}

// increment returns the smallest key greater than every key with prefix
// p (Kafka's Bytes.increment), or nil if there is none.
func increment(p []byte) []byte {
	out := bytes.Clone(p)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]++
		if out[i] != 0 {
			return out
		}
	}
	return nil
}

// murmurSeed is the seed of Kafka's Murmur3.hash128.
const murmurSeed = 104729

// murmur3Hash128 is MurmurHash3 x64 128 of data, as two big-endian
// 64-bit halves.
func murmur3Hash128(data []byte, seed uint64) []byte {
	const c1, c2 = 0x87c37b91114253d5, 0x4cf5ad432745937f
	h1, h2 := seed, seed
	n := len(data)
	blocks := n / 16
	for i := 0; i < blocks; i++ {
		k1 := binary.LittleEndian.Uint64(data[i*16:])
		k2 := binary.LittleEndian.Uint64(data[i*16+8:])
		k1 *= c1
		k1 = bits.RotateLeft64(k1, 31)
		k1 *= c2
		h1 ^= k1
		h1 = bits.RotateLeft64(h1, 27)
		h1 += h2
		h1 = h1*5 + 0x52dce729
		k2 *= c2
		k2 = bits.RotateLeft64(k2, 33)
		k2 *= c1
		h2 ^= k2
		h2 = bits.RotateLeft64(h2, 31)
		h2 += h1
		h2 = h2*5 + 0x38495ab5
	}
	tail := data[blocks*16:]
	var k1, k2 uint64
	for i := len(tail) - 1; i >= 8; i-- {
		k2 ^= uint64(tail[i]) << (8 * (i - 8))
	}
	if len(tail) > 8 {
		k2 *= c2
		k2 = bits.RotateLeft64(k2, 33)
		k2 *= c1
		h2 ^= k2
	}
	for i := min(len(tail), 8) - 1; i >= 0; i-- {
		k1 ^= uint64(tail[i]) << (8 * i)
	}
	if len(tail) > 0 {
		k1 *= c1
		k1 = bits.RotateLeft64(k1, 31)
		k1 *= c2
		h1 ^= k1
	}
	h1 ^= uint64(n)
	h2 ^= uint64(n)
	h1 += h2
	h2 += h1
	h1, h2 = fmix64(h1), fmix64(h2)
	h1 += h2
	h2 += h1
	out := binary.BigEndian.AppendUint64(make([]byte, 0, 16), h1)
	return binary.BigEndian.AppendUint64(out, h2)
}

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// TableForeignKeyJoin joins each row of t with the row of other whose key
// fk extracts from it (Kafka's KTable.join with a foreign-key extractor,
// KIP-213): the result, keyed like t, has a row for each row of t whose
// foreign key has a row in other, joiner(key, value, otherValue). It
// follows updates on both sides: a change of a row's foreign key moves
// the row to its new partner (or deletes its result), a delete on either
// side deletes the result. The tables need not be co-partitioned; the
// join goes through two repartition topics,
// <application.id>-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<n>-topic and
// <application.id>-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-<n>-topic
// (with Named(name): <name>-subscription-registration-topic and
// <name>-subscription-response-topic), and a subscription store. The
// result is always materialized. Options: Named, As, InMemory,
// WithStoreSupplier, WithLoggingDisabled, WithChangelogConfig,
// WithValueSerde (the result's).
func TableForeignKeyJoin[K, V, KO, VO, VR any](t KTable[K, V], other KTable[KO, VO], fk func(key K, value V) KO, joiner func(key K, value V, otherValue VO) VR, opts ...OpOpt) KTable[K, VR] {
	return fkJoin(t, other, fk, false, func(k K, v V, o *VO) VR { return joiner(k, v, *o) }, opts)
}

// TableForeignKeyLeftJoin is TableForeignKeyJoin keeping every row of t:
// a row whose foreign key has no row in other is joined with nil (Kafka's
// KTable.leftJoin with a foreign-key extractor).
func TableForeignKeyLeftJoin[K, V, KO, VO, VR any](t KTable[K, V], other KTable[KO, VO], fk func(key K, value V) KO, joiner func(key K, value V, otherValue *VO) VR, opts ...OpOpt) KTable[K, VR] {
	return fkJoin(t, other, fk, true, joiner, opts)
}

func fkJoin[K, V, KO, VO, VR any](t KTable[K, V], other KTable[KO, VO], fk func(K, V) KO, left bool, joiner func(K, V, *VO) VR, opts []OpOpt) KTable[K, VR] {
	b := t.b
	o := collectOpts(opts)
	ks := t.keySerde
	if ks == nil {
		ks = serde.Default[K]()
	}
	vs := t.valueSerde
	if vs == nil {
		vs = serde.Default[V]()
	}
	fks := other.keySerde
	if fks == nil {
		fks = serde.Default[KO]()
	}
	ovs := other.valueSerde
	if ovs == nil {
		ovs = serde.Default[VO]()
	}
	named := func(suffix, prefix string) string {
		if o.name != "" {
			return o.name + suffix
		}
		return b.newName(prefix)
	}
	// Names in Kafka's order (KTableImpl.doJoinOnForeignKey).
	subTopic := named("-subscription-registration", "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-") + "-topic"
	subStore := named("-subscription-store", "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-")
	respTopic := named("-subscription-response", "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-") + "-topic"
	subscribe := named("-subscription-registration-processor", "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-")
	subSink := named("-subscription-registration-sink", "KTABLE-SINK-")
	subSource := named("-subscription-registration-source", "KTABLE-SOURCE-")
	receive := named("-subscription-receive", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-")
	rightUpdates := named("-foreign-join-subscription", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-")
	respSink := named("-subscription-response-sink", "KTABLE-SINK-")
	respSource := named("-subscription-response-source", "KTABLE-SOURCE-")
	resolve := named("-subscription-response-resolver", "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-")
	output := b.nameOr(o, "KTABLE-FK-JOIN-OUTPUT-")
	resultStore := o.storeName
	if resultStore == "" && o.supplier != nil {
		resultStore = o.supplier.Name()
	}
	if resultStore == "" {
		resultStore = b.newName("KTABLE-FK-JOIN-OUTPUT-STATE-STORE-")
	}
	for _, topic := range []string{subTopic, respTopic} {
		if _, dup := b.internal[topic]; dup {
			b.fail(errorf("repartition topic %q is already used; name the joins apart", topic))
		}
		b.internal[topic] = &internalTopic{name: topic}
	}
	leftGetter, rightGetter := t.valueGetter(), other.valueGetter()
	subSerde := subscriptionSerde(ks)
	respSerde := responseSerde(ovs)

	// Left side: subscribe to the foreign key of every changed row.
	addProcessor(b, subscribe, []string{t.node}, nil, func() Processor[K, change[V], KO, subscriptionWrapper[K]] {
		return &fkSubscribeProc[K, V, KO]{fk: fk, left: left, fkSerde: fks, valueSerde: vs}
	})
	addSink(b, subSink, subTopic, []string{subscribe}, fks, subSerde, nil)

	// Right side: keep the subscriptions, answer them, and answer them
	// again when the right row changes.
	addSource(b, subSource, []string{subTopic}, fks, subSerde)
	b.addStore(TimestampedKeyValueStoreBuilder(subscriptionSupplier(o, subStore), serde.Bytes(), subSerde))
	addProcessor(b, receive, []string{subSource}, append([]string{subStore}, rightGetter.stores...), func() Processor[KO, subscriptionWrapper[K], K, responseWrapper[VO]] {
		return &fkReceiveProc[K, KO, VO]{store: subStore, getter: rightGetter, fkSerde: fks, pkSerde: ks}
	})
	addProcessor(b, rightUpdates, []string{other.node}, []string{subStore}, func() Processor[KO, change[VO], K, responseWrapper[VO]] {
		return &fkRightProc[K, KO, VO]{store: subStore, fkSerde: fks}
	})
	addSink(b, respSink, respTopic, []string{receive, rightUpdates}, ks, respSerde,
		func(_ string, _ K, v responseWrapper[VO], n int) int { return int(v.partition) % max(n, 1) })

	// Left side again: resolve the answers against the current rows.
	addSource(b, respSource, []string{respTopic}, ks, respSerde)
	addProcessor(b, resolve, []string{respSource}, leftGetter.stores, func() Processor[K, responseWrapper[VO], K, VR] {
		return &fkResolveProc[K, V, VO, VR]{getter: leftGetter, left: left, joiner: joiner, valueSerde: vs}
	})
	rvs := serdeOr[VR](b, "value", o.valueSerde, nil)
	b.addStore(tableStoreBuilder(o, resultStore, ks, rvs))
	addProcessor(b, output, []string{resolve}, []string{resultStore}, func() Processor[K, VR, K, change[VR]] {
		return &fkResultProc[K, VR]{store: resultStore}
	})

	b.copartitionNodes(subSource, other.node)
	b.copartitionNodes(respSource, t.node)
	return KTable[K, VR]{b: b, node: output, keySerde: ks, valueSerde: rvs, store: resultStore}
}

// subscriptionSupplier returns the subscription store's supplier:
// in memory if the options ask for it, else Pebble.
func subscriptionSupplier(o opOptions, name string) state.Supplier {
	if o.inMemory {
		return state.InMemoryKeyValueStore(name)
	}
	return state.PersistentKeyValueStore(name)
}

// fkSubscribeProc is Kafka's SubscriptionSendProcessorSupplier.
type fkSubscribeProc[K, V, KO any] struct {
	fk         func(K, V) KO
	left       bool
	fkSerde    serde.Serde[KO]
	valueSerde serde.Serde[V]
	ctx        ProcessorContext[KO, subscriptionWrapper[K]]
}

func (p *fkSubscribeProc[K, V, KO]) Init(ctx ProcessorContext[KO, subscriptionWrapper[K]]) error {
	p.ctx = ctx
	return nil
}

func (p *fkSubscribeProc[K, V, KO]) Process(rec Record[K, change[V]]) error {
	c := rec.Value
	if !c.hasNew && !c.hasOld {
		return nil
	}
	var hash []byte
	if c.hasNew {
		vb, err := p.valueSerde.Serialize("", c.newValue)
		if err != nil {
			return fmt.Errorf("hash left value: %w", err)
		}
		hash = murmur3Hash128(vb, murmurSeed)
	}
	partition := p.ctx.TaskID().Partition
	if md, ok := p.ctx.RecordMetadata(); ok {
		partition = md.Partition
	}
	send := func(fk KO, null bool, in fkInstruction) {
		p.ctx.Forward(Record[KO, subscriptionWrapper[K]]{
			Key:       fk,
			nullKey:   null,
			Value:     subscriptionWrapper[K]{hash: hash, instruction: in, primaryKey: rec.Key, partition: partition},
			Timestamp: rec.Timestamp,
			Headers:   rec.Headers,
		})
	}
	var oldFK, newFK KO
	if c.hasOld {
		oldFK = p.fk(rec.Key, c.oldValue)
	}
	if c.hasNew {
		newFK = p.fk(rec.Key, c.newValue)
	}
	changed := func() (bool, error) {
		ob, err := p.fkSerde.Serialize("", oldFK)
		if err != nil {
			return false, err
		}
		nb, err := p.fkSerde.Serialize("", newFK)
		return !bytes.Equal(ob, nb), err
	}
	if p.left {
		if c.hasOld {
			moved := !c.hasNew
			if !moved {
				var err error
				if moved, err = changed(); err != nil {
					return err
				}
			}
			if moved {
				send(oldFK, false, fkDeleteNoPropagate)
			}
		}
		// Always subscribe anew, even for a delete (a null foreign
		// key), to get the response that updates the result.
		send(newFK, !c.hasNew, fkPropagateNullIfNoFK)
		return nil
	}
	switch {
	case c.hasNew && c.hasOld:
		moved, err := changed()
		if err != nil {
			return err
		}
		if moved {
			send(oldFK, false, fkDeleteNoPropagate)
			send(newFK, false, fkPropagateNullIfNoFK)
		} else {
			send(newFK, false, fkPropagateOnlyIfFKVal)
		}
	case c.hasNew:
		send(newFK, false, fkPropagateOnlyIfFKVal)
	default:
		send(oldFK, false, fkDeleteAndPropagate)
	}
	return nil
}

func (p *fkSubscribeProc[K, V, KO]) Close() error { return nil }

// fkReceiveProc is Kafka's SubscriptionReceiveProcessorSupplier and
// SubscriptionJoinProcessorSupplier: it records the subscription and
// answers it with the right row.
type fkReceiveProc[K, KO, VO any] struct {
	store   string
	getter  *tableGetter[KO, VO]
	fkSerde serde.Serde[KO]
	pkSerde serde.Serde[K]
	ctx     ProcessorContext[K, responseWrapper[VO]]
	subs    TimestampedKeyValueStore[[]byte, subscriptionWrapper[K]]
	get     getFunc[KO, VO]
}

func (p *fkReceiveProc[K, KO, VO]) Init(ctx ProcessorContext[K, responseWrapper[VO]]) (err error) {
	p.ctx = ctx
	if err := storeOf(ctx, p.store, &p.subs); err != nil {
		return err
	}
	p.get, err = openGetter(ctx, p.getter)
	return err
}

func (p *fkReceiveProc[K, KO, VO]) Process(rec Record[KO, subscriptionWrapper[K]]) error {
	w := rec.Value
	if rec.nullValue {
		return nil
	}
	if rec.nullKey && w.instruction != fkPropagateNullIfNoFK {
		p.ctx.Logger().Warn("streams: skipping subscription with a null foreign key")
		return nil
	}
	var right *VO
	ts := rec.Timestamp
	if !rec.nullKey {
		fkb, err := p.fkSerde.Serialize("", rec.Key)
		if err != nil {
			return err
		}
		pkb, err := p.pkSerde.Serialize("", w.primaryKey)
		if err != nil {
			return err
		}
		key := combinedKey(fkb, pkb)
		if w.instruction == fkDeleteAndPropagate || w.instruction == fkDeleteNoPropagate {
			if _, _, err := p.subs.Delete(key); err != nil {
				return err
			}
		} else if err := p.subs.Put(key, ValueAndTimestamp[subscriptionWrapper[K]]{Value: w, Timestamp: rec.Timestamp}); err != nil {
			return err
		}
		r, ok, err := p.get(rec.Key)
		if err != nil {
			return err
		}
		if ok {
			right = &r.Value
			if r.Timestamp.After(ts) {
				ts = r.Timestamp
			}
		}
	}
	resp := responseWrapper[VO]{hash: w.hash, partition: w.partition}
	switch w.instruction {
	case fkDeleteNoPropagate:
		return nil
	case fkDeleteAndPropagate:
	case fkPropagateNullIfNoFK:
		if right != nil {
			resp.value, resp.hasValue = *right, true
		}
	case fkPropagateOnlyIfFKVal:
		if right == nil {
			return nil
		}
		resp.value, resp.hasValue = *right, true
	default:
		return fmt.Errorf("streams: unknown subscription instruction %d", w.instruction)
	}
	p.ctx.Forward(Record[K, responseWrapper[VO]]{Key: w.primaryKey, Value: resp, Timestamp: ts, Headers: rec.Headers})
	return nil
}

func (p *fkReceiveProc[K, KO, VO]) Close() error { return nil }

// fkRightProc is Kafka's ForeignTableJoinProcessorSupplier: a change of a
// right row answers every subscription to its key again.
type fkRightProc[K, KO, VO any] struct {
	store   string
	fkSerde serde.Serde[KO]
	ctx     ProcessorContext[K, responseWrapper[VO]]
	subs    TimestampedKeyValueStore[[]byte, subscriptionWrapper[K]]
}

func (p *fkRightProc[K, KO, VO]) Init(ctx ProcessorContext[K, responseWrapper[VO]]) error {
	p.ctx = ctx
	return storeOf(ctx, p.store, &p.subs)
}

func (p *fkRightProc[K, KO, VO]) Process(rec Record[KO, change[VO]]) error {
	if rec.nullKey {
		return nil
	}
	fkb, err := p.fkSerde.Serialize("", rec.Key)
	if err != nil {
		return err
	}
	prefix := combinedPrefix(fkb)
	it, err := p.subs.Range(prefix, increment(prefix))
	if err != nil {
		return err
	}
	// Collect first: forwarding may write to the store (in a task
	// that both answers and subscribes).
	type sub struct{ w subscriptionWrapper[K] }
	var subs []sub
	for it.Next() {
		if bytes.HasPrefix(it.Key(), prefix) {
			subs = append(subs, sub{it.Value().Value})
		}
	}
	err = it.Err()
	it.Close()
	if err != nil {
		return err
	}
	for _, s := range subs {
		resp := responseWrapper[VO]{hash: s.w.hash, partition: s.w.partition}
		if rec.Value.hasNew {
			resp.value, resp.hasValue = rec.Value.newValue, true
		}
		p.ctx.Forward(Record[K, responseWrapper[VO]]{Key: s.w.primaryKey, Value: resp, Timestamp: rec.Timestamp, Headers: rec.Headers})
	}
	return nil
}

func (p *fkRightProc[K, KO, VO]) Close() error { return nil }

// fkResolveProc is Kafka's ResponseJoinProcessorSupplier: it drops stale
// responses and joins the others with the left row.
type fkResolveProc[K, V, VO, VR any] struct {
	getter     *tableGetter[K, V]
	left       bool
	joiner     func(K, V, *VO) VR
	valueSerde serde.Serde[V]
	ctx        ProcessorContext[K, VR]
	get        getFunc[K, V]
}

func (p *fkResolveProc[K, V, VO, VR]) Init(ctx ProcessorContext[K, VR]) (err error) {
	p.ctx = ctx
	p.get, err = openGetter(ctx, p.getter)
	return err
}

func (p *fkResolveProc[K, V, VO, VR]) Process(rec Record[K, responseWrapper[VO]]) error {
	if rec.nullKey || rec.nullValue {
		return nil
	}
	cur, found, err := p.get(rec.Key)
	if err != nil {
		return err
	}
	var hash []byte
	if found {
		vb, err := p.valueSerde.Serialize("", cur.Value)
		if err != nil {
			return fmt.Errorf("hash left value: %w", err)
		}
		hash = murmur3Hash128(vb, murmurSeed)
	}
	resp := rec.Value
	if !bytes.Equal(hash, resp.hash) || (hash == nil) != (resp.hash == nil) {
		return nil // stale: the left row changed since it subscribed
	}
	out := Record[K, VR]{Key: rec.Key, Timestamp: rec.Timestamp, Headers: rec.Headers}
	if !resp.hasValue && (!p.left || !found) {
		out.nullValue = true
	} else {
		var right *VO
		if resp.hasValue {
			right = &resp.value
		}
		out.Value = p.joiner(rec.Key, cur.Value, right)
	}
	p.ctx.Forward(out)
	return nil
}

func (p *fkResolveProc[K, V, VO, VR]) Close() error { return nil }

// fkResultProc materializes the join result (Kafka's KTableSource on the
// resolved records): unlike a table read from a topic, it forwards a
// delete even for a key without a row, as Kafka's result table does.
type fkResultProc[K, VR any] struct {
	store string
	ctx   ProcessorContext[K, change[VR]]
	kv    TimestampedKeyValueStore[K, VR]
}

func (p *fkResultProc[K, VR]) Init(ctx ProcessorContext[K, change[VR]]) error {
	p.ctx = ctx
	return storeOf(ctx, p.store, &p.kv)
}

func (p *fkResultProc[K, VR]) Process(rec Record[K, VR]) error {
	old, had, err := p.kv.Get(rec.Key)
	if err != nil {
		return err
	}
	var c change[VR]
	if had {
		c.oldValue, c.hasOld = old.Value, true
	}
	if rec.nullValue {
		if had {
			if _, _, err := p.kv.Delete(rec.Key); err != nil {
				return err
			}
		}
	} else {
		if err := p.kv.Put(rec.Key, ValueAndTimestamp[VR]{Value: rec.Value, Timestamp: rec.Timestamp}); err != nil {
			return err
		}
		c.newValue, c.hasNew = rec.Value, true
	}
	p.ctx.Forward(Record[K, change[VR]]{Key: rec.Key, Value: c, Timestamp: rec.Timestamp, Headers: rec.Headers})
	return nil
}

func (p *fkResultProc[K, VR]) Close() error { return nil }
