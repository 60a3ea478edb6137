package connect

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kbin"
)

// The worker group speaks Kafka Connect's group protocol: JoinGroup with
// protocol type "connect" and, in preference order, the protocols
// "sessioned" (version 2) and "compatible" (version 1) — Kafka's
// incremental cooperative protocols (KIP-415, KIP-507). Both use the same
// layouts, big-endian, strings with an int16 length, arrays with an int32
// count (-1: null), bytes with an int32 length (-1: null):
//
//	Worker metadata (JoinGroup protocol metadata, Kafka's ExtendedWorkerState):
//	  Version        int16     1 compatible, 2 sessioned
//	  Url            string    the worker's advertised REST URL
//	  ConfigOffset   int64     how far the worker has read the config topic
//	  Allocation     bytes     its current assignment, serialized as below; null if none
//
//	Assignment (SyncGroup member assignment, Kafka's ExtendedAssignment):
//	  Version        int16
//	  Error          int16     0 none, 1 CONFIG_MISMATCH
//	  Leader         string    the leader's member id
//	  LeaderUrl      string    the leader's REST URL
//	  ConfigOffset   int64     the config offset the assignment was made at
//	  Assignment     [ConnectorAssignment]   what the worker runs from now on
//	  Revoked        [ConnectorAssignment]   what it must stop first
//	  ScheduledDelay int32     ms until the leader will reassign departed workers' work
//
//	ConnectorAssignment:
//	  Connector      string
//	  Tasks          [int32]   task numbers; -1 is the connector instance itself

// Connect group protocol versions and the sentinel task of a connector.
const (
	connectProtocolV1 int16 = 1
	connectProtocolV2 int16 = 2
	connectorTask     int32 = -1

	assignmentNoError        int16 = 0
	assignmentConfigMismatch int16 = 1
)

var errBadProtocolData = errors.New("connect: malformed group protocol data")

// connectAssignment is one worker's assignment (Kafka's
// ConnectAssignment): what it runs and what it must revoke.
type connectAssignment struct {
	Version      int16
	Error        int16
	Leader       string
	LeaderURL    string
	ConfigOffset int64
	Connectors   []string
	Tasks        []TaskID
	Revoked      connectorsAndTasks
	Delay        int32 // milliseconds
}

// connectorsAndTasks is a set of connector instances and tasks.
type connectorsAndTasks struct {
	Connectors []string
	Tasks      []TaskID
}

func (c connectorsAndTasks) empty() bool { return len(c.Connectors) == 0 && len(c.Tasks) == 0 }

// workerState is a worker's JoinGroup metadata (Kafka's
// ExtendedWorkerState).
type workerState struct {
	Version      int16
	URL          string
	ConfigOffset int64
	// Assignment is what the worker runs (nil: nothing).
	Assignment *connectAssignment
}

// appendConnectorAssignments writes connectors and tasks grouped by
// connector, sorted.
func appendConnectorAssignments(dst []byte, connectors []string, tasks []TaskID) []byte {
	by := map[string][]int32{}
	for _, c := range connectors {
		by[c] = append(by[c], connectorTask)
	}
	for _, t := range tasks {
		by[t.Connector] = append(by[t.Connector], int32(t.Task))
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	dst = kbin.AppendArrayLen(dst, len(names))
	for _, n := range names {
		ts := by[n]
		slices.Sort(ts)
		dst = kbin.AppendString(dst, n)
		dst = kbin.AppendArrayLen(dst, len(ts))
		for _, t := range ts {
			dst = kbin.AppendInt32(dst, t)
		}
	}
	return dst
}

func readConnectorAssignments(r *kbin.Reader) (connectorsAndTasks, error) {
	var out connectorsAndTasks
	n := r.ArrayLen()
	if !r.Ok() {
		return out, errBadProtocolData
	}
	for i := int32(0); i < n; i++ {
		name := r.String()
		m := r.ArrayLen()
		if !r.Ok() || m < -1 {
			return out, errBadProtocolData
		}
		for j := int32(0); j < m; j++ {
			t := r.Int32()
			if !r.Ok() {
				return out, errBadProtocolData
			}
			if t == connectorTask {
				out.Connectors = append(out.Connectors, name)
			} else if t >= 0 {
				out.Tasks = append(out.Tasks, TaskID{Connector: name, Task: int(t)})
			} else {
				return out, fmt.Errorf("%w: task %d", errBadProtocolData, t)
			}
		}
	}
	return out, nil
}

// encodeAssignment serializes a (Kafka's serializeAssignment).
func encodeAssignment(a *connectAssignment) []byte {
	b := kbin.AppendInt16(nil, a.Version)
	b = kbin.AppendInt16(b, a.Error)
	b = kbin.AppendString(b, a.Leader)
	b = kbin.AppendString(b, a.LeaderURL)
	b = kbin.AppendInt64(b, a.ConfigOffset)
	b = appendConnectorAssignments(b, a.Connectors, a.Tasks)
	b = appendConnectorAssignments(b, a.Revoked.Connectors, a.Revoked.Tasks)
	return kbin.AppendInt32(b, a.Delay)
}

// decodeAssignment parses an assignment. The revoked list and the delay
// may be missing (version 0, Kafka's eager protocol).
func decodeAssignment(b []byte) (*connectAssignment, error) {
	r := &kbin.Reader{Src: b}
	a := &connectAssignment{Version: r.Int16()}
	if !r.Ok() || a.Version < 0 {
		return nil, errBadProtocolData
	}
	a.Error = r.Int16()
	a.Leader = r.String()
	a.LeaderURL = r.String()
	a.ConfigOffset = r.Int64()
	if !r.Ok() {
		return nil, errBadProtocolData
	}
	assigned, err := readConnectorAssignments(r)
	if err != nil {
		return nil, err
	}
	a.Connectors, a.Tasks = assigned.Connectors, assigned.Tasks
	if len(r.Src) > 0 {
		if a.Revoked, err = readConnectorAssignments(r); err != nil {
			return nil, err
		}
	}
	if len(r.Src) >= 4 {
		a.Delay = r.Int32()
	}
	return a, nil
}

// encodeWorkerState serializes a worker's metadata.
func encodeWorkerState(s workerState) []byte {
	b := kbin.AppendInt16(nil, s.Version)
	b = kbin.AppendString(b, s.URL)
	b = kbin.AppendInt64(b, s.ConfigOffset)
	var alloc []byte
	if s.Assignment != nil {
		alloc = encodeAssignment(s.Assignment)
	}
	return kbin.AppendNullableBytes(b, alloc)
}

// decodeWorkerState parses a worker's metadata; version 0 (eager) has no
// allocation.
func decodeWorkerState(b []byte) (workerState, error) {
	r := &kbin.Reader{Src: b}
	s := workerState{Version: r.Int16()}
	s.URL = r.String()
	s.ConfigOffset = r.Int64()
	if !r.Ok() || s.Version < 0 {
		return s, errBadProtocolData
	}
	if len(r.Src) == 0 {
		return s, nil
	}
	alloc := r.NullableBytes()
	if !r.Ok() {
		return s, errBadProtocolData
	}
	if alloc != nil {
		a, err := decodeAssignment(alloc)
		if err != nil {
			return s, err
		}
		s.Assignment = a
	}
	return s, nil
}
