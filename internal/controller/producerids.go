package controller

import (
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streaming/gregor/internal/apierror"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// Producer id allocation (KIP-730, Kafka's ProducerIdControlManager).
// Brokers hand out producer ids (InitProducerId) from blocks of
// ProducerIDBlockSize that they ask the active controller for with
// AllocateProducerIds (key 67). The controller gives the block starting at
// the image's NextProducerID and commits a ProducerIdsRecord moving it
// past the block before answering, so an id is never handed out twice:
// not to two brokers, not after a controller failover (the next active
// controller decides from the same log), not after a restart.
//
//	broker ──AllocateProducerIds(broker id, epoch)──▶ active controller
//	   ◀── [next, next+1000) ── commit ProducerIdsRecord{id, epoch, next+1000}
//
// A quorum checks the broker epoch against the broker's registration
// (STALE_BROKER_EPOCH otherwise), as Kafka does. A single node's broker
// asks its in-process controller, without a registration to check.

// ProducerIDBlockSize is how many producer ids a block holds (Kafka's
// ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE).
const ProducerIDBlockSize = 1000

// ProducerIDsBlock is the producer ids [FirstProducerID,
// FirstProducerID+Size) given to broker BrokerID (Kafka's
// ProducerIdsBlock).
type ProducerIDsBlock struct {
	BrokerID        int32
	FirstProducerID int64
	Size            int32
}

// NextBlockFirstID is the first id after the block.
func (b ProducerIDsBlock) NextBlockFirstID() int64 { return b.FirstProducerID + int64(b.Size) }

// planAllocateProducerIDs decides an AllocateProducerIds against im
// (generateNextProducerId): the next block for brokerID and the record
// that takes it. With checkEpoch, brokerEpoch must be the broker's
// registered epoch. Errors are *apierror.Error.
func planAllocateProducerIDs(im *metadata.Image, brokerID int32, brokerEpoch int64, checkEpoch bool) (ProducerIDsBlock, []metadata.Record, error) {
	if checkEpoch {
		if _, err := checkBrokerEpoch(im, brokerID, brokerEpoch); err != nil {
			return ProducerIDsBlock{}, nil, err
		}
	}
	first := im.NextProducerID()
	if first > math.MaxInt64-ProducerIDBlockSize {
		return ProducerIDsBlock{}, nil, apierror.New(kerr.UnknownServerError, "Exhausted all producerIds as the next block's end producerId has exceeded the int64 type limit")
	}
	block := ProducerIDsBlock{BrokerID: brokerID, FirstProducerID: first, Size: ProducerIDBlockSize}
	rec := metadata.Record{Type: metadata.TypeProducerIDs, ProducerIDs: &metadata.ProducerIDsRecord{
		BrokerID:       brokerID,
		BrokerEpoch:    brokerEpoch,
		NextProducerID: block.NextBlockFirstID(),
	}}
	return block, []metadata.Record{rec}, nil
}

// AllocateProducerIDs hands broker brokerID the next block of producer
// ids (key 67) once the record taking it is committed. On a single node
// (no quorum) the broker epoch is not checked. Errors are NOT_CONTROLLER,
// STALE_BROKER_EPOCH, REQUEST_TIMED_OUT (as *apierror.Error) or a journal
// failure.
func (c *Controller) AllocateProducerIDs(brokerID int32, brokerEpoch int64) (ProducerIDsBlock, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.readyLocked(); err != nil {
		return ProducerIDsBlock{}, err
	}
	block, recs, err := planAllocateProducerIDs(c.image.Load(), brokerID, brokerEpoch, c.quorum != nil)
	if err != nil {
		return ProducerIDsBlock{}, err
	}
	if err := c.commitLocked(recs); err != nil {
		if aerr := apiError(err); aerr != nil {
			return ProducerIDsBlock{}, aerr
		}
		return ProducerIDsBlock{}, fmt.Errorf("%w: %w", errNotCommitted, err)
	}
	return block, nil
}
