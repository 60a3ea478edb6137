package group

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// Records of KIP-848 consumer groups, in Kafka's formats (the
// ConsumerGroup*Key/Value schemas of Kafka's group coordinator; kmsg does
// not have them). Keys are non-flexible: int16 type, then int16-length
// strings. Values are version 0, flexible: compact (uvarint length+1)
// strings and arrays, 16-byte uuids, and a tagged-field section.
//
//	type 3  ConsumerGroupMetadata            key: group
//	        value: epoch int32 | tags
//	type 4  ConsumerGroupPartitionMetadata   (Kafka 4.0; read and ignored)
//	type 5  ConsumerGroupMemberMetadata      key: group, member
//	        value: instance_id?, rack_id?, client_id, client_host,
//	               [subscribed_topic_names], subscribed_topic_regex?,
//	               rebalance_timeout_ms int32, server_assignor? |
//	               tag 0: classic_member_metadata (session_timeout_ms
//	               int32, [protocol name, metadata bytes]), set for a
//	               member using the classic protocol (online migration)
//	type 6  ConsumerGroupTargetAssignmentMetadata  key: group
//	        value: assignment_epoch int32 | tags
//	type 7  ConsumerGroupTargetAssignmentMember    key: group, member
//	        value: [topic_id uuid, [partition int32] | tags] | tags
//	type 8  ConsumerGroupCurrentMemberAssignment   key: group, member
//	        value: member_epoch int32, previous_member_epoch int32,
//	               state int8, [assigned topic partitions],
//	               [partitions pending revocation] | tags
//	type 16 ConsumerGroupRegularExpression   key: group, regex
//	        value: [topics], version int64, timestamp int64 | tags
const (
	keyConsumerGroupMetadata          = 3
	keyConsumerGroupPartitionMetadata = 4
	keyConsumerGroupMemberMetadata    = 5
	keyConsumerGroupTargetMetadata    = 6
	keyConsumerGroupTargetMember      = 7
	keyConsumerGroupCurrentAssignment = 8
	keyConsumerGroupRegex             = 16
)

var errShortRecord = errors.New("group: record too short")

// keyWriter writes a non-flexible key.
func consumerKey(typ int16, fields ...string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(typ))
	for _, f := range fields {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

// readKeyFields reads n int16-length strings after the type.
func readKeyFields(key []byte, n int) ([]string, error) {
	b := key[2:]
	out := make([]string, 0, n)
	for range n {
		if len(b) < 2 {
			return nil, errShortRecord
		}
		l := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if l > len(b) {
			return nil, errShortRecord
		}
		out = append(out, string(b[:l]))
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("group: %d trailing bytes in a key", len(b))
	}
	return out, nil
}

// flexWriter builds a flexible value.
type flexWriter struct{ b []byte }

func newFlexValue() *flexWriter { return &flexWriter{b: binary.BigEndian.AppendUint16(nil, 0)} }

func (w *flexWriter) int8(v int8)   { w.b = append(w.b, byte(v)) }
func (w *flexWriter) int32(v int32) { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *flexWriter) int64(v int64) { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)) }
func (w *flexWriter) uvarint(v int) { w.b = binary.AppendUvarint(w.b, uint64(v)) }
func (w *flexWriter) string(s string) {
	w.uvarint(len(s) + 1)
	w.b = append(w.b, s...)
}
func (w *flexWriter) nullableString(s *string) {
	if s == nil {
		w.uvarint(0)
		return
	}
	w.string(*s)
}
func (w *flexWriter) strings(ss []string) {
	w.uvarint(len(ss) + 1)
	for _, s := range ss {
		w.string(s)
	}
}
func (w *flexWriter) int32s(vs []int32) {
	w.uvarint(len(vs) + 1)
	for _, v := range vs {
		w.int32(v)
	}
}
func (w *flexWriter) topicPartitions(a assignment) {
	ids := a.sortedTopics()
	w.uvarint(len(ids) + 1)
	for _, id := range ids {
		w.b = append(w.b, id[:]...)
		w.int32s(a[id].sorted())
		w.uvarint(0) // no tags
	}
}
func (w *flexWriter) done() []byte {
	w.uvarint(0) // no tagged fields
	return w.b
}

