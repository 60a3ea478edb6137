package cli

// kafka-console-producer: one record per line of standard input.
//
// Lines are parsed as Kafka's LineMessageReader does. With the defaults
// the whole line is the value; parse.key and parse.headers add fields in
// front of it:
//
//	parse.headers=true  parse.key=true:   h1:v1,h2:v2 <TAB> key <TAB> value
//	parse.key=true:                       key <TAB> value
//	parse.headers=true:                   h1:v1,h2:v2 <TAB> value
//
// The separators are properties (--property k=v): headers.delimiter (tab)
// ends the headers, key.separator (tab) ends the key, headers.separator
// (",", a regular expression) splits the headers and headers.key.separator
// (":") splits each header. A field equal to null.marker becomes null.
// A line without the expected separator fails the command, unless
// ignore.error=true, in which case the missing field is null.
//
// Records are sent asynchronously (or one at a time with --sync); a
// failed record is logged like Kafka's ErrorLoggingCallback and the
// command goes on. At end of input every record is flushed before exit.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	register(&Command{
		Name:    "kafka-console-producer",
		Summary: "Read lines from standard input and produce them as records.",
		Run:     runConsoleProducer,
	})
}

// lineReader is Kafka's LineMessageReader: it turns lines into records.
type lineReader struct {
	topic               string
	parseKey            bool
	keySeparator        string
	parseHeaders        bool
	headersDelimiter    string
	headersSeparator    *regexp.Regexp
	headersKeySeparator string
	ignoreError         bool
	nullMarker          string
	hasNullMarker       bool

	lineNumber int
}

// newLineReader configures a reader from its properties; "topic" is
// required. It rejects separators that would make lines ambiguous, with
// Kafka's messages.
func newLineReader(props map[string]string) (*lineReader, error) {
	lr := &lineReader{
		topic:               props["topic"],
		keySeparator:        "\t",
		headersDelimiter:    "\t",
		headersKeySeparator: ":",
	}
	isTrue := func(k string) bool { return strings.EqualFold(strings.TrimSpace(props[k]), "true") }
	lr.parseKey = isTrue("parse.key")
	lr.parseHeaders = isTrue("parse.headers")
	lr.ignoreError = isTrue("ignore.error")
	if v, ok := props["key.separator"]; ok {
		lr.keySeparator = v
	}
	if v, ok := props["headers.delimiter"]; ok {
		lr.headersDelimiter = v
	}
	headersSeparator := ","
	if v, ok := props["headers.separator"]; ok {
		headersSeparator = v
	}
	re, err := regexp.Compile(headersSeparator)
	if err != nil {
		return nil, fmt.Errorf("headers.separator: %w", err)
	}
	lr.headersSeparator = re
	if v, ok := props["headers.key.separator"]; ok {
		lr.headersKeySeparator = v
	}
	switch {
	case lr.headersDelimiter == headersSeparator:
		return nil, errors.New("headers.delimiter and headers.separator may not be equal")
	case lr.headersDelimiter == lr.headersKeySeparator:
		return nil, errors.New("headers.delimiter and headers.key.separator may not be equal")
	case headersSeparator == lr.headersKeySeparator:
		return nil, errors.New("headers.separator and headers.key.separator may not be equal")
	}
	lr.nullMarker, lr.hasNullMarker = props["null.marker"]
	if lr.hasNullMarker {
		switch lr.nullMarker {
		case lr.keySeparator:
			return nil, errors.New("null.marker and key.separator may not be equal")
		case headersSeparator:
			return nil, errors.New("null.marker and headers.separator may not be equal")
		case lr.headersDelimiter:
			return nil, errors.New("null.marker and headers.delimiter may not be equal")
		case lr.headersKeySeparator:
			return nil, errors.New("null.marker and headers.key.separator may not be equal")
		}
	}
	return lr, nil
}

func (lr *lineReader) isNull(s string) bool { return lr.hasNullMarker && s == lr.nullMarker }

