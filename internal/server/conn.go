package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/internal/protocol"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// conn is one client connection. serve runs the read-handle loop on the
// connection's goroutine and owns a writer goroutine that writes
// responses in order.
type conn struct {
	s        *Server
	nc       net.Conn
	listener boundListener
	log      *slog.Logger
	ctx      context.Context

	// Set from the request being handled, for logs and quotas.
	clientID        string
	clientSoftware  string
	clientSWVersion string
}

func newConn(s *Server, nc net.Conn, l boundListener) *conn {
	return &conn{
		s:        s,
		nc:       nc,
		listener: l,
		ctx:      s.ctx,
		log:      s.log.With("remote", nc.RemoteAddr().String(), "listener", l.Name),
	}
}

// writeQueue bounds how many responses may wait for the writer; the reader
// stops reading new requests while it is full.
const writeQueue = 64

func (c *conn) serve() {
	defer c.nc.Close()
	out := make(chan []byte, writeQueue)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(out)
	}()
	defer func() {
		close(out)
		<-writerDone
	}()

	r := bufio.NewReaderSize(c.nc, 64<<10)
	var frame []byte
	for {
		var err error
		frame, err = protocol.ReadFrame(r, frame[:0], c.s.cfg.MaxRequestBytes)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && c.ctx.Err() == nil {
				c.log.Debug("closing connection", "err", err)
				if errors.Is(err, protocol.ErrFrameTooLarge) || errors.Is(err, protocol.ErrBadFrame) {
					c.log.Warn("closing connection after a bad frame", "err", err)
				}
			}
			return
		}
		resp, err := c.handle(frame)
		if err != nil {
			c.log.Warn("closing connection after a bad request", "client_id", c.clientID, "err", err)
			return
		}
		if resp == nil {
			continue // acks=0 produce: no response
		}
		select {
		case out <- resp:
		case <-writerDone:
			return
		}
	}
}

func (c *conn) writeLoop(out <-chan []byte) {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	for b := range out {
		_, err := w.Write(b)
		putFrame(b) // bufio has copied b or written it through
		if err != nil {
			c.nc.Close()
			for range out {
			}
			return
		}
		if len(out) == 0 {
			if err := w.Flush(); err != nil {
				c.nc.Close()
				for range out {
				}
				return
			}
		}
	}
}

// handle decodes and runs one request, returning the framed response (nil
// for none) or an error that closes the connection.
func (c *conn) handle(frame []byte) ([]byte, error) {
	hdr, err := protocol.PeekHeader(frame)
	if err != nil {
		return nil, err
	}
	h := c.s.lookupHandler(hdr.APIKey)
	if h == nil {
		return nil, errorf("unknown api key %d", hdr.APIKey)
	}
	if hdr.APIVersion < h.min || hdr.APIVersion > h.max {
		if hdr.APIKey == apiVersionsKey {
			// KIP-511: answer in v0 with UNSUPPORTED_VERSION and our
			// versions, so the client can pick one.
			return c.s.unsupportedAPIVersions(hdr.CorrelationID), nil
		}
		return nil, errorf("unsupported version %d of api key %d", hdr.APIVersion, hdr.APIKey)
	}
	req := kmsg.RequestForKey(hdr.APIKey)
	req.SetVersion(hdr.APIVersion)
	full, body, err := protocol.ParseHeader(frame, req.IsFlexible())
	if err != nil {
		return nil, err
	}
	if err := req.ReadFrom(body); err != nil {
		return nil, errorf("decode %s v%d: %v", kmsg.NameForKey(hdr.APIKey), hdr.APIVersion, err)
	}
	if full.ClientID != nil {
		c.clientID = *full.ClientID
	} else {
		c.clientID = ""
	}
	var resp kmsg.Response
	if c.s.forwards(hdr.APIKey) {
		resp = c.s.forward(c.ctx, req) // to the active controller (forward.go)
	} else {
		resp, err = h.fn(c.s, c, req)
	}
	if err != nil || resp == nil {
		return nil, err
	}
	resp.SetVersion(hdr.APIVersion)
	// ApiVersions responses always use header v0 (KIP-511).
	flexible := req.IsFlexible() && hdr.APIKey != apiVersionsKey
	b := protocol.AppendResponseHeader(getFrame(responseSizeHint(resp)), hdr.CorrelationID, flexible)
	b = resp.AppendTo(b)
	protocol.FinishFrame(b, 0)
	releaseResponse(resp)
	return b, nil
}

// releaseResponse gives back the buffers a response borrowed once it has
// been encoded: the record data a fetch read from the logs.
func releaseResponse(resp kmsg.Response) {
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return
	}
	for i := range fr.Topics {
		for j := range fr.Topics[i].Partitions {
			p := &fr.Topics[i].Partitions[j]
			storage.ReleaseReadData(p.RecordBatches)
			p.RecordBatches = nil
		}
	}
}

// Response frames are pooled: a fetch response holds megabytes of record
// batches, and allocating (and zeroing, and growing) a buffer per response
// would dominate the fetch path. A frame goes back to the pool once the
// writer has written it.
var framePool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledFrame bounds what the pool keeps, so one huge response does not
// pin its buffer.
const maxPooledFrame = 64 << 20

func getFrame(size int) []byte {
	bp := framePool.Get().(*[]byte)
	b := *bp
	*bp = nil
	framePool.Put(bp)
	if cap(b) < size {
		return make([]byte, 0, size)
	}
	return b[:0]
}

func putFrame(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledFrame {
		return
	}
	bp := framePool.Get().(*[]byte)
	*bp = b[:0]
	framePool.Put(bp)
}

// responseSizeHint estimates the encoded size of resp, so its frame is
// allocated once: the record bytes of a fetch response plus room for the
// rest.
func responseSizeHint(resp kmsg.Response) int {
	const base = 512
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return base
	}
	n := base
	for i := range fr.Topics {
		n += 64 + len(fr.Topics[i].Topic)
		for j := range fr.Topics[i].Partitions {
			n += 64 + len(fr.Topics[i].Partitions[j].RecordBatches)
		}
	}
	return n
}

type requestError struct{ msg string }

func (e *requestError) Error() string { return "server: " + e.msg }

func errorf(format string, args ...any) error {
	return &requestError{msg: sprintf(format, args...)}
}
