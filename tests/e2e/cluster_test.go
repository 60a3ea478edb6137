package e2e

import (
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// advertised returns the broker's ApiVersions ranges by key.
func advertised(t *testing.T, addr string) map[int16]kmsg.ApiVersionsResponseApiKey {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "gregor-e2e", "1.0"
	r, err := dialRaw(t, addr).roundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp := r.(*kmsg.ApiVersionsResponse)
	wantCode(t, "ApiVersions", resp.ErrorCode, nil)
	out := map[int16]kmsg.ApiVersionsResponseApiKey{}
	for _, k := range resp.ApiKeys {
		if _, dup := out[k.ApiKey]; dup {
			t.Errorf("api key %d advertised twice", k.ApiKey)
		}
		if k.MinVersion > k.MaxVersion || k.MinVersion < 0 {
			t.Errorf("api key %d advertises versions %d-%d", k.ApiKey, k.MinVersion, k.MaxVersion)
		}
		out[k.ApiKey] = k
	}
	return out
}

// probe is a minimal valid request for key at version v.
func probe(key, v int16) kmsg.Request {
	req := kmsg.RequestForKey(key)
	req.SetVersion(v)
	if p, ok := req.(*kmsg.ProduceRequest); ok {
		p.Acks = 1 // acks=0 sends no response
	}
	if a, ok := req.(*kmsg.ApiVersionsRequest); ok {
		a.ClientSoftwareName, a.ClientSoftwareVersion = "gregor-e2e", "1.0"
	}
	return req
}

// TestApiVersionsAdvertisedKeysAnswer sends a minimal request for every
// advertised API key at its lowest and highest advertised version: each
// must get a response that decodes at that version. Keys that are not
// advertised, and versions below an advertised range, must not be served:
// Kafka closes the connection ("Received request api key ... with version
// ... which is not enabled", SocketServer Processor.parseRequestHeader).
func TestApiVersionsAdvertisedKeysAnswer(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("av", 1, nil)
	keys := advertised(t, e.c.Addr())
	for _, must := range []int16{0, 1, 2, 3, 18, 19, 20} {
		if _, ok := keys[must]; !ok {
			t.Errorf("api key %s (%d) not advertised", kmsg.NameForKey(must), must)
		}
	}
	var served, refused int
	defer func() { t.Logf("%d advertised keys answered, %d others refused", served, refused) }()
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		if kmsg.RequestForKey(key) == nil {
			continue
		}
		name := kmsg.NameForKey(key)
		k, ok := keys[key]
		if !ok {
			refused++
			rc := dialRaw(t, e.c.Addr())
			if _, err := rc.roundTrip(probe(key, kmsg.RequestForKey(key).MaxVersion())); err != errConnClosed {
				t.Errorf("%s (%d) is not advertised but was answered (%v)", name, key, err)
			}
			continue
		}
		if max := kmsg.RequestForKey(key).MaxVersion(); k.MaxVersion > max {
			t.Errorf("%s advertises v%d beyond the protocol's v%d", name, k.MaxVersion, max)
			continue
		}
		served++
		for _, v := range []int16{k.MinVersion, k.MaxVersion} {
			rc := dialRaw(t, e.c.Addr())
			resp, err := rc.roundTrip(probe(key, v))
			if err != nil {
				t.Errorf("%s v%d (advertised %d-%d): %v", name, v, k.MinVersion, k.MaxVersion, err)
				continue
			}
			if resp.Key() != key {
				t.Errorf("%s v%d answered with key %d", name, v, resp.Key())
			}
			// The connection stays usable.
			if _, err := rc.roundTrip(probe(18, 3)); err != nil {
				t.Errorf("after %s v%d the connection broke: %v", name, v, err)
			}
		}
		if k.MinVersion > 0 && key != 18 {
			rc := dialRaw(t, e.c.Addr())
			if _, err := rc.roundTrip(probe(key, k.MinVersion-1)); err != errConnClosed {
				t.Errorf("%s v%d is below the advertised minimum but was answered (%v)", name, k.MinVersion-1, err)
			}
		}
	}
}

