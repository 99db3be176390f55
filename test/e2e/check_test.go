package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pgtier/pgtier/test/harness"
)

// checkReport is what backupctl check --json prints.
type checkReport struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Area, Name, Status, Detail string
	} `json:"checks"`
}

// status returns the status and detail of the check area/name, failing t
// when there is none.
func (r checkReport) status(t *testing.T, check string) (string, string) {
	t.Helper()
	for _, c := range r.Checks {
		if c.Area+"/"+c.Name == check {
			return c.Status, c.Detail
		}
	}
	t.Fatalf("no check %s in %+v", check, r.Checks)
	return "", ""
}

// want fails t unless each check given as "area/name", status pairs has
// that status.
func (r checkReport) want(t *testing.T, pairs ...string) {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if got, detail := r.status(t, pairs[i]); got != pairs[i+1] {
			t.Errorf("%s is %s (%s), want %s", pairs[i], got, detail, pairs[i+1])
		}
	}
}

// check runs backupctl check --json with config and wants exit status code.
func (e *env) check(t *testing.T, config string, code int) checkReport {
	t.Helper()
	r := e.run(t, e.backupctl, "--config", config, "check", "--json")
	if r.code != code {
		t.Fatalf("backupctl check --json: exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	var rep checkReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("check --json printed %q: %v", r.stdout, err)
	}
	areas := map[string]bool{"config": true, "postgres": true, "keys": true, "storage": true}
	statuses := map[string]bool{"ok": true, "warn": true, "fail": true, "unknown": true}
	for _, c := range rep.Checks {
		if !areas[c.Area] || !statuses[c.Status] || c.Name == "" || c.Detail == "" || strings.Contains(c.Detail, "\n") {
			t.Errorf("check %+v", c)
		}
	}
	if rep.OK != (code == 0) {
		t.Errorf("ok is %v with exit %d", rep.OK, code)
	}
	return rep
}

// tlsOnly applies configs/iam/bucket-policy.json to the env's bucket.
func (e *env) tlsOnly(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.Root(t), "configs", "iam", "bucket-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	policy := strings.ReplaceAll(string(b), "BUCKET", e.bucket)
	if _, err := e.s3.Client(t).PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{
		Bucket: aws.String(e.bucket), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
}

// objects counts the object versions, delete markers and incomplete
// uploads in the env's bucket.
func (e *env) objects(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	c := e.s3.Client(t)
	v, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(e.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(e.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(v.Versions) + len(v.DeleteMarkers) + len(u.Uploads)
}

// runWithin runs a binary as env.run does, killing it after limit: for a
// daemon that is expected to refuse to start.
func (e *env) runWithin(t *testing.T, limit time.Duration, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+e.s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+e.s3.SecretKey,
		"AWS_REGION="+e.s3.Region)
	cmd.Env = append(cmd.Env, e.extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s still running after %s\nstderr: %s", filepath.Base(bin), limit, r.stderr)
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", filepath.Base(bin), err)
	}
	return r
}

// warnings returns the messages of the WARN lines of a JSON log.
func warnings(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		var rec struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == "WARN" {
			out = append(out, rec.Msg)
		}
	}
	return out
}

// TestCheckLockedBucket: on an object-locked bucket with the TLS-only
// policy, with the env's keys and Postgres, backupctl check passes.
func TestCheckLockedBucket(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	e.tlsOnly(t)

	r := e.run(t, e.backupctl, "--config", e.config, "check")
	t.Logf("backupctl check:\n%s", r.stdout)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("backupctl check: exit %d, want 0\nstderr: %s", r.code, r.stderr)
	}
	for _, want := range []string{"CHECK", "storage/object_lock", "storage/tls_only", "postgres/pg_dump", "keys/recipients"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the table lacks %s", want)
		}
	}

	rep := e.check(t, e.config, 0)
	rep.want(t,
		"config/load", "ok",
		"postgres/connect", "ok",
		"postgres/server_version", "ok",
		"postgres/in_recovery", "ok",
		"postgres/pg_read_all_data", "ok",
		"postgres/pg_dump", "ok",
		"keys/recipients", "ok",
		"keys/signing_key", "ok",
		"keys/verify_key", "ok",
		"storage/versioning", "ok",
		"storage/object_lock", "ok",
		"storage/policy_status", "ok",
		"storage/tls_only", "ok",
		"storage/lockdown", "ok")
	// The harness connects as the cluster's superuser.
	if st, detail := rep.status(t, "postgres/superuser"); st != "warn" || !strings.Contains(detail, "configs/postgres/role.sql") {
		t.Errorf("superuser: %s %q, want a warning that points at role.sql", st, detail)
	}
	// MinIO has no public access block API: unknown, which is not a pass.
	rep.want(t, "storage/public_access_block", "unknown")

	// A config that does not load is one line and exit 2, as for every command.
	r = e.run(t, e.backupctl, "--config", filepath.Join(e.dir, "missing.yaml"), "check", "--json")
	if line := oneLine(t, r.stderr); r.code != 2 || !strings.Contains(line, "missing.yaml") || r.stdout != "" {
		t.Errorf("check with a missing config: exit %d, stderr %q, stdout %q", r.code, line, r.stdout)
	}

	// The same bucket takes a backup.
	if ms := e.backup(t); len(ms) != 1 {
		t.Fatalf("%d backups, want 1", len(ms))
	}
}

