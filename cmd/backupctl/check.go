package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgtier/pgtier/cmd/internal/setup"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/crypto"
	"github.com/pgtier/pgtier/snapshot"
	"github.com/pgtier/pgtier/storage"
)

// checkRow is one check of backupctl check. Status is one of storage's
// StatusOK, StatusWarn, StatusFail and StatusUnknown.
type checkRow struct {
	Area   string `json:"area"` // config, postgres, keys or storage
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// checkReport is what backupctl check --json prints.
type checkReport struct {
	OK     bool       `json:"ok"` // no check failed
	Checks []checkRow `json:"checks"`
}

// areaTimeout bounds the checks of one area.
const areaTimeout = time.Minute

func (a *app) checkCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the config, Postgres, the keys and the bucket",
		Long: "Check what backupd and backupctl need: the config loads (and which lock-down\n" +
			"opt-outs it makes), Postgres answers (version, recovery, the role: not a\n" +
			"superuser, a member of pg_read_all_data) and a matching pg_dump is installed,\n" +
			"the key files load, and the bucket's posture: versioning, object lock, public\n" +
			"access block, policy status, default encryption, a TLS-only policy and a\n" +
			"lifecycle rule.\n\n" +
			"Each check is ok, warn, fail or unknown (the server does not implement it, or\n" +
			"it could not be made). The exit status is 1 when any check fails; warn and\n" +
			"unknown do not fail. A config that does not load is one line and exit 2.\n\n" +
			"--json prints {\"ok\": bool, \"checks\": [{\"area\", \"name\", \"status\", \"detail\"}]}.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Not a.config(): a key that does not load is a check here.
			cfg, err := configs.Load(a.configPath)
			if err != nil {
				return err
			}
			rep := runChecks(cmd.Context(), cfg, a.configPath, a.logger)
			if asJSON {
				err = writeJSON(a.stdout, rep)
			} else {
				err = writeChecks(a.stdout, rep)
			}
			if err != nil {
				return err
			}
			var failed []string
			for _, c := range rep.Checks {
				if c.Status == storage.StatusFail {
					failed = append(failed, c.Area+"/"+c.Name)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("check failed: %s", strings.Join(failed, ", "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// runChecks makes every check, area by area.
func runChecks(ctx context.Context, cfg *configs.Config, path string, logger *slog.Logger) checkReport {
	rows := []checkRow{{"config", "load", storage.StatusOK,
		fmt.Sprintf("%s: environment %s, cluster %s", path, cfg.Environment, cfg.Cluster)}}
	for _, o := range setup.OptOuts(cfg) {
		rows = append(rows, checkRow{"config", o.Key, storage.StatusWarn, o.Detail})
	}
	for _, area := range []func(context.Context, *configs.Config, *slog.Logger) []checkRow{postgresChecks, keyChecks, storageChecks} {
		actx, cancel := context.WithTimeout(ctx, areaTimeout)
		rows = append(rows, area(actx, cfg, logger)...)
		cancel()
	}
	rep := checkReport{OK: true, Checks: rows}
	for i, c := range rows {
		rows[i].Detail = strings.Join(strings.Fields(c.Detail), " ")
		if c.Status == storage.StatusFail {
			rep.OK = false
		}
	}
	return rep
}

func writeChecks(w io.Writer, rep checkReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
	count := map[string]int{}
	for _, c := range rep.Checks {
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\n", c.Area, c.Name, c.Status, c.Detail)
		count[c.Status]++
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "ok"
	if !rep.OK {
		verdict = "FAILED"
	}
	_, err := fmt.Fprintf(w, "%s: %d ok, %d warn, %d unknown, %d fail\n", verdict,
		count[storage.StatusOK], count[storage.StatusWarn], count[storage.StatusUnknown], count[storage.StatusFail])
	return err
}

// postgresChecks connects to the maintenance database as backupd does.
func postgresChecks(ctx context.Context, cfg *configs.Config, _ *slog.Logger) []checkRow {
	row := func(name, status, detail string) checkRow { return checkRow{"postgres", name, status, detail} }
	notChecked := func(rows []checkRow) []checkRow {
		for _, n := range []string{"server_version", "in_recovery", "superuser", "pg_read_all_data"} {
			rows = append(rows, row(n, storage.StatusUnknown, "not checked: no connection"))
		}
		return append(rows, toolsCheck(cfg, 0, ""))
	}
	conn, err := setup.Conn(cfg, "postgres")
	if err != nil {
		return notChecked([]checkRow{row("connect", storage.StatusFail, err.Error())})
	}
	info, err := snapshot.Preflight(ctx, conn)
	if err != nil {
		return notChecked([]checkRow{row("connect", storage.StatusFail, err.Error())})
	}
	rows := []checkRow{row("connect", storage.StatusOK, conn.String()),
		row("server_version", storage.StatusOK, "PostgreSQL "+info.Version)}
	if info.InRecovery {
		rows = append(rows, row("in_recovery", storage.StatusOK, "yes: a standby (a long dump may be cancelled by recovery conflicts; see max_standby_streaming_delay)"))
	} else {
		rows = append(rows, row("in_recovery", storage.StatusOK, "no: a primary"))
	}
	rows = append(rows, roleChecks(ctx, conn, info)...)
	return append(rows, toolsCheck(cfg, info.Major, info.Version))
}

// roleChecks checks that the role is not a superuser and is a member of
// pg_read_all_data.
func roleChecks(ctx context.Context, conn snapshot.Conn, info snapshot.ServerInfo) []checkRow {
	row := func(name, status, detail string) checkRow { return checkRow{"postgres", name, status, detail} }
	role, err := snapshot.RoleOf(ctx, conn)
	super, readAll := role.Superuser, role.ReadAllData
	if err != nil {
		return []checkRow{row("superuser", storage.StatusUnknown, err.Error()), row("pg_read_all_data", storage.StatusUnknown, err.Error())}
	}
	var rows []checkRow
	if super {
		rows = append(rows, row("superuser", storage.StatusWarn, "role "+conn.User+" is a superuser: use a role with pg_read_all_data, see configs/postgres/role.sql"))
	} else {
		rows = append(rows, row("superuser", storage.StatusOK, "role "+conn.User+" is not a superuser"))
	}
	switch {
	case info.VersionNum < 140000:
		rows = append(rows, row("pg_read_all_data", storage.StatusWarn, "PostgreSQL "+info.Version+" has no pg_read_all_data (new in 14): the role needs SELECT on every table"))
	case readAll:
		rows = append(rows, row("pg_read_all_data", storage.StatusOK, "role "+conn.User+" is a member"))
	default:
		rows = append(rows, row("pg_read_all_data", storage.StatusFail, "role "+conn.User+" is not a member, so pg_dump cannot read every table: GRANT pg_read_all_data TO "+conn.User+" (see configs/postgres/role.sql)"))
	}
	return rows
}

// toolsCheck finds the pg_dump for a server of major version major, 0 when
// the server could not be asked.
func toolsCheck(cfg *configs.Config, major int, version string) checkRow {
	t, err := snapshot.FindTools(cfg.Postgres.BinDir, major)
	switch {
	case err != nil:
		return checkRow{"postgres", "pg_dump", storage.StatusFail, err.Error()}
	case major == 0:
		return checkRow{"postgres", "pg_dump", storage.StatusUnknown, "found pg_dump " + t.Version + " in " + t.Dir + "; whether it matches the server is unknown"}
	}
	return checkRow{"postgres", "pg_dump", storage.StatusOK, "pg_dump " + t.Version + " in " + t.Dir + " for server " + version}
}

// keyChecks loads the key files.
func keyChecks(_ context.Context, cfg *configs.Config, _ *slog.Logger) []checkRow {
	row := func(name, status, detail string) checkRow { return checkRow{"keys", name, status, detail} }
	enc := cfg.Encryption
	var rows []checkRow
	if _, pub, err := crypto.LoadRecipients(enc.RecipientsFile); err != nil {
		rows = append(rows, row("recipients", storage.StatusFail, err.Error()))
	} else {
		rows = append(rows, row("recipients", storage.StatusOK, enc.RecipientsFile+": "+count(len(pub), "recipient")))
	}
	rows = append(rows, signingKeyCheck(cfg), verifyKeyCheck(cfg))
	return rows
}

// signingKeyCheck loads the daemon's signing key. Unset is a warning, not a
// failure: an operator's host needs only the verify key.
func signingKeyCheck(cfg *configs.Config) checkRow {
	path := cfg.Encryption.SigningKeyFile
	if path == "" {
		detail := "encryption.signing_key_file is not set: backupd does not sign manifests; make a key pair with backupctl keygen"
		if cfg.Storage.RequireLockdown {
			detail = "encryption.signing_key_file is not set: backupd refuses to start on this config, since storage.require_lockdown is true (an operator's host needs only verify_key_file); make a key pair with backupctl keygen"
		}
		return checkRow{"keys", "signing_key", storage.StatusWarn, detail}
	}
	key, err := crypto.LoadSigningKey(path)
	if err != nil {
		return checkRow{"keys", "signing_key", storage.StatusFail, err.Error()}
	}
	return checkRow{"keys", "signing_key", storage.StatusOK, path + ": public key " + crypto.ShortKey(key.Public().String())}
}

// verifyKeyCheck loads the keys backupctl checks manifests with, which
// storage.require_lockdown makes required.
func verifyKeyCheck(cfg *configs.Config) checkRow {
	path := cfg.Encryption.VerifyKeyFile
	if err := setup.CheckVerifyKeys(cfg); err != nil {
		return checkRow{"keys", "verify_key", storage.StatusFail, err.Error()}
	}
	if path == "" {
		return checkRow{"keys", "verify_key", storage.StatusWarn, "encryption.verify_key_file is not set: backupctl does not check manifest signatures"}
	}
	keys, err := crypto.LoadVerifyKey(path)
	if err != nil {
		return checkRow{"keys", "verify_key", storage.StatusFail, err.Error()}
	}
	return checkRow{"keys", "verify_key", storage.StatusOK, path + ": " + count(len(keys), "key")}
}

// count returns "1 key", "2 keys".
func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// storageChecks reads the bucket's posture and says whether backupd would
// start on it.
func storageChecks(ctx context.Context, cfg *configs.Config, logger *slog.Logger) []checkRow {
	store, err := setup.Store(ctx, cfg, logger)
	if err != nil {
		return []checkRow{{"storage", "open", storage.StatusFail, err.Error()}}
	}
	p := setup.ReadPosture(ctx, store)
	var rows []checkRow
	for _, c := range p.Checks {
		rows = append(rows, checkRow{"storage", c.Name, c.Status, c.Detail})
	}
	lock := checkRow{"storage", "lockdown", storage.StatusOK, "backupd starts: the bucket has object lock and is not public"}
	switch blocking := p.Blocking(); {
	case strings.HasPrefix(cfg.Storage.URL, "file://"):
		lock.Status, lock.Detail = storage.StatusWarn, "file:// storage has no object lock: backups there can be deleted"
	case setup.Lockdown(cfg, p) != nil:
		lock.Status, lock.Detail = storage.StatusFail, "backupd refuses to start: "+setup.Lockdown(cfg, p).Error()
	case len(blocking) > 0:
		var names []string
		for _, c := range blocking {
			names = append(names, c.Name+" "+c.Status)
		}
		lock.Status, lock.Detail = storage.StatusWarn, "backupd starts because storage.require_lockdown is false, although: "+strings.Join(names, ", ")
	}
	return append(rows, lock)
}
