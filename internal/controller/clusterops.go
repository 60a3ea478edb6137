package controller

import (
	"time"

	"github.com/gregor-streaming/gregor/internal/metadata"
)

// The Controller's entry points for the Cluster's decisions: each takes
// the lock, checks that this node is the active controller (else
// NOT_CONTROLLER), asks the Cluster with the latest image and the clock,
// commits the Result's records as one batch and answers only after the
// commit, as the Cluster's contract requires.

// decide runs one Cluster decision under the lock and commits its records.
// On error the response is the zero T.
func decide[T any](c *Controller, fn func(cl *Cluster, im *metadata.Image, now time.Time) Result[T]) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero T
	cl, err := c.readyLocked()
	if err != nil {
		return zero, err
	}
	res := fn(cl, c.image.Load(), c.cfg.Now())
	if err := c.commitLocked(res.Records); err != nil {
		if aerr := apiError(err); aerr != nil {
			return zero, aerr
		}
		return zero, err
	}
	return res.Response, nil
}

// RegisterBroker handles a BrokerRegistration (key 62). Errors other than
// the reply's own are NOT_CONTROLLER, REQUEST_TIMED_OUT, or a journal
// failure; the reply's BrokerEpoch is then -1.
func (c *Controller) RegisterBroker(req BrokerRegistration) BrokerRegistrationReply {
	reply, err := decide(c, func(cl *Cluster, im *metadata.Image, now time.Time) Result[BrokerRegistrationReply] {
		return cl.RegisterBroker(im, now, req)
	})
	if err != nil {
		return BrokerRegistrationReply{BrokerEpoch: -1, Err: err}
	}
	return reply
}

// BrokerHeartbeat handles a BrokerHeartbeat (key 63); see
// Cluster.BrokerHeartbeat. A commit failure is reported in Err.
func (c *Controller) BrokerHeartbeat(req BrokerHeartbeat) BrokerHeartbeatReply {
	reply, err := decide(c, func(cl *Cluster, im *metadata.Image, now time.Time) Result[BrokerHeartbeatReply] {
		return cl.BrokerHeartbeat(im, now, req)
	})
	if err != nil {
		return BrokerHeartbeatReply{Err: err}
	}
	return reply
}

// UnregisterBroker removes broker id's registration (UnregisterBroker,
// key 64); see Cluster.UnregisterBroker. It returns nil once the removal
// is committed, BROKER_ID_NOT_REGISTERED, or NOT_CONTROLLER,
// REQUEST_TIMED_OUT or a journal failure. A broker that is still running
// registers again at its next heartbeat (STALE_BROKER_EPOCH), as in
// Kafka.
func (c *Controller) UnregisterBroker(id int32) error {
	refused, err := decide(c, func(cl *Cluster, im *metadata.Image, _ time.Time) Result[error] {
		return cl.UnregisterBroker(im, id)
	})
	if err != nil {
		return err
	}
	return refused
}

// AlterPartition handles a leader's ISR changes (key 56); see
// Cluster.AlterPartition. A commit failure is reported in Err.
func (c *Controller) AlterPartition(req AlterPartitionRequest) AlterPartitionResponse {
	resp, err := decide(c, func(cl *Cluster, im *metadata.Image, _ time.Time) Result[AlterPartitionResponse] {
		return cl.AlterPartition(im, req)
	})
	if err != nil {
		return AlterPartitionResponse{Err: err}
	}
	return resp
}

// ElectLeaders runs preferred or unclean elections (key 43); see
// Cluster.ElectLeaders. A commit failure is reported in Err.
func (c *Controller) ElectLeaders(typ ElectionType, partitions []TopicPartitions) ElectLeadersResponse {
	resp, err := decide(c, func(cl *Cluster, im *metadata.Image, _ time.Time) Result[ElectLeadersResponse] {
		return cl.ElectLeaders(im, typ, partitions)
	})
	if err != nil {
		return ElectLeadersResponse{Err: err}
	}
	return resp
}

// AlterPartitionReassignments starts, changes or cancels reassignments
// (key 45); see Cluster.AlterPartitionReassignments. The error fails the
// whole request (NOT_CONTROLLER, REQUEST_TIMED_OUT, ...).
func (c *Controller) AlterPartitionReassignments(req ReassignmentsRequest) ([]ReassignmentResult, error) {
	return decide(c, func(cl *Cluster, im *metadata.Image, _ time.Time) Result[[]ReassignmentResult] {
		return cl.AlterPartitionReassignments(im, req)
	})
}

// ListPartitionReassignments lists reassignments in progress (key 46);
// see Cluster.ListPartitionReassignments. Only the active controller
// answers (NOT_CONTROLLER elsewhere), as in Kafka.
func (c *Controller) ListPartitionReassignments(topics []TopicPartitions) ([]OngoingReassignment, error) {
	return decide(c, func(cl *Cluster, im *metadata.Image, _ time.Time) Result[[]OngoingReassignment] {
		return Result[[]OngoingReassignment]{Response: cl.ListPartitionReassignments(im, topics)}
	})
}

// tick runs the Cluster's periodic work (fencing expired sessions,
// unclean elections, leader balance) if this node is the active
// controller, and returns how long the caller may wait before the next
// call: until the Cluster's next deadline, at most max.
func (c *Controller) tick(max time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, err := c.readyLocked()
	if err != nil {
		return max
	}
	now := c.cfg.Now()
	res := cl.Tick(c.image.Load(), now)
	if err := c.commitLocked(res.Records); err != nil {
		c.cfg.Logger.Warn("controller tick not committed", "err", err)
		return min(max, 100*time.Millisecond)
	}
	if len(res.Response.Fenced) > 0 {
		c.cfg.Logger.Info("fenced brokers with expired sessions", "brokers", res.Response.Fenced)
	}
	if res.Response.More {
		return 0
	}
	next := cl.NextDeadline(c.image.Load())
	if next.IsZero() {
		return max
	}
	return min(max, max0(next.Sub(c.cfg.Now())))
}

func max0(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}