// TestCheckUnlockedBucket: on a bucket without object lock backupctl check
// fails naming the problem, and backupd refuses to start, both --once and
// as a daemon, with one line and exit 2, writing nothing to the bucket.
func TestCheckUnlockedBucket(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	e.bucket = e.s3.Bucket(t, false)
	e.config = e.writeConfig(t, "plain.yaml", "")

	r := e.run(t, e.backupctl, "--config", e.config, "check")
	t.Logf("backupctl check:\n%s", r.stdout)
	if r.code != 1 {
		t.Fatalf("backupctl check: exit %d, want 1\nstderr: %s", r.code, r.stderr)
	}
	if line := oneLine(t, r.stderr); !strings.Contains(line, "storage/object_lock") {
		t.Errorf("stderr %q does not name the object lock", line)
	}
	rep := e.check(t, e.config, 1)
	rep.want(t, "storage/versioning", "fail", "storage/object_lock", "fail", "storage/lockdown", "fail",
		"postgres/connect", "ok", "keys/recipients", "ok")
	if _, detail := rep.status(t, "storage/object_lock"); !strings.Contains(detail, "object lock is not enabled") {
		t.Errorf("object_lock detail %q", detail)
	}

	wantRefusal := func(what string, r result) {
		t.Helper()
		if r.code != 2 {
			t.Fatalf("%s: exit %d, want 2\nstderr: %s", what, r.code, r.stderr)
		}
		line := oneLine(t, r.stderr)
		for _, want := range []string{`bucket "` + e.bucket + `" has no object lock`, "object lock is not enabled",
			"create the bucket with object lock", "storage.require_lockdown: false"} {
			if !strings.Contains(line, want) {
				t.Errorf("%s printed %q, which lacks %q", what, line, want)
			}
		}
	}
	wantRefusal("backupd --once", e.runWithin(t, time.Minute, e.backupd, "--config", e.config, "--once"))
	daemonCfg, _ := e.daemonConfig(t, "daemon.yaml", never, "")
	wantRefusal("backupd", e.runWithin(t, time.Minute, e.backupd, "--config", daemonCfg))
	if n := e.objects(t); n != 0 {
		t.Errorf("the bucket holds %d objects, versions or uploads after the refusals, want none", n)
	}
}

// TestCheckOptOut: with storage.require_lockdown false and object_lock off,
// backupd --once backs up into a bucket without object lock and logs each
// opt-out and the missing lock as warnings; backupctl check still fails.
func TestCheckOptOut(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	e.bucket = e.s3.Bucket(t, false)
	e.signingKey, e.verifyKey = `""`, `""` // no signing: one more opt-out
	e.config = e.writeConfig(t, "optout.yaml", "  require_lockdown: false\n  object_lock: off\n")

	r := e.mustRun(t, e.backupd, "--config", e.config, "--once")
	warned := strings.Join(warnings(r.stderr), "\n")
	for _, want := range []string{"storage.require_lockdown false", "storage.object_lock off",
		"encryption.signing_key_file not set", "bucket posture: object_lock fail", "bucket posture: versioning fail"} {
		if !strings.Contains(warned, want) {
			t.Errorf("no warning with %q; warnings:\n%s", want, warned)
		}
	}
	if ms := e.list(t, e.db); len(ms) != 1 {
		t.Fatalf("%d backups, want 1", len(ms))
	}

	rep := e.check(t, e.config, 1)
	rep.want(t, "storage/object_lock", "fail", "storage/lockdown", "warn",
		"config/storage.require_lockdown", "warn", "config/storage.object_lock", "warn", "keys/signing_key", "warn")
}
