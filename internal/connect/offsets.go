package connect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	sdk "github.com/gregor-streaming/gregor/connect"
	"github.com/gregor-streaming/gregor/connect/converter"
)

// OffsetEntry is one stored source offset: the serialized source
// partition (with its connector's name) and offset. A nil Value removes
// the key.
type OffsetEntry struct {
	Key   []byte
	Value []byte
}

// OffsetStore keeps source offsets as serialized key/value pairs (Kafka's
// OffsetBackingStore). Keys and values are the JSON Kafka Connect writes
// to its connect-offsets topic:
//
//	key   ["<connector>",{<source partition>}]   e.g. ["local-file-source",{"filename":"test.txt"}]
//	value {<source offset>}                      e.g. {"position":8}
//
// so that offsets move between standalone and distributed mode (and
// Kafka) unchanged. Implementations are safe for concurrent use; Set is
// atomic: after a crash either all or none of its entries are stored.
type OffsetStore interface {
	// Get returns the value stored for key, or nil.
	Get(key []byte) ([]byte, error)
	// Set stores entries, in order.
	Set(entries []OffsetEntry) error
	// Entries returns all stored entries, sorted by key.
	Entries() ([]OffsetEntry, error)
	// Close releases the store.
	Close() error
}

// FileOffsetStore is the standalone worker's OffsetStore
// (offset.storage.file.filename). The whole map is rewritten on every Set:
// written to FILE.tmp, synced, renamed over FILE, and the directory
// synced. The file is Gregor's own format, one entry per line, keys
// sorted:
//
//	{"format":"gregor-connect-offsets","version":1,"offsets":[
//	{"key":["local-file-source",{"filename":"test.txt"}],"value":{"position":8}},
//	{"key":["other",{"table":"t"}],"value":{"id":42}}
//	]}
//
// (Kafka's FileOffsetBackingStore writes the same keys and values inside a
// Java-serialized HashMap; Gregor does not read that file.)
type FileOffsetStore struct {
	path string
	mu   struct {
		sync.Mutex
		data   map[string][]byte
		closed bool
	}
}

const offsetsFileFormat = "gregor-connect-offsets"

type offsetsFile struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Offsets []struct {
		Key   json.RawMessage `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"offsets"`
}

// OpenFileOffsetStore loads the offsets file at path (a missing file is an
// empty store). A file that does not parse gives an error wrapping
// ErrOffsetsFile.
func OpenFileOffsetStore(path string) (*FileOffsetStore, error) {
	s := &FileOffsetStore{path: path}
	s.mu.data = map[string][]byte{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOffsetsFile, err)
	}
	var f offsetsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrOffsetsFile, path, err)
	}
	if f.Format != offsetsFileFormat || f.Version != 1 {
		return nil, fmt.Errorf("%w: %s: not a version 1 %s file", ErrOffsetsFile, path, offsetsFileFormat)
	}
	for _, e := range f.Offsets {
		key, err := compactJSON(e.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrOffsetsFile, path, err)
		}
		if len(e.Value) == 0 || string(e.Value) == "null" {
			continue
		}
		value, err := compactJSON(e.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrOffsetsFile, path, err)
		}
		s.mu.data[string(key)] = value
	}
	return s, nil
}

