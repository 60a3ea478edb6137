package cli

// kafka-console-consumer: print records of a topic to standard output.
//
// Each record is written by a formatter. The default one is Kafka's
// DefaultMessageFormatter, configured with --property (or
// --formatter-property) k=v. It prints the enabled fields in this fixed
// order, separated by key.separator (default a tab), and ends the record
// with line.separator (default "\n"):
//
//	print.timestamp  CreateTime:1700000000000 | LogAppendTime:… | NO_TIMESTAMP
//	print.partition  Partition:0
//	print.offset     Offset:5
//	print.delivery   Delivery:NONE (only share consumers know a delivery count)
//	print.headers    k1:v1,k2:v2 (headers.separator between pairs) | NO_HEADERS
//	print.key        the key
//	print.value      the value (on by default)
//
// A null key, value or header value prints null.literal (default "null"),
// which is then handed to the deserializer like any other bytes, exactly
// as Kafka does. Deserializers are Kafka's class names, see
// deserializers.go.
//
// Without a group (--group or group.id) the consumer assigns itself every
// partition of --topic (or of the topics matching --include), starting at
// the end, or at the beginning with --from-beginning; with --partition it
// reads just that partition from --offset. With a group it subscribes and
// commits only the records it printed. The command ends after
// --max-messages records, after --timeout-ms without a record, or on
// SIGINT/SIGTERM, and then prints "Processed a total of N messages" to
// standard error.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	register(&Command{
		Name:    "kafka-console-consumer",
		Summary: "Read records from a topic and print them to standard output.",
		Run:     runConsoleConsumer,
	})
}

// Names of Kafka's formatters that this command implements.
var defaultFormatterClasses = map[string]bool{
	"kafka.tools.DefaultMessageFormatter":                     true,
	"org.apache.kafka.tools.consumer.DefaultMessageFormatter": true,
	"DefaultMessageFormatter":                                 true,
}

var noOpFormatterClasses = map[string]bool{
	"kafka.tools.NoOpMessageFormatter":                     true,
	"org.apache.kafka.tools.consumer.NoOpMessageFormatter": true,
	"NoOpMessageFormatter":                                 true,
}

// messageFormatter is Kafka's DefaultMessageFormatter. It is not safe for
// concurrent use.
type messageFormatter struct {
	printTimestamp, printKey, printValue, printPartition bool
	printOffset, printDelivery, printHeaders             bool
	noOp                                                 bool // NoOpMessageFormatter: print nothing

	keySeparator, lineSeparator, headersSeparator, nullLiteral []byte

	// Deserializers; nil prints the bytes as they are.
	keyDeserializer, valueDeserializer, headersDeserializer deserializer
}

// newMessageFormatter configures a formatter from its properties, as
// DefaultMessageFormatter.configure does. A deserializer class that is not
// known is reported on warn and the bytes are printed raw, which is what
// Kafka does when it cannot load the class.
func newMessageFormatter(props map[string]string, warn io.Writer) *messageFormatter {
	f := &messageFormatter{
		printValue:       true,
		keySeparator:     []byte("\t"),
		lineSeparator:    []byte("\n"),
		headersSeparator: []byte(","),
		nullLiteral:      []byte("null"),
	}
	boolProp := func(k string, dst *bool) {
		if v, ok := props[k]; ok {
			*dst = strings.EqualFold(strings.TrimSpace(v), "true")
		}
	}
	boolProp("print.timestamp", &f.printTimestamp)
	boolProp("print.key", &f.printKey)
	boolProp("print.offset", &f.printOffset)
	boolProp("print.delivery", &f.printDelivery)
	boolProp("print.partition", &f.printPartition)
	boolProp("print.headers", &f.printHeaders)
	boolProp("print.value", &f.printValue)
	bytesProp := func(k string, dst *[]byte) {
		if v, ok := props[k]; ok {
			*dst = []byte(v)
		}
	}
	bytesProp("key.separator", &f.keySeparator)
	bytesProp("line.separator", &f.lineSeparator)
	bytesProp("headers.separator", &f.headersSeparator)
	bytesProp("null.literal", &f.nullLiteral)
	deser := func(k string) deserializer {
		class, ok := props[k]
		if !ok {
			return nil
		}
		d, err := lookupDeserializer(class)
		if err != nil {
			writeToolLog(warn, "ERROR", "Unable to instantiate a deserializer from "+class,
				"org.apache.kafka.tools.consumer.DefaultMessageFormatter", err)
			return nil
		}
		return d
	}
	f.keyDeserializer = deser("key.deserializer")
	f.valueDeserializer = deser("value.deserializer")
	f.headersDeserializer = deser("headers.deserializer")
	return f
}

