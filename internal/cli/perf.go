package cli

// perf-produce and perf-consume: Kafka's kafka-producer-perf-test and
// kafka-consumer-perf-test, with the same options and output, so that
// numbers from Gregor and from Kafka can be put side by side.
// `gregor perf produce …` and `gregor perf consume …` are the same
// commands.
//
// perf-produce sends --num-records records of --record-size bytes
// asynchronously and measures each record's latency from the produce call
// to its acknowledgement, in milliseconds as Kafka does. Every 5 s of
// acknowledgements it prints a window line, and at the end the totals:
//
//	N records sent, X records/sec (Y MB/sec), Z ms avg latency, W ms max latency.
//	N records sent, X records/sec (Y MB/sec), Z ms avg latency, W ms max latency, A ms 50th, B ms 95th, C ms 99th, D ms 99.9th.
//
// Payloads are windows into one random buffer of upper-case letters, so
// no record is allocated or filled per send; the records themselves are
// recycled once acknowledged. The client's buffer (MaxBufferedRecords,
// or buffer.memory) bounds how many are in flight.
//
// perf-consume reads --messages records and prints Kafka's CSV header and
// one line of totals (or, with --show-detailed-stats, one line per
// --reporting-interval):
//
//	start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
//
// Without --group it assigns itself every partition (Kafka always uses a
// group, named perf-consumer-NNNNN); rebalance.time.ms is then 0.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	register(&Command{
		Name:    "perf-produce",
		Summary: "Measure producer throughput and latency (kafka-producer-perf-test).",
		Run:     runPerfProduce,
	})
	register(&Command{
		Name:    "perf-consume",
		Summary: "Measure consumer throughput (kafka-consumer-perf-test).",
		Run:     runPerfConsume,
	})
	register(&Command{
		Name:    "perf",
		Summary: "perf produce|consume: the same as perf-produce and perf-consume.",
		Run:     runPerf,
	})
}

func runPerf(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "produce":
			return runPerfProduce(ctx, env, args[1:])
		case "consume":
			return runPerfConsume(ctx, env, args[1:])
		case "-h", "--help", "help":
			fmt.Fprintln(env.Stdout, "Usage: gregor perf produce [options]   (see gregor perf-produce --help)")
			fmt.Fprintln(env.Stdout, "       gregor perf consume [options]   (see gregor perf-consume --help)")
			return nil
		}
	}
	return usagef("expected a subcommand: produce or consume")
}

// nargsPlus rewrites an argparse4j option that takes one or more values
// (--name v1 v2 …) into repeated options (--name v1 --name v2) for
// FlagSet: every following argument up to the next one starting with '-'
// is a value.
func nargsPlus(args []string, name string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		if a == "--" {
			out = append(out, args[i+1:]...)
			break
		}
		if a != "--"+name {
			continue
		}
		for i+2 < len(args) && !strings.HasPrefix(args[i+2], "-") {
			out = append(out, args[i+1], "--"+name)
			i++
		}
	}
	return out
}

// perfProduceConfig is the parsed command line of perf-produce.
type perfProduceConfig struct {
	topic            string
	numRecords       int64
	warmupRecords    int64
	recordSize       int
	payloads         [][]byte // from --payload-file
	monotonic        bool
	throughput       float64
	props            map[string]string
	bootstrap        string
	transactional    bool
	transactionEvery time.Duration
}

