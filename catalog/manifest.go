package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Format is the manifest format this version writes and reads.
const Format = 1

// Methods a backup may be taken with.
const (
	MethodPgDump    = "pg_dump"
	MethodPgDumpAll = "pg_dumpall --globals-only"
)

// Manifest describes one backup. It is written once, after the data object,
// and never modified.
type Manifest struct {
	Format           int          `json:"format"`
	ID               string       `json:"id"`
	Environment      string       `json:"environment"`
	Cluster          string       `json:"cluster"`
	Database         string       `json:"database"`
	Method           string       `json:"method"`
	ServerVersion    string       `json:"server_version"`
	SystemIdentifier string       `json:"system_identifier"`
	DumpVersion      string       `json:"dump_version"`
	TakenAt          time.Time    `json:"taken_at"`
	FinishedAt       time.Time    `json:"finished_at"`
	Tiers            []string     `json:"tiers"`
	LockMode         string       `json:"lock_mode"`
	LockUntil        time.Time    `json:"lock_until"`
	ExpiresAt        time.Time    `json:"expires_at"`
	RawBytes         int64        `json:"raw_bytes"`
	StoredBytes      int64        `json:"stored_bytes"`
	SHA256           string       `json:"sha256"`
	Object           Object       `json:"object"`
	Compression      Compression  `json:"compression"`
	Encryption       Encryption   `json:"encryption"`
	Tables           []TableCount `json:"tables"`
	Host             string       `json:"host"`
	PgtierVersion    string       `json:"pgtier_version"`
	Signature        *Signature   `json:"signature,omitempty"`
}

// Object names the stored data object, down to its version.
type Object struct {
	Key          string `json:"key"`
	VersionID    string `json:"version_id"`
	StorageClass string `json:"storage_class,omitempty"`
}

// Compression records how the archive was compressed.
type Compression struct {
	Algorithm string `json:"algorithm"`
	Level     int    `json:"level"`
}

// Encryption records who can read the backup.
type Encryption struct {
	Algorithm  string   `json:"algorithm"`
	Recipients []string `json:"recipients"`
}

// TableCount is a table's row count at backup time, exact or estimated.
type TableCount struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Rows   int64  `json:"rows"`
	Exact  bool   `json:"exact"`
}

// Signature is an ed25519 signature over the manifest without its signature.
type Signature struct {
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"public_key"`
	Value     string `json:"value"`
}

// Encode returns the manifest as indented JSON, as it is stored.
func (m *Manifest) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encoding manifest %s: %w", m.ID, err)
	}
	return buf.Bytes(), nil
}

// SignedBytes returns the bytes a signature covers: the encoded manifest with
// no signature field.
func (m *Manifest) SignedBytes() ([]byte, error) {
	c := *m
	c.Signature = nil
	return c.Encode()
}

// HasTier reports whether the backup belongs to the named tier.
func (m *Manifest) HasTier(tier string) bool {
	return slices.Contains(m.Tiers, tier)
}

// ErrInvalidManifest marks a manifest that cannot be trusted as a backup.
var ErrInvalidManifest = errors.New("invalid manifest")

// Decode parses a stored manifest and checks that it is complete.
func Decode(data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	return &m, nil
}

func (m *Manifest) check() error {
	if m.Format != Format {
		return fmt.Errorf("format %d is not %d; upgrade pgtier", m.Format, Format)
	}
	taken, err := ParseID(m.ID)
	if err != nil {
		return err
	}
	switch {
	case !m.TakenAt.Equal(taken):
		return fmt.Errorf("taken_at %s does not match id %s", m.TakenAt.Format(time.RFC3339), m.ID)
	case m.Environment == "" || m.Cluster == "" || m.Database == "":
		return errors.New("environment, cluster and database are required")
	case m.Object.Key == "":
		return errors.New("object key is missing")
	case len(m.SHA256) != 64:
		return errors.New("sha256 is missing")
	case m.StoredBytes <= 0:
		return errors.New("stored_bytes is not positive")
	case len(m.Tiers) == 0:
		return errors.New("tiers are missing")
	case m.FinishedAt.Before(m.TakenAt):
		return errors.New("finished_at is before taken_at")
	}
	return nil
}
