package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/catalog"
)

// TestAuditConcurrentRestores: two restores run at once by two backupctl
// processes land in one unbroken chain of two begin and two end records,
// each naming who, what, where to and why; the daemon exports the accesses.
func TestAuditConcurrentRestores(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT g FROM generate_series(1, 20000) g;")
	m := e.backup(t)[0]
	targets := []string{e.db + "_a", e.db + "_b"}
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for _, target := range targets {
		e.dropLater(t, target)
		cmd, out := e.command(t, e.backupctl, "--config", e.config, "restore", m.ID, "--database", e.db,
			"--to", e.pg.DSN(target), "--reason", "incident 42: restore into "+target, "--identity", e.identity)
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	for _, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("restore into %s: %v\n%s", targets[i], err, outs[i])
		}
	}

	r := e.mustRun(t, e.backupctl, "--config", e.config, "audit", "verify")
	if got := strings.TrimSpace(r.stdout); got != "audit chain ok: 4 records" {
		t.Fatalf("audit verify printed %q", got)
	}
	recs := e.auditRecords(t, e.config)
	var order []string
	begins := map[int64]audit.Record{}
	for _, rec := range recs {
		order = append(order, fmt.Sprintf("%d:%s", rec.Seq, rec.Kind))
		switch rec.Kind {
		case audit.KindBegin:
			begins[rec.Seq] = rec
			if rec.Action != audit.ActionRestore || rec.OSUser == "" || rec.Host == "" || rec.Reason == "" ||
				rec.BackupID != m.ID || rec.Database != e.db || rec.SHA256 != m.SHA256 ||
				rec.ObjectKey != m.Object.Key || rec.ObjectVersion != m.Object.VersionID ||
				rec.Environment != "test" || rec.CrossEnvironment || len(rec.IdentityKeys) != 1 ||
				!strings.HasPrefix(rec.IdentityKeys[0], "age1") || !strings.Contains(rec.Target, "dbname="+e.db+"_") {
				t.Fatalf("begin record %d is incomplete: %+v", rec.Seq, rec)
			}
			t.Logf("record %d: cloud_identity %q", rec.Seq, rec.CloudIdentity)
		case audit.KindEnd:
			b, ok := begins[rec.BeginSeq]
			if !ok || rec.Outcome != audit.OutcomeSuccess || rec.Target != b.Target || rec.Bytes != m.StoredBytes {
				t.Fatalf("end record %d: %+v; want success closing an earlier begin with the same target, %d bytes", rec.Seq, rec, m.StoredBytes)
			}
			delete(begins, rec.BeginSeq)
		}
	}
	if len(recs) != 4 || len(begins) != 0 {
		t.Fatalf("records %v; want 2 begin and 2 end records, each begin closed", order)
	}
	t.Logf("record order: %s", strings.Join(order, " "))
	list := e.mustRun(t, e.backupctl, "--config", e.config, "audit", "list")
	if !strings.HasPrefix(list.stdout, "SEQ") || strings.Count(list.stdout, m.ID) != 4 {
		t.Fatalf("audit list printed:\n%s", list.stdout)
	}

	cfg, listen := e.daemonConfig(t, "daemon.yaml", never, "")
	d := e.startDaemon(t, cfg, listen)
	_, body := d.scrape(t, "/metrics")
	access := samples(body, "pgtier_restore_access_total", `result="success"`)
	chain := samples(body, "pgtier_audit_chain_ok")
	if len(access) != 1 || firstValue(access) != 2 || len(chain) != 1 || firstValue(chain) != 1 {
		t.Fatalf("/metrics: restore access %v, chain ok %v; want 2 successes and 1", access, chain)
	}
}

