package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/catalog"
)

// drillSQL has an exactly counted table, one counted by estimate (over
// 100000 rows, analyzed), a schema and table whose names hold spaces, and
// a partitioned table.
const drillSQL = `CREATE TABLE small AS SELECT g FROM generate_series(1, 500) g;
CREATE TABLE big AS SELECT g FROM generate_series(1, 150000) g;
ANALYZE big;
CREATE SCHEMA "odd schema";
CREATE TABLE "odd schema"."a table" (id int PRIMARY KEY);
INSERT INTO "odd schema"."a table" SELECT generate_series(1, 10);
CREATE TABLE part (a int) PARTITION BY RANGE (a);
CREATE TABLE part_low PARTITION OF part FOR VALUES FROM (0) TO (100);
INSERT INTO part SELECT g % 100 FROM generate_series(1, 300) g;`

// evidence is the part of verify's evidence document the tests read.
type evidence struct {
	Outcome     string `json:"outcome"`
	Error       string `json:"error"`
	BackupID    string `json:"backup_id"`
	Database    string `json:"database"`
	SHA256      string `json:"sha256"`
	OSUser      string `json:"os_user"`
	Host        string `json:"host"`
	Reason      string `json:"reason"`
	RestoreInto string `json:"restore_into"`
	AuditSeq    int64  `json:"audit_seq"`
	Checks      []struct {
		Name, Result, Detail string
	} `json:"checks"`
	Archive *struct {
		Entries   int `json:"entries"`
		TableData int `json:"table_data"`
	} `json:"archive"`
	Tables []struct {
		Schema   string `json:"schema"`
		Table    string `json:"table"`
		Manifest int64  `json:"manifest_rows"`
		Exact    bool   `json:"exact"`
		Restored int64  `json:"restored_rows"`
		Result   string `json:"result"`
	} `json:"tables"`
}

func parseEvidence(t *testing.T, data []byte) evidence {
	t.Helper()
	var ev evidence
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("evidence %q: %v", data, err)
	}
	return ev
}

// checks lists the evidence's checks as "name:result".
func (ev evidence) checks() string {
	var out []string
	for _, c := range ev.Checks {
		out = append(out, c.Name+":"+c.Result)
	}
	return strings.Join(out, " ")
}