// TestApiVersionsNegotiation: an ApiVersions request at a version the
// broker does not know is answered in v0 with UNSUPPORTED_VERSION and the
// broker's ranges (KIP-511), an invalid client software name is
// INVALID_REQUEST (KIP-511's pattern), and v3+ reports the
// metadata.version feature (KIP-584).
func TestApiVersionsNegotiation(t *testing.T) {
	t.Parallel()
	e := start(t)
	keys := advertised(t, e.c.Addr())

	// v127 request (flexible header), read back as a v0 response.
	nc, err := net.DialTimeout("tcp", e.c.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 127
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("e2e")).AppendRequest(nil, req, 42)
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		t.Fatalf("no answer to ApiVersions v127: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatal(err)
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != 42 {
		t.Fatalf("correlation id %d", corr)
	}
	v0 := kmsg.NewPtrApiVersionsResponse()
	v0.Version = 0
	if err := v0.ReadFrom(body[4:]); err != nil {
		t.Fatalf("decode v0 answer: %v", err)
	}
	wantCode(t, "ApiVersions v127", v0.ErrorCode, kerr.UnsupportedVersion)
	var sawSelf bool
	for _, k := range v0.ApiKeys {
		if k.ApiKey == 18 {
			sawSelf = true
		}
	}
	if !sawSelf || len(v0.ApiKeys) != len(keys) {
		t.Errorf("v0 fallback lists %d keys (ApiVersions among them: %v), want %d", len(v0.ApiKeys), sawSelf, len(keys))
	}

	bad := kmsg.NewPtrApiVersionsRequest()
	bad.Version = 3
	bad.ClientSoftwareName, bad.ClientSoftwareVersion = "-bad name-", "1"
	r, err := dialRaw(t, e.c.Addr()).roundTrip(bad)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "invalid client software name", r.(*kmsg.ApiVersionsResponse).ErrorCode, kerr.InvalidRequest)

	ok := probe(18, 3).(*kmsg.ApiVersionsRequest)
	r, err = dialRaw(t, e.c.Addr()).roundTrip(ok)
	if err != nil {
		t.Fatal(err)
	}
	var mv bool
	for _, f := range r.(*kmsg.ApiVersionsResponse).FinalizedFeatures {
		if f.Name == "metadata.version" && f.MaxVersionLevel > 0 {
			mv = true
		}
	}
	if !mv {
		t.Error("no finalized metadata.version feature")
	}

	// kadm sees the same ranges.
	vs, err := e.adm.ApiVersions(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	vs.Each(func(b kadm.BrokerApiVersions) {
		if b.Err != nil {
			t.Errorf("kadm ApiVersions from %d: %v", b.NodeID, b.Err)
			return
		}
		for key, k := range keys {
			if min, max, ok := b.KeyVersions(key); !ok || min != k.MinVersion || max != k.MaxVersion {
				t.Errorf("kadm sees %s as %d-%d (%v), want %d-%d", kmsg.NameForKey(key), min, max, ok, k.MinVersion, k.MaxVersion)
			}
		}
	})
}

// TestDescribeCluster checks DescribeCluster (KIP-700) against Metadata:
// same cluster id, controller and broker endpoint, at v0 and v2.
func TestDescribeCluster(t *testing.T) {
	t.Parallel()
	e := start(t)
	md := e.metadata(false)
	host, port, _ := net.SplitHostPort(e.c.Addr())
	for _, v := range []int16{0, 2} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version = v
		req.EndpointType = 1
		req.IncludeFencedBrokers = true
		r, err := dialRaw(t, e.c.Addr()).roundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp := r.(*kmsg.DescribeClusterResponse)
		wantCode(t, "DescribeCluster", resp.ErrorCode, nil)
		if resp.ClusterID != *md.ClusterID || resp.ControllerID != 1 || len(resp.Brokers) != 1 {
			t.Fatalf("v%d: cluster %q controller %d, %d brokers; metadata says %q", v, resp.ClusterID, resp.ControllerID, len(resp.Brokers), *md.ClusterID)
		}
		b := resp.Brokers[0]
		if b.NodeID != 1 || b.Host != host || strconv.Itoa(int(b.Port)) != port || b.IsFenced {
			t.Errorf("v%d broker: %+v", v, b)
		}
	}
	brokers, err := e.adm.ListBrokers(e.ctx)
	if err != nil || len(brokers) != 1 || brokers[0].NodeID != 1 {
		t.Errorf("kadm ListBrokers: %v %v", brokers, err)
	}
}

// TestDescribeLogDirs checks DescribeLogDirs (KIP-113, KIP-827): the one
// log dir, its volume sizes, every partition with its size on disk (equal
// to the bytes a full fetch of the partition returns), and filtering to
// the asked partitions.
func TestDescribeLogDirs(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.createTopic("ld", 3, nil)
	e.createTopic("ld-other", 1, nil)
	e.produceValues("ld", 0, "v", 20)
	e.produceValues("ld", 2, "w", 3)

	all, err := e.adm.DescribeAllLogDirs(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs := all[1]
	if len(dirs) != 1 {
		t.Fatalf("%d log dirs, want 1", len(dirs))
	}
	want, _ := filepath.Abs(e.c.Dir())
	for path, d := range dirs {
		if filepath.Clean(path) != filepath.Clean(want) {
			t.Errorf("log dir %s, want %s", path, want)
		}
		if d.Err != nil || d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
			t.Errorf("log dir: err %v total %d usable %d", d.Err, d.TotalBytes, d.UsableBytes)
		}
	}
	for p, wantData := range map[int32]bool{0: true, 1: false, 2: true} {
		dp, ok := dirs.LookupPartition("ld", p)
		if !ok {
			t.Errorf("ld/%d not described", p)
			continue
		}
		fetched := len(fetchRaw(t, e.ctx, e.cl, "ld", [16]byte{}, p, 0, 50<<20).RecordBatches)
		if dp.Size != int64(fetched) || (fetched > 0) != wantData {
			t.Errorf("ld/%d: size %d, a full fetch returns %d bytes", p, dp.Size, fetched)
		}
	}
	if _, ok := dirs.LookupPartition("ld-other", 0); !ok {
		t.Error("ld-other/0 not described")
	}

	var set kadm.TopicsSet
	set.Add("ld", 2)
	set.Add("nope", 0)
	some, err := e.adm.DescribeBrokerLogDirs(e.ctx, 1, set)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	some.EachPartition(func(d kadm.DescribedLogDirPartition) {
		n++
		if d.Topic != "ld" || d.Partition != 2 {
			t.Errorf("filtered describe returned %s/%d", d.Topic, d.Partition)
		}
	})
	if n != 1 {
		t.Errorf("filtered describe returned %d partitions, want 1", n)
	}
}
