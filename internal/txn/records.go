package txn

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// keyVersion is the only key type of __transaction_state (Kafka's
// CoordinatorRecordType.TRANSACTION_LOG).
const keyVersion = 0

// txnKey is the key of a transactional id's records.
func txnKey(id string) []byte {
	k := kmsg.TxnMetadataKey{Version: keyVersion, TransactionalID: id}
	return k.AppendTo(nil)
}

// txnRecord is the record of a transition, in the value version of the
// cluster's transaction version level (Kafka's TransactionLog.valueToBytes).
func txnRecord(id string, t *transit, tvLevel int16) coordinator.Record {
	v := kmsg.NewTxnMetadataValue()
	v.Version = logValueVersion(tvLevel)
	v.ProducerID = t.producerID
	v.ProducerEpoch = t.producerEpoch
	v.TimeoutMillis = t.timeoutMs
	v.State = kmsg.TransactionState(t.state)
	v.LastUpdateTimestamp = t.lastUpdateMs
	v.StartTimestamp = t.startMs
	v.ClientTransactionVersion = t.clientVersion
	if v.Version >= 1 {
		v.PreviousProducerID = t.prevProducerID
		v.NextProducerID = t.nextProducerID
	}
	// An Empty transaction has no partitions: Kafka writes null.
	if t.state != Empty {
		v.Topics = topicsOf(t.partitions)
	}
	return coordinator.Record{Key: txnKey(id), Value: v.AppendTo(nil)}
}

// tombstone deletes a transactional id (expiration).
func tombstone(id string) coordinator.Record {
	return coordinator.Record{Key: txnKey(id)}
}

// topicsOf groups partitions by topic, sorted (Kafka's order is a hash
// map's; any order reads the same).
func topicsOf(parts map[TopicPartition]struct{}) []kmsg.TxnMetadataValueTopic {
	byTopic := map[string][]int32{}
	for tp := range parts {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	out := make([]kmsg.TxnMetadataValueTopic, 0, len(byTopic))
	for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
		t := kmsg.NewTxnMetadataValueTopic()
		t.Topic = topic
		t.Partitions = byTopic[topic]
		slices.Sort(t.Partitions)
		out = append(out, t)
	}
	return out
}

// sortedPartitions lists a partition set in topic, partition order.
func sortedPartitions(parts map[TopicPartition]struct{}) []TopicPartition {
	out := slices.Collect(maps.Keys(parts))
	slices.SortFunc(out, func(a, b TopicPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}

// decodedRecord is one record of __transaction_state: a transaction's
// metadata, or a tombstone (meta nil).
type decodedRecord struct {
	id   string
	meta *txnMetadata
}

// decodeRecord reads a record of __transaction_state as Kafka's
// TransactionLog.read does: an unknown key version is errUnknownKey, a
// value version above 1 errUnknownValue. What a value does not carry is
// filled in as Kafka fills it: the last epoch is unknown (-1).
func decodeRecord(key, value []byte) (decodedRecord, error) {
	if len(key) < 2 {
		return decodedRecord{}, fmt.Errorf("%w: key of %d bytes", errUnknownKey, len(key))
	}
	if v := int16(binary.BigEndian.Uint16(key)); v != keyVersion {
		return decodedRecord{}, fmt.Errorf("%w: %d", errUnknownKey, v)
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return decodedRecord{}, fmt.Errorf("txn: transaction log key: %w", err)
	}
	if value == nil {
		return decodedRecord{id: k.TransactionalID}, nil
	}
	if len(value) < 2 {
		return decodedRecord{}, fmt.Errorf("txn: value of %s: %d bytes", k.TransactionalID, len(value))
	}
	if v := int16(binary.BigEndian.Uint16(value)); v < 0 || v > 1 {
		return decodedRecord{}, fmt.Errorf("%w: %d for %s", errUnknownValue, v, k.TransactionalID)
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return decodedRecord{}, fmt.Errorf("txn: value of %s: %w", k.TransactionalID, err)
	}
	state := State(v.State)
	if !state.valid() {
		return decodedRecord{}, fmt.Errorf("txn: value of %s: unknown transaction status %d", k.TransactionalID, v.State)
	}
	m := &txnMetadata{
		id:                k.TransactionalID,
		producerID:        v.ProducerID,
		prevProducerID:    v.PreviousProducerID,
		nextProducerID:    v.NextProducerID,
		producerEpoch:     v.ProducerEpoch,
		lastProducerEpoch: NoProducerEpoch,
		timeoutMs:         v.TimeoutMillis,
		state:             state,
		partitions:        map[TopicPartition]struct{}{},
		startMs:           v.StartTimestamp,
		lastUpdateMs:      v.LastUpdateTimestamp,
		clientVersion:     v.ClientTransactionVersion,
	}
	if state != Empty {
		for _, t := range v.Topics {
			for _, p := range t.Partitions {
				m.partitions[TopicPartition{Topic: t.Topic, Partition: p}] = struct{}{}
			}
		}
	}
	return decodedRecord{id: k.TransactionalID, meta: m}, nil
}
