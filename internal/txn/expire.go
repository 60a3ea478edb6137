package txn

import (
	"time"

	"github.com/gregor-streaming/gregor/internal/coordinator"
)

// expireBatchBytes bounds the tombstones written in one batch, below the
// default max.message.bytes (1048588), as Kafka fills batches up to the
// partition's limit.
const expireBatchBytes = 1 << 20

// abortTimedOut aborts every transaction open for longer than its
// timeout, fencing its producer first (Kafka's abortTimedOutTransactions:
// PrepareEpochFence, then PrepareAbort at the cluster's transaction
// version). A producer that comes back finds its epoch fenced.
func (s *Shard) abortTimedOut(now time.Time, res *coordinator.Result) {
	nowMs := ms(now)
	for _, m := range s.sortedTxns() {
		if m.state != Ongoing || m.startMs+int64(m.timeoutMs) >= nowMs {
			continue
		}
		id, pid, epoch := m.id, m.producerID, m.producerEpoch
		s.log.Info("aborting a transaction that timed out", "transactional_id", id, "producer_id", pid,
			"producer_epoch", epoch, "start_ms", m.startMs, "timeout_ms", m.timeoutMs)
		s.fenceAndAbort(m, now, res, func(code int16, _ *coordinator.Result) {
			if code != 0 {
				s.log.Warn("aborting a timed out transaction failed", "transactional_id", id, "producer_id", pid, "code", code)
			}
		})
	}
}

// expireTransactionalIDs forgets ids without an open transaction that
// have not changed for transactional.id.expiration.ms: each goes Dead,
// its tombstone is written, and it is removed once the tombstone is
// (Kafka's removeExpiredTransactionalIds). A failed write keeps the id.
func (s *Shard) expireTransactionalIDs(now time.Time, res *coordinator.Result) {
	cutoff := ms(now) - s.cfg.TransactionalIDExpirationMs
	var batches [][]*txnMetadata
	var batch []*txnMetadata
	size := 0
	for _, m := range s.sortedTxns() {
		if !m.state.expirationAllowed() || m.pendingComplete != nil || m.lastUpdateMs > cutoff {
			continue
		}
		if err := s.check(m, m.prepareDead()); err != nil {
			continue
		}
		n := len(m.id) + 32 // key and record overhead
		if len(batch) > 0 && size+n > expireBatchBytes {
			batches = append(batches, batch)
			batch, size = nil, 0
		}
		batch = append(batch, m)
		size += n
	}
	if len(batch) > 0 {
		batches = append(batches, batch)
	}
	if len(batches) > 0 {
		s.writeTombstones(batches, res)
	}
}

// writeTombstones writes the first batch into res and the others, one
// batch each, after it.
func (s *Shard) writeTombstones(batches [][]*txnMetadata, res *coordinator.Result) {
	batch := batches[0]
	for _, m := range batch {
		res.Add(tombstone(m.id))
	}
	onAppend(res, func(_ time.Time, err error, next *coordinator.Result) {
		for _, m := range batch {
			if err != nil {
				s.log.Warn("failed to expire a transactional id", "transactional_id", m.id, "err", err)
				continue
			}
			if s.txns[m.id] == m {
				delete(s.txns, m.id)
				s.log.Info("expired transactional id", "transactional_id", m.id, "producer_id", m.producerID)
			}
		}
		if len(batches) > 1 {
			s.writeTombstones(batches[1:], next)
		}
	})
}
