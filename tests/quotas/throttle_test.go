package quotas

import (
	"context"
	"crypto/rand"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streaming/gregor/kafkatest"
)

// The throttling test runs a producer and a consumer over their quotas
// for a minute each, at once. The quota window is two one-second
// samples: a rate's window holds at most about two seconds of quota, so
// the burst a fresh window lets through is small beside a minute and the
// minute's average must come within 10% of the quota. The test checks a
// rate against a configured quota, not the machine's speed: both rates
// are far below what the broker does unthrottled.
const (
	quotaBytes   = 100 << 10 // producer_byte_rate and consumer_byte_rate, bytes/s
	measureFor   = time.Minute
	recordBytes  = 1000
	batchBytes   = 16 << 10 // small requests: each is a fraction of a second of quota
	tolerance    = 0.10
	quotaSamples = "2"
)

// throttles counts OnBrokerThrottle calls (KIP-219: the client learns
// the throttle from throttle_time_ms).
type throttles struct {
	n     atomic.Int64
	total atomic.Int64 // ms
}

func (h *throttles) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		h.n.Add(1)
		h.total.Add(d.Milliseconds())
	}
}

// TestByteRateQuotas: a producer with producer_byte_rate Q producing flat
// out for a minute gets within 10% of Q acknowledged, and a consumer with
// consumer_byte_rate Q consuming a full topic gets within 10% of Q; both
// see throttle_time_ms and neither sees an error (slowed, not failed).
func TestByteRateQuotas(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of throttled traffic")
	}
	c := kafkatest.Start(t,
		kafkatest.Config("quota.window.num", quotaSamples),
		kafkatest.Config("quota.window.size.seconds", "1"),
		kafkatest.Config("num.partitions", "1"),
	)
	adm := admin(t, c.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 3*measureFor)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "produced"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "consumed"); err != nil {
		t.Fatal(err)
	}
	setQuotas(t, adm, kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("slow-producer")}}, map[string]float64{"producer_byte_rate": quotaBytes})
	setQuotas(t, adm, kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("slow-consumer")}}, map[string]float64{"consumer_byte_rate": quotaBytes})

	// Fill the consumed topic, unthrottled, with more than a minute of
	// the consumer's quota.
	// Random values and no compression: the quota counts request and
	// response bytes, which are then about the records' bytes.
	value := make([]byte, recordBytes)
	rand.Read(value)
	fill, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(batchBytes))
	if err != nil {
		t.Fatal(err)
	}
	defer fill.Close()
	need := int(1.5 * quotaBytes * measureFor.Seconds() / recordBytes)
	var fillErr atomic.Value
	var wg sync.WaitGroup
	for range need {
		wg.Add(1)
		fill.Produce(ctx, &kgo.Record{Topic: "consumed", Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				fillErr.Store(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if err, _ := fillErr.Load().(error); err != nil {
		t.Fatal(err)
	}

	var pt, ct throttles
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ClientID("slow-producer"),
		kgo.ProducerBatchMaxBytes(batchBytes), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.WithHooks(&pt))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ClientID("slow-consumer"),
		kgo.ConsumeTopics("consumed"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.WithHooks(&ct),
		// Small fetches, as the producer's small requests: a fetch over
		// the quota is answered empty (Kafka's throttled fetch), so a
		// fetch as large as the window wastes most of it.
		kgo.FetchMaxBytes(batchBytes), kgo.FetchMaxPartitionBytes(batchBytes))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()

	var produced, consumed atomic.Int64
	var prodErr, consErr atomic.Value
	start := time.Now()
	stop := start.Add(measureFor)
	var run sync.WaitGroup
	run.Add(2)
	go func() { // the producer, flat out
		defer run.Done()
		for time.Now().Before(stop) && ctx.Err() == nil {
			prod.Produce(ctx, &kgo.Record{Topic: "produced", Value: value}, func(r *kgo.Record, err error) {
				if err != nil {
					if ctx.Err() == nil {
						prodErr.Store(err)
					}
					return
				}
				if time.Now().Before(stop) {
					produced.Add(int64(len(r.Value)))
				}
			})
		}
	}()
	go func() { // the consumer, flat out
		defer run.Done()
		for time.Now().Before(stop) {
			fctx, fcancel := context.WithDeadline(ctx, stop)
			fs := cons.PollFetches(fctx)
			fcancel()
			fs.EachError(func(topic string, p int32, err error) {
				if fctx.Err() == nil {
					consErr.Store(err)
				}
			})
			if time.Now().Before(stop) {
				fs.EachRecord(func(r *kgo.Record) { consumed.Add(int64(len(r.Value))) })
			}
		}
	}()
	run.Wait()
	elapsed := measureFor.Seconds()
	for _, m := range []struct {
		what  string
		bytes int64
		h     *throttles
		err   *atomic.Value
	}{
		{"producer", produced.Load(), &pt, &prodErr},
		{"consumer", consumed.Load(), &ct, &consErr},
	} {
		rate := float64(m.bytes) / elapsed
		t.Logf("%s: %.0f B/s over %v (quota %d B/s); %d throttles, %d ms in all", m.what, rate, measureFor, quotaBytes, m.h.n.Load(), m.h.total.Load())
		if math.Abs(rate-quotaBytes)/quotaBytes > tolerance {
			t.Errorf("%s: %.0f B/s, want within %.0f%% of %d", m.what, rate, 100*tolerance, quotaBytes)
		}
		if m.h.n.Load() == 0 {
			t.Errorf("%s: no throttle_time_ms seen", m.what)
		}
		if err, _ := m.err.Load().(error); err != nil {
			t.Errorf("%s: %v (a client over its quota is slowed, not failed)", m.what, err)
		}
	}
}

// TestRequestPercentage: a client over request_percentage (KIP-124) gets
// its requests answered, with throttle_time_ms at most one quota window.
func TestRequestPercentage(t *testing.T) {
	c := kafkatest.Start(t)
	adm := admin(t, c.Addr())
	setQuotas(t, adm, kadm.ClientQuotaEntity{{Type: "user", Name: sp("ANONYMOUS")}, {Type: "client-id", Name: sp("busy")}},
		map[string]float64{"request_percentage": 0.0001})
	var h throttles
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.ClientID("busy"), kgo.WithHooks(&h))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for i := 0; h.n.Load() == 0; i++ {
		if i == 50 {
			t.Fatal("no throttle after 50 requests over a tiny request_percentage")
		}
		req := kmsg.NewPtrMetadataRequest()
		if _, err := req.RequestWith(ctx, cl); err != nil {
			t.Fatalf("request %d: %v (a client over its quota is slowed, not failed)", i, err)
		}
	}
	if avg := h.total.Load() / h.n.Load(); avg > 1000 {
		t.Errorf("request throttle %d ms, want at most one window (1000 ms)", avg)
	}
}
