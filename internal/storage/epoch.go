package storage

// EpochEntry is one line of the leader epoch cache: the first offset
// written by a leader in Epoch.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// epochCache is Kafka's LeaderEpochFileCache without the file: entries in
// increasing epoch and non-decreasing start offset. It is not safe for
// concurrent use; Log guards it with Log.mu and persists it after every
// change.
type epochCache struct {
	entries []EpochEntry
}

func (c *epochCache) latest() (EpochEntry, bool) {
	if len(c.entries) == 0 {
		return EpochEntry{}, false
	}
	return c.entries[len(c.entries)-1], true
}

// assign records that epoch starts at startOffset. As in Kafka it is a
// no-op when epoch is already the latest epoch at an offset <= startOffset;
// otherwise it first removes every entry with an epoch >= epoch or a start
// offset >= startOffset, keeping the cache monotonic. It reports whether the
// cache changed.
func (c *epochCache) assign(epoch int32, startOffset int64) bool {
	if last, ok := c.latest(); ok && last.Epoch == epoch && startOffset >= last.StartOffset {
		return false
	}
	n := len(c.entries)
	for n > 0 && (c.entries[n-1].Epoch >= epoch || c.entries[n-1].StartOffset >= startOffset) {
		n--
	}
	c.entries = append(c.entries[:n], EpochEntry{Epoch: epoch, StartOffset: startOffset})
	return true
}

// endOffsetFor answers OffsetForLeaderEpoch (KIP-101, KIP-279): the largest
// epoch <= requested that the log knows and the offset where the epoch
// after it starts (the log end offset for the latest epoch). Unknown or
// undefined epochs give (-1, -1). A requested epoch below every known one
// gives (requested, start offset of the first known epoch), as in Kafka.
func (c *epochCache) endOffsetFor(requested int32, logEndOffset int64) (int32, int64) {
	if requested < 0 {
		return -1, -1
	}
	if last, ok := c.latest(); ok && last.Epoch == requested {
		return requested, logEndOffset
	}
	// higher: first entry with Epoch > requested.
	higher := len(c.entries)
	for i, e := range c.entries {
		if e.Epoch > requested {
			higher = i
			break
		}
	}
	if higher == len(c.entries) {
		return -1, -1
	}
	if higher == 0 {
		return requested, c.entries[0].StartOffset
	}
	return c.entries[higher-1].Epoch, c.entries[higher].StartOffset
}

// epochForOffset is the epoch of the leader that wrote offset: the last
// entry starting at or before it.
func (c *epochCache) epochForOffset(offset int64) (int32, bool) {
	epoch, ok := int32(-1), false
	for _, e := range c.entries {
		if e.StartOffset == offset {
			return e.Epoch, true
		}
		if e.StartOffset > offset {
			break
		}
		epoch, ok = e.Epoch, true
	}
	return epoch, ok
}

// truncateFromEnd removes the entries starting at or after endOffset
// (Kafka's truncateFromEnd, used when the log is truncated).
func (c *epochCache) truncateFromEnd(endOffset int64) bool {
	n := len(c.entries)
	for n > 0 && c.entries[n-1].StartOffset >= endOffset {
		n--
	}
	changed := n != len(c.entries)
	c.entries = c.entries[:n]
	return changed
}

// truncateFromStart drops the entries wholly below startOffset (the new log
// start offset); the last of those is kept, moved to start at startOffset.
func (c *epochCache) truncateFromStart(startOffset int64) bool {
	i := 0
	for i < len(c.entries) && c.entries[i].StartOffset <= startOffset {
		i++
	}
	if i == 0 {
		return false
	}
	last := c.entries[i-1]
	if i == 1 && last.StartOffset == startOffset {
		return false
	}
	rest := c.entries[i:]
	c.entries = append([]EpochEntry{{Epoch: last.Epoch, StartOffset: startOffset}}, rest...)
	return true
}

func (c *epochCache) clone() []EpochEntry {
	return append([]EpochEntry(nil), c.entries...)
}
