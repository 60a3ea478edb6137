package txn

import (
	"regexp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// DescribeTransaction describes a transactional id of this shard
// (Kafka's handleDescribeTransactions).
func (s *Shard) DescribeTransaction(id string) DescribedTransaction {
	d := DescribedTransaction{TransactionalID: id, Topics: []DescribedTopic{}}
	if id == "" {
		d.ErrorCode = kerr.InvalidRequest.Code
		return d
	}
	m, ok := s.txns[id]
	if !ok || m.state == Dead {
		d.ErrorCode = kerr.TransactionalIDNotFound.Code
		return d
	}
	d.State = m.state.String()
	d.TimeoutMs = m.timeoutMs
	d.StartTimestamp = m.startMs
	d.ProducerID = m.producerID
	d.ProducerEpoch = m.producerEpoch
	for _, tp := range sortedPartitions(m.partitions) {
		if n := len(d.Topics); n > 0 && d.Topics[n-1].Topic == tp.Topic {
			d.Topics[n-1].Partitions = append(d.Topics[n-1].Partitions, tp.Partition)
			continue
		}
		d.Topics = append(d.Topics, DescribedTopic{Topic: tp.Topic, Partitions: []int32{tp.Partition}})
	}
	return d
}

// ListFilter is a compiled ListRequest.
type ListFilter struct {
	states      map[State]bool
	anyState    bool
	producerIDs map[int64]bool
	durationMs  int64
	pattern     *regexp.Regexp
	// Unknown are the state names that name no state.
	Unknown []string
}

// CompileListFilter compiles req; an invalid pattern is
// INVALID_REGULAR_EXPRESSION (returned as the code, 0 if none).
func CompileListFilter(req ListRequest) (*ListFilter, int16) {
	f := &ListFilter{states: map[State]bool{}, anyState: len(req.States) == 0, producerIDs: map[int64]bool{}, durationMs: req.DurationFilterMs}
	for _, name := range req.States {
		if st, ok := ParseState(name); ok {
			f.states[st] = true
		} else if !slices.Contains(f.Unknown, name) {
			f.Unknown = append(f.Unknown, name)
		}
	}
	for _, p := range req.ProducerIDs {
		f.producerIDs[p] = true
	}
	if req.TransactionalIDPattern != "" {
		// The whole id must match (Java's Matcher.matches); RE2 syntax,
		// as Kafka's re2j.
		re, err := regexp.Compile(`^(?:` + req.TransactionalIDPattern + `)$`)
		if err != nil {
			return nil, kerr.InvalidRegularExpression.Code
		}
		f.pattern = re
	}
	return f, 0
}

// match is Kafka's shouldInclude: Dead ids (being expired) are never
// listed; a duration filter keeps transactions started more than
// durationMs ago.
func (f *ListFilter) match(m *txnMetadata, nowMs int64) bool {
	switch {
	case m.state == Dead:
		return false
	case len(f.producerIDs) > 0 && !f.producerIDs[m.producerID]:
		return false
	case !f.anyState && !f.states[m.state]:
		return false
	case f.durationMs >= 0 && nowMs-m.startMs <= f.durationMs:
		return false
	case f.pattern != nil && !f.pattern.MatchString(m.id):
		return false
	}
	return true
}

// ListTransactions lists the ids of this shard that f matches, in id
// order.
func (s *Shard) ListTransactions(now time.Time, f *ListFilter) []ListedTransaction {
	out := []ListedTransaction{}
	for _, m := range s.sortedTxns() {
		if f.match(m, ms(now)) {
			out = append(out, ListedTransaction{TransactionalID: m.id, ProducerID: m.producerID, State: m.state.String()})
		}
	}
	return out
}
