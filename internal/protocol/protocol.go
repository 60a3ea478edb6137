// Package protocol frames Kafka requests and responses on a connection
// and decodes request headers; message bodies are franz-go's kmsg.
//
// Wire format (big endian):
//
//	request:  size int32 | api_key int16 | api_version int16 |
//	          correlation_id int32 | client_id nullable_string(int16 len) |
//	          [tagged_fields, header v2 = flexible versions] | body
//	response: size int32 | correlation_id int32 |
//	          [tagged_fields, flexible versions except ApiVersions] | body
package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Errors from framing. Any of them means the connection must close.
var (
	ErrFrameTooLarge = errors.New("protocol: request larger than socket.request.max.bytes")
	ErrBadFrame      = errors.New("protocol: malformed request")
)

// ReadFrame reads one size-prefixed frame from r into buf (grown as
// needed) and returns it. A size above max or below the smallest header
// returns ErrFrameTooLarge or ErrBadFrame.
func ReadFrame(r io.Reader, buf []byte, max int32) ([]byte, error) {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(sz[:]))
	if n < 0 {
		return nil, fmt.Errorf("%w: negative size %d", ErrBadFrame, n)
	}
	if n > max {
		return nil, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, n, max)
	}
	if n < 8 {
		return nil, fmt.Errorf("%w: size %d too small for a header", ErrBadFrame, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// Header is a decoded request header.
type Header struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      *string
}

// PeekHeader decodes the fixed part of a request header (key, version,
// correlation id), which every version shares.
func PeekHeader(frame []byte) (Header, error) {
	if len(frame) < 8 {
		return Header{}, ErrBadFrame
	}
	return Header{
		APIKey:        int16(binary.BigEndian.Uint16(frame[0:])),
		APIVersion:    int16(binary.BigEndian.Uint16(frame[2:])),
		CorrelationID: int32(binary.BigEndian.Uint32(frame[4:])),
	}, nil
}

// ParseHeader decodes the whole header (v1, or v2 when flexible) and
// returns it with the body that follows.
func ParseHeader(frame []byte, flexible bool) (Header, []byte, error) {
	h, err := PeekHeader(frame)
	if err != nil {
		return h, nil, err
	}
	b := frame[8:]
	if len(b) < 2 {
		return h, nil, fmt.Errorf("%w: no client id", ErrBadFrame)
	}
	l := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	if l >= 0 {
		if int(l) > len(b) {
			return h, nil, fmt.Errorf("%w: client id length %d", ErrBadFrame, l)
		}
		s := string(b[:l])
		h.ClientID = &s
		b = b[l:]
	}
	if flexible {
		var err error
		if b, err = skipTags(b); err != nil {
			return h, nil, err
		}
	}
	return h, b, nil
}

func skipTags(b []byte) ([]byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	for range n {
		if _, b, err = uvarint(b); err != nil { // tag
			return nil, err
		}
		var size uint64
		if size, b, err = uvarint(b); err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tagged field of %d bytes", ErrBadFrame, size)
		}
		b = b[size:]
	}
	return b, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, fmt.Errorf("%w: bad varint", ErrBadFrame)
	}
	return v, b[n:], nil
}

// AppendResponseHeader starts a response frame in dst: a placeholder size,
// the correlation id and, for a flexible response header, an empty tag
// section. Finish it with FinishFrame once the body is appended.
func AppendResponseHeader(dst []byte, correlationID int32, flexible bool) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if flexible {
		dst = append(dst, 0)
	}
	return dst
}

// FinishFrame writes the size prefix of the frame that starts at start.
func FinishFrame(dst []byte, start int) {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
}
