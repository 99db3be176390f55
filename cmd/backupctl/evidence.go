package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/cmd/internal/setup"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/restore"
	"github.com/pgtier/pgtier/storage"
)

// evidenceFormat is the version of the evidence document.
const evidenceFormat = 1

// evidenceTimeLayout names an evidence object by the UTC time its verify
// ended, to the millisecond, like a backup id: 20261121T060000.123Z.
const evidenceTimeLayout = "20060102T150405.000Z"

// checkSignature names the manifest signature check in the evidence.
const checkSignature = "signature"

// evidence is the record of one verify, stored as JSON under
// <environment>/verify/<cluster>/<database>/<id>/<verified_at>.json and
// printed by --json. The JSON names are stable.
type evidence struct {
	Format     int       `json:"format"`
	Outcome    string    `json:"outcome"` // "success" or "failure"
	Error      string    `json:"error"`   // the first failed check, "" on success
	StartedAt  time.Time `json:"started_at"`
	VerifiedAt time.Time `json:"verified_at"`

	// The backup, as its signed manifest describes it.
	Environment   string    `json:"environment"`
	Cluster       string    `json:"cluster"`
	Database      string    `json:"database"`
	BackupID      string    `json:"backup_id"`
	TakenAt       time.Time `json:"taken_at"`
	ObjectKey     string    `json:"object_key"`
	ObjectVersion string    `json:"object_version"`
	SHA256        string    `json:"sha256"` // the manifest's SHA-256 of the stored object
	StoredBytes   int64     `json:"stored_bytes"`
	SignedBy      string    `json:"signed_by"` // the manifest signer's public key, "" when unsigned

	// Who and why, as in the audit record.
	OSUser        string   `json:"os_user"`
	UID           int      `json:"uid"`
	Host          string   `json:"host"`
	CloudIdentity string   `json:"cloud_identity"`
	IdentityKeys  []string `json:"identity_keys"`
	Reason        string   `json:"reason"`
	RestoreInto   string   `json:"restore_into"` // the throwaway database, redacted; "" without --restore-into
	AuditSeq      int64    `json:"audit_seq"`    // the audit begin record of this verify
	PgtierVersion string   `json:"pgtier_version"`

	Checks    []restore.Check           `json:"checks"`
	Archive   *restore.Archive          `json:"archive"`
	Tables    []restore.TableComparison `json:"tables"`
	BytesRead int64                     `json:"bytes_read"`
}

// newEvidence describes a finished drill of m; its checks are the
// signature check, then the drill's.
func newEvidence(cfg *configs.Config, m *catalog.Manifest, begin audit.Record, version string, started time.Time, d *restore.DrillReport) *evidence {
	ev := &evidence{
		Format: evidenceFormat, StartedAt: started.UTC(), VerifiedAt: time.Now().UTC(),
		Environment: cfg.Environment, Cluster: m.Cluster, Database: m.Database, BackupID: m.ID, TakenAt: m.TakenAt,
		ObjectKey: m.Object.Key, ObjectVersion: m.Object.VersionID, SHA256: m.SHA256, StoredBytes: m.StoredBytes,
		OSUser: begin.OSUser, UID: begin.UID, Host: begin.Host, CloudIdentity: begin.CloudIdentity,
		IdentityKeys: begin.IdentityKeys, Reason: begin.Reason, RestoreInto: begin.Target, AuditSeq: begin.Seq,
		PgtierVersion: version, Archive: d.Archive, Tables: d.Tables, BytesRead: d.Bytes,
	}
	if m.Signature != nil {
		ev.SignedBy = m.Signature.PublicKey
	}
	ev.Checks = append([]restore.Check{signatureCheck(cfg, m)}, d.Checks...)
	ev.Outcome = audit.OutcomeSuccess
	for _, c := range ev.Checks {
		if c.Result == restore.ResultFail {
			ev.fail(c.Name + ": " + c.Detail)
			break
		}
	}
	return ev
}

// fail sets the outcome to failure, for the reason given.
func (ev *evidence) fail(reason string) {
	ev.Outcome, ev.Error = audit.OutcomeFailure, reason
}

// signatureCheck reports the check the catalog made when it read m.
func signatureCheck(cfg *configs.Config, m *catalog.Manifest) restore.Check {
	if cfg.Encryption.VerifyKeyFile == "" || m.Signature == nil {
		return restore.Check{Name: checkSignature, Result: restore.ResultSkipped,
			Detail: "encryption.verify_key_file is not set (storage.require_lockdown is off)"}
	}
	return restore.Check{Name: checkSignature, Result: restore.ResultPass,
		Detail: fmt.Sprintf("%s signature by %s, a key of %s", m.Signature.Algorithm, m.Signature.PublicKey, cfg.Encryption.VerifyKeyFile)}
}

// failure returns why the verify failed, or nil.
func (ev *evidence) failure() error {
	if ev.Outcome == audit.OutcomeSuccess {
		return nil
	}
	return errors.New(ev.Error)
}

// summary counts the checks for the closing line.
func (ev *evidence) summary() string {
	var passed, skipped []string
	for _, c := range ev.Checks {
		switch c.Result {
		case restore.ResultPass:
			passed = append(passed, c.Name)
		case restore.ResultSkipped:
			skipped = append(skipped, c.Name)
		}
	}
	s := fmt.Sprintf("%d checks passed (%s)", len(passed), strings.Join(passed, ", "))
	if len(skipped) > 0 {
		s += fmt.Sprintf(", %d skipped (%s)", len(skipped), strings.Join(skipped, ", "))
	}
	return s
}

// evidenceKey is where the evidence of one verify is kept, relative to the
// store's prefix. Each verify writes its own object, named by the time it
// ended, and never overwrites another, so the history survives on any
// bucket and needs no delete or version listing to read.
func evidenceKey(ev *evidence) string {
	return ev.Environment + "/verify/" + ev.Cluster + "/" + ev.Database + "/" + ev.BackupID + "/" +
		ev.VerifiedAt.Format(evidenceTimeLayout) + ".json"
}

// evidenceLocation names a key of the store for messages.
func evidenceLocation(cfg *configs.Config, key string) string {
	return strings.TrimSuffix(cfg.Storage.URL, "/") + "/" + key
}

// writeEvidence stores ev with a conditional put, locked like the audit
// records (the config's object-lock mode, until the longest tier's max from
// now), and returns its key.
func writeEvidence(ctx context.Context, cfg *configs.Config, store storage.Store, ev *evidence) (string, error) {
	key := evidenceKey(ev)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ev); err != nil {
		return key, fmt.Errorf("encoding the evidence: %w", err)
	}
	o := storage.PutOptions{SizeHint: int64(buf.Len()), ContentType: "application/json", IfNoneMatch: true,
		LockMode: setup.LockMode(cfg)}
	if o.LockMode != "" {
		o.LockUntil = ev.VerifiedAt
		for _, t := range []configs.Tier{cfg.Tiers.Base, cfg.Tiers.Daily, cfg.Tiers.Weekly, cfg.Tiers.Monthly} {
			if u := t.Max.AddTo(ev.VerifiedAt); u.After(o.LockUntil) {
				o.LockUntil = u
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endRecordTimeout)
	defer cancel()
	if _, err := store.Put(ctx, key, &buf, o); err != nil {
		return key, err
	}
	return key, nil
}
