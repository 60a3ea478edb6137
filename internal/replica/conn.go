package replica

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// netConn is a Conn over a net.Conn: Kafka's framing, one request at a
// time. Frames (big endian):
//
//	request:  size int32 | api_key int16 | api_version int16 |
//	          correlation_id int32 | client_id nullable_string |
//	          [tagged_fields if flexible] | body
//	response: size int32 | correlation_id int32 |
//	          [tagged_fields if flexible, except ApiVersions] | body
type netConn struct {
	nc          net.Conn
	formatter   *kmsg.RequestFormatter
	maxResponse int32

	mu   sync.Mutex // one request at a time
	corr int32
	buf  []byte
}

// NewConn returns a Conn that sends requests over nc, at the version set
// on each request, naming itself clientID, and refuses responses larger
// than maxResponseBytes (0: 100 MiB). A request whose ctx ends
// interrupts the I/O and leaves the connection unusable; Close it.
func NewConn(nc net.Conn, clientID string, maxResponseBytes int32) Conn {
	if maxResponseBytes <= 0 {
		maxResponseBytes = 100 << 20
	}
	return &netConn{nc: nc, formatter: kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID)), maxResponse: maxResponseBytes}
}

func (c *netConn) Close() error { return c.nc.Close() }

func (c *netConn) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	deadline, _ := ctx.Deadline()
	if err := c.nc.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c.corr++
	c.buf = c.formatter.AppendRequest(c.buf[:0], req, c.corr)
	if _, err := c.nc.Write(c.buf); err != nil {
		return nil, c.ctxErr(ctx, err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return nil, c.ctxErr(ctx, err)
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > c.maxResponse {
		return nil, fmt.Errorf("replica: response of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.nc, body); err != nil {
		return nil, c.ctxErr(ctx, err)
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != c.corr {
		return nil, fmt.Errorf("replica: response correlation id %d, want %d", corr, c.corr)
	}
	body = body[4:]
	if req.IsFlexible() && req.Key() != 18 { // ApiVersions answers with a v0 header
		var err error
		if body, err = skipTags(body); err != nil {
			return nil, err
		}
	}
	resp := req.ResponseKind()
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("replica: decode %T: %w", resp, err)
	}
	return resp, nil
}

func (c *netConn) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// skipTags skips a tagged-field section.
func skipTags(b []byte) ([]byte, error) {
	num, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, fmt.Errorf("replica: bad tagged fields")
	}
	b = b[n:]
	for range num {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, fmt.Errorf("replica: bad tag")
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < size {
			return nil, fmt.Errorf("replica: bad tag size")
		}
		b = b[n+int(size):]
	}
	return b, nil
}