func parsePerfProduce(env *Env, args []string) (*perfProduceConfig, bool, error) {
	args = nargsPlus(args, "producer-props")
	fs := newFlagSet("perf-produce", "This tool is used to verify the producer performance.")
	topic := fs.String("topic", "TOPIC", "produce messages to this topic")
	numRecords := fs.Int("num-records", "NUM-RECORDS", "number of messages to produce")
	recordSize := fs.Int("record-size", "RECORD-SIZE", "message size in bytes. Note that you must provide exactly one of --record-size or --payload-file or --payload-monotonic.")
	payloadFile := fs.String("payload-file", "PAYLOAD-FILE", "file to read the message payloads from. This works only for UTF-8 encoded text files. Payloads will be read from this file and a payload will be randomly selected when sending messages.")
	monotonic := fs.Bool("payload-monotonic", "payload is monotonically increasing integer.")
	delimiter := fs.StringDefault("payload-delimiter", "PAYLOAD-DELIMITER", `\n`, "provides delimiter to be used when --payload-file is provided. Defaults to new line.")
	throughput := fs.String("throughput", "THROUGHPUT", "throttle maximum message throughput to *approximately* THROUGHPUT messages/sec. Set this to -1 to disable throttling.")
	producerProps := fs.Strings("producer-props", "PROP-NAME=PROP-VALUE", "kafka producer related configuration properties like bootstrap.servers,client.id etc. These configs take precedence over those passed via --producer.config.")
	producerConfig := fs.String("producer.config", "CONFIG-FILE", "producer config properties file.")
	commandConfig := fs.String("command-config", "CONFIG-FILE", "Same as --producer.config.")
	bootstrap := fs.String("bootstrap-server", "HOST:PORT", "Gregor shortcut for --producer-props bootstrap.servers=HOST:PORT.")
	transactionalID := fs.String("transactional-id", "TRANSACTIONAL-ID", "The transactional id to use. This config takes precedence over the transactional.id specified via --producer.config or --producer-props.")
	transactionMs := fs.Int("transaction-duration-ms", "TRANSACTION-DURATION", "The max age of each transaction. The commitTransaction will be called after this time has elapsed.")
	warmup := fs.Int("warmup-records", "WARMUP-RECORDS", "The number of records to treat as warmup; these initial records will not be included in steady-state statistics. (default: 0)")
	if help, err := fs.Parse(env, args); help || err != nil {
		return nil, help, err
	}
	if len(fs.Args()) > 0 {
		return nil, false, usagef("unrecognized arguments: '%s'", fs.Args()[0])
	}
	for _, req := range []string{"topic", "num-records", "throughput"} {
		if !fs.Changed(req) {
			return nil, false, usagef("argument --%s is required", req)
		}
	}
	if n := len(fs.Given("record-size", "payload-file", "payload-monotonic")); n != 1 {
		return nil, false, usagef("exactly one of --record-size, --payload-file or --payload-monotonic must be specified")
	}
	cfg := &perfProduceConfig{topic: *topic, numRecords: *numRecords, monotonic: *monotonic}
	if cfg.numRecords <= 0 {
		return nil, false, usagef("--num-records should be greater than zero")
	}
	cfg.warmupRecords = max(*warmup, 0)
	if cfg.warmupRecords >= cfg.numRecords {
		return nil, false, usagef("The value for --warmup-records must be strictly fewer than the number of records in the test, --num-records.")
	}
	if fs.Changed("record-size") {
		if *recordSize <= 0 || *recordSize > math.MaxInt32 {
			return nil, false, usagef("--record-size should be greater than zero")
		}
		cfg.recordSize = int(*recordSize)
	}
	tp, err := strconv.ParseFloat(strings.TrimSpace(*throughput), 64)
	if err != nil {
		return nil, false, usagef("argument --throughput: could not convert '%s' to Double", *throughput)
	}
	cfg.throughput = tp
	if !fs.Changed("producer-props") && !fs.Changed("producer.config") && !fs.Changed("command-config") && !fs.Changed("bootstrap-server") {
		return nil, false, usagef("Either --producer-props or --producer.config must be specified.")
	}
	if fs.Changed("transaction-duration-ms") && *transactionMs <= 0 {
		return nil, false, usagef("--transaction-duration-ms should be greater than zero")
	}

	if fs.Changed("payload-file") {
		delim := *delimiter
		if delim == `\n` {
			delim = "\n"
		}
		payloads, err := readPayloadFile(env.Stdout, *payloadFile, delim)
		if err != nil {
			return nil, false, err
		}
		cfg.payloads = payloads
	}

	props := map[string]string{}
	configFile := *producerConfig
	if configFile == "" {
		configFile = *commandConfig
	}
	if configFile != "" {
		p, err := loadProperties(configFile)
		if err != nil {
			return nil, false, fmt.Errorf("load producer config %s: %w", configFile, err)
		}
		props = p
	}
	for _, kv := range *producerProps {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" || strings.Contains(v, "=") {
			return nil, false, usagef("Invalid property: %s", kv)
		}
		props[k] = v
	}
	if _, ok := props["client.id"]; !ok {
		props["client.id"] = "perf-producer-client"
	}
	cfg.bootstrap = *bootstrap
	if cfg.bootstrap == "" {
		cfg.bootstrap = props["bootstrap.servers"]
	}
	if strings.TrimSpace(cfg.bootstrap) == "" {
		return nil, false, usagef("bootstrap.servers is not set: give --bootstrap-server or --producer-props bootstrap.servers=HOST:PORT")
	}
	_, hasTxnProp := props["transactional.id"]
	cfg.transactional = fs.Changed("transaction-duration-ms") || fs.Changed("transactional-id") || hasTxnProp
	if cfg.transactional {
		id := props["transactional.id"]
		if fs.Changed("transactional-id") {
			id = *transactionalID
		}
		if id == "" {
			id = fmt.Sprintf("performance-producer-%016x%016x", rand.Uint64(), rand.Uint64())
		}
		props["transactional.id"] = id
		cfg.transactionEvery = 3000 * time.Millisecond
		if fs.Changed("transaction-duration-ms") {
			cfg.transactionEvery = time.Duration(*transactionMs) * time.Millisecond
		}
	}
	cfg.props = props
	return cfg, false, nil
}

