package record

import (
	"encoding/binary"
	"fmt"
)

// CodecByName maps a compression.type value to its codec. "producer"
// (keep the producer's codec) and unknown names return false.
func CodecByName(name string) (Codec, bool) {
	switch name {
	case "uncompressed", "none":
		return CodecNone, true
	case "gzip":
		return CodecGzip, true
	case "snappy":
		return CodecSnappy, true
	case "lz4":
		return CodecLZ4, true
	case "zstd":
		return CodecZstd, true
	}
	return 0, false
}

// Recompress returns batch with its records compressed with codec, as the
// broker does for a topic whose compression.type names a codec other than
// the producer's. The header fields other than the codec bits, the batch
// length and the CRC are kept. If the batch already uses codec it is
// returned as is; otherwise a new slice is returned and batch is not
// modified. batch must be one whole, validated batch.
func Recompress(batch []byte, codec Codec) ([]byte, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		return nil, err
	}
	if h.Codec() == codec {
		return batch, nil
	}
	if !validCodec(codec) {
		return nil, fmt.Errorf("%w: codec %d", ErrUnsupportedCompression, codec)
	}
	raw := batch[HeaderSize:h.Size()]
	if h.Codec() != CodecNone {
		if raw, err = Decompress(h.Codec(), raw); err != nil {
			return nil, err
		}
	}
	out := make([]byte, HeaderSize, HeaderSize+len(raw)/2+64)
	copy(out, batch[:HeaderSize])
	if codec == CodecNone {
		out = append(out, raw...)
	} else if out, err = Compress(codec, out, raw); err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(out[offBatchLength:], uint32(len(out)-LogOverhead))
	attrs := uint16(h.Attributes)&^AttrCompressionMask | uint16(codec)
	binary.BigEndian.PutUint16(out[offAttributes:], attrs)
	binary.BigEndian.PutUint32(out[offCRC:], ComputeCRC(out))
	return out, nil
}
