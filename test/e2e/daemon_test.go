package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// never is a schedule that does not come round during a test.
const never = "0 0 1 1 *"

// TestDaemonSchedulesAndExportsMetrics: on an @every schedule the daemon
// takes at least two backups, /metrics shows them, and after a restart the
// last-success values are the same before any new backup.
func TestDaemonSchedulesAndExportsMetrics(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	e.noGlobals = true
	cfg, listen := e.daemonConfig(t, "daemon.yaml", "@every 3s", "")
	d := e.startDaemon(t, cfg, listen)
	d.waitLogN(t, `"backup done"`, 2, time.Minute)
	if got := e.list(t, e.db); len(got) < 2 {
		t.Fatalf("listed %d backups, want at least 2", len(got))
	}
	code, body := d.scrape(t, "/metrics")
	db := `database="` + e.db + `"`
	runs := samples(body, "pgtier_backup_runs_total", db, `result="success"`)
	if code != 200 || len(runs) != 1 || firstValue(runs) < 2 {
		t.Fatalf("/metrics: status %d, runs %v; want a success count of at least 2", code, runs)
	}
	if code, body := d.scrape(t, "/healthz"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}

	// Quiesce: reload onto a schedule that does not come round, let a cycle
	// in flight finish, and read the last-success values.
	quiet, _ := e.daemonConfig(t, "quiet.yaml", never, "")
	writeOver(t, cfg, quiet, listen)
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, "config reloaded", 30*time.Second)
	time.Sleep(4 * time.Second)
	_, body = d.scrape(t, "/metrics")
	before := samples(body, "pgtier_backup_last_success_timestamp_seconds", db)
	if len(before) != 4 {
		t.Fatalf("last success %v, want one value for each of the four tiers", before)
	}
	backups := len(e.list(t, e.db))
	if code := d.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit %d, want 0", code)
	}

	again := e.startDaemon(t, cfg, listen)
	_, body = again.scrape(t, "/metrics")
	after := samples(body, "pgtier_backup_last_success_timestamp_seconds", db)
	if len(e.list(t, e.db)) != backups {
		t.Fatal("a backup was taken during the restart; the comparison is void")
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("after restart %s = %v, before %v", k, after[k], v)
		}
	}
}

// TestDaemonSIGTERMDuringBackup: SIGTERM while a backup streams makes the
// daemon exit 0 soon, with no listed partial backup and no upload left.
func TestDaemonSIGTERMDuringBackup(t *testing.T) {
	e := newEnv(t, `CREATE EXTENSION pgcrypto;
CREATE TABLE big (id int, payload bytea);
INSERT INTO big SELECT g, gen_random_bytes(1024) FROM generate_series(1, 150000) g;`)
	e.noGlobals = true
	// catch_up (the default) starts a backup at once: there is none yet.
	cfg, listen := e.daemonConfig(t, "daemon.yaml", never, "")
	d := e.startDaemon(t, cfg, listen)
	if !waitChildWrote(t, d.cmd.Process.Pid, "pg_dump", 16<<20, time.Minute) {
		t.Fatal("pg_dump was not seen writing 16 MiB")
	}
	start := time.Now()
	if code := d.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("SIGTERM during a backup: exit %d, want 0\n%s", code, d.logText())
	}
	t.Logf("backupd exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if got := e.list(t, e.db); len(got) != 0 {
		t.Fatalf("a cancelled backup is listed: %v", manifestIDs(got))
	}
	if n := e.uploadsLeft(t); n != 0 {
		t.Fatalf("%d multipart uploads left behind", n)
	}
	if n := e.objectsLeft(t); n != 0 {
		t.Fatalf("%d objects left under the database prefix", n)
	}
}

// TestDaemonReloadRefusesBrokenConfig: SIGHUP with a broken config keeps the
// daemon on the old one, and it says why.
func TestDaemonReloadRefusesBrokenConfig(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	e.noGlobals = true
	cfg, listen := e.daemonConfig(t, "daemon.yaml", "@every 2s", "")
	d := e.startDaemon(t, cfg, listen)
	d.waitLog(t, `"backup done"`, time.Minute)
	good, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(good, []byte("metrics_typo: 1\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, "reload refused", 30*time.Second)
	if !strings.Contains(d.logText(), "metrics_typo") {
		t.Fatalf("the refusal does not name the bad key:\n%s", d.logText())
	}
	done := strings.Count(d.logText(), `"backup done"`)
	d.waitLogN(t, `"backup done"`, done+2, time.Minute) // still on the old schedule
	if code, _ := d.scrape(t, "/healthz"); code != 200 {
		t.Fatalf("/healthz after a refused reload: %d", code)
	}
}

// writeOver replaces the config at path with the one at from, keeping the
// metrics address of the running daemon.
func writeOver(t *testing.T, path, from, listen string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if i := strings.Index(text, "  listen: "); i >= 0 {
		j := strings.IndexByte(text[i:], '\n')
		text = text[:i] + "  listen: " + listen + text[i+j:]
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func firstValue(m map[string]float64) float64 {
	for _, v := range m {
		return v
	}
	return 0
}

// TestTwoDaemonsOneCluster: two daemons configured for one cluster (a
// primary and its standby, say) never back it up at the same time, and never
// take two backups for one scheduled slot.
func TestTwoDaemonsOneCluster(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT g FROM generate_series(1, 100000) g;")
	const every = 4 * time.Second
	cfgA, listenA := e.daemonConfig(t, "a.yaml", "@every 4s", "")
	cfgB, listenB := e.daemonConfig(t, "b.yaml", "@every 4s", "")
	a := e.startDaemon(t, cfgA, listenA)
	b := e.startDaemon(t, cfgB, listenB)
	time.Sleep(30 * time.Second)
	for _, d := range []*daemon{a, b} {
		if code := d.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
			t.Fatalf("SIGTERM: exit %d", code)
		}
	}
	both := strings.Count(a.logText(), `"backup done"`) > 0 && strings.Count(b.logText(), `"backup done"`) > 0
	t.Logf("daemon A took %d backups, B %d", strings.Count(a.logText(), `"backup done"`), strings.Count(b.logText(), `"backup done"`))
	for _, db := range []string{e.db, "_globals"} {
		ms := e.list(t, db)
		if len(ms) < 3 {
			t.Fatalf("%s: only %d backups in 30s on a 4s schedule", db, len(ms))
		}
		slots := map[int64]string{}
		for i, m := range ms {
			slot := m.TakenAt.Unix() / int64(every.Seconds())
			if other, ok := slots[slot]; ok {
				t.Fatalf("%s: backups %s and %s were taken for one slot", db, other, m.ID)
			}
			slots[slot] = m.ID
			if i > 0 && ms[i-1].FinishedAt.After(m.TakenAt) {
				t.Fatalf("%s: backup %s started before %s finished", db, m.ID, ms[i-1].ID)
			}
		}
	}
	if !both && !strings.Contains(a.logText()+b.logText(), "already backed up") && !strings.Contains(a.logText()+b.logText(), "another daemon") {
		t.Fatal("one daemon backed up every slot and the other never met it: the test proved nothing")
	}
}
