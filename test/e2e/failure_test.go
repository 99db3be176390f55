package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
)

// TestMissingDatabase: pg_dump of a database that does not exist fails the
// run with exit 1 and a message naming it; nothing is listed or left behind.
func TestMissingDatabase(t *testing.T) {
	e := newEnv(t, "")
	cfg := e.writeConfig(t, "missing.yaml", "")
	cfgText, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(cfgText, []byte(`["`+e.db+`"]`), []byte(`["`+e.db+`", "no_such_db"]`), 1), 0o600)
	r := e.run(t, e.backupd, "--config", cfg, "--once")
	if r.code != 1 || !strings.Contains(r.stderr, "no_such_db") {
		t.Fatalf("exit %d, stderr %q; want 1 and a message naming no_such_db", r.code, r.stderr)
	}
	if got := e.list(t, "no_such_db"); len(got) != 0 {
		t.Fatalf("a failed backup is listed: %v", got)
	}
	if got := e.list(t, e.db); len(got) != 1 {
		t.Fatalf("the database that exists was not backed up: %d backups", len(got))
	}
	if n := e.uploadsLeft(t); n != 0 {
		t.Fatalf("%d multipart uploads left behind", n)
	}
}

// TestPgDumpKilledMidStream kills pg_dump once it has written 16 MiB: the run
// fails with exit 1, and no backup, data object or multipart upload remains.
func TestPgDumpKilledMidStream(t *testing.T) {
	e := newEnv(t, `CREATE EXTENSION pgcrypto;
CREATE TABLE big (id int, payload bytea);
INSERT INTO big SELECT g, gen_random_bytes(1024) FROM generate_series(1, 150000) g;`)
	cmd := exec.Command(e.backupd, "--config", e.config, "--once")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+e.s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+e.s3.SecretKey)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := killChildAfter(t, cmd.Process.Pid, "pg_dump", 16<<20, 2*time.Minute)
	err := cmd.Wait()
	if !killed {
		t.Fatalf("pg_dump was not seen writing 16 MiB; backupd: %v\n%s", err, stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "pg_dump") {
		t.Fatalf("exit %d, stderr %q; want 1 and a message about pg_dump", code, stderr.String())
	}
	if got := e.list(t, e.db); len(got) != 0 {
		t.Fatalf("a killed backup is listed: %v", got)
	}
	if n := e.uploadsLeft(t); n != 0 {
		t.Fatalf("%d multipart uploads left behind", n)
	}
	if n := e.objectsLeft(t); n != 0 {
		t.Fatalf("%d objects left under the database prefix", n)
	}
	// The next run succeeds.
	if got := e.backup(t); len(got) != 1 {
		t.Fatalf("the run after the kill listed %d backups, want 1", len(got))
	}
}

// killChildAfter waits for a child of parent named name to have written at
// least n bytes (per /proc/PID/io), then kills it with SIGKILL.
func killChildAfter(t *testing.T, parent int, name string, n int64, limit time.Duration) bool {
	t.Helper()
	pid := childWrote(t, parent, name, n, limit)
	return pid > 0 && syscall.Kill(pid, syscall.SIGKILL) == nil
}

// waitChildWrote waits for a child of parent named name to have written at
// least n bytes.
func waitChildWrote(t *testing.T, parent int, name string, n int64, limit time.Duration) bool {
	t.Helper()
	return childWrote(t, parent, name, n, limit) > 0
}

// childWrote returns the pid of a child of parent named name once it has
// written at least n bytes, or 0 when none did within limit.
func childWrote(t *testing.T, parent int, name string, n int64, limit time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		for _, pid := range children(parent, name) {
			if written(pid) >= n {
				return pid
			}
		}
		if syscall.Kill(parent, 0) != nil {
			return 0
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0
}

func children(parent int, name string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < 0 || s[open+1:closing] != name {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(parent) {
			out = append(out, pid)
		}
	}
	return out
}

func written(pid int) int64 {
	io, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "io"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(io), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// TestBadInput: each operator mistake gets exit 2, one line naming the
// problem, and leaves nothing in the bucket.
func TestBadInput(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	cases := []struct {
		name, extra string
		env         []string
		want        string
	}{
		{name: "unknown key", extra: "metrics:\n  listne: 127.0.0.1:9999\n", want: "metrics.listne"},
		{name: "http endpoint", env: []string{"PGTIER_STORAGE_ENDPOINT=http://127.0.0.1:9"}, want: "http"},
		{name: "missing recipients", env: []string{"PGTIER_ENCRYPTION_RECIPIENTS_FILE=" + filepath.Join(e.dir, "nope.txt")}, want: "recipients_file"},
		{name: "malformed duration", extra: "tiers:\n  base: {min: 2x, max: 5d}\n", want: "tiers.base.min"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := e.writeConfig(t, strings.ReplaceAll(c.name, " ", "_")+".yaml", c.extra)
			e.extraEnv = c.env
			defer func() { e.extraEnv = nil }()
			r := e.run(t, e.backupd, "--config", cfg, "--once")
			line := oneLine(t, r.stderr)
			if r.code != 2 || !strings.Contains(line, c.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and a line naming %q", r.code, line, c.want)
			}
			if strings.Contains(line, e.s3.SecretKey) {
				t.Fatal("the error line contains the S3 secret")
			}
		})
	}
	if n := e.objectsLeft(t); n != 0 {
		t.Fatalf("%d objects written by runs that should have refused", n)
	}
}

// TestWrongIdentity: a restore with an identity the backup was not
// encrypted to fails clearly, with exit 2, and leaves no database behind.
func TestWrongIdentity(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	m := e.backup(t)[0]
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	wrong := e.write(t, "other.txt", other.String()+"\n")
	target := e.db + "_wrong"
	e.dropLater(t, target)
	r := e.run(t, e.backupctl, "--config", e.config, "restore", m.ID, "--database", e.db,
		"--to", e.pg.DSN(target), "--reason", "test", "--identity", wrong)
	line := oneLine(t, r.stderr)
	if r.code != 2 || !strings.Contains(line, "identit") {
		t.Fatalf("exit %d, stderr %q; want 2 and a message about the identity", r.code, line)
	}
	t.Logf("backupctl said: %s", line)
	if e.dbExists(t, target) {
		t.Fatal("the failed restore left its database behind")
	}
}
