package txn

// PartitionFor maps a transactional id to one of n partitions of
// __transaction_state as Kafka does: Utils.abs(transactionalId.hashCode)
// % n, with Java's String.hashCode over UTF-16 code units and
// Integer.MIN_VALUE mapping to 0.
func PartitionFor(transactionalID string, n int32) int32 {
	var h int32
	for _, r := range transactionalID {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}