// flexReader reads a flexible value.
type flexReader struct {
	b   []byte
	err error
}

func newFlexReader(v []byte) *flexReader {
	r := &flexReader{b: v}
	if len(v) < 2 {
		r.err = errShortRecord
		return r
	}
	r.b = v[2:] // version 0
	return r
}

func (r *flexReader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if len(r.b) < n {
		r.err = errShortRecord
		return false
	}
	return true
}
func (r *flexReader) int8() int8 {
	if !r.need(1) {
		return 0
	}
	v := int8(r.b[0])
	r.b = r.b[1:]
	return v
}
func (r *flexReader) int32() int32 {
	if !r.need(4) {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b))
	r.b = r.b[4:]
	return v
}
func (r *flexReader) int64() int64 {
	if !r.need(8) {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}
func (r *flexReader) uvarint() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<31 {
		r.err = errShortRecord
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}
func (r *flexReader) nullableString() *string {
	l := r.uvarint() - 1
	if l < 0 || !r.need(l) {
		return nil
	}
	s := string(r.b[:l])
	r.b = r.b[l:]
	return &s
}
func (r *flexReader) string() string {
	if s := r.nullableString(); s != nil {
		return *s
	}
	return ""
}
func (r *flexReader) strings() []string {
	n := r.uvarint() - 1
	if n < 0 || n > len(r.b) {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, r.string())
	}
	return out
}
func (r *flexReader) int32s() []int32 {
	n := r.uvarint() - 1
	if n < 0 || n*4 > len(r.b) {
		return nil
	}
	out := make([]int32, 0, n)
	for range n {
		out = append(out, r.int32())
	}
	return out
}
func (r *flexReader) skipTags() {
	n := r.uvarint()
	for range n {
		r.uvarint() // tag
		l := r.uvarint()
		if !r.need(l) {
			return
		}
		r.b = r.b[l:]
	}
}
func (r *flexReader) topicPartitions() assignment {
	n := r.uvarint() - 1
	a := assignment{}
	for i := 0; i < n && r.err == nil; i++ {
		if !r.need(16) {
			break
		}
		var id [16]byte
		copy(id[:], r.b)
		r.b = r.b[16:]
		for _, p := range r.int32s() {
			a.add(id, p)
		}
		r.skipTags()
	}
	return a
}

func consumerGroupEpochRecord(group string, epoch int32) coordinator.Record {
	w := newFlexValue()
	w.int32(epoch)
	return coordinator.Record{Key: consumerKey(keyConsumerGroupMetadata, group), Value: w.done()}
}

func consumerMemberMetadataRecord(group string, m *consumerMember) coordinator.Record {
	w := newFlexValue()
	w.nullableString(m.instanceID)
	w.nullableString(m.rackID)
	w.string(m.clientID)
	w.string(m.clientHost)
	w.strings(slices.Sorted(slices.Values(m.subscribedTopicNames)))
	w.nullableString(m.subscribedTopicRegex)
	w.int32(m.rebalanceTimeoutMs)
	w.nullableString(m.serverAssignor)
	if m.classic == nil {
		return coordinator.Record{Key: consumerKey(keyConsumerGroupMemberMetadata, group, m.id), Value: w.done()}
	}
	// ClassicMemberMetadata is tagged field 0, a struct:
	//	session_timeout_ms int32 | [name, metadata bytes | tags] | tags
	c := &flexWriter{}
	c.int32(m.classic.sessionTimeoutMs)
	c.uvarint(len(m.classic.protocols) + 1)
	for _, p := range m.classic.protocols {
		c.string(p.Name)
		c.uvarint(len(p.Metadata) + 1)
		c.b = append(c.b, p.Metadata...)
		c.uvarint(0)
	}
	c.uvarint(0)
	w.uvarint(1) // one tagged field
	w.uvarint(0) // tag 0
	w.uvarint(len(c.b))
	w.b = append(w.b, c.b...)
	return coordinator.Record{Key: consumerKey(keyConsumerGroupMemberMetadata, group, m.id), Value: w.b}
}