// writeTo appends the formatted record to w. An error comes from a
// deserializer; w's own errors are left for the caller to check.
func (f *messageFormatter) writeTo(w *bufio.Writer, r *kgo.Record) error {
	return f.write(w, r, r.Attrs.TimestampType())
}

// write is writeTo with the timestamp type (0 CreateTime, 1 LogAppendTime,
// -1 none) given apart, since kgo.RecordAttrs cannot be built outside kgo.
func (f *messageFormatter) write(w *bufio.Writer, r *kgo.Record, timestampType int8) error {
	if f.noOp {
		return nil
	}
	sep := func(more bool) {
		if more {
			w.Write(f.keySeparator)
		} else {
			w.Write(f.lineSeparator)
		}
	}
	if f.printTimestamp {
		switch timestampType {
		case 0:
			w.WriteString("CreateTime:")
			w.WriteString(strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
		case 1:
			w.WriteString("LogAppendTime:")
			w.WriteString(strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
		default:
			w.WriteString("NO_TIMESTAMP")
		}
		sep(f.printPartition || f.printOffset || f.printDelivery || f.printHeaders || f.printKey || f.printValue)
	}
	if f.printPartition {
		w.WriteString("Partition:")
		w.WriteString(strconv.FormatInt(int64(r.Partition), 10))
		sep(f.printOffset || f.printDelivery || f.printHeaders || f.printKey || f.printValue)
	}
	if f.printOffset {
		w.WriteString("Offset:")
		w.WriteString(strconv.FormatInt(r.Offset, 10))
		sep(f.printDelivery || f.printHeaders || f.printKey || f.printValue)
	}
	if f.printDelivery {
		w.WriteString("Delivery:NONE")
		sep(f.printHeaders || f.printKey || f.printValue)
	}
	if f.printHeaders {
		if len(r.Headers) == 0 {
			w.WriteString("NO_HEADERS")
		}
		for i, h := range r.Headers {
			w.WriteString(h.Key)
			w.WriteByte(':')
			b, err := f.deserialize(f.headersDeserializer, h.Value)
			if err != nil {
				return err
			}
			w.Write(b)
			if i < len(r.Headers)-1 {
				w.Write(f.headersSeparator)
			}
		}
		sep(f.printKey || f.printValue)
	}
	if f.printKey {
		b, err := f.deserialize(f.keyDeserializer, r.Key)
		if err != nil {
			return err
		}
		w.Write(b)
		sep(f.printValue)
	}
	if f.printValue {
		b, err := f.deserialize(f.valueDeserializer, r.Value)
		if err != nil {
			return err
		}
		w.Write(b)
		w.Write(f.lineSeparator)
	}
	return nil
}

func (f *messageFormatter) deserialize(d deserializer, b []byte) ([]byte, error) {
	if b == nil {
		b = f.nullLiteral
	}
	if d == nil {
		return b, nil
	}
	return d(b)
}

// consoleConsumerConfig is the parsed command line of the console
// consumer.
type consoleConsumerConfig struct {
	bootstrap    string
	topic        string
	include      string
	partition    int32
	hasPartition bool
	offset       kgo.Offset // start offset with --partition
	fromBegin    bool
	maxMessages  int64         // -1: no limit
	timeout      time.Duration // 0: none
	skipOnError  bool
	group        string
	props        map[string]string // consumer properties
	formatter    *messageFormatter
}

func runConsoleConsumer(ctx context.Context, env *Env, args []string) error {
	cfg, help, err := parseConsoleConsumer(env, args)
	if help || err != nil {
		return err
	}
	return consumeToConsole(ctx, env, cfg)
}

func parseConsoleConsumer(env *Env, args []string) (*consoleConsumerConfig, bool, error) {
	fs := newFlagSet("kafka-console-consumer", "This tool helps to read data from Kafka topics and outputs it to standard output.")
	bootstrap := fs.String("bootstrap-server", "server to connect to", "REQUIRED: The server(s) to connect to.")
	topic := fs.String("topic", "topic", "The topic to consume from.")
	include := fs.String("include", "Java regex (String)", "Regular expression specifying list of topics to include for consumption.")
	partition := fs.Int("partition", "partition", "The partition to consume from. Consumption starts from the end of the partition unless '--offset' is specified.")
	offset := fs.StringDefault("offset", "consume offset", "latest", "The offset to consume from (a non-negative number), or 'earliest' which means from beginning, or 'latest' which means from end")
	consumerProp := fs.Strings("consumer-property", "consumer_prop", "Consumer config properties in the form key=value.")
	commandProp := fs.Strings("command-property", "consumer_prop", "Consumer config properties in the form key=value.")
	consumerConfig := fs.String("consumer.config", "config file", "Consumer config properties file. Note that --consumer-property takes precedence over this config.")
	commandConfig := fs.String("command-config", "config file", "Consumer config properties file. Note that --command-property takes precedence over this config.")
	formatterClass := fs.StringDefault("formatter", "class", "org.apache.kafka.tools.consumer.DefaultMessageFormatter", "The name of a class to use for formatting kafka messages for display.")
	property := fs.Strings("property", "prop", "The properties to initialize the message formatter. Default properties include:\n"+
		" print.timestamp=true|false\n print.key=true|false\n print.offset=true|false\n print.delivery=true|false\n"+
		" print.partition=true|false\n print.headers=true|false\n print.value=true|false\n"+
		" key.separator=<key.separator>\n line.separator=<line.separator>\n headers.separator=<headers.separator>\n"+
		" null.literal=<null.literal>\n key.deserializer=<key.deserializer>\n value.deserializer=<value.deserializer>\n"+
		" headers.deserializer=<headers.deserializer>")
	formatterProp := fs.Strings("formatter-property", "prop", "Same as --property.")
	formatterConfig := fs.String("formatter-config", "config file", "Config properties file to initialize the message formatter. Note that --property takes precedence over this config.")
	fromBeginning := fs.Bool("from-beginning", "If the consumer does not already have an established offset to consume from, start with the earliest message present in the log rather than the latest message.")
	maxMessages := fs.Int("max-messages", "num_messages", "The maximum number of messages to consume before exiting. If not set, consumption is continual.")
	timeoutMs := fs.Int("timeout-ms", "timeout_ms", "If specified, exit if no message is available for consumption for the specified interval.")
	skip := fs.Bool("skip-message-on-error", "If there is an error when processing a message, skip it instead of halt.")
	keyDeser := fs.String("key-deserializer", "deserializer for keys", "The name of the class to use for deserializing keys.")
	valueDeser := fs.String("value-deserializer", "deserializer for values", "The name of the class to use for deserializing values.")
	fs.Bool("enable-systest-events", "Accepted for compatibility; has no effect.")
	isolation := fs.StringDefault("isolation-level", "String", "read_uncommitted", "Set to read_committed in order to filter out transactional messages which are not committed. Set to read_uncommitted to read all messages.")
	group := fs.String("group", "consumer group id", "The consumer group id of the consumer.")
	if help, err := fs.Parse(env, args); help || err != nil {
		return nil, help, err
	}
	if len(fs.Args()) > 0 {
		return nil, false, usagef("unexpected argument %q", fs.Args()[0])
	}

	if n := len(fs.Given("topic", "include")); n != 1 {
		return nil, false, usagef("Exactly one of these options is required: --topic, --include")
	}
	if fs.Changed("partition") {
		if !fs.Changed("topic") {
			return nil, false, usagef("The topic is required when partition is specified.")
		}
		if *fromBeginning && fs.Changed("offset") {
			return nil, false, usagef("Options from-beginning and offset cannot be specified together.")
		}
	} else if fs.Changed("offset") {
		return nil, false, usagef("The partition is required when offset is specified.")
	}
	if strings.TrimSpace(*bootstrap) == "" {
		return nil, false, usagef("Missing required argument \"[bootstrap-server]\"")
	}
	if fs.Changed("consumer-property") && fs.Changed("command-property") {
		return nil, false, usagef("Options --consumer-property and --command-property cannot be specified together.")
	}
	if fs.Changed("consumer.config") && fs.Changed("command-config") {
		return nil, false, usagef("Options --consumer.config and --command-config cannot be specified together.")
	}
	if fs.Changed("property") && fs.Changed("formatter-property") {
		return nil, false, usagef("Options --property and --formatter-property cannot be specified together.")
	}

	cfg := &consoleConsumerConfig{
		bootstrap:   *bootstrap,
		topic:       *topic,
		include:     *include,
		fromBegin:   *fromBeginning,
		maxMessages: -1,
		skipOnError: *skip,
	}
	if fs.Changed("max-messages") {
		cfg.maxMessages = *maxMessages
	}
	if fs.Changed("timeout-ms") && *timeoutMs >= 0 {
		cfg.timeout = time.Duration(*timeoutMs) * time.Millisecond
	}
	if fs.Changed("partition") {
		if *partition < 0 || *partition > 1<<31-1 {
			return nil, false, usagef("invalid partition %d", *partition)
		}
		cfg.partition, cfg.hasPartition = int32(*partition), true
		switch strings.ToLower(*offset) {
		case "earliest":
			cfg.offset = kgo.NewOffset().AtStart()
		case "latest":
			cfg.offset = kgo.NewOffset().AtEnd()
			if *fromBeginning {
				cfg.offset = kgo.NewOffset().AtStart()
			}
		default:
			n, err := strconv.ParseInt(*offset, 10, 64)
			if err != nil || n < 0 {
				return nil, false, usagef("The provided offset value '%s' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long.", *offset)
			}
			cfg.offset = kgo.NewOffset().At(n)
		}
	}

	// Consumer properties: file, then k=v overrides.
	configFile, configWhat, propList := *consumerConfig, "--consumer-property", *consumerProp
	if fs.Changed("command-config") {
		configFile = *commandConfig
	}
	if fs.Changed("command-property") {
		configWhat, propList = "--command-property", *commandProp
	}
	props, err := loadClientProps(configFile, configWhat, propList)
	if err != nil {
		return nil, false, err
	}
	groups := map[string]bool{}
	if fs.Changed("group") {
		groups[*group] = true
	}
	if g, ok := props["group.id"]; ok {
		groups[g] = true
	}
	if len(groups) > 1 {
		var ids []string
		for g := range groups {
			ids = append(ids, "'"+g+"'")
		}
		return nil, false, usagef("The group ids provided in different places (directly using '--group', via '--consumer-property', or via '--consumer.config') do not match. Detected group ids: %s", strings.Join(ids, ", "))
	}
	for g := range groups {
		cfg.group = g
	}
	if cfg.group != "" && cfg.hasPartition {
		return nil, false, usagef("Options group and partition cannot be specified together.")
	}
	if v, ok := props["auto.offset.reset"]; ok {
		if *fromBeginning && v != "earliest" {
			return nil, false, fmt.Errorf("Can't simultaneously specify --from-beginning and 'auto.offset.reset=%s', please remove one option", v)
		}
	} else if *fromBeginning {
		props["auto.offset.reset"] = "earliest"
	} else {
		props["auto.offset.reset"] = "latest"
	}
	if _, ok := props["client.id"]; !ok {
		props["client.id"] = "console-consumer"
	}
	if _, ok := props["isolation.level"]; fs.Changed("isolation-level") || !ok {
		props["isolation.level"] = *isolation
	}
	if cfg.group != "" {
		props["group.id"] = cfg.group
	} else {
		delete(props, "group.id")
	}
	cfg.props = props

	// Formatter properties: file, deserializer options, then k=v.
	fprops := map[string]string{}
	if *formatterConfig != "" {
		p, err := loadProperties(*formatterConfig)
		if err != nil {
			return nil, false, fmt.Errorf("load formatter config %s: %w", *formatterConfig, err)
		}
		fprops = p
	}
	if *keyDeser != "" {
		fprops["key.deserializer"] = *keyDeser
	}
	if *valueDeser != "" {
		fprops["value.deserializer"] = *valueDeser
	}
	what, list := "--property", *property
	if fs.Changed("formatter-property") {
		what, list = "--formatter-property", *formatterProp
	}
	kv, err := parseKeyValues(what, list)
	if err != nil {
		return nil, false, err
	}
	for k, v := range kv {
		fprops[k] = v
	}
	switch {
	case defaultFormatterClasses[*formatterClass]:
		cfg.formatter = newMessageFormatter(fprops, env.Stderr)
	case noOpFormatterClasses[*formatterClass]:
		cfg.formatter = &messageFormatter{noOp: true}
	default:
		return nil, false, usagef("%s", *formatterClass)
	}
	return cfg, false, nil
}

// consumeToConsole runs the consume loop of ConsoleConsumer.process.
func consumeToConsole(ctx context.Context, env *Env, cfg *consoleConsumerConfig) error {
	warnUnknownProps(env.Stderr, cfg.props, roleConsumer, "allow.auto.create.topics")
	var opts []kgo.Opt
	if v, ok := cfg.props["allow.auto.create.topics"]; !ok || strings.EqualFold(strings.TrimSpace(v), "true") {
		// The Java consumer asks for auto creation by default.
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	switch {
	case cfg.hasPartition:
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			cfg.topic: {cfg.partition: cfg.offset},
		}))
	case cfg.include != "":
		// Java's Pattern subscription matches whole topic names.
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics("^(?:"+cfg.include+")$"))
	default:
		opts = append(opts, kgo.ConsumeTopics(cfg.topic))
	}
	if cfg.group != "" {
		// Commit only what was printed, like resetUnconsumedOffsets.
		opts = append(opts, kgo.AutoCommitMarks())
	}
	cl, err := newClient(cfg.bootstrap, cfg.props, roleConsumer, opts...)
	if err != nil {
		return err
	}

	// A refused login ends the loop as Kafka's poll() throwing it does.
	loginCtx, stopLogin := watchLogin(ctx, cl)
	out := bufio.NewWriterSize(env.Stdout, 64<<10)
	var count int64
	runErr := consoleConsumeLoop(loginCtx, env, cl, cfg, out, &count)
	stopLogin()
	out.Flush()
	if cfg.group != "" {
		cl.CloseAllowingRebalance()
	} else {
		cl.Close()
	}
	fmt.Fprintf(env.Stderr, "Processed a total of %d messages\n", count)
	if runErr != nil {
		return fmt.Errorf("Unknown error when running consumer: %w", runErr)
	}
	return nil
}

