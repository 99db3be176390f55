package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/cmd/internal/setup"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/snapshot"
)

// endRecordTimeout bounds the write of an end record, which is attempted
// even when the command was interrupted.
const endRecordTimeout = time.Minute

// withheldError replaces an error text the audit log refuses because it
// looks like it holds a secret.
const withheldError = "the error text is withheld: it looked like it held a secret; see the command's output"

// beginRecord is the record written before an access: who (the local
// caller, the cloud identity when the server names it, the public keys of
// the age identity), what (the backup, down to its object version and
// SHA-256), where to (the redacted target or the output path) and why.
func (a *app) beginRecord(ctx context.Context, cfg *configs.Config, m *catalog.Manifest, f restoreFlags, target snapshot.Conn, identityKeys []string) audit.Record {
	r := audit.Record{
		Kind:              audit.KindBegin,
		Action:            audit.ActionRestore,
		Environment:       cfg.Environment,
		SourceEnvironment: m.Environment,
		Cluster:           m.Cluster,
		Database:          m.Database,
		BackupID:          m.ID,
		ObjectKey:         m.Object.Key,
		ObjectVersion:     m.Object.VersionID,
		SHA256:            m.SHA256,
		IdentityKeys:      identityKeys,
		Reason:            f.reason,
		CloudIdentity:     setup.CloudIdentity(ctx, cfg, a.logger),
	}
	if err := r.SetLocalCaller(); err != nil {
		a.logger.Warn("the audit record names the caller by uid and host only", "error", err)
		if r.OSUser == "" {
			r.OSUser = "uid " + strconv.Itoa(r.UID)
		}
		if r.Host == "" {
			r.Host = "unknown host"
		}
	}
	if f.output != "" {
		r.Action, r.OutputPath = audit.ActionDownload, f.output
		if abs, err := filepath.Abs(f.output); err == nil && f.output != "-" {
			r.OutputPath = abs
		}
	} else {
		r.Target = target.String()
	}
	return r
}

// endRecord closes begin with the outcome of the access, the one-line error
// and the stored bytes read. It is written even when ctx was cancelled.
func endRecord(ctx context.Context, log *audit.Log, begin audit.Record, accessErr error, n int64) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endRecordTimeout)
	defer cancel()
	outcome, text := audit.OutcomeSuccess, ""
	if accessErr != nil {
		outcome, text = audit.OutcomeFailure, accessErr.Error()
	}
	_, err := log.Append(ctx, begin.End(outcome, text, n))
	if errors.Is(err, audit.ErrInvalidRecord) && text != "" {
		_, err = log.Append(ctx, begin.End(outcome, withheldError, n))
	}
	return err
}

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List and verify the restore-access audit log",
		Long: "The audit log of the config's environment records every access to backup\n" +
			"contents: a begin record before the first byte is read, an end record with\n" +
			"the outcome. Records are numbered and hash-chained.",
		Args: noArgs,
	}
	cmd.AddCommand(a.auditListCmd(), a.auditVerifyCmd())
	return cmd
}

// openAudit opens the audit log of the config's environment.
func (a *app) openAudit(ctx context.Context) (*audit.Log, *configs.Config, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, nil, err
	}
	store, err := setup.Store(ctx, cfg, a.logger)
	if err != nil {
		return nil, nil, err
	}
	log, err := setup.AuditLog(ctx, cfg, store, a.logger)
	return log, cfg, err
}

func (a *app) auditListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the audit records, oldest first",
		Long: "List the audit records of the config's environment, oldest first. It does\n" +
			"not check the chain (audit verify does). --json prints a JSON array of\n" +
			"records (the stored record format).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, _, err := a.openAudit(cmd.Context())
			if err != nil {
				return err
			}
			records, err := log.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, records)
			}
			return writeAuditTable(a.stdout, records)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeAuditTable(w io.Writer, records []audit.Record) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tACTION\tWHO\tDATABASE\tBACKUP\tTARGET\tOUTCOME")
	for _, r := range records {
		backup := r.BackupID
		if r.CrossEnvironment {
			backup += " (from " + r.SourceEnvironment + ")"
		}
		target := r.Target
		if r.OutputPath != "" {
			target = r.OutputPath
		}
		outcome := "-"
		if r.Kind == audit.KindEnd {
			outcome = r.Outcome + " (of " + strconv.FormatInt(r.BeginSeq, 10) + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.UTC().Format("2006-01-02 15:04:05Z"),
			r.Kind, r.Action, r.OSUser+"@"+r.Host, r.Database, backup, target, outcome)
	}
	return tw.Flush()
}

func (a *app) auditVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's chain",
		Long: "Read every audit record of the config's environment and check the chain:\n" +
			"numbering without gaps, each record's hash of the one before, strict\n" +
			"decoding, and that every end record closes a begin record. Exit 0 when it\n" +
			"holds, 1 naming the first bad record. The newest record has no successor\n" +
			"to vouch for it; the bucket's versioning and object lock keep its original.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, cfg, err := a.openAudit(cmd.Context())
			if err != nil {
				return err
			}
			rep, err := log.Verify(cmd.Context())
			if err != nil {
				return err
			}
			if !rep.OK {
				where := "audit chain broken"
				if rep.FirstBad > 0 {
					where = fmt.Sprintf("audit chain broken at record %d", rep.FirstBad)
				}
				return fmt.Errorf("%s of %s: %s (%d records read)", where, setup.AuditLocation(cfg), rep.Problem, rep.Records)
			}
			fmt.Fprintf(a.stdout, "audit chain ok: %d records\n", rep.Records)
			return nil
		},
	}
}
