// Package badinput checks that a Gregor broker survives malformed and
// hostile input on the wire, the way Kafka does: a bad frame or request
// closes only the connection that sent it, a bad record batch gets Kafka's
// error code in its partition's response, nothing bad is ever appended, and
// every other connection and the broker itself keep serving.
//
// The tests speak raw TCP (net.Dial) to an in-process broker (kafkatest):
// request bodies come from kmsg, the framing and the record batches are
// built by hand so that they can be broken on purpose. Because the broker
// runs in the test process, a panic anywhere in it fails the test.
//
// Request frame (big endian; header v2 for flexible versions):
//
//	size int32 | api_key int16 | api_version int16 | correlation_id int32 |
//	client_id int16-length string | [tagged fields: uvarint 0] | body
//
// Response frame:
//
//	size int32 | correlation_id int32 | [tagged fields, flexible versions
//	except ApiVersions, KIP-511] | body
package badinput

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ioDeadline bounds every read and write on a test connection, so that a
// broker that neither answers nor closes fails the test instead of hanging
// it. It is a safety net, not a timing assertion.
const ioDeadline = 20 * time.Second

const clientID = "badinput"

// frame returns a request frame for req, with its header (v1, or v2 for a
// flexible version) and the size prefix.
func frame(req kmsg.Request, correlationID int32) []byte {
	return rawFrame(req.Key(), req.GetVersion(), correlationID, req.IsFlexible(), req.AppendTo(nil))
}

// rawFrame frames body under a hand-made header.
func rawFrame(key, version int16, correlationID int32, flexible bool, body []byte) []byte {
	b := make([]byte, 4, 64+len(body))
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(correlationID))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	if flexible {
		b = append(b, 0) // no tagged fields
	}
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// conn is a raw client connection.
type conn struct {
	t     testing.TB
	nc    *net.TCPConn
	r     *bufio.Reader
	corr  int32
	label string
}

func dial(t testing.TB, addr, label string) *conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioDeadline)
	if err != nil {
		t.Fatalf("%s: dial %s: %v", label, addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &conn{t: t, nc: nc.(*net.TCPConn), r: bufio.NewReader(nc), label: label}
}

func (c *conn) Close() { c.nc.Close() }

// write sends raw bytes.
func (c *conn) write(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(ioDeadline))
	_, err := c.nc.Write(b)
	return err
}

