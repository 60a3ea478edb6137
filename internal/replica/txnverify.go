package replica

import (
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/record"
)

// Transaction verification (KIP-890 part 1; Kafka's
// UnifiedLog.maybeStartTransactionVerification, VerificationStateEntry
// and VerificationGuard). Before appending a transactional batch of a
// producer whose transaction is not open on the partition at the batch's
// epoch, the leader asks the transaction coordinator whether the
// partition is in the transaction (or, with transaction version 2, adds
// it); the caller (the server's produce path) does the asking:
//
//	StartTxnVerification ──▶ guard (nil: the transaction is open here)
//	      ask the coordinator (no lock held while waiting)
//	AppendVerified(batch, guard) ──▶ appended only if the transaction is
//	      open here by now, or the guard is still the producer's
//
// A marker (or any transactional batch) of the producer appended between
// the two makes the guard stale: the coordinator's answer may predate an
// abort, and appending would open a transaction the coordinator does not
// know of (a hanging transaction). With transaction version 2 a marker
// at the epoch being verified belongs to the previous transaction (the
// coordinator bumps the epoch for its markers) and leaves the guard. A
// transactional batch appended under a guard starts the transaction, so
// the guard is dropped; later batches need none.
//
// Coordinator appends (TxnOffsetCommit's records, AppendCoordinator) do
// not carry a guard: the group coordinator writes them after the server
// verified them (MarkTxnVerified). They are refused when a verification
// of their producer is pending but not answered, or went stale; without
// any verification they are appended (a coordinator not asked, as before
// verification existed).
//
// The guards of one partition are kept by producer id under appendMu,
// with the leader epoch they were made in: a new leadership makes them
// stale. Stale and unused guards are dropped after
// txnVerificationMaxAge, as Kafka drops verification state with its
// producers (producer.id.expiration.ms).

// txnVerificationMaxAge is how long a guard is kept (Kafka's
// producer.id.expiration.ms default).
const txnVerificationMaxAge = 24 * time.Hour

// txnVersionUnknown is the transaction version of an append that carries
// none (data batches, markers of __consumer_offsets).
const txnVersionUnknown int16 = -1

// txnVerificationTokens makes guard tokens unique within the process.
var txnVerificationTokens atomic.Uint64

// txnVerification is one producer's pending verification on a partition
// (Kafka's VerificationStateEntry).
type txnVerification struct {
	// token is the guard's identity; 0 once stale.
	token       uint64
	leaderEpoch int32
	// epoch and lowestSeq are the highest producer epoch asked for and
	// the lowest base sequence at it: the first batch appended must be
	// that one (Kafka's maybeUpdateLowestSequenceAndEpoch).
	epoch     int16
	lowestSeq int32
	// supportsEpochBump: asked with transaction version 2 (the partition
	// added by the coordinator, not only verified).
	supportsEpochBump bool
	// verified: the coordinator answered yes (MarkTxnVerified).
	verified bool
	created  time.Time
}

// TxnGuard is a verification in progress for one producer on one
// partition (Kafka's VerificationGuard). Its zero value is not valid.
type TxnGuard struct {
	p          *Partition
	producerID int64
	token      uint64
}

