package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streaming/gregor/internal/uuid"
)

// MetaPropertiesFile is the name of the file that marks a formatted log dir.
const MetaPropertiesFile = "meta.properties"

// MetaProperties is the content of a log dir's meta.properties, as written
// by `kafka-storage format` (version 1, KRaft):
//
//	#
//	#Wed Nov 26 02:55:00 UTC 2025
//	cluster.id=MkU3OEVBNTcwNTJENDM2Qk
//	directory.id=ZGlyZWN0b3J5LWlkLTAwMQ
//	node.id=1
//	version=1
//
// The file is a Java properties file; the comment lines are what Java's
// Properties.store writes and are ignored when read.
type MetaProperties struct {
	Version     int
	ClusterID   string
	NodeID      int32
	DirectoryID string // Kafka Uuid text form; empty in files written before KIP-858
}

// ReadMetaProperties reads dir/meta.properties. It returns an error wrapping
// ErrNotFormatted if the file does not exist.
func ReadMetaProperties(dir string) (MetaProperties, error) {
	path := filepath.Join(dir, MetaPropertiesFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return MetaProperties{}, fmt.Errorf("%w: no %s in %s", ErrNotFormatted, MetaPropertiesFile, dir)
	}
	if err != nil {
		return MetaProperties{}, err
	}
	props := parseProperties(data)
	var m MetaProperties
	v, ok := props["version"]
	if !ok {
		return m, fmt.Errorf("storage: %s: no version", path)
	}
	if m.Version, err = strconv.Atoi(v); err != nil || (m.Version != 0 && m.Version != 1) {
		return m, fmt.Errorf("storage: %s: unsupported version %q", path, v)
	}
	m.ClusterID = props["cluster.id"]
	if m.ClusterID == "" {
		return m, fmt.Errorf("storage: %s: no cluster.id", path)
	}
	node, ok := props["node.id"]
	if !ok && m.Version == 0 {
		node, ok = props["broker.id"]
	}
	if !ok {
		return m, fmt.Errorf("storage: %s: no node.id", path)
	}
	n, err := strconv.ParseInt(node, 10, 32)
	if err != nil || n < 0 {
		return m, fmt.Errorf("storage: %s: bad node.id %q", path, node)
	}
	m.NodeID = int32(n)
	if d, ok := props["directory.id"]; ok {
		if _, err := uuid.Parse(d); err != nil {
			return m, fmt.Errorf("storage: %s: bad directory.id: %w", path, err)
		}
		m.DirectoryID = d
	}
	return m, nil
}

// WriteMetaProperties atomically writes dir/meta.properties.
func WriteMetaProperties(dir string, m MetaProperties) error {
	props := map[string]string{
		"version":    strconv.Itoa(m.Version),
		"cluster.id": m.ClusterID,
		"node.id":    strconv.FormatInt(int64(m.NodeID), 10),
	}
	if m.DirectoryID != "" {
		props["directory.id"] = m.DirectoryID
	}
	var buf bytes.Buffer
	buf.WriteString("#\n#")
	buf.WriteString(time.Now().UTC().Format("Mon Jan 02 15:04:05 MST 2006"))
	buf.WriteByte('\n')
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		buf.WriteString(escapeProperty(k))
		buf.WriteByte('=')
		buf.WriteString(escapeProperty(props[k]))
		buf.WriteByte('\n')
	}
	if err := WriteFileAtomic(filepath.Join(dir, MetaPropertiesFile), buf.Bytes()); err != nil {
		return fmt.Errorf("write %s in %s: %w", MetaPropertiesFile, dir, err)
	}
	return nil
}

// FormatLogDir does what `kafka-storage format` does to one log dir:
// creates it and writes meta.properties (version 1) with a new random
// directory.id. A dir already formatted for the same cluster and node is
// left alone; one formatted for another cluster or node is an error.
func FormatLogDir(dir, clusterID string, nodeID int32) error {
	if clusterID == "" {
		return fmt.Errorf("storage: format %s: empty cluster id", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("storage: format %s: %w", dir, err)
	}
	old, err := ReadMetaProperties(dir)
	switch {
	case err == nil:
		if old.ClusterID != clusterID {
			return fmt.Errorf("%w: %s is formatted for cluster %s, not %s", ErrInconsistentClusterID, dir, old.ClusterID, clusterID)
		}
		if old.NodeID != nodeID {
			return fmt.Errorf("storage: %s is formatted for node %d, not %d", dir, old.NodeID, nodeID)
		}
		return nil
	case !errors.Is(err, ErrNotFormatted):
		return err
	}
	return WriteMetaProperties(dir, MetaProperties{
		Version:     1,
		ClusterID:   clusterID,
		NodeID:      nodeID,
		DirectoryID: uuid.Format(uuid.New()),
	})
}

// parseProperties reads the subset of the Java properties syntax that
// Properties.store writes: comments (# or !), key=value or key:value lines
// and backslash escapes. Line continuations are not supported.
func parseProperties(data []byte) map[string]string {
	props := make(map[string]string)
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimLeft(strings.TrimRight(line, "\r"), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		sep := -1
		for i := 0; i < len(line); i++ {
			if line[i] == '\\' {
				i++
				continue
			}
			if line[i] == '=' || line[i] == ':' {
				sep = i
				break
			}
		}
		if sep < 0 {
			props[unescapeProperty(strings.TrimSpace(line))] = ""
			continue
		}
		key := unescapeProperty(strings.TrimSpace(line[:sep]))
		props[key] = unescapeProperty(strings.TrimLeft(line[sep+1:], " \t\f"))
	}
	return props
}

func escapeProperty(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "=", `\=`, ":", `\:`, "#", `\#`, "!", `\!`)
	return r.Replace(s)
}

func unescapeProperty(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'f':
				b.WriteByte('\f')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
