package controller

// Bootstrap metadata (Kafka's BootstrapMetadata and BootstrapDirectory,
// KIP-778; SCRAM users by KIP-900): the records `kafka-storage format`
// leaves in the metadata log dir for the first active controller of a new
// cluster, written into the metadata log when that controller finds the
// log empty.
//
//	kafka-storage format --add-scram ...        every formatted metadata dir
//	        │ WriteBootstrap                     gets its own bootstrap.checkpoint
//	        ▼
//	<metadata.log.dir>/bootstrap.checkpoint
//	        │ ReadBootstrap (Open, OpenQuorum: Config.BootstrapDir)
//	        ▼
//	first decision of an active controller ──▶ image empty (no batch ever
//	(readyLocked; Open on a single node)       committed)? commit the records
//	                                           as the log's first batch
//
// The file is Gregor's own format, under Kafka's name:
//
//	bootstrap.checkpoint
//	+--------+---------+-----------+-----------+-----------------------+
//	| magic  | version | length    | crc32c    | body (length bytes)   |
//	| "GRBS" | uint16  | uint32 BE | uint32 BE | JSON, see below       |
//	| 4 B    | BE (1)  |           | of body   |                       |
//	+--------+---------+-----------+-----------+-----------------------+
//
//	body: {"metadataVersion": "4.0-IV3",
//	       "source":          "format command",
//	       "records":         [metadata.Record, ...]}   the records as the
//	                                                    metadata log holds them
//
// It is written atomically (temporary file, fsync, rename, fsync of the
// directory) and read whole; a bad magic, version, length or checksum,
// or records that do not apply to an empty image, fail the controller's
// start (ErrBadBootstrap) rather than bootstrap a cluster wrongly.
//
// Exactly once: the records go in only while the image has no batch at
// all (Image.Offset == 0), so a restart, a second formatted controller
// (each has its own file: whichever is active first bootstraps, the
// others find the log non-empty) or a controller elected after the
// bootstrap batch committed never writes them again. In a quorum the
// check runs when the node becomes the active controller, after every
// batch of earlier epochs was applied (raft.Listener.HandleLeaderChange),
// before its first decision. A bootstrap batch whose outcome is unknown
// (a timeout) is waited for as any other uncertain write (quorum.ready).
// A missing file means no bootstrap records, as a cluster formatted
// before --add-scram worked has none; broker-only nodes never read it.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gregor-streaming/gregor/internal/metadata"
	"github.com/gregor-streaming/gregor/internal/storage"
)

// BootstrapFile is the bootstrap checkpoint's name in the metadata log
// dir (Kafka's BootstrapDirectory.BINARY_BOOTSTRAP_FILENAME).
const BootstrapFile = "bootstrap.checkpoint"

const (
	bootstrapMagic   = "GRBS"
	bootstrapVersion = 1
	bootstrapHeader  = 4 + 2 + 4 + 4
	// bootstrapMaxBody bounds the body read: a checkpoint is a few
	// credentials, never megabytes.
	bootstrapMaxBody = 64 << 20
)

// ErrBadBootstrap is returned (wrapped, with the path) for a bootstrap
// checkpoint that cannot be read or does not apply.
var ErrBadBootstrap = errors.New("controller: bad bootstrap checkpoint")

// BootstrapMetadata is what the first active controller of a new cluster
// writes into the empty metadata log (Kafka's BootstrapMetadata).
type BootstrapMetadata struct {
	// MetadataVersion is the metadata.version format chose ("4.0-IV3").
	// Gregor's image has a fixed metadata.version (features.go), so it
	// is recorded for operators and not written to the log.
	MetadataVersion string `json:"metadataVersion"`
	// Source says who made the file ("format command").
	Source string `json:"source"`
	// Records are written as the log's first batch, in order: the
	// UserScramCredentialRecords of --add-scram.
	Records []metadata.Record `json:"records"`
}

// validate checks that the records apply to an empty image, as they
// will when the controller writes them.
func (bm BootstrapMetadata) validate() error {
	if _, err := metadata.Empty.Apply(bm.Records); err != nil {
		return err
	}
	return nil
}

