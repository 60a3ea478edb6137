package clientconfig

import (
	"math"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// producerOpts maps the producer properties (ProducerConfig).
func producerOpts(p *propReader) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	idempotent := true
	if v, ok := p.get("acks"); ok {
		switch strings.TrimSpace(strings.ToLower(v)) {
		case "all", "-1":
			opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
		case "1":
			opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
			idempotent = false
		case "0":
			opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
			idempotent = false
		default:
			return nil, InvalidValue("acks", v, "String must be one of: all, -1, 0, 1")
		}
	}
	if b, ok := p.bool("enable.idempotence"); ok {
		if b && !idempotent {
			return nil, configError("Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence.")
		}
		idempotent = b
	}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if d, ok := p.millis("linger.ms"); ok {
		opts = append(opts, kgo.ProducerLinger(d))
	}
	maxRequest, hasMaxRequest := p.int32("max.request.size")
	if hasMaxRequest {
		opts = append(opts, kgo.BrokerMaxWriteBytes(max(maxRequest, 1<<10)))
	}
	if n, ok := p.int32("batch.size"); ok && n > 0 {
		if hasMaxRequest {
			n = min(n, maxRequest)
		}
		opts = append(opts, kgo.ProducerBatchMaxBytes(n))
	} else if hasMaxRequest {
		opts = append(opts, kgo.ProducerBatchMaxBytes(min(maxRequest, 1<<20)))
	}
	if v, ok := p.get("compression.type"); ok {
		var c kgo.CompressionCodec
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "none":
			c = kgo.NoCompression()
		case "gzip":
			c = kgo.GzipCompression()
		case "snappy":
			c = kgo.SnappyCompression()
		case "lz4":
			c = kgo.Lz4Compression()
		case "zstd":
			c = kgo.ZstdCompression()
		default:
			return nil, InvalidValue("compression.type", v, "String must be one of: none, gzip, snappy, lz4, zstd")
		}
		opts = append(opts, kgo.ProducerBatchCompression(c))
	}
	if d, ok := p.millis("delivery.timeout.ms"); ok {
		opts = append(opts, kgo.RecordDeliveryTimeout(d))
	}
	if n, ok := p.int("max.in.flight.requests.per.connection"); ok && n > 0 {
		opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(int(min(n, math.MaxInt32))))
	}
	if n, ok := p.int("buffer.memory"); ok && n > 0 {
		opts = append(opts, kgo.MaxBufferedBytes(int(min(n, math.MaxInt32))))
	}
	if v, ok := p.get("transactional.id"); ok && v != "" {
		if !idempotent {
			return nil, configError("Cannot set a transactional.id without also enabling idempotence.")
		}
		opts = append(opts, kgo.TransactionalID(v))
	}
	if d, ok := p.millis("transaction.timeout.ms"); ok {
		opts = append(opts, kgo.TransactionTimeout(d))
	}
	return opts, nil
}
