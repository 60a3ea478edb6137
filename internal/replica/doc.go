// Package replica owns the partitions this node hosts and is the one way
// to append to or read from their logs (ARCHITECTURE.md: "There is one way
// to append to a log"). It applies each metadata.Image to decide which
// partitions exist here and at which leader epoch, validates produced
// batches, advances the high watermark, and wakes long-polling fetches.
//
// Single node today: this node leads every partition and the ISR is just
// this node, so the high watermark follows the log end offset. The cluster
// adds followers, ISR tracking and a produce purgatory behind the same
// methods.
//
// Lock order: Manager.mu, then Partition.mu. Neither is held while a
// storage call blocks on disk except Partition's append path, which must
// be serialized per partition anyway.
package replica