// readPayloadFile splits the file at path around the delimiter (a regular
// expression, as for java.util.Scanner), printing Kafka's two notes on
// out.
func readPayloadFile(out io.Writer, path, delimiter string) ([][]byte, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	fmt.Fprintf(out, "Reading payloads from: %s\n", abs)
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return nil, errors.New("File does not exist or empty file provided.")
	}
	re, err := regexp.Compile(delimiter)
	if err != nil {
		return nil, usagef("--payload-delimiter: %v", err)
	}
	var payloads [][]byte
	for _, s := range javaSplit(re, string(javaUTF8(data))) {
		payloads = append(payloads, []byte(s))
	}
	fmt.Fprintf(out, "Number of messages read: %d\n", len(payloads))
	if len(payloads) == 0 {
		return nil, errors.New("File does not exist or empty file provided.")
	}
	return payloads, nil
}

func runPerfProduce(ctx context.Context, env *Env, args []string) error {
	cfg, help, err := parsePerfProduce(env, args)
	if help || err != nil {
		return err
	}
	return perfProduce(ctx, env, cfg)
}

// steadyStateKey marks, through Record.Context, records sent after the
// warmup, which also count in the steady-state statistics.
type steadyStateKey struct{}

func perfProduce(ctx context.Context, env *Env, cfg *perfProduceConfig) error {
	warnUnknownProps(env.Stderr, cfg.props, roleProducer, "key.serializer", "value.serializer")
	cl, err := newClient(cfg.bootstrap, cfg.props, roleProducer,
		kgo.DefaultProduceTopic(cfg.topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		return err
	}
	defer cl.Close()
	// A refused login fails every send at once, as KafkaProducer.send
	// does (stopLogin runs before cl.Close).
	loginCtx, stopLogin := watchLogin(ctx, cl)
	defer stopLogin()

	out := &lockedWriter{w: env.Stdout}
	if cfg.warmupRecords > 0 {
		fmt.Fprintf(out, "Warmup first %d records. Steady state results will print after the complete test summary.\n", cfg.warmupRecords)
	}
	stats := newPerfStats(cfg.numRecords, false, out)
	var steady atomic.Pointer[perfStats]
	// kgo uses Record.Context for cancellation; records after the warmup
	// carry a marker in theirs.
	steadyCtx := context.WithValue(loginCtx, steadyStateKey{}, true)

	var errorsSeen atomic.Int64
	pool := sync.Pool{New: func() any { return new(kgo.Record) }}
	promise := func(r *kgo.Record, err error) {
		now := time.Now()
		if err == nil {
			latency := int(now.UnixMilli() - r.Timestamp.UnixMilli())
			stats.record(latency, len(r.Value), now)
			if r.Context.Value(steadyStateKey{}) != nil {
				if s := steady.Load(); s != nil {
					s.record(latency, len(r.Value), now)
				}
			}
		} else if ctx.Err() == nil && errorsSeen.Add(1) <= perfMaxErrorsShown {
			switch le := asLoginError(err); {
			case loginFailure(loginCtx) != nil:
				fmt.Fprintln(env.Stderr, loginFailure(loginCtx))
			case le != nil:
				fmt.Fprintln(env.Stderr, le)
			default:
				fmt.Fprintln(env.Stderr, clientError(r.Topic, err))
			}
		}
		*r = kgo.Record{}
		pool.Put(r)
	}

	payloadFor := perfPayloads(cfg)
	throttle := newThrottler(cfg.throughput, time.Now())
	inTxn := false
	var txnStart time.Time
	for i := int64(0); i < cfg.numRecords; i++ {
		if ctx.Err() != nil {
			return nil
		}
		if cfg.transactional && !inTxn {
			if err := cl.BeginTransaction(); err != nil {
				return fmt.Errorf("begin transaction: %w", err)
			}
			inTxn, txnStart = true, time.Now()
		}
		if cfg.warmupRecords > 0 && i == cfg.warmupRecords {
			steady.Store(newPerfStats(cfg.numRecords-cfg.warmupRecords, true, out))
			stats.suppressPrinting()
		}
		r := pool.Get().(*kgo.Record)
		r.Value = payloadFor(i)
		sendStart := time.Now()
		r.Timestamp = sendStart
		r.Context = loginCtx
		if cfg.warmupRecords > 0 && i >= cfg.warmupRecords {
			r.Context = steadyCtx
		}
		if loginFailure(loginCtx) != nil {
			promise(r, context.Canceled) // printed as the login error
		} else {
			cl.Produce(ctx, r, promise)
		}
		if inTxn && sendStart.Sub(txnStart) >= cfg.transactionEvery {
			if err := perfCommit(ctx, cl); err != nil {
				return err
			}
			inTxn = false
		}
		if throttle.shouldThrottle(i, sendStart) {
			throttle.throttle(ctx)
		}
	}
	if inTxn {
		if err := perfCommit(ctx, cl); err != nil {
			return err
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return nil // interrupted: Kafka prints no totals either
	}
	stats.printTotal()
	if s := steady.Load(); s != nil {
		s.printTotal()
	}
	return nil
}

// perfCommit flushes and commits the open transaction, as
// KafkaProducer.commitTransaction does.
func perfCommit(ctx context.Context, cl *kgo.Client) error {
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// perfMaxErrorsShown bounds how many failed sends perf-produce prints;
// Kafka prints every one, which buries the output when a broker is down.
const perfMaxErrorsShown = 100

// perfPayloadPool is how many bytes of random letters record-size
// payloads are cut from.
const perfPayloadPool = 1 << 20

// perfPayloads returns the payload of record i. The returned slices are
// shared and never written after this returns.
func perfPayloads(cfg *perfProduceConfig) func(i int64) []byte {
	rng := rand.New(rand.NewPCG(0, 0))
	switch {
	case len(cfg.payloads) > 0:
		return func(int64) []byte { return cfg.payloads[rng.IntN(len(cfg.payloads))] }
	case cfg.monotonic:
		return func(i int64) []byte { return strconv.AppendInt(nil, i, 10) }
	}
	// Kafka fills each payload with random letters A-Z; cutting windows
	// from one such buffer keeps the content as random without writing
	// or allocating per record.
	buf := make([]byte, cfg.recordSize+perfPayloadPool)
	for i := range buf {
		buf[i] = byte('A' + rng.IntN(26))
	}
	size := cfg.recordSize
	return func(int64) []byte {
		off := rng.IntN(perfPayloadPool + 1)
		return buf[off : off+size : off+size]
	}
}

// lockedWriter serializes writes from the promise goroutine and the main
// one.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// perfStats is ProducerPerformance.Stats: totals, a window printed every
// 5 s of acknowledgements, and a sample of at most 500,000 latencies for
// the percentiles. It is safe for concurrent use.
type perfStats struct {
	out               io.Writer
	isSteadyState     bool
	reportingInterval time.Duration

	mu struct {
		sync.Mutex
		start              time.Time
		windowStart        time.Time
		latencies          []int
		sampling           int64
		iteration          int64
		count, bytes       int64
		maxLatency         int
		totalLatency       int64
		windowCount        int64
		windowMaxLatency   int
		windowTotalLatency int64
		windowBytes        int64
		suppressPrint      bool
	}
}

func newPerfStats(numRecords int64, isSteadyState bool, out io.Writer) *perfStats {
	s := &perfStats{out: out, isSteadyState: isSteadyState, reportingInterval: 5 * time.Second}
	now := time.Now()
	s.mu.start, s.mu.windowStart = now, now
	s.mu.sampling = numRecords / min(numRecords, 500000)
	s.mu.latencies = make([]int, 0, numRecords/s.mu.sampling+1)
	return s
}

func (s *perfStats) record(latency, bytes int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &s.mu
	m.count++
	m.bytes += int64(bytes)
	m.totalLatency += int64(latency)
	m.maxLatency = max(m.maxLatency, latency)
	m.windowCount++
	m.windowBytes += int64(bytes)
	m.windowTotalLatency += int64(latency)
	m.windowMaxLatency = max(m.windowMaxLatency, latency)
	if m.iteration%m.sampling == 0 && len(m.latencies) < cap(m.latencies) {
		m.latencies = append(m.latencies, latency)
	}
	if now.Sub(m.windowStart) >= s.reportingInterval {
		if s.isSteadyState && m.count == m.windowCount {
			fmt.Fprintln(s.out, "In steady state.")
		}
		if !m.suppressPrint {
			s.printWindowLocked(now)
		}
		m.windowStart = time.Now()
		m.windowCount, m.windowMaxLatency, m.windowTotalLatency, m.windowBytes = 0, 0, 0, 0
	}
	m.iteration++
}

func (s *perfStats) suppressPrinting() {
	s.mu.Lock()
	s.mu.suppressPrint = true
	s.mu.Unlock()
}

func (s *perfStats) printWindowLocked(now time.Time) {
	m := &s.mu
	elapsed := float64(now.Sub(m.windowStart).Milliseconds())
	fmt.Fprintf(s.out, "%d records sent, %s records/sec (%s MB/sec), %s ms avg latency, %s ms max latency.\n",
		m.windowCount,
		javaFixed(1000*float64(m.windowCount)/elapsed, 1),
		javaFixed(1000*float64(m.windowBytes)/elapsed/(1024*1024), 2),
		javaFixed(float64(m.windowTotalLatency)/float64(m.windowCount), 1),
		javaFixed(float64(m.windowMaxLatency), 1))
}

func (s *perfStats) printTotal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &s.mu
	elapsed := float64(time.Since(m.start).Milliseconds())
	p := percentiles(m.latencies, 0.5, 0.95, 0.99, 0.999)
	steady := ""
	if s.isSteadyState {
		steady = " steady state"
	}
	fmt.Fprintf(s.out, "%d%s records sent, %s records/sec (%s MB/sec), %s ms avg latency, %s ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.\n",
		m.count, steady,
		javaFixed(1000*float64(m.count)/elapsed, 6),
		javaFixed(1000*float64(m.bytes)/elapsed/(1024*1024), 2),
		javaFixed(float64(m.totalLatency)/float64(m.count), 2),
		javaFixed(float64(m.maxLatency), 2),
		p[0], p[1], p[2], p[3])
}

// percentiles returns the values at the given ranks of the sorted sample,
// indexing as Kafka does (int(p*n)). It sorts latencies in place.
func percentiles(latencies []int, ps ...float64) []int {
	slices.Sort(latencies)
	out := make([]int, len(ps))
	for i, p := range ps {
		if idx := int(p * float64(len(latencies))); idx < len(latencies) {
			out[i] = latencies[idx]
		}
	}
	return out
}

// javaFixed formats v with prec decimals as Java's %.Nf does, including
// its spelling of NaN and infinities.
func javaFixed(v float64, prec int) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// throttler is Kafka's ThroughputThrottler: it sleeps whenever the rate
// so far exceeds the target, in sleeps of at least 2 ms.
type throttler struct {
	target       float64 // records per second; < 0: unlimited
	start        time.Time
	sleepPer     time.Duration
	sleepDeficit time.Duration
}

func newThrottler(target float64, start time.Time) *throttler {
	t := &throttler{target: target, start: start}
	if target > 0 {
		t.sleepPer = time.Duration(float64(time.Second) / target)
	}
	return t
}

func (t *throttler) shouldThrottle(sent int64, now time.Time) bool {
	if t.target < 0 {
		return false
	}
	elapsed := now.Sub(t.start).Seconds()
	return elapsed > 0 && float64(sent)/elapsed > t.target
}

func (t *throttler) throttle(ctx context.Context) {
	if t.target == 0 {
		<-ctx.Done() // Kafka waits for ever
		return
	}
	t.sleepDeficit += t.sleepPer
	if t.sleepDeficit < 2*time.Millisecond {
		return
	}
	timer := time.NewTimer(t.sleepDeficit)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	t.sleepDeficit = 0
}

// perfConsumeConfig is the parsed command line of perf-consume.
type perfConsumeConfig struct {
	bootstrap         string
	topic, include    string
	group             string
	numMessages       int64
	timeout           time.Duration
	reportingInterval time.Duration
	showDetailed      bool
	hideHeader        bool
	dateFormat        string
	props             map[string]string
}

func parsePerfConsume(env *Env, args []string) (*perfConsumeConfig, bool, error) {
	args = optionalArg(args, "timeout", "10000")
	fs := newFlagSet("perf-consume", "This tool is used to verify the consumer performance.")
	bootstrap := fs.String("bootstrap-server", "server to connect to", "REQUIRED: The server(s) to connect to.")
	topic := fs.String("topic", "topic", "The topic to consume from.")
	include := fs.String("include", "Java regex (String)", "Regular expression specifying list of topics to include for consumption.")
	group := fs.String("group", "gid", "The group id to consume on. Without it the consumer assigns itself every partition.")
	fetchSize := fs.IntDefault("fetch-size", "size", 1<<20, "The amount of data to fetch in a single request.")
	fromLatest := fs.Bool("from-latest", "If the consumer does not already have an established offset to consume from, start with the latest message present in the log rather than the earliest message.")
	fs.IntDefault("socket-buffer-size", "size", 2<<20, "The size of the tcp RECV size. Accepted for compatibility; the operating system's default is used.")
	consumerConfig := fs.String("consumer.config", "config file", "Consumer config properties file.")
	commandConfig := fs.String("command-config", "config file", "Same as --consumer.config.")
	showDetailed := fs.Bool("show-detailed-stats", "If set, stats are reported for each reporting interval as configured by reporting-interval")
	timeout := fs.IntDefault("timeout", "milliseconds", 10000, "The maximum allowed time in milliseconds between returned records.")
	messages := fs.Int("messages", "count", "REQUIRED: The number of messages to consume.")
	interval := fs.IntDefault("reporting-interval", "interval_ms", 5000, "Interval in milliseconds at which to print progress info.")
	dateFormat := fs.StringDefault("date-format", "date format", "yyyy-MM-dd HH:mm:ss:SSS", "The date format to use for formatting the time field. See java.text.SimpleDateFormat for options.")
	hideHeader := fs.Bool("hide-header", "If set, skips printing the header for the stats")
	if help, err := fs.Parse(env, args); help || err != nil {
		return nil, help, err
	}
	if len(fs.Args()) > 0 {
		return nil, false, usagef("unexpected argument %q", fs.Args()[0])
	}
	if !fs.Changed("messages") {
		return nil, false, usagef("Missing required argument \"[messages]\"")
	}
	if n := len(fs.Given("topic", "include")); n != 1 {
		return nil, false, usagef("Exactly one of these options is required: --topic, --include")
	}
	if *interval <= 0 {
		return nil, false, usagef("Reporting interval must be greater than 0.")
	}
	if _, err := formatSimpleDate(time.Now(), *dateFormat); err != nil {
		return nil, false, usagef("--date-format: %v", err)
	}
	configFile := *consumerConfig
	if configFile == "" {
		configFile = *commandConfig
	}
	props, err := loadClientProps(configFile, "--consumer.config", nil)
	if err != nil {
		return nil, false, err
	}
	if *group != "" {
		props["group.id"] = *group
	} else {
		delete(props, "group.id")
	}
	props["max.partition.fetch.bytes"] = strconv.FormatInt(*fetchSize, 10)
	props["auto.offset.reset"] = "earliest"
	if *fromLatest {
		props["auto.offset.reset"] = "latest"
	}
	if _, ok := props["client.id"]; !ok {
		props["client.id"] = "perf-consumer-client"
	}
	cfg := &perfConsumeConfig{
		bootstrap:         *bootstrap,
		topic:             *topic,
		include:           *include,
		group:             *group,
		numMessages:       *messages,
		timeout:           time.Duration(*timeout) * time.Millisecond,
		reportingInterval: time.Duration(*interval) * time.Millisecond,
		showDetailed:      *showDetailed,
		hideHeader:        *hideHeader,
		dateFormat:        *dateFormat,
		props:             props,
	}
	if strings.TrimSpace(cfg.bootstrap) == "" {
		cfg.bootstrap = props["bootstrap.servers"]
	}
	if strings.TrimSpace(cfg.bootstrap) == "" {
		return nil, false, usagef("Missing required argument \"[bootstrap-server]\"")
	}
	return cfg, false, nil
}

func runPerfConsume(ctx context.Context, env *Env, args []string) error {
	cfg, help, err := parsePerfConsume(env, args)
	if help || err != nil {
		return err
	}
	return perfConsume(ctx, env, cfg)
}

// rebalanceTimer is ConsumerPerformance's rebalance listener: it adds up
// the time during which the consumer had no partitions.
type rebalanceTimer struct {
	mu struct {
		sync.Mutex
		assigned    int
		joinStart   time.Time
		total       time.Duration
		singleRound time.Duration
	}
}

func (rt *rebalanceTimer) assigned(n int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.mu.assigned == 0 {
		d := time.Since(rt.mu.joinStart)
		rt.mu.total += d
		rt.mu.singleRound += d
	}
	rt.mu.assigned += n
}

func (rt *rebalanceTimer) revoked(n int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.mu.assigned = max(rt.mu.assigned-n, 0)
	if rt.mu.assigned == 0 {
		rt.mu.joinStart = time.Now()
	}
}

// takeRound returns the join time since the last call.
func (rt *rebalanceTimer) takeRound() time.Duration {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	d := rt.mu.singleRound
	rt.mu.singleRound = 0
	return d
}

func (rt *rebalanceTimer) totalTime() time.Duration {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.mu.total
}

func perfConsume(ctx context.Context, env *Env, cfg *perfConsumeConfig) error {
	warnUnknownProps(env.Stderr, cfg.props, roleConsumer, "check.crcs", "key.deserializer", "value.deserializer")
	if !cfg.hideHeader {
		if cfg.showDetailed {
			fmt.Fprintln(env.Stdout, "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
		} else {
			fmt.Fprintln(env.Stdout, "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
		}
	}
	rt := &rebalanceTimer{}
	startTime := time.Now()
	rt.mu.joinStart = startTime
	var opts []kgo.Opt
	if cfg.include != "" {
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics("^(?:"+cfg.include+")$"))
	} else {
		opts = append(opts, kgo.ConsumeTopics(cfg.topic))
	}
	if cfg.group != "" {
		opts = append(opts,
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { rt.assigned(countPartitions(m)) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { rt.revoked(countPartitions(m)) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { rt.revoked(countPartitions(m)) }),
		)
	}
	cl, err := newClient(cfg.bootstrap, cfg.props, roleConsumer, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	// A refused login ends the test as Kafka's poll() throwing it does.
	loginCtx, stopLogin := watchLogin(ctx, cl)
	defer stopLogin()

	var messagesRead, bytesRead, lastMessagesRead, lastBytesRead int64
	now := time.Now()
	lastReport, lastConsumed := now, now
	for messagesRead < cfg.numMessages && now.Sub(lastConsumed) <= cfg.timeout {
		pollCtx, cancel := context.WithTimeout(loginCtx, 100*time.Millisecond)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if err := loginFailure(loginCtx); err != nil {
			return err
		}
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil // interrupted: Kafka prints nothing more either
		}
		now = time.Now()
		n := int64(0)
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				n++
				bytesRead += int64(len(r.Key) + len(r.Value))
			}
		})
		if n > 0 {
			lastConsumed = now
			messagesRead += n
			if now.Sub(lastReport) >= cfg.reportingInterval {
				if cfg.showDetailed {
					line, err := perfConsumerProgress(cfg.dateFormat, bytesRead, lastBytesRead, messagesRead, lastMessagesRead, lastReport, now, rt.takeRound())
					if err != nil {
						return err
					}
					fmt.Fprintln(env.Stdout, line)
				} else {
					rt.takeRound()
					fmt.Fprintf(env.Stderr, "%d records consumed, %s records/sec (%s MB/sec)\n", messagesRead,
						javaFixed(float64(messagesRead-lastMessagesRead)/now.Sub(lastReport).Seconds(), 1),
						javaFixed(float64(bytesRead-lastBytesRead)/(1024*1024)/now.Sub(lastReport).Seconds(), 2))
				}
				lastReport, lastMessagesRead, lastBytesRead = now, messagesRead, bytesRead
			}
		}
	}
	if messagesRead < cfg.numMessages {
		fmt.Fprintf(env.Stdout, "WARNING: Exiting before consuming the expected number of messages: timeout (%d ms) exceeded. You can use the --timeout option to increase the timeout.\n", cfg.timeout.Milliseconds())
	}
	endTime := time.Now()
	if cfg.showDetailed {
		return nil
	}
	elapsedMs := endTime.UnixMilli() - startTime.UnixMilli()
	elapsedSec := float64(elapsedMs) / 1000
	joinMs := rt.totalTime().Milliseconds()
	fetchMs := elapsedMs - joinMs
	mb := float64(bytesRead) / (1024 * 1024)
	start, _ := formatSimpleDate(startTime, cfg.dateFormat)
	end, _ := formatSimpleDate(endTime, cfg.dateFormat)
	fmt.Fprintf(env.Stdout, "%s, %s, %s, %s, %d, %s, %d, %d, %s, %s\n",
		start, end,
		javaFixed(mb, 4), javaFixed(mb/elapsedSec, 4),
		messagesRead, javaFixed(float64(messagesRead)/elapsedSec, 4),
		joinMs, fetchMs,
		javaFixed(mb/(float64(fetchMs)/1000), 4),
		javaFixed(float64(messagesRead)/(float64(fetchMs)/1000), 4))
	return nil
}

func countPartitions(m map[string][]int32) int {
	n := 0
	for _, ps := range m {
		n += len(ps)
	}
	return n
}

// perfConsumerProgress is one --show-detailed-stats line.
func perfConsumerProgress(dateFormat string, bytesRead, lastBytesRead, messagesRead, lastMessagesRead int64, start, end time.Time, joinRound time.Duration) (string, error) {
	when, err := formatSimpleDate(end, dateFormat)
	if err != nil {
		return "", err
	}
	elapsedMs := float64(end.UnixMilli() - start.UnixMilli())
	totalMB := float64(bytesRead) / (1024 * 1024)
	intervalMB := float64(bytesRead-lastBytesRead) / (1024 * 1024)
	intervalMsgs := messagesRead - lastMessagesRead
	fetchMs := int64(elapsedMs) - joinRound.Milliseconds()
	fetchMBSec, fetchMsgSec := 0.0, 0.0
	if fetchMs > 0 {
		fetchMBSec = 1000 * intervalMB / float64(fetchMs)
		fetchMsgSec = 1000 * float64(intervalMsgs) / float64(fetchMs)
	}
	return fmt.Sprintf("%s, %d, %s, %s, %d, %s, %d, %d, %s, %s",
		when, 0, javaFixed(totalMB, 4), javaFixed(1000*intervalMB/elapsedMs, 4),
		messagesRead, javaFixed(float64(intervalMsgs)/elapsedMs*1000, 4),
		joinRound.Milliseconds(), fetchMs, javaFixed(fetchMBSec, 4), javaFixed(fetchMsgSec, 4)), nil
}

// formatSimpleDate formats t with a java.text.SimpleDateFormat pattern.
// Supported letters: G y Y M L d D E u a H k K h m s S z Z X, with
// '…' quoting (” is a quote); other ASCII letters are an error, as in
// Java.
func formatSimpleDate(t time.Time, pattern string) (string, error) {
	var b bytes.Buffer
	pad := func(n, width int) {
		s := strconv.Itoa(n)
		for i := len(s); i < width; i++ {
			b.WriteByte('0')
		}
		b.WriteString(s)
	}
	text := func(full, short string, count int) {
		if count >= 4 {
			b.WriteString(full)
		} else {
			b.WriteString(short)
		}
	}
	for i := 0; i < len(pattern); {
		c := pattern[i]
		if c == '\'' {
			if i+1 < len(pattern) && pattern[i+1] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			// A quoted literal, in which '' is a quote.
			i++
			for {
				if i >= len(pattern) {
					return "", fmt.Errorf("Unterminated quote")
				}
				if pattern[i] == '\'' {
					if i+1 < len(pattern) && pattern[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(pattern[i])
				i++
			}
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteByte(c)
			i++
			continue
		}
		n := 1
		for i+n < len(pattern) && pattern[i+n] == c {
			n++
		}
		i += n
		switch c {
		case 'G':
			b.WriteString("AD")
		case 'y', 'Y':
			year := t.Year()
			if c == 'Y' {
				year, _ = t.ISOWeek()
			}
			if n == 2 {
				pad(year%100, 2)
			} else {
				pad(year, n)
			}
		case 'M', 'L':
			switch {
			case n >= 4:
				b.WriteString(t.Month().String())
			case n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				pad(int(t.Month()), n)
			}
		case 'd':
			pad(t.Day(), n)
		case 'D':
			pad(t.YearDay(), n)
		case 'E':
			text(t.Weekday().String(), t.Weekday().String()[:3], n)
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			pad(wd, n)
		case 'a':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'H':
			pad(t.Hour(), n)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			pad(h, n)
		case 'K':
			pad(t.Hour()%12, n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			pad(h, n)
		case 'm':
			pad(t.Minute(), n)
		case 's':
			pad(t.Second(), n)
		case 'S':
			pad(t.Nanosecond()/1e6, n)
		case 'z':
			name, _ := t.Zone()
			b.WriteString(name)
		case 'Z':
			b.WriteString(t.Format("-0700"))
		case 'X':
			switch {
			case n == 1:
				b.WriteString(t.Format("Z07"))
			case n == 2:
				b.WriteString(t.Format("Z0700"))
			default:
				b.WriteString(t.Format("Z07:00"))
			}
		default:
			return "", fmt.Errorf("Illegal pattern character '%c'", c)
		}
	}
	return b.String(), nil
}