// parseLine turns one line (without its terminator) into a record. It
// counts lines for error messages, so call it for every line in order.
func (lr *lineReader) parseLine(line string) (*kgo.Record, error) {
	lr.lineNumber++
	headers, hasHeaders, err := lr.field(lr.parseHeaders, line, 0, lr.headersDelimiter, "headers delimiter")
	if err != nil {
		return nil, err
	}
	headerEnd := 0
	if hasHeaders {
		headerEnd = len(headers) + len(lr.headersDelimiter)
	}
	key, hasKey, err := lr.field(lr.parseKey, line, headerEnd, lr.keySeparator, "key separator")
	if err != nil {
		return nil, err
	}
	keyEnd := 0
	if hasKey {
		keyEnd = len(key) + len(lr.keySeparator)
	}
	value := line[headerEnd+keyEnd:]

	r := &kgo.Record{Topic: lr.topic}
	if hasKey && !lr.isNull(key) {
		r.Key = []byte(key)
	}
	if !lr.isNull(value) {
		r.Value = []byte(value)
	}
	if hasHeaders && !lr.isNull(headers) {
		for _, pair := range javaSplit(lr.headersSeparator, headers) {
			i := strings.Index(pair, lr.headersKeySeparator)
			if i < 0 {
				if lr.ignoreError {
					r.Headers = append(r.Headers, kgo.RecordHeader{Key: pair})
					continue
				}
				return nil, fmt.Errorf("No header key separator found in pair '%s' on line number %d", pair, lr.lineNumber)
			}
			hk := pair[:i]
			if lr.isNull(hk) {
				return nil, fmt.Errorf("Header keys should not be equal to the null marker '%s' as they can't be null", lr.nullMarker)
			}
			h := kgo.RecordHeader{Key: hk}
			if hv := pair[i+len(lr.headersKeySeparator):]; !lr.isNull(hv) {
				h.Value = []byte(hv)
			}
			r.Headers = append(r.Headers, h)
		}
	}
	return r, nil
}

// field returns line[start:i] where i is the next demarcation at or after
// start, if enabled. Without a demarcation it fails, or returns no field
// with ignore.error.
func (lr *lineReader) field(enabled bool, line string, start int, demarcation, name string) (string, bool, error) {
	if !enabled {
		return "", false, nil
	}
	i := strings.Index(line[start:], demarcation)
	if i < 0 {
		if lr.ignoreError {
			return "", false, nil
		}
		return "", false, fmt.Errorf("No %s found on line number %d: '%s'", name, lr.lineNumber, line)
	}
	return line[start : start+i], true, nil
}

// javaSplit splits s around matches of re as Java's Pattern.split does:
// trailing empty strings are dropped, and a zero-width match at the start
// yields no leading empty string.
func javaSplit(re *regexp.Regexp, s string) []string {
	if s == "" {
		return []string{""}
	}
	var out []string
	last := 0
	for _, m := range re.FindAllStringIndex(s, -1) {
		if m[1] == 0 {
			continue
		}
		out = append(out, s[last:m[0]])
		last = m[1]
	}
	out = append(out, s[last:])
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	if len(out) == 0 {
		return []string{}
	}
	return out
}

// readJavaLine reads one line as BufferedReader.readLine does: the line
// ends at "\n", "\r" or "\r\n", and the last line may lack a terminator.
// It returns io.EOF when there is no more input. Input that is not valid
// UTF-8 is decoded with replacement characters, as InputStreamReader does.
func readJavaLine(r *bufio.Reader) (string, error) {
	var buf []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				return string(javaUTF8(buf)), nil
			}
			return "", err
		}
		switch b {
		case '\n':
			return string(javaUTF8(buf)), nil
		case '\r':
			if next, err := r.Peek(1); err == nil && next[0] == '\n' {
				r.ReadByte()
			}
			return string(javaUTF8(buf)), nil
		}
		buf = append(buf, b)
	}
}