// TestAuditVerifyDetectsAlteredRecord: overwriting a record's bytes (on a
// versioned bucket, a new current version) makes audit verify exit 1 and
// name that record. Records are locked beyond the backups' expiry.
func TestAuditVerifyDetectsAlteredRecord(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	m := e.backup(t)[0]
	for _, reason := range []string{"first copy", "second copy"} {
		e.mustRun(t, e.backupctl, "--config", e.config, "restore", m.ID, "--database", e.db,
			"--output", filepath.Join(e.dir, "copy.dump"), "--reason", reason, "--identity", e.identity)
	}
	r := e.mustRun(t, e.backupctl, "--config", e.config, "audit", "verify")
	if got := strings.TrimSpace(r.stdout); got != "audit chain ok: 4 records" {
		t.Fatalf("audit verify printed %q", got)
	}
	client := e.s3.Client(t)
	ctx := context.Background()
	key := "pgtier/" + audit.Key("test", 2)
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if head.ObjectLockMode != "COMPLIANCE" || head.ObjectLockRetainUntilDate == nil || !head.ObjectLockRetainUntilDate.After(m.ExpiresAt) {
		t.Fatalf("record 2: lock %q until %v; want COMPLIANCE beyond the backup's expiry %v", head.ObjectLockMode, head.ObjectLockRetainUntilDate, m.ExpiresAt)
	}

	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	orig, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	altered := bytes.Replace(orig, []byte(`"reason": "first copy"`), []byte(`"reason": "routine check"`), 1)
	if bytes.Equal(altered, orig) {
		t.Fatalf("record 2 holds no reason to alter:\n%s", orig)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key),
		Body: bytes.NewReader(altered)}); err != nil {
		t.Fatalf("overwriting record 2: %v", err)
	}
	r = e.run(t, e.backupctl, "--config", e.config, "audit", "verify")
	line := oneLine(t, r.stderr)
	if r.code != 1 || !strings.Contains(line, "record 2") {
		t.Fatalf("audit verify after altering record 2: exit %d, %q; want 1 naming record 2", r.code, line)
	}
	t.Logf("backupctl said: %s", line)
}

// TestAuditUnwritableRefusesRestore: with the audit location unwritable (a
// bucket that does not exist), restore and --output are refused with exit 1
// naming the audit log; no database or file is created, and the data object
// is never fetched. The same proxy does see that fetch once the audit log is
// writable.
func TestAuditUnwritableRefusesRestore(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	m := e.backup(t)[0]
	p := e.recordingProxy(t)
	missing := fmt.Sprintf("pgtier-no-audit-%d", time.Now().UnixNano())
	cfg := p.route(t, e.writeConfig(t, "unwritable.yaml", "audit:\n  url: s3://"+missing+"/audit\n"))
	target := e.db + "_refused"
	e.dropLater(t, target)
	file := filepath.Join(e.dir, "refused.dump")
	for _, to := range [][]string{{"--to", e.pg.DSN(target)}, {"--output", file}} {
		args := append([]string{"--config", cfg, "restore", m.ID, "--database", e.db, "--reason", "audit is down",
			"--identity", e.identity}, to...)
		r := e.run(t, e.backupctl, args...)
		line := oneLine(t, r.stderr)
		if r.code != 1 || !strings.Contains(line, "cannot write the audit record to s3://"+missing) || !strings.Contains(line, "no record, no restore") {
			t.Fatalf("restore %s with the audit log unwritable: exit %d, %q; want 1 naming the audit log", to[0], r.code, line)
		}
		t.Logf("backupctl said: %s", line)
	}
	if e.dbExists(t, target) {
		t.Fatal("a database was created although the audit record was not written")
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the output file exists although the audit record was not written: %v", err)
	}
	data := "GET /" + e.bucket + "/pgtier/" + m.Object.Key
	if p.saw(data) {
		t.Fatalf("the data object was fetched although the audit record was not written:\n%s", p.log())
	}
	if !p.saw("/" + missing) {
		t.Fatalf("no request went to the audit bucket; the proxy saw:\n%s", p.log())
	}

	ok := p.route(t, e.writeConfig(t, "writable.yaml", ""))
	e.mustRun(t, e.backupctl, "--config", ok, "restore", m.ID, "--database", e.db, "--output", file,
		"--reason", "audit is back", "--identity", e.identity)
	if !p.saw(data) {
		t.Fatalf("the proxy did not see the data fetch of a restore that ran, so its silence above proves nothing:\n%s", p.log())
	}
}

