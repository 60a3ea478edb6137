package server

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/record"
)

func produceBatch(t *testing.T, pid int64, epoch int16, transactional bool) []byte {
	t.Helper()
	b, err := record.Build(record.BuildOptions{
		PartitionLeaderEpoch: record.NoPartitionLeaderEpoch, BaseTimestamp: time.Now().UnixMilli(),
		ProducerID: pid, ProducerEpoch: epoch, Transactional: transactional,
	}, []record.Record{{Value: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A produce request's transactional batches must come from one producer
// id and epoch (Kafka's ReplicaManager: "Transactional records contained
// more than one producer ID"); other batches do not count.
func TestProduceTxnProducer(t *testing.T) {
	req := func(batches ...[]byte) *kmsg.ProduceRequest {
		r := kmsg.NewPtrProduceRequest()
		rt := kmsg.NewProduceRequestTopic()
		for i, b := range batches {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = int32(i), b
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
		return r
	}
	for _, tc := range []struct {
		name    string
		batches [][]byte
		pid     int64
		ok      bool
	}{
		{"none", [][]byte{produceBatch(t, -1, -1, false), produceBatch(t, 3, 0, false)}, -1, true},
		{"one producer", [][]byte{produceBatch(t, 3, 1, true), produceBatch(t, 3, 1, true), produceBatch(t, 4, 0, false)}, 3, true},
		{"two producers", [][]byte{produceBatch(t, 3, 1, true), produceBatch(t, 4, 1, true)}, 0, false},
		{"two epochs", [][]byte{produceBatch(t, 3, 1, true), produceBatch(t, 3, 2, true)}, 0, false},
	} {
		h, ok := produceTxnProducer(req(tc.batches...))
		if ok != tc.ok || ok && h.ProducerID != tc.pid {
			t.Errorf("%s: producer %d ok %v, want %d %v", tc.name, h.ProducerID, ok, tc.pid, tc.ok)
		}
	}
}

// What a request version lets the leader do about a partition not in the
// transaction, and how the coordinator's answers reach the producer
// (Kafka's TransactionSupportedOperation and postVerificationCallback).
func TestTxnVerificationMapping(t *testing.T) {
	for v, want := range map[int16]txnOperation{3: txnDefaultError, 10: txnDefaultError, 11: txnGenericError, 12: txnAddPartition, 13: txnAddPartition} {
		if got := produceTxnOperation(v); got != want {
			t.Errorf("Produce v%d: %d, want %d", v, got, want)
		}
	}
	for v, want := range map[int16]txnOperation{0: txnDefaultError, 3: txnDefaultError, 4: txnGenericError, 5: txnAddPartition} {
		if got := txnOffsetCommitOperation(v); got != want {
			t.Errorf("TxnOffsetCommit v%d: %d, want %d", v, got, want)
		}
	}
	for code, want := range map[int16]int16{
		0:                                   0,
		kerr.InvalidTxnState.Code:           kerr.InvalidTxnState.Code,
		kerr.ConcurrentTransactions.Code:    kerr.NotEnoughReplicas.Code,
		kerr.NetworkException.Code:          kerr.NotEnoughReplicas.Code,
		kerr.CoordinatorLoadInProgress.Code: kerr.NotEnoughReplicas.Code,
		kerr.CoordinatorNotAvailable.Code:   kerr.NotEnoughReplicas.Code,
		kerr.NotCoordinator.Code:            kerr.NotEnoughReplicas.Code,
		kerr.InvalidProducerEpoch.Code:      kerr.InvalidProducerEpoch.Code,
		kerr.TransactionAbortable.Code:      kerr.TransactionAbortable.Code,
	} {
		if got, msg := produceVerificationError(code); got != want || (code != 0 && code != kerr.InvalidProducerEpoch.Code && code != kerr.TransactionAbortable.Code && msg == nil) {
			t.Errorf("%v: %v (message %v), want %v", kerr.ErrorForCode(code), kerr.ErrorForCode(got), msg, kerr.ErrorForCode(want))
		}
	}
}