// readFrame reads one response frame and returns it without the size.
func (c *conn) readFrame() ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(ioDeadline))
	var sz [4]byte
	if _, err := io.ReadFull(c.r, sz[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(sz[:]))
	if n < 4 || n > 64<<20 {
		return nil, fmt.Errorf("bad response size %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// roundTrip sends req and decodes its response, failing the test on any
// error.
func (c *conn) roundTrip(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	resp, err := c.tryRoundTrip(req)
	if err != nil {
		c.t.Fatalf("%s: %s v%d: %v", c.label, kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

func (c *conn) tryRoundTrip(req kmsg.Request) (kmsg.Response, error) {
	c.corr++
	corr := c.corr
	if err := c.write(frame(req, corr)); err != nil {
		return nil, err
	}
	b, err := c.readFrame()
	if err != nil {
		return nil, err
	}
	return decodeResponse(req, corr, b)
}

// decodeResponse checks the correlation id of a response frame and decodes
// its body as the response to req.
func decodeResponse(req kmsg.Request, corr int32, b []byte) (kmsg.Response, error) {
	if got := int32(binary.BigEndian.Uint32(b)); got != corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	b = b[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if req.IsFlexible() && req.Key() != 18 {
		var err error
		if b, err = skipTags(b); err != nil {
			return nil, err
		}
	}
	if err := resp.ReadFrom(b); err != nil {
		return nil, fmt.Errorf("decode %s v%d response: %w", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp, nil
}

func skipTags(b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[k:]
	for range n {
		_, k = binary.Uvarint(b)
		if k <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[k:]
		size, k := binary.Uvarint(b)
		if k <= 0 || size > uint64(len(b)-k) {
			return nil, errors.New("bad tag size")
		}
		b = b[k+int(size):]
	}
	return b, nil
}

// expectClosed reads until the broker closes the connection and returns
// how many responses arrived first (a random frame may happen to be a
// valid request). It fails the test if the connection stays open.
func (c *conn) expectClosed() (responses int) {
	c.t.Helper()
	for {
		_, err := c.readFrame()
		if err == nil {
			responses++
			continue
		}
		if isClosed(err) {
			return responses
		}
		c.t.Fatalf("%s: want the broker to close the connection, got %v", c.label, err)
	}
}

// isClosed reports whether err is the peer closing the connection: EOF (a
// clean close, possibly inside a frame) or a reset (the broker closed with
// bytes of ours still unread).
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// sendBad writes b and then half-closes our side, so that a broker waiting
// for the rest of a frame sees the end of the stream. A write error from
// the broker having closed already is fine.
func (c *conn) sendBad(b []byte) {
	c.t.Helper()
	if err := c.write(b); err != nil && !isClosed(err) {
		c.t.Fatalf("%s: write: %v", c.label, err)
	}
	if err := c.nc.CloseWrite(); err != nil && !isClosed(err) && !errors.Is(err, syscall.ENOTCONN) {
		c.t.Fatalf("%s: close write: %v", c.label, err)
	}
}

// newApiVersions returns the ApiVersions request a Kafka 4 client opens
// with (v3, flexible, KIP-511 client software fields).
func newApiVersions() *kmsg.ApiVersionsRequest {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName = "gregor-badinput"
	req.ClientSoftwareVersion = "1.0"
	return req
}

// checkServing asserts that c still answers ApiVersions and Metadata.
func checkServing(t testing.TB, c *conn) {
	t.Helper()
	av := c.roundTrip(newApiVersions()).(*kmsg.ApiVersionsResponse)
	if av.ErrorCode != 0 || len(av.ApiKeys) == 0 {
		t.Fatalf("%s: ApiVersions: error %d with %d keys", c.label, av.ErrorCode, len(av.ApiKeys))
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	resp := c.roundTrip(md).(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 1 {
		t.Fatalf("%s: Metadata: %d brokers, want 1", c.label, len(resp.Brokers))
	}
}

// record is one record to put in a batch.
type record struct {
	key, value []byte
	headers    []kmsg.Header
}

// batchBytes encodes records as an uncompressed RecordBatch v2 with a
// correct length and record count. mutate, if not nil, may change the
// header fields before the batch is encoded. The CRC is always computed
// over the result; break it afterwards to test a bad one.
func batchBytes(recs []record, mutate func(*kmsg.RecordBatch)) []byte {
	now := time.Now().UnixMilli()
	var raw []byte
	for i, r := range recs {
		rec := kmsg.Record{OffsetDelta: int32(i), Key: r.key, Value: r.value, Headers: r.headers}
		body := rec.AppendTo(nil) // with Length 0, a one-byte varint
		rec.Length = int32(len(body) - 1)
		raw = rec.AppendTo(raw)
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(49 + len(raw)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              raw,
	}
	if mutate != nil {
		mutate(&b)
	}
	out := b.AppendTo(nil)
	fixCRC(out)
	return out
}

// Offsets of RecordBatch v2 header fields.
const (
	batchLengthAt     = 8
	batchCRCAt        = 17
	batchAttributesAt = 21
	batchCountAt      = 57
	batchHeaderSize   = 61
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fixCRC sets the CRC of the batch in b: CRC-32C of everything from the
// attributes to the end of the batch (as its length field says, or the
// end of b if that is out of range).
func fixCRC(b []byte) {
	if len(b) < batchHeaderSize {
		return
	}
	end := 12 + int(int32(binary.BigEndian.Uint32(b[batchLengthAt:])))
	if end < batchAttributesAt || end > len(b) {
		end = len(b)
	}
	binary.BigEndian.PutUint32(b[batchCRCAt:], crc32.Checksum(b[batchAttributesAt:end], castagnoli))
}

// produceRequest returns a Produce request of the given version carrying
// one batch to topic/partition (topicID is used from v13 on).
func produceRequest(version int16, topic string, topicID [16]byte, partition int32, acks int16, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = acks
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rt.TopicID = topicID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// seed returns the seed for a randomized test: BADINPUT_SEED if set, else
// a fresh one. It is logged so that a failure can be replayed.
func seed(t testing.TB) int64 {
	t.Helper()
	s := time.Now().UnixNano()
	if v := os.Getenv("BADINPUT_SEED"); v != "" {
		if _, err := fmt.Sscan(v, &s); err != nil {
			t.Fatalf("BADINPUT_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay with BADINPUT_SEED=%d)", s, s)
	return s
}