// readClassicMemberMetadata reads the tagged fields that end a member
// metadata value; nil when the member uses the consumer protocol.
func (r *flexReader) readClassicMemberMetadata() *classicMemberMeta {
	var out *classicMemberMeta
	n := r.uvarint()
	for range n {
		tag := r.uvarint()
		l := r.uvarint()
		if !r.need(l) {
			return nil
		}
		field := r.b[:l]
		r.b = r.b[l:]
		if tag != 0 {
			continue
		}
		c := &flexReader{b: field}
		meta := &classicMemberMeta{sessionTimeoutMs: c.int32()}
		np := c.uvarint() - 1
		for i := 0; i < np && c.err == nil; i++ {
			name := c.string()
			ml := c.uvarint() - 1
			var md []byte
			if ml >= 0 && c.need(ml) {
				md = slices.Clone(c.b[:ml])
				c.b = c.b[ml:]
			}
			c.skipTags()
			meta.protocols = append(meta.protocols, Protocol{Name: name, Metadata: md})
		}
		c.skipTags()
		if c.err != nil {
			r.err = c.err
			return nil
		}
		out = meta
	}
	return out
}

func consumerTargetMetadataRecord(group string, epoch int32) coordinator.Record {
	w := newFlexValue()
	w.int32(epoch)
	return coordinator.Record{Key: consumerKey(keyConsumerGroupTargetMetadata, group), Value: w.done()}
}

func consumerTargetMemberRecord(group, member string, a assignment) coordinator.Record {
	w := newFlexValue()
	w.topicPartitions(a)
	return coordinator.Record{Key: consumerKey(keyConsumerGroupTargetMember, group, member), Value: w.done()}
}

func consumerCurrentAssignmentRecord(group string, m *consumerMember) coordinator.Record {
	w := newFlexValue()
	w.int32(m.epoch)
	w.int32(m.previousEpoch)
	w.int8(int8(m.state))
	w.topicPartitions(m.assigned)
	w.topicPartitions(m.pendingRevocation)
	return coordinator.Record{Key: consumerKey(keyConsumerGroupCurrentAssignment, group, m.id), Value: w.done()}
}

func consumerRegexRecord(group, regex string, topics []string, version, timestampMs int64) coordinator.Record {
	w := newFlexValue()
	w.strings(topics)
	w.int64(version)
	w.int64(timestampMs)
	return coordinator.Record{Key: consumerKey(keyConsumerGroupRegex, group, regex), Value: w.done()}
}

func consumerTombstone(typ int16, fields ...string) coordinator.Record {
	return coordinator.Record{Key: consumerKey(typ, fields...)}
}

// assignment is a set of partitions by topic id.
type assignment map[[16]byte]partitionSet

type partitionSet map[int32]struct{}

func (a assignment) add(topic [16]byte, p int32) {
	s := a[topic]
	if s == nil {
		s = partitionSet{}
		a[topic] = s
	}
	s[p] = struct{}{}
}

func (a assignment) has(topic [16]byte, p int32) bool {
	_, ok := a[topic][p]
	return ok
}

func (a assignment) size() int {
	n := 0
	for _, s := range a {
		n += len(s)
	}
	return n
}

func (a assignment) clone() assignment {
	out := make(assignment, len(a))
	for t, s := range a {
		out[t] = maps.Clone(s)
	}
	return out
}

func (a assignment) equal(b assignment) bool {
	if a.size() != b.size() {
		return false
	}
	for t, s := range a {
		for p := range s {
			if !b.has(t, p) {
				return false
			}
		}
	}
	return true
}

func (a assignment) sortedTopics() [][16]byte {
	ids := make([][16]byte, 0, len(a))
	for id, s := range a {
		if len(s) > 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(x, y [16]byte) int { return slices.Compare(x[:], y[:]) })
	return ids
}

func (s partitionSet) sorted() []int32 {
	return slices.Sorted(maps.Keys(s))
}

// toTopicPartitions lists an assignment in a stable order.
func (a assignment) toTopicPartitions() []TopicPartitions {
	ids := a.sortedTopics()
	out := make([]TopicPartitions, 0, len(ids))
	for _, id := range ids {
		out = append(out, TopicPartitions{TopicID: id, Partitions: a[id].sorted()})
	}
	return out
}

func assignmentOf(tps []TopicPartitions) assignment {
	a := assignment{}
	for _, tp := range tps {
		for _, p := range tp.Partitions {
			a.add(tp.TopicID, p)
		}
	}
	return a
}
