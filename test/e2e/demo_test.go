package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo is what `make demo` shows: a throwaway database backed up to a
// throwaway MinIO and restored into a new database, one operator command at
// a time. Run it with -v to read along.
func TestDemo(t *testing.T) {
	e := newEnv(t, variedSQL(t))
	t.Logf("PostgreSQL %s on %s:%d, database %q loaded from test/testdata/varied.sql", e.pg.BinDir, e.pg.Host, e.pg.Port, e.db)
	t.Logf("MinIO on %s, bucket %q with object lock; CA %s", e.s3.Endpoint, e.bucket, e.s3.CAFile)
	cfg, _ := os.ReadFile(e.config)
	t.Logf("config %s:\n%s", e.config, cfg)

	say := func(bin string, args ...string) result {
		t.Logf("$ %s %s", filepath.Base(bin), strings.Join(args, " "))
		r := e.mustRun(t, bin, args...)
		t.Logf("%s%s", r.stdout, r.stderr)
		return r
	}
	say(e.backupd, "--config", e.config, "--once")
	say(e.backupctl, "--config", e.config, "list")
	m := e.list(t, e.db)[0]
	say(e.backupctl, "--config", e.config, "show", m.ID, "--database", e.db)

	target := e.db + "_restored"
	e.dropLater(t, target)
	say(e.backupctl, "--config", e.config, "restore", "--latest", "--database", e.db,
		"--to", e.pg.DSN(target), "--reason", "demo: prove the backup restores", "--identity", e.identity)
	if e.plainDump(t, e.db) != e.plainDump(t, target) {
		t.Fatal("the restored database differs from the source")
	}
	rows := e.pg.QueryInt(t, target, "SELECT count(*) FROM sales.orders")
	t.Logf("restored %q matches %q: pg_dump of both is identical (sales.orders has %d rows)", target, e.db, rows)
	t.Logf("without pgtier: age -d -i %s %s.dump.zst.age | zstd -d | pg_restore -d NEWDB", e.identity, m.ID)
}
