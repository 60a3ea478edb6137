package txn

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// AddPartitionsFromLeader (KIP-890, a partition leader's
// AddPartitionsToTxn v5) runs on the shard when this node leads the
// id's __transaction_state partition and goes through Options.Forward
// otherwise; without a transaction version 2 add (VerifyOnly) it only
// says whether each partition is in the transaction.
func TestAddPartitionsFromLeader(t *testing.T) {
	var forwarded []AddPartitionsRequest
	c, err := New(Config{NumPartitions: 2, ProducerIDs: &lockedIDs{next: 10}, WriteMarkers: func(MarkerRequest) {}}, Options{
		Forward: func(_ context.Context, p int32, req AddPartitionsRequest) AddPartitionsResponse {
			forwarded = append(forwarded, req)
			return AddPartitionsResponse{TransactionalID: req.TransactionalID, Partitions: []PartitionResult{{TopicPartition: req.Partitions[0], ErrorCode: int16(100 + p)}}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	c.Sync(2, map[int32]Leader{0: {Log: &memLog{}, Epoch: 1}})
	id, other := idOn(t, 0, 2), idOn(t, 1, 2)
	tp := TopicPartition{"t", 0}

	if r := c.AddPartitionsFromLeader(ctx, AddPartitionsRequest{Version: 5, TransactionalID: other, Partitions: []TopicPartition{tp}}); len(forwarded) != 1 || r.Partitions[0].ErrorCode != 101 {
		t.Fatalf("id coordinated elsewhere: %+v, forwarded %v", r, forwarded)
	}
	var init InitProducerIDResponse
	for i := 0; ; i++ { // the shard may still be loading
		init = c.InitProducerID(ctx, InitProducerIDRequest{Version: 5, TransactionalID: &id, TransactionTimeoutMs: 60000, ProducerID: -1, ProducerEpoch: -1})
		if init.ErrorCode != kerr.CoordinatorLoadInProgress.Code || i > 10000 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	req := AddPartitionsRequest{Version: 5, TransactionalID: id, ProducerID: init.ProducerID, ProducerEpoch: init.ProducerEpoch, VerifyOnly: true, Partitions: []TopicPartition{tp}}
	if r := c.AddPartitionsFromLeader(ctx, req); r.Partitions[0].ErrorCode != kerr.TransactionAbortable.Code {
		t.Fatalf("verify before the add: %+v", r)
	}
	req.VerifyOnly = false
	if r := c.AddPartitionsFromLeader(ctx, req); r.Partitions[0].ErrorCode != 0 {
		t.Fatalf("add: %+v", r)
	}
	req.VerifyOnly = true
	if r := c.AddPartitionsFromLeader(ctx, req); r.Partitions[0].ErrorCode != 0 {
		t.Fatalf("verify after the add: %+v", r)
	}
	if d := c.DescribeTransactions(ctx, []string{id}); d[0].State != "Ongoing" || len(forwarded) != 1 {
		t.Fatalf("describe: %+v, forwarded %d", d, len(forwarded))
	}
}
