package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/cmd/internal/setup"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/crypto"
	"github.com/pgtier/pgtier/restore"
	"github.com/pgtier/pgtier/snapshot"
	"github.com/pgtier/pgtier/storage"
)

type verifyFlags struct {
	database, reason, identity, into string
	latest, asJSON                   bool
}

func (a *app) verifyCmd() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify (ID | --latest) --database D --reason TEXT [--restore-into DSN]",
		Short: "Restore drill: read a backup back and check it",
		Long: "Read a backup back as a restore would and check it: the manifest's signature,\n" +
			"the stored object's size and SHA-256, age's authentication of every chunk, and\n" +
			"the archive's table of contents (each table the manifest counted has its data).\n\n" +
			"With --restore-into DSN it also creates that database (it must not exist),\n" +
			"restores into it without owners and privileges, compares every table's\n" +
			"count(*) with the manifest (exact counts must be equal; estimates may differ\n" +
			"by 10% or 1000 rows, whichever is larger; tables never analyzed are not\n" +
			"compared), runs pg_amcheck when the amcheck extension can be created there\n" +
			"(else the check is skipped, saying why), and always drops the database.\n\n" +
			"Verify is audited like a restore (action verify): no audit record, no verify.\n" +
			"Its evidence, the JSON document --json prints, is written to\n" +
			"<environment>/verify/<cluster>/<database>/<id>/<verified_at>.json in the\n" +
			"bucket, never overwriting an earlier one. The daemon exports the time of\n" +
			"the newest successful verify of each database from the audit log.\n\n" +
			"Exit 0 when every check passed, 1 naming the first failed check (or a\n" +
			"manifest that fails its signature check: --latest does not fall back to an\n" +
			"older backup), 2 for usage errors.",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return setup.Usagef("verify takes at most one backup id")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.verify(cmd.Context(), args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.database, "database", "", "the database whose backup to verify")
	fl.BoolVar(&f.latest, "latest", false, "verify the newest backup")
	fl.StringVar(&f.reason, "reason", "", "why (required, recorded), e.g. \"weekly restore drill\"")
	fl.StringVar(&f.identity, "identity", "", "your age identity file (default $PGTIER_IDENTITY)")
	fl.StringVar(&f.into, "restore-into", "", "DSN of a throwaway database to restore into, check and drop")
	fl.BoolVar(&f.asJSON, "json", false, "print the evidence as JSON")
	return cmd
}

func (f *verifyFlags) check(args []string) error {
	if f.identity == "" {
		f.identity = os.Getenv("PGTIER_IDENTITY")
	}
	switch {
	case (len(args) == 1) == f.latest:
		return setup.Usagef("name the backup: an ID or --latest (one of them)")
	case f.database == "":
		return setup.Usagef("--database is required")
	case f.reason == "":
		return setup.Usagef("--reason is required: say why, e.g. \"weekly restore drill\"; it is recorded")
	case f.identity == "":
		return setup.Usagef("--identity FILE is required (or set PGTIER_IDENTITY): an age identity the backups are encrypted to")
	}
	return nil
}

