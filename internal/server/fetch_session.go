package server

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/apierror"
)

// Incremental fetch sessions (KIP-227).
//
// A client opens a session with session_id=0, epoch=0 and a full list of
// partitions; the response carries the new session id. Later requests
// name the session and the next epoch and list only partitions whose fetch
// position changed (plus forgotten ones); responses list only partitions
// with news: records, an error, or a changed high watermark, last stable
// offset or log start offset. epoch=-1 closes the session.
//
//	session_id  epoch   meaning
//	0           -1      full fetch, no session
//	0            0      full fetch, open a session
//	X            0      close X, full fetch, open a new session
//	X           -1      close X, full fetch without session
//	X           N>0     incremental fetch in X, N must be X's next epoch

const (
	sessionInitialEpoch = 0
	sessionFinalEpoch   = -1
	// sessionIdleTimeout is min.incremental.fetch.session.eviction.ms.
	sessionIdleTimeout = 120 * time.Second
)

type sessionKey struct {
	topicID   [16]byte
	topic     string
	partition int32
}

// sessionPartition is the cached state of one partition in a session.
type sessionPartition struct {
	fetchOffset        int64
	maxBytes           int32
	currentLeaderEpoch int32
	// lastFetchedEpoch and replicaLogStartOffset are a follower's
	// (last_fetched_epoch, log_start_offset); -1 for consumers.
	lastFetchedEpoch      int32
	replicaLogStartOffset int64
	// Last values sent to the client, to tell whether there is news.
	highWatermark  int64
	lastStable     int64
	logStartOffset int64
	sent           bool
}

type fetchSession struct {
	id        int32
	epoch     int32 // the next epoch expected
	lastUsed  time.Time
	order     []sessionKey
	partition map[sessionKey]*sessionPartition
}

type fetchSessions struct {
	max int
	now func() time.Time
	mu  struct {
		sync.Mutex
		sessions map[int32]*fetchSession
	}
}

func newFetchSessions(max int, now func() time.Time) *fetchSessions {
	fs := &fetchSessions{max: max, now: now}
	fs.mu.sessions = map[int32]*fetchSession{}
	return fs
}

var (
	errSessionNotFound = apierror.New(kerr.FetchSessionIDNotFound, "")
	errSessionEpoch    = apierror.New(kerr.InvalidFetchSessionEpoch, "")
)

// create opens a new session, evicting the least recently used idle one
// when the cache is full. It returns nil if no slot is free.
func (fs *fetchSessions) create() *fetchSession {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	now := fs.now()
	for id, s := range fs.mu.sessions {
		if now.Sub(s.lastUsed) > sessionIdleTimeout {
			delete(fs.mu.sessions, id)
		}
	}
	if len(fs.mu.sessions) >= fs.max {
		var oldest *fetchSession
		for _, s := range fs.mu.sessions {
			if oldest == nil || s.lastUsed.Before(oldest.lastUsed) {
				oldest = s
			}
		}
		if oldest == nil {
			return nil
		}
		delete(fs.mu.sessions, oldest.id)
	}
	var id int32
	for id == 0 || fs.mu.sessions[id] != nil {
		var b [4]byte
		_, _ = rand.Read(b[:])
		id = int32(binary.BigEndian.Uint32(b[:]) &^ (1 << 31))
	}
	s := &fetchSession{id: id, epoch: 1, lastUsed: now, partition: map[sessionKey]*sessionPartition{}}
	fs.mu.sessions[id] = s
	return s
}

// get returns session id for a request at epoch and advances its epoch.
func (fs *fetchSessions) get(id, epoch int32) (*fetchSession, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	s, ok := fs.mu.sessions[id]
	if !ok {
		return nil, errSessionNotFound
	}
	if s.epoch != epoch {
		return nil, errSessionEpoch
	}
	s.epoch = nextEpoch(epoch)
	s.lastUsed = fs.now()
	return s, nil
}

func (fs *fetchSessions) remove(id int32) {
	fs.mu.Lock()
	delete(fs.mu.sessions, id)
	fs.mu.Unlock()
}

func nextEpoch(e int32) int32 {
	if e == 1<<31-1 {
		return 1
	}
	return e + 1
}

// upsert adds or updates a partition from a request.
func (s *fetchSession) upsert(k sessionKey, rp *kmsg.FetchRequestTopicPartition) {
	sp, ok := s.partition[k]
	if !ok {
		sp = &sessionPartition{}
		s.partition[k] = sp
		s.order = append(s.order, k)
	}
	sp.fetchOffset, sp.maxBytes, sp.currentLeaderEpoch = rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch
	sp.lastFetchedEpoch, sp.replicaLogStartOffset = rp.LastFetchedEpoch, rp.LogStartOffset
}

// forget removes a partition.
func (s *fetchSession) forget(k sessionKey) {
	if _, ok := s.partition[k]; !ok {
		return
	}
	delete(s.partition, k)
	for i, o := range s.order {
		if o == k {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}