// TestCrossEnvironmentRestore: a staging config reads production's backups
// with --source-environment, but restoring one into staging is refused
// before anything is read unless --allow-cross-environment, which the
// audit record then shows.
func TestCrossEnvironmentRestore(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	prod := e.environmentConfig(t, "production.yaml", "production")
	e.mustRun(t, e.backupd, "--config", prod, "--once")
	p := e.recordingProxy(t)
	staging := p.route(t, e.environmentConfig(t, "staging.yaml", "staging"))

	if own := e.listIn(t, staging, e.db); len(own) != 0 {
		t.Fatalf("staging lists %d backups of its own; want none", len(own))
	}
	ms := e.listIn(t, staging, e.db, "--source-environment", "production")
	if len(ms) != 1 || ms[0].Environment != "production" {
		t.Fatalf("staging --source-environment production listed %v", manifestIDs(ms))
	}
	m := ms[0]
	show := e.mustRun(t, e.backupctl, "--config", staging, "show", m.ID, "--database", e.db, "--source-environment", "production")
	if !strings.Contains(show.stdout, "production / main") {
		t.Fatalf("show printed:\n%s", show.stdout)
	}

	target := e.db + "_staging"
	e.dropLater(t, target)
	restore := []string{"--config", staging, "restore", m.ID, "--database", e.db, "--source-environment", "production",
		"--to", e.pg.DSN(target), "--reason", "reproduce a production bug", "--identity", e.identity}
	r := e.run(t, e.backupctl, restore...)
	line := oneLine(t, r.stderr)
	if r.code != 2 || !strings.Contains(line, "production") || !strings.Contains(line, "staging") || !strings.Contains(line, "--allow-cross-environment") {
		t.Fatalf("cross-environment restore without the flag: exit %d, %q; want 2 naming both environments and the flag", r.code, line)
	}
	t.Logf("backupctl said: %s", line)
	if e.dbExists(t, target) {
		t.Fatal("the refused restore created its database")
	}
	if data := "GET /" + e.bucket + "/pgtier/" + m.Object.Key; p.saw(data) {
		t.Fatalf("the refused restore fetched the data object:\n%s", p.log())
	}
	if recs := e.auditRecords(t, staging); len(recs) != 0 {
		t.Fatalf("the refused restore wrote %d audit records; a refusal reads nothing and writes none", len(recs))
	}

	e.mustRun(t, e.backupctl, append(restore, "--allow-cross-environment")...)
	if got := e.pg.QueryInt(t, target, "SELECT count(*) FROM t"); got != 1 {
		t.Fatalf("restored %d rows, want 1", got)
	}
	recs := e.auditRecords(t, staging)
	if len(recs) != 2 {
		t.Fatalf("want a begin and an end record, got %d", len(recs))
	}
	for _, rec := range recs {
		if !rec.CrossEnvironment || rec.SourceEnvironment != "production" || rec.Environment != "staging" {
			t.Fatalf("record %d: environment %q source %q cross %t; want staging, production, true",
				rec.Seq, rec.Environment, rec.SourceEnvironment, rec.CrossEnvironment)
		}
	}
	if recs := e.auditRecords(t, prod); len(recs) != 0 {
		t.Fatalf("production's audit log has %d records; the access belongs to staging's", len(recs))
	}
}

// command prepares a run of a built binary with the env's S3 credentials,
// as run does, for tests that start several at once.
func (e *env) command(t *testing.T, bin string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+e.s3.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+e.s3.SecretKey,
		"AWS_REGION="+e.s3.Region,
		"PGTIER_IDENTITY=",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

// auditRecords runs backupctl audit list --json with config.
func (e *env) auditRecords(t *testing.T, config string) []audit.Record {
	t.Helper()
	r := e.mustRun(t, e.backupctl, "--config", config, "audit", "list", "--json")
	var recs []audit.Record
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil {
		t.Fatalf("audit list --json printed %q: %v", r.stdout, err)
	}
	return recs
}

// environmentConfig writes a config like the env's, in environment env.
func (e *env) environmentConfig(t *testing.T, name, env string) string {
	t.Helper()
	path := e.writeConfig(t, name, "")
	editConfig(t, path, "environment: test\n", "environment: "+env+"\n")
	return path
}

// listIn runs backupctl list --json for db with config and extra flags.
func (e *env) listIn(t *testing.T, config, db string, extra ...string) []*catalog.Manifest {
	t.Helper()
	r := e.mustRun(t, e.backupctl, append([]string{"--config", config, "list", "--database", db, "--json"}, extra...)...)
	var ms []*catalog.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil {
		t.Fatalf("list --json printed %q: %v", r.stdout, err)
	}
	return ms
}

// editConfig replaces the first old in the file at path with repl.
func editConfig(t *testing.T, path, old, repl string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s holds no %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(repl), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// proxy is a plain-HTTP reverse proxy in front of MinIO that notes every
// request ("METHOD /bucket/key"), so a test can tell what a command fetched.
type proxy struct {
	e   *env
	srv *httptest.Server
	mu  sync.Mutex
	req []string
}

func (e *env) recordingProxy(t *testing.T) *proxy {
	t.Helper()
	upstream, err := url.Parse(e.s3.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.Out.Host = pr.In.Host // requests are signed for the host they were sent to
		},
		Transport: e.s3.HTTPClient().Transport,
	}
	p := &proxy{e: e}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.req = append(p.req, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// route points the config at path to the proxy and returns path.
func (p *proxy) route(t *testing.T, path string) string {
	t.Helper()
	editConfig(t, path, "endpoint: "+p.e.s3.Endpoint+"\n", "endpoint: "+p.srv.URL+"\n  allow_insecure_http: true\n")
	return path
}

// saw reports whether a request line containing s went through.
func (p *proxy) saw(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.req {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}

func (p *proxy) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.req, "\n")
}
