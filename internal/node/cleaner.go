package node

import (
	"math"
	"time"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// cleanerConfig is the log cleaner's part of the broker config (Kafka's
// log.cleaner.* properties; see storage.CleanerConfig).
func cleanerConfig(cfg *config.Broker) storage.CleanerConfig {
	backoff := millis(cfg.LogCleanerBackoffMs)
	switch {
	case backoff > 0:
	case cfg.LogCleanerBackoffMs <= 0:
		backoff = time.Millisecond // storage would read 0 as its default
	default:
		backoff = math.MaxInt64 // too large to represent: never
	}
	return storage.CleanerConfig{
		Enable:                 cfg.LogCleanerEnable,
		Threads:                int(cfg.LogCleanerThreads),
		Backoff:                backoff,
		DedupeBufferSize:       cfg.LogCleanerDedupeBufferSize,
		DedupeBufferLoadFactor: cfg.LogCleanerIOBufferLoadFactor,
		IOBufferSize:           int(cfg.LogCleanerIOBufferSize),
	}
}