// WriteBootstrap writes bm to dir/bootstrap.checkpoint (dir must exist),
// replacing any file there atomically. It fails without writing when the
// records do not apply to an empty image.
func WriteBootstrap(dir string, bm BootstrapMetadata) error {
	path := filepath.Join(dir, BootstrapFile)
	if err := bm.validate(); err != nil {
		return fmt.Errorf("controller: write %s: %w", path, err)
	}
	body, err := json.Marshal(bm)
	if err != nil {
		return fmt.Errorf("controller: write %s: %w", path, err)
	}
	buf := make([]byte, bootstrapHeader, bootstrapHeader+len(body))
	copy(buf, bootstrapMagic)
	binary.BigEndian.PutUint16(buf[4:], bootstrapVersion)
	binary.BigEndian.PutUint32(buf[6:], uint32(len(body)))
	binary.BigEndian.PutUint32(buf[10:], crc32.Checksum(body, castagnoli))
	buf = append(buf, body...)
	if err := storage.WriteFileAtomic(path, buf); err != nil {
		return fmt.Errorf("controller: write %s: %w", path, err)
	}
	return nil
}

// ReadBootstrap reads dir/bootstrap.checkpoint. A missing file (or an
// empty dir argument) is no bootstrap: the zero BootstrapMetadata and a
// nil error. A damaged file is an error wrapping ErrBadBootstrap. The
// caller owns the returned records.
func ReadBootstrap(dir string) (BootstrapMetadata, error) {
	if dir == "" {
		return BootstrapMetadata{}, nil
	}
	path := filepath.Join(dir, BootstrapFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return BootstrapMetadata{}, nil
	}
	if err != nil {
		return BootstrapMetadata{}, fmt.Errorf("controller: read %s: %w", path, err)
	}
	bm, err := decodeBootstrap(data)
	if err != nil {
		return BootstrapMetadata{}, fmt.Errorf("%w %s: %v", ErrBadBootstrap, path, err)
	}
	return bm, nil
}

// decodeBootstrap decodes a whole bootstrap checkpoint.
func decodeBootstrap(data []byte) (BootstrapMetadata, error) {
	if len(data) < bootstrapHeader {
		return BootstrapMetadata{}, fmt.Errorf("%d bytes, shorter than the %d-byte header", len(data), bootstrapHeader)
	}
	if string(data[:4]) != bootstrapMagic {
		return BootstrapMetadata{}, fmt.Errorf("magic %q, want %q", data[:4], bootstrapMagic)
	}
	if v := binary.BigEndian.Uint16(data[4:]); v != bootstrapVersion {
		return BootstrapMetadata{}, fmt.Errorf("unsupported version %d", v)
	}
	n := binary.BigEndian.Uint32(data[6:])
	body := data[bootstrapHeader:]
	if n > bootstrapMaxBody || uint32(len(body)) != n {
		return BootstrapMetadata{}, fmt.Errorf("body of %d bytes, header says %d", len(body), n)
	}
	if sum := crc32.Checksum(body, castagnoli); sum != binary.BigEndian.Uint32(data[10:]) {
		return BootstrapMetadata{}, errors.New("checksum mismatch")
	}
	var bm BootstrapMetadata
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&bm); err != nil {
		return BootstrapMetadata{}, err
	}
	if err := bm.validate(); err != nil {
		return BootstrapMetadata{}, err
	}
	return bm, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// loadBootstrap reads the bootstrap records of cfg.BootstrapDir into c.
func (c *Controller) loadBootstrap() error {
	bm, err := ReadBootstrap(c.cfg.BootstrapDir)
	if err != nil {
		return err
	}
	c.bootstrap = bm
	return nil
}

// bootstrapLocked writes the bootstrap records as the first batch of an
// empty metadata log (Kafka's QuorumController activation of an empty
// log: ActivationRecordsGenerator.recordsForEmptyLog). It does nothing
// when there are none or the log has a batch already. Call it only when
// this node may decide (c.commits.ready() succeeded), before planning.
func (c *Controller) bootstrapLocked() error {
	if len(c.bootstrap.Records) == 0 || c.image.Load().Offset != 0 {
		return nil
	}
	if err := c.commitLocked(c.bootstrap.Records); err != nil {
		return fmt.Errorf("controller: write the bootstrap records: %w", err)
	}
	c.cfg.Logger.Info("wrote the bootstrap records into the empty metadata log",
		"records", len(c.bootstrap.Records), "source", c.bootstrap.Source, "metadata_version", c.bootstrap.MetadataVersion)
	return nil
}
