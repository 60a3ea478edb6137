package record

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// Hand-made record encodings, independent of the package's encoder.
func vi(v int64) []byte { return binary.AppendVarint(nil, v) }

func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

// framed prefixes a record body with its length.
func framed(body []byte) []byte { return cat(vi(int64(len(body))), body) }

// simpleBody is a valid record body: no timestamp delta, key "k", value "v",
// no headers.
func simpleBody(offsetDelta int64) []byte {
	return cat([]byte{0}, vi(0), vi(offsetDelta), vi(1), []byte("k"), vi(1), []byte("v"), vi(0))
}

// baseBatch is a valid client batch of three uncompressed records.
func baseBatch(t testing.TB) []byte {
	return mustBuild(t, noProducer(BuildOptions{BaseTimestamp: testNow}), valueRecords(3, 10))
}

// edit returns a copy of b changed by fn, with its CRC fixed.
func edit(b []byte, fn func(b []byte)) []byte {
	b = slices.Clone(b)
	fn(b)
	return fixCRC(b)
}

var mappedSentinels = []error{ErrCorrupt, ErrInvalid, ErrInvalidTimestamp, ErrUnsupportedCompression, ErrTooLarge}

func TestValidateErrors(t *testing.T) {
	base := baseBatch(t)
	opts := ValidateOptions{Now: time.UnixMilli(testNow)}
	be := binary.BigEndian
	tests := []struct {
		name       string
		batch      []byte
		opts       ValidateOptions
		want       error   // the one mapped sentinel that must match
		alsoWant   error   // optional unmapped sentinel
		recordErrs []int32 // for *ValidationError
		msg        string  // substring of the error
	}{
		{name: "no bytes", batch: nil, want: ErrInvalid, msg: "at least one record batch"},
		{name: "magic 1", batch: edit(base, func(b []byte) { b[16] = 1 }), want: ErrInvalid, msg: "magic version 2"},
		{name: "short magic 0 message", batch: append(make([]byte, 16), 0, 1, 2), want: ErrInvalid},
		{name: "magic 3", batch: edit(base, func(b []byte) { b[16] = 3 }), want: ErrCorrupt, msg: "invalid magic"},
		{name: "short header", batch: base[:40], want: ErrCorrupt, alsoWant: ErrTruncated},
		{name: "batch longer than bytes", batch: base[:len(base)-1], want: ErrCorrupt, alsoWant: ErrTruncated},
		{name: "batch length below header", batch: edit(base, func(b []byte) { be.PutUint32(b[8:], 48) }), want: ErrCorrupt},
		{name: "two batches", batch: cat(base, base), want: ErrInvalid, msg: "exactly one record batch"},
		{name: "trailing bytes", batch: cat(base, []byte{0, 0, 0}), want: ErrInvalid, msg: "exactly one record batch"},
		{name: "base offset not zero", batch: edit(base, func(b []byte) { be.PutUint64(b[0:], 5) }), want: ErrInvalid, msg: "should be 0"},
		{name: "over max.message.bytes", batch: base, opts: ValidateOptions{MaxBatchBytes: len(base) - 1}, want: ErrTooLarge},
		{name: "bad crc", batch: func() []byte { b := slices.Clone(base); b[len(b)-1] ^= 1; return b }(), want: ErrCorrupt, msg: "crc"},
		{name: "unknown codec", batch: edit(base, func(b []byte) { b[22] |= 5 }), want: ErrUnsupportedCompression},
		{name: "negative last offset delta", batch: edit(base, func(b []byte) { be.PutUint32(b[23:], 0xffffffff) }), want: ErrInvalid, msg: "invalid offset range"},
		{name: "zero record count", batch: edit(base, func(b []byte) { be.PutUint32(b[57:], 0) }), want: ErrInvalid, msg: "invalid reported count"},
		{name: "count disagrees with last offset delta", batch: edit(base, func(b []byte) { be.PutUint32(b[57:], 2) }), want: ErrInvalid, msg: "inconsistent batch offset range"},
		{name: "control batch from client", batch: edit(base, func(b []byte) { b[22] |= AttrControl }), want: ErrInvalid, msg: "control records"},
		{name: "producer id without sequence", batch: edit(base, func(b []byte) {
			be.PutUint64(b[43:], 7)
			be.PutUint16(b[51:], 0)
		}), want: ErrInvalid, msg: "invalid sequence number -1"},
		{name: "producer id with negative epoch", batch: edit(base, func(b []byte) {
			be.PutUint64(b[43:], 7)
			be.PutUint32(b[53:], 0)
		}), want: ErrInvalid, msg: "producer epoch"},
		{name: "transactional without producer id", batch: edit(base, func(b []byte) { b[22] |= AttrTransactional }), want: ErrInvalid, msg: "transactional"},
		{name: "fewer records than count", batch: rawBatch(clientHeader(3, CodecNone), cat(framed(simpleBody(0)), framed(simpleBody(1)))), want: ErrInvalid},
		{name: "bytes after last record", batch: rawBatch(clientHeader(1, CodecNone), cat(framed(simpleBody(0)), []byte{0})), want: ErrInvalid, msg: "incorrect declared batch size"},
		{name: "offset deltas not continuous", batch: rawBatch(clientHeader(3, CodecNone), cat(framed(simpleBody(0)), framed(simpleBody(2)), framed(simpleBody(1)))), want: ErrInvalid, msg: "offset delta 2"},
		{name: "offset deltas not from zero", batch: rawBatch(clientHeader(1, CodecNone), framed(simpleBody(1))), want: ErrInvalid},
		{name: "record length past end", batch: rawBatch(clientHeader(1, CodecNone), cat(vi(100), simpleBody(0))), want: ErrInvalid, msg: "only"},
		{name: "record length beyond fields", batch: rawBatch(clientHeader(1, CodecNone), cat(vi(int64(len(simpleBody(0))+1)), simpleBody(0), []byte{0})), want: ErrInvalid, msg: "instead read"},
		{name: "record length short of fields", batch: rawBatch(clientHeader(1, CodecNone), cat(vi(int64(len(simpleBody(0))-1)), simpleBody(0))), want: ErrInvalid},
		{name: "negative record length", batch: rawBatch(clientHeader(1, CodecNone), cat(vi(-3), simpleBody(0))), want: ErrInvalid},
		{name: "negative header count", batch: rawBatch(clientHeader(1, CodecNone), framed(cat([]byte{0}, vi(0), vi(0), vi(-1), vi(-1), vi(-2)))), want: ErrInvalid, msg: "number of record headers -2"},
		{name: "null header key", batch: rawBatch(clientHeader(1, CodecNone), framed(cat([]byte{0}, vi(0), vi(0), vi(-1), vi(-1), vi(1), vi(-1), vi(-1)))), want: ErrInvalid, msg: "header 0 key"},
		{name: "header value past record", batch: rawBatch(clientHeader(1, CodecNone), framed(cat([]byte{0}, vi(0), vi(0), vi(-1), vi(-1), vi(1), vi(1), []byte("h"), vi(5)))), want: ErrInvalid},
		{name: "key length -2", batch: rawBatch(clientHeader(1, CodecNone), framed(cat([]byte{0}, vi(0), vi(0), vi(-2), vi(-1), vi(0)))), want: ErrInvalid, msg: "key"},
		{name: "varint over 5 bytes", batch: rawBatch(clientHeader(1, CodecNone), framed(cat([]byte{0}, vi(0), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0}, vi(-1), vi(-1), vi(0)))), want: ErrInvalid, msg: "offset delta"},
		{name: "record without attributes", batch: rawBatch(clientHeader(1, CodecNone), vi(0)), want: ErrInvalid},
		{name: "corrupt lz4 stream", batch: rawBatch(clientHeader(1, CodecLZ4), []byte("definitely not lz4")), want: ErrCorrupt, msg: "lz4"},
		{name: "lz4 past decompression limit", batch: mustBuild(t, noProducer(BuildOptions{Codec: CodecLZ4, BaseTimestamp: testNow}), valueRecords(10, 1000)),
			opts: ValidateOptions{MaxDecompressedSize: 5000}, want: ErrTooLarge},
		{name: "compacted topic, null key", batch: mustBuild(t, noProducer(BuildOptions{BaseTimestamp: testNow}), []Record{{Key: []byte("a")}, {Value: []byte("x")}, {Key: []byte{}}, {}}),
			opts: ValidateOptions{Compacted: true}, want: ErrInvalid, recordErrs: []int32{1, 3}, msg: "Compacted topic cannot accept message without key"},
		{name: "timestamp too old", batch: mustBuild(t, noProducer(BuildOptions{BaseTimestamp: testNow - 5000}), []Record{{TimestampDelta: 0}, {TimestampDelta: 4500}}),
			opts: ValidateOptions{TimestampBeforeMaxMs: 1000}, want: ErrInvalidTimestamp, recordErrs: []int32{0},
			msg: "invalid timestamp"},
		{name: "timestamp too new by default", batch: mustBuild(t, noProducer(BuildOptions{BaseTimestamp: testNow}), []Record{{}, {TimestampDelta: 2 * 3600_000}}),
			want: ErrInvalidTimestamp, recordErrs: []int32{1}},
		{name: "key error before timestamp error", batch: mustBuild(t, noProducer(BuildOptions{BaseTimestamp: testNow}), []Record{{TimestampDelta: 1e9}, {Key: []byte("k"), TimestampDelta: 1e9}}),
			opts: ValidateOptions{Compacted: true}, want: ErrInvalidTimestamp, recordErrs: []int32{0, 1}},
		{name: "producer LogAppendTime on LogAppendTime topic", batch: mustBuild(t, noProducer(BuildOptions{BaseTimestamp: testNow, LogAppendTime: true}), valueRecords(2, 1)),
			opts: ValidateOptions{LogAppendTime: true}, want: ErrInvalidTimestamp, recordErrs: []int32{0, 1}},
		{name: "producer LogAppendTime without timestamp", batch: mustBuild(t, noProducer(BuildOptions{BaseTimestamp: NoTimestamp, LogAppendTime: true}), []Record{{}}),
			want: ErrInvalidTimestamp, recordErrs: []int32{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			if o.Now.IsZero() {
				o.Now = opts.Now
			}
			info, err := Validate(tt.batch, o)
			if err == nil {
				t.Fatalf("Validate succeeded: %+v", info)
			}
			for _, s := range mappedSentinels {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, got)
				}
			}
			if tt.alsoWant != nil && !errors.Is(err, tt.alsoWant) {
				t.Errorf("error %v does not wrap %v", err, tt.alsoWant)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			var ve *ValidationError
			if errors.As(err, &ve) != (tt.recordErrs != nil) {
				t.Fatalf("ValidationError: got %v, want record errors %v", err, tt.recordErrs)
			}
			if ve != nil {
				var idx []int32
				for _, re := range ve.RecordErrors {
					idx = append(idx, re.BatchIndex)
					if re.Message == "" {
						t.Errorf("record error %d has no message", re.BatchIndex)
					}
				}
				if !slices.Equal(idx, tt.recordErrs) {
					t.Errorf("record errors at %v, want %v", idx, tt.recordErrs)
				}
			}
		})
	}
}