// TestVerifyDrill: verify of a good backup passes with and without
// --restore-into, run with the restorer's IAM policy; it writes its
// evidence, audits itself, leaves no throwaway database, and a daemon
// started afterwards exports the last successful verify of the database.
func TestVerifyDrill(t *testing.T) {
	e := newEnv(t, drillSQL)
	e.noGlobals = true
	m := e.backup(t)[0]
	if !hasEstimate(m, "big") {
		t.Fatalf("the manifest counts table big exactly or not at all: %+v; the test needs an estimate", m.Tables)
	}
	restorer := e.newUser(t, "restorer")
	e.as(restorer)
	defer func() { e.extraEnv = nil }()
	verify := []string{"--config", e.config, "verify", "--database", e.db, "--reason", "weekly restore drill", "--identity", e.identity}

	start := time.Now()
	r := e.run(t, e.backupctl, append(verify, "--latest", "--restore-into", e.pg.DSN(e.db))...)
	if line := lastLine(r.stderr); r.code != 2 || !strings.Contains(line, "exists") {
		t.Fatalf("verify into an existing database: exit %d, %q; want 2 naming it", r.code, line)
	}
	if recs := e.auditRecords(t, e.config); len(recs) != 0 {
		t.Fatalf("a refused verify wrote %d audit records", len(recs))
	}

	r = e.mustRun(t, e.backupctl, append(verify, "--latest", "--json")...)
	t.Logf("verify without a database took %s: %s", time.Since(start).Round(time.Millisecond), lastLine(r.stderr))
	plain := parseEvidence(t, []byte(r.stdout))
	if got := plain.checks(); got != "signature:pass object:pass decrypt:pass archive:pass" || plain.Outcome != "success" {
		t.Fatalf("checks %s, outcome %q %q", got, plain.Outcome, plain.Error)
	}
	if plain.Archive == nil || plain.Archive.TableData != 4 || plain.BackupID != m.ID || plain.SHA256 != m.SHA256 ||
		plain.OSUser == "" || plain.Host == "" || plain.Reason != "weekly restore drill" || plain.RestoreInto != "" {
		t.Fatalf("evidence without a database: %+v", plain)
	}

	target := e.db + "_drill"
	e.dropLater(t, target)
	start = time.Now()
	r = e.mustRun(t, e.backupctl, append(verify, m.ID, "--restore-into", e.pg.DSN(target), "--json")...)
	t.Logf("verify with a restore took %s: %s", time.Since(start).Round(time.Millisecond), lastLine(r.stderr))
	full := parseEvidence(t, []byte(r.stdout))
	want := "signature:pass object:pass decrypt:pass archive:pass restore:pass row_counts:pass pg_amcheck:pass drop:pass"
	if got := full.checks(); got != want || full.Outcome != "success" {
		t.Fatalf("checks %s, outcome %q %q; want %s", got, full.Outcome, full.Error, want)
	}
	results := map[string]string{}
	for _, tc := range full.Tables {
		results[tc.Schema+"."+tc.Table] = tc.Result
	}
	if len(results) != 4 || results["public.small"] != "match" || results["public.big"] != "within tolerance" ||
		results["odd schema.a table"] != "match" || results["public.part_low"] != "match" {
		t.Fatalf("table comparisons %v", results)
	}
	if !strings.Contains(full.RestoreInto, "dbname="+target) {
		t.Fatalf("restore_into %q does not name %s", full.RestoreInto, target)
	}
	if e.dbExists(t, target) {
		t.Fatal("the drill left its database behind")
	}

	// A role that may create databases but not the amcheck extension: the
	// drill passes with pg_amcheck skipped, saying why.
	role := strings.ReplaceAll(e.db, "t_", "r_")
	e.pg.Exec(t, "postgres", "CREATE ROLE "+role+" LOGIN CREATEDB")
	e.dropRoleLater(t, role)
	dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", role, e.pg.Host, e.pg.Port, target)
	r = e.mustRun(t, e.backupctl, append(verify, m.ID, "--restore-into", dsn, "--json")...)
	unprivileged := parseEvidence(t, []byte(r.stdout))
	if got := unprivileged.checks(); got != strings.Replace(want, "pg_amcheck:pass", "pg_amcheck:skipped", 1) ||
		!strings.Contains(unprivileged.Checks[6].Detail, "cannot create extension amcheck") {
		t.Fatalf("checks as a role without superuser: %s (%+v)", got, unprivileged.Checks)
	}
	t.Logf("pg_amcheck as %s: %s", role, unprivileged.Checks[6].Detail)
	if e.dbExists(t, target) {
		t.Fatal("the drill left its database behind")
	}

	stored := e.evidence(t, m.ID)
	if len(stored) != 3 || stored[0].AuditSeq != 1 || stored[1].AuditSeq != 3 || stored[2].AuditSeq != 5 || stored[1].checks() != want {
		t.Fatalf("stored evidence: %+v; want the three verifies, audit records 1, 3 and 5", stored)
	}
	recs := e.auditRecords(t, e.config)
	if len(recs) != 6 {
		t.Fatalf("%d audit records, want a begin and an end for each verify", len(recs))
	}
	for _, rec := range recs {
		if rec.Action != audit.ActionVerify || rec.BackupID != m.ID || rec.Reason != "weekly restore drill" ||
			(rec.Kind == audit.KindEnd && (rec.Outcome != audit.OutcomeSuccess || rec.Bytes != m.StoredBytes)) {
			t.Fatalf("audit record %d: %+v", rec.Seq, rec)
		}
	}

	e.extraEnv = nil
	cfg, listen := e.daemonConfig(t, "daemon.yaml", never, "")
	d := e.startDaemon(t, cfg, listen)
	_, body := d.scrape(t, "/metrics")
	got := samples(body, "pgtier_verify_last_success_timestamp_seconds", `cluster="main"`, `database="`+e.db+`"`)
	last := float64(recs[5].Time.UnixNano()) / 1e9
	if len(got) != 1 || math.Abs(firstValue(got)-last) > 1 {
		t.Fatalf("pgtier_verify_last_success_timestamp_seconds %v; want %.3f, the last verify's end record", got, last)
	}
}

