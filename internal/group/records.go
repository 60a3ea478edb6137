package group

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// Record key types of __consumer_offsets: the int16 that starts a key.
const (
	keyOffsetCommitV0  = 0 // legacy, read only
	keyOffsetCommit    = 1
	keyGroupMetadata   = 2
	keyConsumerGroupLo = 3  // KIP-848 and later record types start here
	keyConsumerGroupHi = 16 // ConsumerGroupRegularExpression
)

// Value versions Kafka 4.0 writes (GroupCoordinatorRecordHelpers).
const (
	groupMetadataValueVersion = 3
	offsetCommitValueVersion  = 3
	// offsetCommitValueVersionExpire is written when the commit carries
	// an explicit expire timestamp (OffsetCommit v2-4 retention_time_ms).
	offsetCommitValueVersionExpire = 1
)

var errUnknownRecord = errors.New("group: unknown record type")

// offsetAndMetadata is one committed offset.
type offsetAndMetadata struct {
	offset      int64
	leaderEpoch int32 // -1 when unknown
	metadata    string
	commitMs    int64
	expireMs    int64 // -1 unless committed with a retention time (v2-4)
	// recordOffset is where the commit is in the log.
	recordOffset int64
}

func offsetCommitKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: keyOffsetCommit, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

func offsetCommitValue(o offsetAndMetadata) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetCommitValueVersion
	if o.expireMs >= 0 {
		v.Version = offsetCommitValueVersionExpire
	}
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp, v.ExpireTimestamp = o.offset, o.leaderEpoch, o.metadata, o.commitMs, o.expireMs
	return v.AppendTo(nil)
}

func offsetCommitRecord(group, topic string, partition int32, o offsetAndMetadata) coordinator.Record {
	return coordinator.Record{Key: offsetCommitKey(group, topic, partition), Value: offsetCommitValue(o)}
}

func offsetTombstone(group, topic string, partition int32) coordinator.Record {
	return coordinator.Record{Key: offsetCommitKey(group, topic, partition)}
}

func groupMetadataKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: keyGroupMetadata, Group: group}
	return k.AppendTo(nil)
}

func groupTombstone(group string) coordinator.Record {
	return coordinator.Record{Key: groupMetadataKey(group)}
}

// groupMetadataRecord snapshots a classic group with the given
// assignment (Kafka's newGroupMetadataRecord): every member's metadata
// for the selected protocol and its assignment.
func groupMetadataRecord(g *classicGroup, assignment map[string][]byte) coordinator.Record {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupMetadataValueVersion
	if g.protocolType != nil {
		v.ProtocolType = *g.protocolType
	}
	v.Generation = g.generation
	v.Protocol = g.protocolName
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateTimestampMs
	for _, id := range g.order {
		m := g.members[id]
		mm := kmsg.NewGroupMetadataValueMember()
		mm.MemberID = m.id
		mm.InstanceID = m.instanceID
		mm.ClientID = m.clientID
		mm.ClientHost = m.clientHost
		mm.RebalanceTimeoutMillis = m.rebalanceTimeoutMs
		mm.SessionTimeoutMillis = m.sessionTimeoutMs
		if g.protocolName != nil {
			mm.Subscription = m.metadata(*g.protocolName)
		}
		if mm.Subscription == nil {
			mm.Subscription = []byte{}
		}
		mm.Assignment = assignment[m.id]
		if mm.Assignment == nil {
			mm.Assignment = []byte{}
		}
		v.Members = append(v.Members, mm)
	}
	return coordinator.Record{Key: groupMetadataKey(g.id), Value: v.AppendTo(nil)}
}

// emptyGroupMetadataRecord is the record of a group just created, with
// no protocol and no members (Kafka's newEmptyGroupMetadataRecord).
func emptyGroupMetadataRecord(g *classicGroup) coordinator.Record {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupMetadataValueVersion
	v.CurrentStateTimestamp = g.stateTimestampMs
	return coordinator.Record{Key: groupMetadataKey(g.id), Value: v.AppendTo(nil)}
}

// recordKeyType returns the int16 type that starts a key.
func recordKeyType(key []byte) (int16, error) {
	if len(key) < 2 {
		return 0, fmt.Errorf("%w: key of %d bytes", errUnknownRecord, len(key))
	}
	return int16(binary.BigEndian.Uint16(key)), nil
}
