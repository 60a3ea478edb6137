// Package metadata holds the cluster's metadata as Kafka's KRaft design
// does: an ordered log of metadata records, and an immutable Image built by
// applying them.
//
// Every change to topics, partitions or configs is a batch of Records. The
// controller proposes a batch; once the Journal has made it durable, every
// consumer of metadata applies it with Image.Apply, which returns a new
// Image and leaves the old one untouched, so readers may hold an Image
// without locks for as long as they like.
//
//	controller ──records──▶ Journal (durable, ordered) ──▶ Image.Apply ──▶ publishers
//
// The single-node Journal is a file (FileJournal); a Raft-replicated
// journal will satisfy the same interface.
package metadata