func runConsoleProducer(ctx context.Context, env *Env, args []string) error {
	args = optionalArg(args, "compression-codec", "gzip")
	fs := newFlagSet("kafka-console-producer", "This tool helps to read data from standard input and publish it to Kafka.")
	topic := fs.String("topic", "topic", "REQUIRED: The topic id to produce messages to.")
	bootstrap := fs.String("bootstrap-server", "server to connect to", "REQUIRED: The server(s) to connect to. The broker list string in the form HOST1:PORT1,HOST2:PORT2.")
	syncSend := fs.Bool("sync", "If set message send requests to the brokers are synchronously, one at a time as they arrive.")
	codec := fs.String("compression-codec", "compression-codec", "The compression codec: either 'none', 'gzip', 'snappy', 'lz4', or 'zstd'. If specified without value, then it defaults to 'gzip'")
	batchSize := fs.IntDefault("batch-size", "Integer: size", 16384, "Number of messages to send in a single batch if they are not being sent synchronously. please note that this option will be replaced if max-partition-memory-bytes is also set")
	retries := fs.IntDefault("message-send-max-retries", "Integer", 3, "This property specifies the number of retries before the producer give up and drop this message. This is the option to control `retries` in producer configs.")
	retryBackoff := fs.IntDefault("retry-backoff-ms", "Long", 100, "This is the option to control `retry.backoff.ms` in producer configs.")
	linger := fs.IntDefault("timeout", "Long: timeout_ms", 1000, "If set and the producer is running in asynchronous mode, this gives the maximum amount of time a message will queue awaiting sufficient batch size. The value is given in ms. This is the option to control `linger.ms` in producer configs.")
	acks := fs.StringDefault("request-required-acks", "String: request required acks", "-1", "The required `acks` of the producer requests")
	requestTimeout := fs.IntDefault("request-timeout-ms", "Integer: request timeout ms", 1500, "The ack timeout of the producer requests. Value must be non-negative and non-zero.")
	metadataExpiry := fs.IntDefault("metadata-expiry-ms", "Long: metadata expiration interval", 300000, "This is the option to control `metadata.max.age.ms` in producer configs.")
	maxBlock := fs.IntDefault("max-block-ms", "Long: max block on send", 60000, "The max time that the producer will block for during a send request.")
	maxMemory := fs.IntDefault("max-memory-bytes", "Long: total memory in bytes", 32<<20, "The total memory used by the producer to buffer records waiting to be sent to the server. This is the option to control `buffer.memory` in producer configs.")
	maxPartitionMemory := fs.IntDefault("max-partition-memory-bytes", "Integer: memory in bytes per partition", 16384, "This is the option to control `batch.size` in producer configs.")
	lineReaderClass := fs.StringDefault("line-reader", "reader_class", "org.apache.kafka.tools.LineMessageReader", "The class name of the class to use for reading lines from standard in. By default each line is read as a separate message.")
	fs.IntDefault("socket-buffer-size", "Integer: size", 102400, "The size of the tcp RECV size. Accepted for compatibility; the operating system's default is used.")
	property := fs.Strings("property", "prop", "A mechanism to pass user-defined properties in the form key=value to the message reader. Default properties include:\n"+
		" parse.key=false\n parse.headers=false\n ignore.error=false\n key.separator=\\t\n headers.delimiter=\\t\n"+
		" headers.separator=,\n headers.key.separator=:\n null.marker=   When set, any fields (key, value and headers) equal to this will be replaced by null")
	readerProp := fs.Strings("reader-property", "prop", "Same as --property.")
	readerConfig := fs.String("reader-config", "config file", "Config properties file for the message reader. Note that --property takes precedence over this config.")
	producerProp := fs.Strings("producer-property", "producer_prop", "A mechanism to pass user-defined properties in the form key=value to the producer.")
	commandProp := fs.Strings("command-property", "producer_prop", "Same as --producer-property.")
	producerConfig := fs.String("producer.config", "config file", "Producer config properties file. Note that --producer-property takes precedence over this config.")
	commandConfig := fs.String("command-config", "config file", "Same as --producer.config.")
	if help, err := fs.Parse(env, args); help || err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		return usagef("unexpected argument %q", fs.Args()[0])
	}
	if !fs.Changed("topic") {
		return usagef("Missing required argument \"[topic]\"")
	}
	if strings.TrimSpace(*bootstrap) == "" {
		return usagef("Missing required argument \"[bootstrap-server]\"")
	}
	switch *lineReaderClass {
	case "org.apache.kafka.tools.LineMessageReader", "kafka.tools.LineMessageReader", "LineMessageReader":
	default:
		return fmt.Errorf("java.lang.ClassNotFoundException: %s", *lineReaderClass)
	}

	// Reader properties: file, topic, then k=v.
	rprops := map[string]string{}
	if *readerConfig != "" {
		p, err := loadProperties(*readerConfig)
		if err != nil {
			return fmt.Errorf("load reader config %s: %w", *readerConfig, err)
		}
		rprops = p
	}
	rprops["topic"] = *topic
	kv, err := parseKeyValues("--property", append(append([]string(nil), *property...), *readerProp...))
	if err != nil {
		return err
	}
	for k, v := range kv {
		rprops[k] = v
	}
	reader, err := newLineReader(rprops)
	if err != nil {
		return err
	}

	// Producer properties: file, k=v, then the options, which win over
	// the properties when given and fill them in when absent.
	configFile := *producerConfig
	if configFile == "" {
		configFile = *commandConfig
	}
	props, err := loadClientProps(configFile, "--producer-property", append(append([]string(nil), *producerProp...), *commandProp...))
	if err != nil {
		return err
	}
	compression := "none"
	if fs.Changed("compression-codec") {
		compression = *codec
		if compression == "" {
			compression = "gzip"
		}
	}
	props["compression.type"] = compression
	if _, ok := props["client.id"]; !ok {
		props["client.id"] = "console-producer"
	}
	merge := func(key, option, value string) {
		if _, ok := props[key]; fs.Changed(option) || !ok {
			props[key] = value
		}
	}
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	merge("linger.ms", "timeout", itoa(*linger))
	merge("acks", "request-required-acks", *acks)
	merge("request.timeout.ms", "request-timeout-ms", itoa(*requestTimeout))
	merge("retries", "message-send-max-retries", itoa(*retries))
	merge("retry.backoff.ms", "retry-backoff-ms", itoa(*retryBackoff))
	merge("buffer.memory", "max-memory-bytes", itoa(*maxMemory))
	merge("batch.size", "batch-size", itoa(*batchSize))
	if fs.Changed("max-partition-memory-bytes") {
		props["batch.size"] = itoa(*maxPartitionMemory)
	}
	merge("metadata.max.age.ms", "metadata-expiry-ms", itoa(*metadataExpiry))
	merge("max.block.ms", "max-block-ms", itoa(*maxBlock))
	if _, ok := props["delivery.timeout.ms"]; !ok {
		props["delivery.timeout.ms"] = "120000" // Kafka's default
	}
	blockFor := 60 * time.Second
	if n, err := strconv.ParseInt(strings.TrimSpace(props["max.block.ms"]), 10, 64); err == nil && n >= 0 {
		blockFor = time.Duration(n) * time.Millisecond
	} else {
		return badProp("max.block.ms", props["max.block.ms"], "Expected value to be a number")
	}
	warnUnknownProps(env.Stderr, props, roleProducer, "max.block.ms", "send.buffer.bytes",
		"key.serializer", "value.serializer")

	cl, err := newClient(*bootstrap, props, roleProducer, kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(*topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	// A refused login fails every record at once, as KafkaProducer.send
	// does. The watch outlives a signal: records read before it are
	// still delivered (stopLogin runs before cl.Close).
	loginCtx, stopLogin := watchLogin(context.WithoutCancel(ctx), cl)
	defer stopLogin()
	// --sync sends end on a signal too.
	syncCtx, cancelSync := context.WithCancel(ctx)
	defer cancelSync()
	defer context.AfterFunc(loginCtx, cancelSync)()

	p := &consoleSender{cl: cl, stderr: env.Stderr, blockFor: blockFor, window: make(chan struct{}, consoleWindow), loginCtx: loginCtx}
	prompt := stdinIsTerminal(env.Stdin, env.Stdout)
	stop := make(chan struct{})
	defer close(stop)
	lines := readLines(env.Stdin, prompt, env.Stdout, stop)
	var runErr error
loop:
	for {
		var in lineOrErr
		select {
		case <-ctx.Done():
			break loop
		case in = <-lines:
		}
		if in.err == io.EOF {
			break
		}
		if in.err != nil {
			runErr = in.err
			break
		}
		r, err := reader.parseLine(in.line)
		if err != nil {
			runErr = fmt.Errorf("org.apache.kafka.common.KafkaException: %w", err)
			break
		}
		if *syncSend {
			if err := loginFailure(loginCtx); err != nil {
				runErr = err
				break
			}
			if err := cl.ProduceSync(syncCtx, r).FirstErr(); err != nil {
				if le := loginFailure(loginCtx); le != nil {
					runErr = le
					break
				}
				if ctx.Err() != nil {
					break
				}
				runErr = err
				if le := asLoginError(err); le != nil {
					runErr = le
				}
				break
			}
			continue
		}
		if err := p.send(ctx, r); err != nil {
			runErr = err
			break
		}
	}
	// Like the shutdown hook's producer.close(): deliver what was read.
	// Records give up after delivery.timeout.ms, so this ends.
	if err := cl.Flush(context.WithoutCancel(ctx)); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// lineOrErr is one line of input, or the error that ended the input
// (io.EOF at its end).
type lineOrErr struct {
	line string
	err  error
}

// readLines reads lines from r in a goroutine, writing the prompt ">" to
// w before each when prompt is set. The channel's last value carries the
// error. The goroutine ends at the end of the input or, once stop is
// closed, after its current read returns; a read from a terminal cannot be
// interrupted, so it may stay blocked there until the process exits.
func readLines(r io.Reader, prompt bool, w io.Writer, stop <-chan struct{}) <-chan lineOrErr {
	ch := make(chan lineOrErr, 256)
	go func() {
		in := bufio.NewReaderSize(r, 64<<10)
		for {
			if prompt {
				io.WriteString(w, ">")
			}
			line, err := readJavaLine(in)
			select {
			case ch <- lineOrErr{line: line, err: err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// consoleWindow bounds the records in flight; sending blocks beyond it for
// at most max.block.ms, as KafkaProducer.send blocks on a full buffer.
const consoleWindow = 10000

// consoleSender produces records asynchronously and logs failures as
// Kafka's ErrorLoggingCallback does. Once loginCtx (from watchLogin) has
// failed, records fail at once with the login error.
type consoleSender struct {
	cl       *kgo.Client
	stderr   io.Writer
	blockFor time.Duration
	window   chan struct{}
	loginCtx context.Context

	mu sync.Mutex // serializes writes to stderr
}

func (s *consoleSender) send(ctx context.Context, r *kgo.Record) error {
	if err := loginFailure(s.loginCtx); err != nil {
		s.logFailure(r, err)
		return nil
	}
	select {
	case s.window <- struct{}{}:
	default:
		t := time.NewTimer(s.blockFor)
		defer t.Stop()
		select {
		case s.window <- struct{}{}:
		case <-t.C:
			return fmt.Errorf("org.apache.kafka.common.errors.TimeoutException: Failed to allocate memory within the configured max blocking time %d ms.", s.blockFor.Milliseconds())
		case <-ctx.Done():
			return nil
		}
	}
	// The record's own context must outlive ctx: a signal stops reading
	// input, but what was read is still delivered. A failed login
	// cancels it.
	s.cl.Produce(s.loginCtx, r, func(r *kgo.Record, err error) {
		<-s.window
		if err == nil {
			return
		}
		if le := loginFailure(s.loginCtx); le != nil && errors.Is(err, context.Canceled) {
			err = le
		}
		s.logFailure(r, err)
	})
	return nil
}

// logFailure prints a failed record as Kafka's ErrorLoggingCallback does.
func (s *consoleSender) logFailure(r *kgo.Record, err error) {
	keyDesc, valueDesc := "null", "null"
	if r.Key != nil {
		keyDesc = strconv.Itoa(len(r.Key)) + " bytes"
	}
	if r.Value != nil {
		valueDesc = strconv.Itoa(len(r.Value)) + " bytes"
	}
	if le := asLoginError(err); le != nil {
		err = le
	} else {
		err = clientError(r.Topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeToolLog(s.stderr, "ERROR",
		fmt.Sprintf("Error when sending message to topic %s with key: %s, value: %s with error:", r.Topic, keyDesc, valueDesc),
		"org.apache.kafka.clients.producer.internals.ErrorLoggingCallback", err)
}

// clientError is the exception a Kafka client raises for err on topic,
// as the tools print it (the producer's send callback, the console
// consumer, the perf test): an error code becomes its Java exception,
// and a topic the user may not use is named as Kafka's
// TopicAuthorizationException names it ("Not authorized to access
// topics: [payments]"). Other errors are left as they are.
func clientError(topic string, err error) error {
	if errors.Is(err, kerr.TopicAuthorizationFailed) {
		return errors.New("org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [" + topic + "]")
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return errors.New(javaErrorString(err))
	}
	return err
}

// optionalArg rewrites a joptsimple option with an optional argument
// (--name [value]) so that FlagSet can parse it: when --name is last or
// followed by another option, it becomes --name=def.
func optionalArg(args []string, name, def string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		n := strings.TrimPrefix(a, "--")
		if n == name && (i+1 == len(args) || strings.HasPrefix(args[i+1], "-")) {
			out = append(out, "--"+name+"="+def)
			continue
		}
		out = append(out, a)
	}
	return out
}
