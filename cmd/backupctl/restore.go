package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/cmd/internal/setup"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/crypto"
	"github.com/pgtier/pgtier/restore"
	"github.com/pgtier/pgtier/snapshot"
)

type restoreFlags struct {
	database, to, output, reason, identity, at, source string
	latest, intoExisting, noOwner, allowCross          bool
}

func (a *app) restoreCmd() *cobra.Command {
	var f restoreFlags
	cmd := &cobra.Command{
		Use:   "restore (ID | --latest | --at TIME) --database D (--to DSN | --output FILE) --reason TEXT",
		Short: "Restore a backup into a new database or a file",
		Long: "Restore a backup into a new database, which backupctl creates and drops again\n" +
			"if the restore fails, or write its pg_dump archive to a file (--output).\n\n" +
			"The target's password comes from PGPASSWORD or ~/.pgpass, not from the DSN.\n" +
			"The age identity comes from --identity or $PGTIER_IDENTITY.\n\n" +
			"Before the first byte of the backup is read, an audit record (who, what,\n" +
			"where to, why) is written to the audit log; when it cannot be written,\n" +
			"nothing is read and nothing is created (exit 1). A second record gives the\n" +
			"outcome; when that one cannot be written the command exits 1 too, and says\n" +
			"whether the restore itself succeeded.\n\n" +
			"--source-environment reads another environment's backups; restoring one of\n" +
			"them into this config's environment is refused (exit 2) unless\n" +
			"--allow-cross-environment is given, and the audit record then says so. A\n" +
			"refused attempt reads nothing and writes no audit record.",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return setup.Usagef("restore takes at most one backup id")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.restore(cmd, args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.database, "database", "", "the database whose backup to restore")
	fl.BoolVar(&f.latest, "latest", false, "restore the newest backup")
	fl.StringVar(&f.at, "at", "", "restore the newest backup taken at or before this time (RFC 3339)")
	fl.StringVar(&f.to, "to", "", "target DSN; its database is created for the restore")
	fl.StringVar(&f.output, "output", "", "write the pg_dump archive to this file instead (- for stdout)")
	fl.StringVar(&f.reason, "reason", "", "why this restore is needed (required, recorded)")
	fl.StringVar(&f.identity, "identity", "", "your age identity file (default $PGTIER_IDENTITY)")
	fl.BoolVar(&f.intoExisting, "into-existing", false, "restore into an existing database, in one transaction")
	fl.BoolVar(&f.noOwner, "no-owner", false, "do not restore object ownership (pg_restore --no-owner)")
	fl.StringVar(&f.source, "source-environment", "", "restore a backup of this environment (default: the config's)")
	fl.BoolVar(&f.allowCross, "allow-cross-environment", false, "allow restoring another environment's backup into this one (audited)")
	return cmd
}

func (f *restoreFlags) check(args []string) error {
	picks := 0
	for _, set := range []bool{len(args) == 1, f.latest, f.at != ""} {
		if set {
			picks++
		}
	}
	if f.identity == "" {
		f.identity = os.Getenv("PGTIER_IDENTITY")
	}
	switch {
	case picks != 1:
		return setup.Usagef("name the backup: an ID, --latest or --at TIME (one of them)")
	case f.database == "":
		return setup.Usagef("--database is required")
	case (f.to == "") == (f.output == ""):
		return setup.Usagef("give a target: --to DSN or --output FILE (one of them)")
	case f.reason == "":
		return setup.Usagef("--reason is required: say why this restore is needed; it is recorded")
	case f.identity == "":
		return setup.Usagef("--identity FILE is required (or set PGTIER_IDENTITY): your age identity")
	}
	return nil
}

func (a *app) restore(cmd *cobra.Command, args []string, f restoreFlags) error {
	if err := f.check(args); err != nil {
		return err
	}
	ctx := cmd.Context()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if err := f.checkEnvironment(cfg.Environment); err != nil {
		return err
	}
	identities, identityKeys, err := crypto.LoadIdentities(f.identity)
	if err != nil {
		return setup.Usage(err)
	}
	var target snapshot.Conn
	if f.to != "" {
		if target, err = snapshot.ParseDSN(f.to); err != nil {
			return setup.Usage(err)
		}
	}
	store, err := setup.Store(ctx, cfg, a.logger)
	if err != nil {
		return err
	}
	cat := setup.Catalog(store, cfg, f.source, a.logger)
	m, err := pick(cmd, cat, f, args)
	if err != nil {
		return setup.Classify(err)
	}
	var read atomic.Int64
	r := &restore.Restorer{Source: cat, Identities: identities, IdentityFile: f.identity,
		IdentityKeys: identityKeys, Logger: a.logger, Progress: counting(&read, a.progress("restoring"))}
	if f.to != "" {
		if r.Tools, err = a.checkTarget(ctx, cfg, m, target, f.intoExisting); err != nil {
			return setup.Classify(err)
		}
	}

	// No record, no restore: nothing of the backup is read before this.
	log, err := setup.AuditLog(ctx, cfg, store, a.logger)
	if err != nil {
		return err
	}
	begin, err := log.Append(ctx, a.beginRecord(ctx, cfg, m, f, target, identityKeys))
	if err != nil {
		err = fmt.Errorf("cannot write the audit record to %s: %w; no record, no restore", setup.AuditLocation(cfg), err)
		if errors.Is(err, audit.ErrInvalidRecord) {
			return setup.Usage(err)
		}
		return err
	}

	start := time.Now()
	var n int64
	dest := f.output
	if f.output != "" {
		n, err = r.ToFile(ctx, m, f.output)
	} else {
		dest = target.String()
		n, err = r.ToDatabase(ctx, m, target, restore.DBOptions{IntoExisting: f.intoExisting, NoOwner: f.noOwner})
	}
	endErr := endRecord(ctx, log, begin, err, read.Load())
	if endErr != nil {
		endErr = fmt.Errorf("cannot write the audit end record to %s: %w; the access stays incomplete in the log", setup.AuditLocation(cfg), endErr)
	}
	switch {
	case err != nil && endErr != nil:
		return errors.Join(setup.Classify(err), endErr)
	case err != nil:
		return setup.Classify(err)
	case endErr != nil:
		return fmt.Errorf("restored backup %s of %s into %s, but %w", m.ID, m.Database, dest, endErr)
	}
	fmt.Fprintf(a.stderr, "restored backup %s of %s into %s: %d bytes in %s\n",
		m.ID, m.Database, dest, n, time.Since(start).Round(time.Millisecond))
	return nil
}

// checkEnvironment refuses, before anything is read, to bring another
// environment's backup into this one without --allow-cross-environment.
func (f *restoreFlags) checkEnvironment(own string) error {
	if err := checkSource(f.source); err != nil {
		return err
	}
	if f.source == "" || f.source == own || f.allowCross {
		return nil
	}
	verb := "restoring"
	if f.output != "" {
		verb = "downloading"
	}
	return setup.Usagef("--source-environment %s: this config works in environment %s; %s a %s backup into %s needs --allow-cross-environment (the audit record will say so)",
		f.source, own, verb, f.source, own)
}

// checkSource refuses a --source-environment that is not one key segment.
func checkSource(env string) error {
	if env == "." || env == ".." || strings.ContainsFunc(env, func(c rune) bool { return c == '/' || unicode.IsControl(c) }) {
		return setup.Usagef("--source-environment %q is not an environment name", env)
	}
	return nil
}

// checkTarget finds the tools for the target server and refuses a target
// that cannot be restored into, before the audit record and the download.
// ToDatabase checks the target again.
func (a *app) checkTarget(ctx context.Context, cfg *configs.Config, m *catalog.Manifest, target snapshot.Conn, intoExisting bool) (snapshot.Tools, error) {
	if m.Database == catalog.GlobalsDatabase {
		return snapshot.Tools{}, restore.ErrGlobalsNeedFile
	}
	tools, _, err := setup.Tools(ctx, cfg, adminOf(target))
	if err != nil {
		return tools, err
	}
	if intoExisting {
		return tools, nil
	}
	exists, err := snapshot.DatabaseExists(ctx, adminOf(target), target.Database)
	if err != nil {
		return tools, err
	}
	if exists {
		return tools, fmt.Errorf("%w: %s; name a new database (it is created for the restore) or pass --into-existing", restore.ErrTargetExists, target.Database)
	}
	return tools, nil
}

// counting wraps a progress function so that every stored byte read is
// also added to read.
func counting(read *atomic.Int64, progress func(int64) func(int64)) func(int64) func(int64) {
	return func(total int64) func(int64) {
		var inner func(int64)
		if progress != nil {
			inner = progress(total)
		}
		return func(n int64) {
			read.Add(n)
			if inner != nil {
				inner(n)
			}
		}
	}
}

func adminOf(c snapshot.Conn) snapshot.Conn {
	c.Database = "postgres"
	return c
}

// pick finds the manifest the flags name.
func pick(cmd *cobra.Command, cat *catalog.Catalog, f restoreFlags, args []string) (*catalog.Manifest, error) {
	if len(args) == 1 {
		return cat.Get(cmd.Context(), f.database, args[0])
	}
	var at time.Time
	if f.at != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, f.at); err != nil {
			return nil, setup.Usagef("--at %q is not a time like 2026-11-21T06:00:00Z", f.at)
		}
	}
	all, err := cat.List(cmd.Context(), f.database)
	if err != nil {
		return nil, err
	}
	return catalog.Latest(all, at)
}

// progress draws a bar on stderr when it is a terminal.
func (a *app) progress(label string) func(int64) func(int64) {
	f, ok := a.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(total int64) func(int64) {
		bar := progressbar.DefaultBytes(total, label)
		return func(n int64) { _ = bar.Add64(n) }
	}
}