// TestVerifyCatchesCorruption: one byte changed in the stored object (a
// new object over it, on a bucket without versioning) makes verify exit 1
// naming the object check, with and without --restore-into, leaving no
// database; restore fails on it too, and the failed verifies leave their
// evidence and failure end records.
func TestVerifyCatchesCorruption(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT g, md5(g::text) AS h FROM generate_series(1, 20000) g;")
	e.noGlobals = true
	e.bucket = e.s3.Bucket(t, false)
	e.config = e.writeConfig(t, "unlocked.yaml", "  object_lock: \"off\"\n  require_lockdown: false\n")
	m := e.backup(t)[0]
	altered := e.getObject(t, m.Object.Key, "")
	altered[len(altered)/2] ^= 0x01
	if _, err := e.s3.Client(t).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("pgtier/" + m.Object.Key),
		Body: bytes.NewReader(altered), ChecksumAlgorithm: "CRC32C"}); err != nil {
		t.Fatal(err)
	}

	target := e.db + "_drill"
	e.dropLater(t, target)
	verify := []string{"--config", e.config, "verify", "--latest", "--database", e.db, "--reason", "drill", "--identity", e.identity}
	for _, extra := range [][]string{nil, {"--restore-into", e.pg.DSN(target)}} {
		r := e.run(t, e.backupctl, append(verify, extra...)...)
		line := lastLine(r.stderr)
		if r.code != 1 || !strings.Contains(line, "failed: object: backup object does not match its manifest: sha256") {
			t.Fatalf("verify %v of a corrupted object: exit %d, %q; want 1 naming the object check", extra, r.code, r.stderr)
		}
		t.Logf("backupctl said: %s", line)
		if e.dbExists(t, target) {
			t.Fatal("the failed drill left its database behind")
		}
	}
	r := e.run(t, e.backupctl, "--config", e.config, "restore", "--latest", "--database", e.db,
		"--to", e.pg.DSN(target), "--reason", "drill", "--identity", e.identity)
	if r.code != 1 || e.dbExists(t, target) {
		t.Fatalf("restore of a corrupted object: exit %d, %q, database left: %t; want 1 and none", r.code, lastLine(r.stderr), e.dbExists(t, target))
	}
	t.Logf("restore said: %s", lastLine(r.stderr))

	stored := e.evidence(t, m.ID)
	if len(stored) != 2 || stored[0].Outcome != "failure" || stored[1].Outcome != "failure" ||
		stored[1].checks() != "signature:pass object:fail drop:pass" {
		t.Fatalf("stored evidence %+v; want two failures, the second with its database dropped", stored)
	}
	for _, rec := range e.auditRecords(t, e.config) {
		if rec.Kind == audit.KindEnd && rec.Outcome != audit.OutcomeFailure {
			t.Fatalf("audit end record %d: outcome %q, want failure", rec.Seq, rec.Outcome)
		}
	}
}

// TestVerifyLatestRefusesTamperedNewest: when the newest manifest fails its
// signature check, verify --latest exits 1 naming it instead of verifying
// an older backup, and reads nothing; the older one verifies by its id.
func TestVerifyLatestRefusesTamperedNewest(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	e.noGlobals = true
	e.backup(t)
	time.Sleep(1100 * time.Millisecond)
	ms := e.backup(t)
	if len(ms) != 2 {
		t.Fatalf("%d backups, want 2", len(ms))
	}
	name := "test/main/" + e.db + "/" + ms[1].ID + ".manifest.json"
	data := e.getObject(t, name, "")
	altered := bytes.Replace(data, []byte(`"host": "`), []byte(`"host": "x`), 1)
	if _, err := e.s3.Client(t).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(e.bucket),
		Key: aws.String("pgtier/" + name), Body: bytes.NewReader(altered), ChecksumAlgorithm: "CRC32C"}); err != nil {
		t.Fatal(err)
	}
	verify := []string{"--config", e.config, "verify", "--database", e.db, "--reason", "drill", "--identity", e.identity}
	r := e.run(t, e.backupctl, append(verify, "--latest")...)
	line := lastLine(r.stderr)
	if r.code != 1 || !strings.Contains(line, ms[1].ID) || !strings.Contains(line, "signature") || !strings.Contains(line, "does not fall back") {
		t.Fatalf("verify --latest with a tampered newest manifest: exit %d, %q; want 1 naming %s and its signature", r.code, line, ms[1].ID)
	}
	t.Logf("backupctl said: %s", line)
	if recs := e.auditRecords(t, e.config); len(recs) != 0 {
		t.Fatalf("the refused verify wrote %d audit records", len(recs))
	}
	e.mustRun(t, e.backupctl, append(verify, ms[0].ID)...)
}