func TestValidationErrorMessages(t *testing.T) {
	// Kafka's LogValidator.processRecordErrors texts.
	ve := newValidationError([]RecordError{{0, "a"}, {1, "b"}, {2, "c"}, {3, "d"}}, false)
	want := "One or more records have been rejected due to 4 record errors in total, and only showing the first three errors at most: " +
		"[RecordError(batchIndex=0, message='a'), RecordError(batchIndex=1, message='b'), RecordError(batchIndex=2, message='c')]"
	if ve.Message != want || !errors.Is(ve, ErrInvalid) {
		t.Errorf("got %q (%v)", ve.Message, ve.Err)
	}
	ve = newValidationError([]RecordError{{0, "a"}}, true)
	if ve.Message != "One or more records have been rejected due to invalid timestamp" || !errors.Is(ve, ErrInvalidTimestamp) {
		t.Errorf("got %q (%v)", ve.Message, ve.Err)
	}
}

func TestValidateTimestampBounds(t *testing.T) {
	now := time.UnixMilli(testNow)
	build := func(ts int64) []byte {
		return mustBuild(t, noProducer(BuildOptions{BaseTimestamp: ts}), []Record{{Key: []byte("k")}})
	}
	tests := []struct {
		name   string
		ts     int64
		before int64
		after  int64
		lat    bool
		ok     bool
	}{
		{"at lower bound", testNow - 1000, 1000, 0, false, true},
		{"below lower bound", testNow - 1001, 1000, 0, false, false},
		{"at upper bound", testNow + 500, 0, 500, false, true},
		{"above upper bound", testNow + 501, 0, 500, false, false},
		{"default upper bound", testNow + DefaultTimestampAfterMaxMs, 0, 0, false, true},
		{"past default upper bound", testNow + DefaultTimestampAfterMaxMs + 1, 0, 0, false, false},
		{"no lower bound by default", 0, 0, 0, false, true},
		{"negative means unlimited", testNow + 1e12, 0, -1, false, true},
		{"no timestamp is not checked", NoTimestamp, 1, 1, false, true},
		{"LogAppendTime topic skips checks", 5, 1, 1, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate(build(tt.ts), ValidateOptions{Now: now, TimestampBeforeMaxMs: tt.before, TimestampAfterMaxMs: tt.after, LogAppendTime: tt.lat})
			if (err == nil) != tt.ok {
				t.Fatalf("Validate: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidTimestamp) {
				t.Fatalf("error %v is not ErrInvalidTimestamp", err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	now := time.UnixMilli(testNow)
	t.Run("info", func(t *testing.T) {
		recs := []Record{{TimestampDelta: 5}, {TimestampDelta: 9}, {TimestampDelta: 9}, {TimestampDelta: -2}}
		for _, c := range allCodecs {
			b := mustBuild(t, BuildOptions{Codec: c, BaseTimestamp: testNow - 100, ProducerID: 42, ProducerEpoch: 3, BaseSequence: 10, Transactional: true}, recs)
			info, err := Validate(b, ValidateOptions{Now: now})
			if err != nil {
				t.Fatalf("%v: %v", c, err)
			}
			if info.Codec != c || info.RecordCount != 4 || info.MaxTimestamp != testNow-91 || info.MaxTimestampOffsetDelta != 1 ||
				!info.Transactional || !info.Idempotent || info.Control || info.Header.ProducerID != 42 || info.Header.LastSequence() != 13 {
				t.Fatalf("%v: info %+v", c, info)
			}
			if want := len(mustBuild(t, BuildOptions{BaseTimestamp: testNow - 100}, recs)); info.UncompressedSize != want {
				t.Fatalf("%v: uncompressed size %d, want %d", c, info.UncompressedSize, want)
			}
		}
	})
	t.Run("no timestamps", func(t *testing.T) {
		info, err := Validate(mustBuild(t, noProducer(BuildOptions{BaseTimestamp: NoTimestamp}), []Record{{}, {}}), ValidateOptions{Now: now})
		if err != nil || info.MaxTimestamp != NoTimestamp || info.MaxTimestampOffsetDelta != -1 || info.Idempotent {
			t.Fatalf("%+v, %v", info, err)
		}
	})
	t.Run("transaction marker from coordinator", func(t *testing.T) {
		marker := mustBuild(t, BuildOptions{
			BaseOffset: 17, Control: true, Transactional: true, ProducerID: 9, ProducerEpoch: 1, BaseSequence: NoSequence, BaseTimestamp: testNow,
		}, []Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 5}}})
		info, err := Validate(marker, ValidateOptions{Now: now, AllowControl: true})
		if err != nil || !info.Control || !info.Transactional {
			t.Fatalf("%+v, %v", info, err)
		}
		if _, err := Validate(marker, ValidateOptions{Now: now}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("client append: %v", err)
		}
	})
	t.Run("producer LogAppendTime on CreateTime topic", func(t *testing.T) {
		// Kafka checks the header's maxTimestamp as every record's timestamp
		// and accepts it when in range.
		b := mustBuild(t, noProducer(BuildOptions{BaseTimestamp: testNow, LogAppendTime: true}), []Record{{}, {TimestampDelta: 50}})
		info, err := Validate(b, ValidateOptions{Now: now})
		if err != nil || info.MaxTimestamp != testNow+50 || info.MaxTimestampOffsetDelta != 0 {
			t.Fatalf("%+v, %v", info, err)
		}
	})
	t.Run("zero options", func(t *testing.T) {
		b := mustBuild(t, noProducer(BuildOptions{BaseTimestamp: time.Now().UnixMilli()}), valueRecords(3, 3))
		if _, err := Validate(b, ValidateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("does not modify the batch", func(t *testing.T) {
		b := mustBuild(t, BuildOptions{Codec: CodecZstd, BaseTimestamp: testNow, ProducerID: 1, BaseSequence: 0}, valueRecords(5, 20))
		orig := slices.Clone(b)
		if _, err := Validate(b, ValidateOptions{Now: now}); err != nil || !slices.Equal(b, orig) {
			t.Fatalf("%v, modified: %v", err, !slices.Equal(b, orig))
		}
	})
}

func TestValidateSetMaxTimestamp(t *testing.T) {
	// A producer that lies about maxTimestamp: the leader stores the real one.
	b := mustBuild(t, noProducer(BuildOptions{BaseTimestamp: testNow, Codec: CodecSnappy}), []Record{{}, {TimestampDelta: 7}})
	binary.BigEndian.PutUint64(b[35:], uint64(testNow+1000))
	fixCRC(b)
	info, err := Validate(b, ValidateOptions{Now: time.UnixMilli(testNow)})
	if err != nil {
		t.Fatal(err)
	}
	SetMaxTimestamp(b, info.MaxTimestamp)
	h, _ := ParseHeader(b)
	if h.MaxTimestamp != testNow+7 || h.IsLogAppendTime() || CheckCRC(b) != nil {
		t.Fatalf("header %+v, crc %v", h, CheckCRC(b))
	}
	// Unchanged: no rewrite at all.
	before := slices.Clone(b)
	SetMaxTimestamp(b, testNow+7)
	if !slices.Equal(before, b) {
		t.Fatal("SetMaxTimestamp rewrote an unchanged batch")
	}
	// From LogAppendTime back to CreateTime.
	SetLogAppendTime(b, testNow+7)
	SetMaxTimestamp(b, testNow+7)
	if h, _ := ParseHeader(b); h.IsLogAppendTime() || CheckCRC(b) != nil {
		t.Fatal("timestamp type not reset to CreateTime")
	}
}

func TestLastSequence(t *testing.T) {
	for _, tt := range []struct{ base, delta, want int32 }{
		{NoSequence, 5, NoSequence},
		{0, 0, 0},
		{10, 4, 14},
		{2147483647, 0, 2147483647},
		{2147483647, 1, 0},
		{2147483640, 10, 2},
	} {
		if got := (Header{BaseSequence: tt.base, LastOffsetDelta: tt.delta}).LastSequence(); got != tt.want {
			t.Errorf("LastSequence(%d, %d) = %d, want %d", tt.base, tt.delta, got, tt.want)
		}
	}
}