// errConsoleTimeout ends the loop after --timeout-ms without records.
var errConsoleTimeout = errors.New("org.apache.kafka.common.errors.TimeoutException")

func consoleConsumeLoop(ctx context.Context, env *Env, cl *kgo.Client, cfg *consoleConsumerConfig, out *bufio.Writer, count *int64) error {
	const logger = "org.apache.kafka.tools.consumer.ConsoleConsumer"
	var pending []*kgo.Record
	for cfg.maxMessages < 0 || *count < cfg.maxMessages {
		if len(pending) == 0 {
			if err := out.Flush(); err != nil {
				fmt.Fprintln(env.Stderr, "Unable to write to standard out, closing consumer.")
				return nil
			}
			recs, err := consolePoll(ctx, cl, cfg.timeout)
			switch {
			case errors.Is(err, errConsoleTimeout):
				writeToolLog(env.Stderr, "ERROR", "Error processing message, terminating consumer process: ", logger, err)
				return nil
			case loginFailure(ctx) != nil:
				writeToolLog(env.Stderr, "ERROR", "Error processing message, terminating consumer process: ", logger, loginFailure(ctx))
				return nil
			case err != nil && ctx.Err() != nil, errors.Is(err, kgo.ErrClientClosed):
				return nil // shut down by a signal
			case err != nil:
				writeToolLog(env.Stderr, "ERROR", "Error processing message, terminating consumer process: ", logger, err)
				return nil
			}
			pending = recs
			continue
		}
		r := pending[0]
		pending = pending[1:]
		*count++
		if err := cfg.formatter.writeTo(out, r); err != nil {
			if !cfg.skipOnError {
				return err
			}
			writeToolLog(env.Stderr, "ERROR", "Error processing message, skipping this message: ", logger, err)
		}
		if cfg.group != "" {
			cl.MarkCommitRecords(r)
		}
	}
	return nil
}