// evidence reads the stored evidence of backup id, oldest first.
func (e *env) evidence(t *testing.T, id string) []evidence {
	t.Helper()
	prefix := "test/verify/main/" + e.db + "/" + id + "/"
	out, err := e.s3.Client(t).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{
		Bucket: aws.String(e.bucket), Prefix: aws.String("pgtier/" + prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var evs []evidence
	for _, o := range out.Contents {
		k := strings.TrimPrefix(aws.ToString(o.Key), "pgtier/")
		if _, err := time.Parse("20060102T150405.000Z", strings.TrimSuffix(strings.TrimPrefix(k, prefix), ".json")); err != nil {
			t.Fatalf("evidence key %s is not <verified_at>.json: %v", k, err)
		}
		evs = append(evs, parseEvidence(t, e.getObject(t, k, "")))
	}
	return evs
}

func hasEstimate(m *catalog.Manifest, table string) bool {
	for _, tc := range m.Tables {
		if tc.Table == table {
			return !tc.Exact && tc.Rows > 0
		}
	}
	return false
}

// TestVerifyInterrupted: SIGTERM while the drill restores makes verify exit
// 1 soon, drop its database and close its audit record with a failure.
func TestVerifyInterrupted(t *testing.T) {
	e := newEnv(t, `CREATE EXTENSION pgcrypto;
CREATE TABLE big (id int, payload bytea);
INSERT INTO big SELECT g, gen_random_bytes(1024) FROM generate_series(1, 60000) g;`)
	e.noGlobals = true
	m := e.backup(t)[0]
	target := e.db + "_drill"
	e.dropLater(t, target)
	cmd, out := e.command(t, e.backupctl, "--config", e.config, "verify", m.ID, "--database", e.db,
		"--reason", "drill", "--identity", e.identity, "--restore-into", e.pg.DSN(target))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !waitChildRead(t, cmd.Process.Pid, "pg_restore", 8<<20, time.Minute) {
		_ = cmd.Wait()
		t.Fatalf("pg_restore was not seen reading 8 MiB:\n%s", out)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	t.Logf("backupctl exited %s after SIGTERM: %s", time.Since(start).Round(time.Millisecond), lastLine(out.String()))
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("verify after SIGTERM: exit %d, want 1\n%s", code, out)
	}
	if e.dbExists(t, target) {
		t.Fatal("the interrupted drill left its database behind")
	}
	recs := e.auditRecords(t, e.config)
	if len(recs) != 2 || recs[1].Kind != audit.KindEnd || recs[1].Outcome != audit.OutcomeFailure {
		t.Fatalf("audit records %+v; want a begin and a failed end", recs)
	}
}

// waitChildRead waits for a child of parent named name to have read at
// least n bytes (rchar in /proc/PID/io: pg_restore reads its input with
// read(2), and sends to the server with send(2), which wchar misses).
func waitChildRead(t *testing.T, parent int, name string, n int64, limit time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, pid := range children(parent, name) {
			b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "io"))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "rchar: "); ok {
					if got, _ := strconv.ParseInt(v, 10, 64); got >= n {
						return true
					}
				}
			}
		}
		if syscall.Kill(parent, 0) != nil {
			return false
		}
	}
	return false
}