// StartTxnVerification starts verifying that the transaction of
// producerID at epoch includes this partition, for a batch starting at
// baseSequence; supportsEpochBump says the coordinator will be asked
// with transaction version 2. It returns a nil guard when the producer's
// transaction at that epoch is already open here (nothing to verify).
// Concurrent verifications of one producer share a guard. Errors are
// NOT_LEADER_OR_FOLLOWER.
func (p *Partition) StartTxnVerification(producerID int64, epoch int16, baseSequence int32, supportsEpochBump bool) (*TxnGuard, error) {
	st, err := p.leaderState(-1)
	if err != nil {
		return nil, err
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if cur := p.state.Load(); !cur.isLeader || cur.leaderEpoch != st.leaderEpoch {
		return nil, apierror.New(kerr.NotLeaderForPartition, "")
	}
	if p.ongoingTxnLocked(producerID, epoch) {
		return nil, nil
	}
	now := p.now()
	p.sweepTxnVerificationsLocked(now)
	v := p.txnVerificationLocked(producerID, st.leaderEpoch)
	switch {
	case v == nil || v.token == 0:
		v = &txnVerification{
			token: txnVerificationTokens.Add(1), leaderEpoch: st.leaderEpoch,
			epoch: epoch, lowestSeq: baseSequence, supportsEpochBump: supportsEpochBump, created: now,
		}
		if p.txnVerifications == nil {
			p.txnVerifications = map[int64]*txnVerification{}
		}
		p.txnVerifications[producerID] = v
	case epoch > v.epoch:
		v.epoch, v.lowestSeq, v.supportsEpochBump = epoch, baseSequence, supportsEpochBump
	case epoch == v.epoch:
		v.lowestSeq = min(v.lowestSeq, baseSequence)
	}
	return &TxnGuard{p: p, producerID: producerID, token: v.token}, nil
}

// MarkTxnVerified records that the coordinator answered g's
// verification: a coordinator append of the producer's transactional
// records (TxnOffsetCommit) may then open its transaction here. A stale
// guard changes nothing.
func (p *Partition) MarkTxnVerified(g *TxnGuard) {
	if g == nil || g.p != p {
		return
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if v := p.txnVerifications[g.producerID]; v != nil && v.token == g.token {
		v.verified = true
	}
}

// txnVerificationLocked returns the producer's verification of this
// leader epoch, nil if none. appendMu must be held.
func (p *Partition) txnVerificationLocked(producerID int64, leaderEpoch int32) *txnVerification {
	v := p.txnVerifications[producerID]
	if v == nil || v.leaderEpoch != leaderEpoch {
		return nil
	}
	return v
}

// ongoingTxnLocked reports whether the producer's transaction at epoch
// is open on this partition (Kafka's hasOngoingTransaction). appendMu
// must be held, so that no leader append changes it meanwhile.
func (p *Partition) ongoingTxnLocked(producerID int64, epoch int16) bool {
	ps, ok := p.log.ProducerState(producerID)
	return ok && ps.CurrentTxnFirstOffset >= 0 && ps.ProducerEpoch == epoch
}

// checkClientTxnLocked checks a client's batch against transaction
// verification before it is appended (Kafka's UnifiedLog.append and
// ProducerAppendInfo.checkSequence with a VerificationStateEntry). h is
// the batch's header. appendMu must be held.
func (p *Partition) checkClientTxnLocked(h record.Header, leaderEpoch int32, g *TxnGuard) error {
	if !h.HasProducerID() || !h.IsTransactional() || h.IsControl() {
		return nil
	}
	v := p.txnVerificationLocked(h.ProducerID, leaderEpoch)
	if !p.ongoingTxnLocked(h.ProducerID, h.ProducerEpoch) &&
		(g == nil || g.p != p || g.producerID != h.ProducerID || v == nil || v.token == 0 || v.token != g.token) {
		return apierror.New(kerr.InvalidTxnState, "Record was not part of an ongoing transaction")
	}
	if v == nil || v.token == 0 {
		return nil
	}
	ps, known := p.log.ProducerState(h.ProducerID)
	if known && h.ProducerEpoch < ps.ProducerEpoch {
		return nil // fenced by the producer state's epoch check, which Kafka runs first
	}
	if v.supportsEpochBump && h.BaseSequence != 0 {
		if !known || len(ps.Batches) == 0 {
			return apierror.New(kerr.OutOfOrderSequenceNumber, "Invalid sequence number for producer %d in partition %s-%d: %d (incoming seq. number). Expected sequence 0 for transactions v2 idempotent producer with no existing state.",
				h.ProducerID, p.Topic, p.Index, h.BaseSequence)
		}
	}
	if h.BaseSequence > v.lowestSeq {
		return apierror.New(kerr.OutOfOrderSequenceNumber, "Out of order sequence number for producer %d in partition %s-%d: %d (incoming seq. number), %d (earliest seen sequence)",
			h.ProducerID, p.Topic, p.Index, h.BaseSequence, v.lowestSeq)
	}
	return nil
}

// checkCoordinatorTxnLocked checks a coordinator's transactional batch
// (TxnOffsetCommit's records): refused while its producer's verification
// is pending or stale (see the top of this file). appendMu must be held.
func (p *Partition) checkCoordinatorTxnLocked(h record.Header, leaderEpoch int32) error {
	if !h.HasProducerID() || !h.IsTransactional() || h.IsControl() {
		return nil
	}
	v := p.txnVerificationLocked(h.ProducerID, leaderEpoch)
	if v == nil || v.verified && v.token != 0 || p.ongoingTxnLocked(h.ProducerID, h.ProducerEpoch) {
		return nil
	}
	return apierror.New(kerr.InvalidTxnState, "Record was not part of an ongoing transaction")
}

// txnAppendedLocked updates the verifications after a batch with header
// h was appended (Kafka's UnifiedLog.updateProducers): a transactional
// data batch started the transaction, so its guard goes; a marker makes
// the guard stale, unless the guard is of transaction version 2 and the
// marker is at the epoch being verified: the coordinator bumped the
// epoch for the previous transaction's markers, so the marker is that
// transaction's. Kafka also requires the marker's transaction version to
// be 2; markers of __consumer_offsets come without one (the group
// coordinator writes them), and the epoch alone tells. appendMu must be
// held.
func (p *Partition) txnAppendedLocked(h record.Header) {
	if !h.HasProducerID() || !h.IsTransactional() {
		return
	}
	v := p.txnVerifications[h.ProducerID]
	switch {
	case v == nil:
	case !h.IsControl():
		delete(p.txnVerifications, h.ProducerID)
	case v.supportsEpochBump && h.ProducerEpoch == v.epoch:
		// The next transaction's verification: keep it.
	default:
		v.token, v.verified = 0, false
	}
}

// sweepTxnVerificationsLocked drops guards older than
// txnVerificationMaxAge. Guards go with their producer's first batch, so
// few are ever kept. appendMu must be held.
func (p *Partition) sweepTxnVerificationsLocked(now time.Time) {
	for pid, v := range p.txnVerifications {
		if now.Sub(v.created) >= txnVerificationMaxAge {
			delete(p.txnVerifications, pid)
		}
	}
}
