package controller

// The Controller of a broker-only node (process.roles=broker with a
// controller quorum). Such a node is a KRaft observer: it does not vote
// and decides nothing. Its metadata fetcher (internal/node) fetches the
// committed log from the quorum's leader and hands each new image to
// Observe, which installs and publishes it as a quorum member's apply
// loop does. Every decision answers NOT_CONTROLLER; the node forwards
// admin requests to the active controller instead.

import "github.com/gregor-streaming/gregor/internal/metadata"

// NewObserver returns the Controller of a broker-only node: its image
// starts Empty and changes only through Observe; publish is called with
// every image Observe installs, in order.
func NewObserver(cfg Config, publish func(*metadata.Image)) *Controller {
	cfg.ensureDefaults()
	c := &Controller{cfg: cfg, publish: publish, observer: true}
	c.commits = observerCommitter{}
	c.image.Store(metadata.Empty)
	return c
}

// Observe makes im the current image and publishes it. Only the
// Controller of NewObserver takes images this way; elsewhere Observe
// does nothing (their images come from their own log). Callers serialize
// their calls; images must come in log order.
func (c *Controller) Observe(im *metadata.Image) {
	if !c.observer {
		return
	}
	c.install(im)
}

// observerCommitter refuses every decision: an observer is never the
// active controller.
type observerCommitter struct{}

func (observerCommitter) ready() (uint64, error) { return 0, errNotController }

func (observerCommitter) commit([]metadata.Record) error { return errNotController }