func compactJSON(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Get implements OffsetStore.
func (s *FileOffsetStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	return s.mu.data[string(key)], nil
}

// Entries implements OffsetStore.
func (s *FileOffsetStore) Entries() ([]OffsetEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	return sortedEntries(s.mu.data), nil
}

func sortedEntries(data map[string][]byte) []OffsetEntry {
	out := make([]OffsetEntry, 0, len(data))
	for k, v := range data {
		out = append(out, OffsetEntry{Key: []byte(k), Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out
}

// Set implements OffsetStore: it applies entries and rewrites the file. If
// writing fails the store keeps its previous contents.
func (s *FileOffsetStore) Set(entries []OffsetEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	next := make(map[string][]byte, len(s.mu.data)+len(entries))
	for k, v := range s.mu.data {
		next[k] = v
	}
	for _, e := range entries {
		if e.Value == nil {
			delete(next, string(e.Key))
		} else {
			next[string(e.Key)] = e.Value
		}
	}
	if err := s.writeLocked(next); err != nil {
		return err
	}
	s.mu.data = next
	return nil
}

// writeLocked writes data to the file atomically.
func (s *FileOffsetStore) writeLocked(data map[string][]byte) error {
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write offsets: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, `{"format":%q,"version":1,"offsets":[`, offsetsFileFormat)
	for i, e := range sortedEntries(data) {
		if i > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, "\n{\"key\":%s,\"value\":%s}", e.Key, e.Value)
	}
	w.WriteString("\n]}\n")
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write offsets %s: %w", s.path, err)
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Close implements OffsetStore.
func (s *FileOffsetStore) Close() error {
	s.mu.Lock()
	s.mu.closed = true
	s.mu.Unlock()
	return nil
}

// MemoryOffsetStore is an OffsetStore in memory, for tests and tools.
type MemoryOffsetStore struct {
	mu struct {
		sync.Mutex
		data map[string][]byte
	}
}

// NewMemoryOffsetStore returns an empty MemoryOffsetStore.
func NewMemoryOffsetStore() *MemoryOffsetStore {
	s := &MemoryOffsetStore{}
	s.mu.data = map[string][]byte{}
	return s
}

// Get implements OffsetStore.
func (s *MemoryOffsetStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.data[string(key)], nil
}

// Set implements OffsetStore.
func (s *MemoryOffsetStore) Set(entries []OffsetEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		if e.Value == nil {
			delete(s.mu.data, string(e.Key))
		} else {
			s.mu.data[string(e.Key)] = e.Value
		}
	}
	return nil
}

// Entries implements OffsetStore.
func (s *MemoryOffsetStore) Entries() ([]OffsetEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedEntries(s.mu.data), nil
}

// Close implements OffsetStore.
func (s *MemoryOffsetStore) Close() error { return nil }

// offsetCodec serializes source partitions and offsets as schemaless JSON,
// as Kafka's worker does with its internal JsonConverter.
var offsetCodec = func() *converter.JsonConverter {
	c := converter.NewJsonConverter()
	if err := c.Configure(map[string]string{converter.SchemasEnableConfig: "false"}, false); err != nil {
		panic(err)
	}
	return c
}()

// validateOffsetMap checks a source partition or offset as Kafka's
// OffsetUtils.validateFormat: string keys and primitive values.
func validateOffsetMap(what string, m map[string]any) error {
	for k, v := range m {
		switch v.(type) {
		case nil, string, bool, int, int8, int16, int32, int64, float32, float64:
		default:
			return fmt.Errorf("%w: %s may only contain primitive types as values, but field %s contains %T", sdk.ErrData, what, k, v)
		}
	}
	return nil
}

// encodeOffsetKey serializes a connector's source partition.
func encodeOffsetKey(connector string, partition map[string]any) ([]byte, error) {
	if err := validateOffsetMap("Source partitions", partition); err != nil {
		return nil, err
	}
	return offsetCodec.FromConnectData("", nil, []any{connector, partition})
}

// encodeOffsetValue serializes a source offset (nil for nil).
func encodeOffsetValue(offset map[string]any) ([]byte, error) {
	if offset == nil {
		return nil, nil
	}
	if err := validateOffsetMap("Offsets", offset); err != nil {
		return nil, err
	}
	return offsetCodec.FromConnectData("", nil, offset)
}

// decodeOffsetKey parses a serialized key into its connector and source
// partition.
func decodeOffsetKey(key []byte) (string, map[string]any, error) {
	sv, err := offsetCodec.ToConnectData("", key)
	if err != nil {
		return "", nil, err
	}
	l, ok := sv.Value.([]any)
	if !ok || len(l) != 2 {
		return "", nil, fmt.Errorf("%w: offset key %s is not [connector, partition]", sdk.ErrData, key)
	}
	name, ok := l[0].(string)
	partition, ok2 := l[1].(map[string]any)
	if !ok || (!ok2 && l[1] != nil) {
		return "", nil, fmt.Errorf("%w: offset key %s is not [connector, partition]", sdk.ErrData, key)
	}
	return name, partition, nil
}

// decodeOffsetValue parses a serialized offset (nil for nil).
func decodeOffsetValue(value []byte) (map[string]any, error) {
	if value == nil {
		return nil, nil
	}
	sv, err := offsetCodec.ToConnectData("", value)
	if err != nil {
		return nil, err
	}
	m, ok := sv.Value.(map[string]any)
	if !ok && sv.Value != nil {
		return nil, fmt.Errorf("%w: offset %s is not an object", sdk.ErrData, value)
	}
	return m, nil
}

// offsetReader is the OffsetStorageReader of one connector's tasks.
type offsetReader struct {
	connector string
	store     OffsetStore
}

func (r offsetReader) Offset(partition map[string]any) (map[string]any, error) {
	key, err := encodeOffsetKey(r.connector, partition)
	if err != nil {
		return nil, err
	}
	v, err := r.store.Get(key)
	if err != nil {
		return nil, err
	}
	return decodeOffsetValue(v)
}

func (r offsetReader) Offsets(partitions []map[string]any) ([]map[string]any, error) {
	out := make([]map[string]any, len(partitions))
	for i, p := range partitions {
		o, err := r.Offset(p)
		if err != nil {
			return nil, err
		}
		out[i] = o
	}
	return out, nil
}

// connectorOffsets returns the stored source partitions and offsets of a
// connector, sorted by partition.
func connectorOffsets(store OffsetStore, connector string) (partitions, offsets []map[string]any, err error) {
	entries, err := store.Entries()
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		name, p, err := decodeOffsetKey(e.Key)
		if err != nil || name != connector {
			continue
		}
		o, err := decodeOffsetValue(e.Value)
		if err != nil {
			continue
		}
		partitions = append(partitions, p)
		offsets = append(offsets, o)
	}
	return partitions, offsets, nil
}

// offsetWriter collects the latest offset of each source partition a task
// sent, until they are committed (Kafka's OffsetStorageWriter).
type offsetWriter struct {
	connector string
	mu        struct {
		sync.Mutex
		pending map[string][]byte // key -> value, latest first-come
		order   []string
	}
}

func newOffsetWriter(connector string) *offsetWriter {
	w := &offsetWriter{connector: connector}
	w.mu.pending = map[string][]byte{}
	return w
}

// offset records partition's latest offset.
func (w *offsetWriter) offset(partition, offset map[string]any) error {
	key, err := encodeOffsetKey(w.connector, partition)
	if err != nil {
		return err
	}
	value, err := encodeOffsetValue(offset)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	k := string(key)
	if _, ok := w.mu.pending[k]; !ok {
		w.mu.order = append(w.mu.order, k)
	}
	w.mu.pending[k] = value
	return nil
}

// take returns and forgets the pending offsets.
func (w *offsetWriter) take() []OffsetEntry {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]OffsetEntry, 0, len(w.mu.order))
	for _, k := range w.mu.order {
		out = append(out, OffsetEntry{Key: []byte(k), Value: w.mu.pending[k]})
	}
	w.mu.pending = map[string][]byte{}
	w.mu.order = nil
	return out
}

// restore puts back offsets that could not be committed, unless a newer
// offset for the same partition arrived meanwhile.
func (w *offsetWriter) restore(entries []OffsetEntry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range entries {
		k := string(e.Key)
		if _, newer := w.mu.pending[k]; newer {
			continue
		}
		w.mu.pending[k] = e.Value
		w.mu.order = append(w.mu.order, k)
	}
}