// consolePoll waits for records. It returns errConsoleTimeout when timeout
// (if not 0) passes without any, the *loginError when ctx is a
// watchLogin context whose login failed, the context's error when ctx
// ends otherwise, and the first fetch error that is not retriable.
// Retriable errors are retried by the client itself and skipped here.
func consolePoll(ctx context.Context, cl *kgo.Client, timeout time.Duration) ([]*kgo.Record, error) {
	pollCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		pollCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	for {
		fetches := cl.PollFetches(pollCtx)
		if fetches.IsClientClosed() {
			return nil, kgo.ErrClientClosed
		}
		var firstErr error
		fetches.EachError(func(topic string, _ int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || kerr.IsRetriable(err) {
				return
			}
			if firstErr == nil {
				firstErr = clientError(topic, err)
			}
		})
		if recs := fetches.Records(); len(recs) > 0 {
			return recs, nil
		}
		if firstErr != nil {
			return nil, firstErr
		}
		if err := loginFailure(ctx); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if pollCtx.Err() != nil {
			return nil, errConsoleTimeout
		}
	}
}

// writeToolLog writes one line in the layout of Kafka's tools log4j
// configuration, "[date] LEVEL message (logger)", followed by the
// exception on its own line when err is not nil.
func writeToolLog(w io.Writer, level, msg, logger string, err error) {
	line := fmt.Sprintf("[%s] %s %s (%s)\n", time.Now().Format("2006-01-02 15:04:05,000"), level, msg, logger)
	if err != nil {
		line += err.Error() + "\n"
	}
	io.WriteString(w, line)
}

// stdinIsTerminal reports whether both r and w are terminals, which is
// when Java's System.console() is not null.
func stdinIsTerminal(r io.Reader, w io.Writer) bool {
	isTTY := func(v any) bool {
		f, ok := v.(*os.File)
		if !ok {
			return false
		}
		st, err := f.Stat()
		return err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	return isTTY(r) && isTTY(w)
}