func (a *app) verify(ctx context.Context, args []string, f verifyFlags) error {
	if err := f.check(args); err != nil {
		return err
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	identities, identityKeys, err := crypto.LoadIdentities(f.identity)
	if err != nil {
		return setup.Usage(err)
	}
	var into *snapshot.Conn
	if f.into != "" {
		c, err := snapshot.ParseDSN(f.into)
		if err != nil {
			return setup.Usage(fmt.Errorf("--restore-into: %w", err))
		}
		into = &c
	}
	store, err := setup.Store(ctx, cfg, a.logger)
	if err != nil {
		return err
	}
	cat := setup.Catalog(store, cfg, "", a.logger)
	m, err := pickVerified(ctx, store, cfg, cat, f, args)
	if err != nil {
		return setup.Classify(err)
	}
	tools, err := a.drillTools(ctx, cfg, m, into)
	if err != nil {
		return setup.Classify(err)
	}

	// No record, no verify: nothing of the backup is read before this.
	log, err := setup.AuditLog(ctx, cfg, store, a.logger)
	if err != nil {
		return err
	}
	rec := a.beginRecord(ctx, cfg, m, restoreFlags{reason: f.reason}, snapshot.Conn{}, identityKeys)
	rec.Action = audit.ActionVerify
	rec.Target = ""
	if into != nil {
		rec.Target = into.String()
	}
	begin, err := log.Append(ctx, rec)
	if err != nil {
		err = fmt.Errorf("cannot write the audit record to %s: %w; no record, no verify", setup.AuditLocation(cfg), err)
		if errors.Is(err, audit.ErrInvalidRecord) {
			return setup.Usage(err)
		}
		return err
	}

	started := time.Now()
	var read atomic.Int64
	r := &restore.Restorer{Source: cat, Identities: identities, IdentityFile: f.identity, IdentityKeys: identityKeys,
		Tools: tools, Logger: a.logger, Progress: counting(&read, a.progress("verifying"))}
	report, err := r.Drill(ctx, m, restore.DrillOptions{Into: into})
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("interrupted: %w", err)
	}
	if err != nil {
		endErr := endRecord(ctx, log, begin, err, read.Load())
		if endErr != nil {
			endErr = fmt.Errorf("cannot write the audit end record to %s: %w", setup.AuditLocation(cfg), endErr)
		}
		return errors.Join(setup.Classify(fmt.Errorf("verify of backup %s of %s: %w", m.ID, m.Database, err)), endErr)
	}

	ev := newEvidence(cfg, m, begin, a.version, started, report)
	key, putErr := writeEvidence(ctx, cfg, store, ev)
	if putErr != nil && ev.failure() == nil {
		ev.fail(fmt.Sprintf("writing the evidence to %s: %v", evidenceLocation(cfg, key), putErr))
	}
	failure := ev.failure()
	endErr := endRecord(ctx, log, begin, failure, read.Load())
	if endErr != nil {
		endErr = fmt.Errorf("cannot write the audit end record to %s: %w; the access stays incomplete in the log", setup.AuditLocation(cfg), endErr)
	}
	if f.asJSON {
		if err := writeJSON(a.stdout, ev); err != nil {
			return err
		}
	}
	where := "evidence at " + evidenceLocation(cfg, key)
	if putErr != nil {
		where = "no evidence written"
	}
	if failure != nil {
		return errors.Join(fmt.Errorf("verify of backup %s of %s failed: %w; %s", m.ID, m.Database, failure, where), endErr)
	}
	if endErr != nil {
		return fmt.Errorf("verified backup %s of %s, but %w", m.ID, m.Database, endErr)
	}
	fmt.Fprintf(a.stderr, "verified backup %s of %s: %s in %s; %s\n", m.ID, m.Database, ev.summary(),
		time.Since(started).Round(time.Millisecond), where)
	return nil
}

// pickVerified finds the manifest to verify. --latest takes the newest
// backup and refuses when the newest manifest in the bucket fails its
// signature check, rather than falling back to an older backup.
func pickVerified(ctx context.Context, store storage.Store, cfg *configs.Config, cat *catalog.Catalog, f verifyFlags, args []string) (*catalog.Manifest, error) {
	if len(args) == 1 {
		return cat.Get(ctx, f.database, args[0])
	}
	all, err := cat.List(ctx, f.database)
	if err != nil {
		return nil, err
	}
	m, err := catalog.Latest(all, time.Time{})
	if cfg.Encryption.VerifyKeyFile == "" {
		return m, err
	}
	// The same listing without signature checks: its newest manifest is
	// the one the signed listing should end with.
	unchecked, lerr := catalog.New(store, cat.Layout(), nil).List(ctx, f.database)
	if lerr != nil || len(unchecked) == 0 {
		return m, err
	}
	newest := unchecked[len(unchecked)-1]
	if m != nil && newest.ID == m.ID {
		return m, nil
	}
	got, gerr := cat.Get(ctx, f.database, newest.ID)
	if gerr != nil {
		return nil, fmt.Errorf("the newest backup of %s cannot be verified: %w; verify --latest does not fall back to an older backup", f.database, gerr)
	}
	return got, nil
}

// drillTools finds pg_restore: for the server behind into when set (its
// database must not exist), else one that reads archives of the backup's
// pg_dump version.
func (a *app) drillTools(ctx context.Context, cfg *configs.Config, m *catalog.Manifest, into *snapshot.Conn) (snapshot.Tools, error) {
	if into == nil {
		tools, err := snapshot.FindTools(cfg.Postgres.BinDir, dumpMajor(m.DumpVersion))
		if err != nil {
			return tools, setup.Usage(err)
		}
		return tools, nil
	}
	if m.Database == catalog.GlobalsDatabase {
		return snapshot.Tools{}, setup.Usagef("--restore-into: the globals are a SQL script, not an archive; verify them without --restore-into")
	}
	tools, _, err := setup.Tools(ctx, cfg, adminOf(*into))
	if err != nil {
		return tools, err
	}
	exists, err := snapshot.DatabaseExists(ctx, adminOf(*into), into.Database)
	if err != nil {
		return tools, err
	}
	if exists {
		return tools, setup.Usagef("--restore-into: database %s exists; name one that does not: the drill creates it and drops it again", into.Database)
	}
	return tools, nil
}

// dumpMajor reads the major version of a pg_dump version such as "15.4"
// or "9.6.0"; 0 when it cannot.
func dumpMajor(version string) int {
	major, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0
	}
	return n
}
