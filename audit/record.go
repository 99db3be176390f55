package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Format is the record format this version writes and reads.
const Format = 1

// Record kinds.
const (
	KindBegin = "begin" // written before the first byte of a backup is read
	KindEnd   = "end"   // written when the access ends, with its outcome
)

// Actions: the commands that read backup contents.
const (
	ActionRestore  = "restore"
	ActionDownload = "download"
	ActionVerify   = "verify"
)

// Outcomes of an end record.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// maxRecordBytes bounds one stored record; Append refuses bigger ones and
// readers do not read past it.
const maxRecordBytes = 64 << 10

// ErrInvalidRecord marks a record that is malformed, incomplete or holds
// something that looks like a secret. Append never writes such a record;
// readers report stored ones as bad.
var ErrInvalidRecord = errors.New("invalid audit record")

// Record is one entry of the audit log, stored as indented JSON in this
// field order. Fields marked "set by Append" are ignored on input (or, for
// the environments, defaulted and checked) and filled in the returned
// record; the caller fills the rest. The JSON names are stable.
type Record struct {
	Format     int       `json:"format"`      // set by Append: Format
	Seq        int64     `json:"seq"`         // set by Append: 1, 2, ...
	PrevSHA256 string    `json:"prev_sha256"` // set by Append: hex SHA-256 of record Seq-1's stored bytes; "" for record 1
	Kind       string    `json:"kind"`        // KindBegin or KindEnd
	Time       time.Time `json:"time"`        // set by Append: the Log's clock, UTC
	BeginSeq   int64     `json:"begin_seq"`   // end records: the Seq of the begin record closed; 0 on begin records

	// Who. OSUser and Host are required.
	OSUser        string   `json:"os_user"`
	UID           int      `json:"uid"`
	Host          string   `json:"host"`
	CloudIdentity string   `json:"cloud_identity"` // the caller's ARN when the store tells it, else ""
	IdentityKeys  []string `json:"identity_keys"`  // public keys of the age identity used (never the identity)

	// What. Action, Cluster, Database and BackupID are required.
	Action            string `json:"action"`             // ActionRestore, ActionDownload or ActionVerify
	Environment       string `json:"environment"`        // the log's environment; defaulted by Append, which refuses another
	SourceEnvironment string `json:"source_environment"` // the backup's environment; defaults to Environment
	Cluster           string `json:"cluster"`
	Database          string `json:"database"`
	BackupID          string `json:"backup_id"`
	ObjectKey         string `json:"object_key"`
	ObjectVersion     string `json:"object_version"`
	SHA256            string `json:"sha256"` // hex SHA-256 of the data object, "" when not known

	// Where to: a database target, redacted by the caller, or a file.
	Target     string `json:"target"`
	OutputPath string `json:"output_path"`

	// Why: required on begin records.
	Reason string `json:"reason"`

	// CrossEnvironment is set by Append: SourceEnvironment differs from
	// Environment, which the caller allowed explicitly.
	CrossEnvironment bool `json:"cross_environment"`

	// End records only.
	Outcome string `json:"outcome"` // OutcomeSuccess or OutcomeFailure
	Error   string `json:"error"`   // one line, redacted by the caller; "" on success
	Bytes   int64  `json:"bytes"`   // bytes of backup read
}

// End returns the end record that closes begin record r (as returned by
// Append): the same who, what, where and why, with the outcome, the error
// text (made one line by Append) and the bytes read.
func (r Record) End(outcome, errText string, n int64) Record {
	e := r
	e.IdentityKeys = append([]string(nil), r.IdentityKeys...)
	e.Format, e.Seq, e.PrevSHA256, e.Time = 0, 0, "", time.Time{}
	e.Kind, e.BeginSeq = KindEnd, r.Seq
	e.Outcome, e.Error, e.Bytes = outcome, errText, n
	return e
}

// Encode returns the record as it is stored: indented JSON without HTML
// escaping, ending in a newline.
func (r *Record) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encoding audit record %d: %w", r.Seq, err)
	}
	return buf.Bytes(), nil
}

