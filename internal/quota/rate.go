package quota

import (
	"math"
	"time"
)

// Window is the sampling of a rate: quota.window.num samples of
// quota.window.size.seconds each.
type Window struct {
	// Samples is quota.window.num (default 11).
	Samples int
	// Size is quota.window.size.seconds (default 1 s).
	Size time.Duration
}

// DefaultWindow is Kafka's quota.window.num=11 and
// quota.window.size.seconds=1.
var DefaultWindow = Window{Samples: 11, Size: time.Second}

func (w Window) withDefaults() Window {
	if w.Samples <= 0 {
		w.Samples = DefaultWindow.Samples
	}
	if w.Size <= 0 {
		w.Size = DefaultWindow.Size
	}
	return w
}

func (w Window) sizeMs() int64 { return max(w.Size.Milliseconds(), 1) }

// Rate is Kafka's Rate over a SampledStat of Window's samples (see the
// package doc). It is a value owned by its caller and not safe for
// concurrent use; times are milliseconds of any monotonic clock.
type Rate struct {
	window  Window
	samples []sample
	current int
}

type sample struct {
	startMs int64
	value   float64
}

// NewRate returns an empty rate sampled by w (zero fields take Kafka's
// defaults).
func NewRate(w Window) *Rate { return &Rate{window: w.withDefaults()} }

// Record adds v at nowMs (SampledStat.record).
func (r *Rate) Record(v float64, nowMs int64) {
	s := r.currentSample(nowMs)
	if nowMs-s.startMs >= r.window.sizeMs() {
		s = r.advance(nowMs)
	}
	s.value += v
}

func (r *Rate) currentSample(nowMs int64) *sample {
	if len(r.samples) == 0 {
		r.samples = append(r.samples, sample{startMs: nowMs})
		r.current = 0
	}
	return &r.samples[r.current]
}

// advance starts the next sample at nowMs, reusing the oldest slot once
// there are Samples of them.
func (r *Rate) advance(nowMs int64) *sample {
	r.current = (r.current + 1) % r.window.Samples
	if r.current >= len(r.samples) {
		r.samples = append(r.samples, sample{startMs: nowMs})
	} else {
		r.samples[r.current] = sample{startMs: nowMs}
	}
	return &r.samples[r.current]
}

// purge resets the samples that ended a whole window span ago
// (SampledStat.purgeObsoleteSamples).
func (r *Rate) purge(nowMs int64) {
	expire := int64(r.window.Samples) * r.window.sizeMs()
	for i := range r.samples {
		if nowMs-r.samples[i].startMs >= expire {
			r.samples[i] = sample{startMs: nowMs}
		}
	}
}

// Total is the sum of the live samples at nowMs.
func (r *Rate) Total(nowMs int64) float64 {
	r.purge(nowMs)
	var t float64
	for _, s := range r.samples {
		t += s.value
	}
	return t
}

// WindowSize is the span the rate divides by at nowMs in milliseconds
// (Rate.windowSize): from the oldest sample's start, and at least
// Samples-1 whole windows, so a young rate is not overstated; at least
// 1 ms.
func (r *Rate) WindowSize(nowMs int64) int64 {
	r.purge(nowMs)
	oldest := nowMs
	if len(r.samples) > 0 {
		oldest = r.samples[0].startMs
		for _, s := range r.samples[1:] {
			oldest = min(oldest, s.startMs)
		}
	}
	elapsed := nowMs - oldest
	full := elapsed / r.window.sizeMs()
	if minFull := int64(r.window.Samples - 1); full < minFull {
		elapsed += (minFull - full) * r.window.sizeMs()
	}
	return max(elapsed, 1)
}

// Measure is the rate per second at nowMs.
func (r *Rate) Measure(nowMs int64) float64 {
	total := r.Total(nowMs)
	return total / (float64(r.WindowSize(nowMs)) / 1000)
}

// ThrottleMs is how long, in milliseconds, a rate measured at observed
// must go without new records to fall back to bound, over a window of
// windowMs (QuotaUtils.throttleTime); 0 when observed is within bound.
func ThrottleMs(observed, bound float64, windowMs int64) int64 {
	if bound <= 0 || observed <= bound {
		return 0
	}
	return int64(math.Round((observed - bound) / bound * float64(windowMs)))
}
