package node

import (
	"fmt"
	"path/filepath"

	"github.com/gregor-streaming/gregor/internal/config"
	"github.com/gregor-streaming/gregor/internal/metadata"
)

// SeedMetadata appends recs, as one batch, to the metadata log of the
// node that cfg configures, before that node starts. It is a test-harness
// hook (kafkatest.StaticCluster): nodes seeded with the same records
// (broker registrations, topics with replica assignments) start with the
// same image and replicate between themselves without a metadata quorum.
// It supports only nodes whose metadata log is the single-node journal.
func SeedMetadata(cfg *config.Broker, recs []metadata.Record) error {
	dir := cfg.MetadataLogDir
	if dir == "" {
		dir = cfg.LogDirs[0]
	}
	j, err := metadata.OpenFileJournal(filepath.Join(dir, metadataDirName))
	if err != nil {
		return err
	}
	if err := j.Replay(func([]metadata.Record) error { return nil }); err != nil {
		j.Close()
		return fmt.Errorf("node: seed metadata: %w", err)
	}
	if err := j.Append(recs); err != nil {
		j.Close()
		return fmt.Errorf("node: seed metadata: %w", err)
	}
	return j.Close()
}