// DecodeRecord parses stored record bytes. It is strict: unknown fields,
// trailing data, bytes that are not exactly what Encode writes for the
// decoded record (so no duplicate or differently cased keys, whatever
// parser reads them later), and records that fail validation are refused
// with an error wrapping ErrInvalidRecord.
func DecodeRecord(data []byte) (Record, error) {
	if len(data) > maxRecordBytes {
		return Record{}, fmt.Errorf("%w: larger than %d bytes", ErrInvalidRecord, maxRecordBytes)
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Record{}, fmt.Errorf("%w: data after the record", ErrInvalidRecord)
	}
	if err := r.check(); err != nil {
		return Record{}, err
	}
	canon, err := r.Encode()
	if err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if !bytes.Equal(canon, data) {
		return Record{}, fmt.Errorf("%w: not in the form pgtier writes", ErrInvalidRecord)
	}
	return r, nil
}

// check validates a stored record: the fields Append sets, then content.
func (r *Record) check() error {
	var problem string
	switch {
	case r.Format != Format:
		problem = fmt.Sprintf("format %d is not %d; upgrade pgtier", r.Format, Format)
	case r.Seq < 1:
		problem = fmt.Sprintf("seq %d is not positive", r.Seq)
	case r.Seq == 1 && r.PrevSHA256 != "":
		problem = "record 1 has a prev_sha256"
	case r.Seq > 1 && !isHexSHA256(r.PrevSHA256):
		problem = "prev_sha256 is not a hex SHA-256"
	case r.Time.IsZero():
		problem = "time is missing"
	case r.Kind == KindEnd && r.BeginSeq >= r.Seq:
		problem = fmt.Sprintf("end record %d closes begin_seq %d, which is not earlier", r.Seq, r.BeginSeq)
	}
	if problem != "" {
		return fmt.Errorf("%w: %s", ErrInvalidRecord, problem)
	}
	return r.checkContent()
}

// checkContent validates what the caller provides.
func (r *Record) checkContent() error {
	problem := r.contentProblem()
	if problem == "" {
		problem = checkFields(r)
	}
	if problem != "" {
		return fmt.Errorf("%w: %s", ErrInvalidRecord, problem)
	}
	return nil
}

func (r *Record) contentProblem() string {
	switch {
	case r.Kind != KindBegin && r.Kind != KindEnd:
		return fmt.Sprintf("kind %q is not %q or %q", r.Kind, KindBegin, KindEnd)
	case r.Action != ActionRestore && r.Action != ActionDownload && r.Action != ActionVerify:
		return fmt.Sprintf("action %q is not restore, download or verify", r.Action)
	case checkEnvironment(r.Environment) != nil:
		return fmt.Sprintf("environment: %v", checkEnvironment(r.Environment))
	case checkEnvironment(r.SourceEnvironment) != nil:
		return fmt.Sprintf("source_environment: %v", checkEnvironment(r.SourceEnvironment))
	case r.CrossEnvironment != (r.SourceEnvironment != r.Environment):
		return "cross_environment does not match the environments"
	case r.OSUser == "" || r.Host == "":
		return "os_user and host are required"
	case r.Cluster == "" || r.Database == "" || r.BackupID == "":
		return "cluster, database and backup_id are required"
	case r.SHA256 != "" && !isHexSHA256(r.SHA256):
		return "sha256 is not a hex SHA-256"
	case r.Bytes < 0:
		return "bytes is negative"
	}
	if r.Kind == KindBegin {
		switch {
		case r.BeginSeq != 0 || r.Outcome != "" || r.Error != "" || r.Bytes != 0:
			return "a begin record has no begin_seq, outcome, error or bytes"
		case r.Reason == "":
			return "reason is required"
		}
		return ""
	}
	switch {
	case r.BeginSeq < 1:
		return "an end record needs the begin_seq it closes"
	case r.Outcome != OutcomeSuccess && r.Outcome != OutcomeFailure:
		return fmt.Sprintf("outcome %q is not success or failure", r.Outcome)
	case r.Outcome == OutcomeSuccess && r.Error != "":
		return "a successful end record has no error"
	}
	return ""
}

// checkEnvironment accepts a name usable as one key segment.
func checkEnvironment(env string) error {
	switch env {
	case "":
		return errors.New("empty environment")
	case ".", "..":
		return fmt.Errorf("environment %q is not a name", env)
	}
	for _, c := range env {
		if c == '/' || c < 0x20 || c == 0x7f {
			return fmt.Errorf("environment %q holds a slash or control character", env)
		}
	}
	return nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
