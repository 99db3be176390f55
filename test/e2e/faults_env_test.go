package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/test/faults"
)

// bigSQL fills a database with 40 MB of random bytes in 1 KiB rows, which
// neither Postgres nor zstd can shrink, so a backup goes up in five 8 MiB
// parts; a small table sits beside it.
const bigSQL = `CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE big (id int PRIMARY KEY, payload bytea);
INSERT INTO big SELECT g, gen_random_bytes(1024) FROM generate_series(1, 40000) g;
CREATE TABLE small AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g;`

// dataSuffix ends the key of every data object.
const dataSuffix = ".dump.zst.age"

// faultEnv is an env around the big database with a fault proxy in front of
// MinIO and a config that goes through it.
type faultEnv struct {
	*env
	proxy   *faults.Proxy
	proxied string // config whose storage endpoint is the proxy
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	e := newEnv(t, bigSQL)
	e.noGlobals = true // one data object per backup: the faults match it alone
	e.config = e.writeConfig(t, "config.yaml", "")
	p, err := faults.Start(e.s3.Endpoint, e.s3.HTTPClient().Transport)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	f := &faultEnv{env: e, proxy: p}
	f.proxied = e.routed(t, e.writeConfig(t, "proxied.yaml", ""), p)
	return f
}

// routed points the config at path to the proxy p and returns path.
func (e *env) routed(t *testing.T, path string, p *faults.Proxy) string {
	t.Helper()
	editConfig(t, path, "endpoint: "+e.s3.Endpoint+"\n", "endpoint: "+p.URL+"\n  allow_insecure_http: true\n")
	return path
}

// arm arms each fault and disarms them all when t ends.
func (f *faultEnv) arm(t *testing.T, fs ...faults.Fault) []*faults.Rule {
	t.Helper()
	var rules []*faults.Rule
	for _, fault := range fs {
		rules = append(rules, f.proxy.Arm(fault))
	}
	t.Cleanup(f.proxy.Disarm)
	return rules
}

// fired fails t unless every rule fired at least once, so a passing test
// is known to have met its fault.
func fired(t *testing.T, p *faults.Proxy, rules ...*faults.Rule) {
	t.Helper()
	for _, r := range rules {
		if r.Fired() == 0 {
			t.Fatalf("fault %s never fired; requests:\n%s", r.Fault(), strings.Join(p.Requests(), "\n"))
		}
		t.Logf("fault %s fired %d times", r.Fault(), r.Fired())
	}
}

// fingerprint sums the big database's content in one row.
func (e *env) fingerprint(t *testing.T, db string) string {
	t.Helper()
	return e.pg.QueryString(t, db, `SELECT count(*) || ' rows, ' || md5(string_agg(md5(payload), ',' ORDER BY id))
		|| ', ' || (SELECT md5(string_agg(v, ',' ORDER BY id)) FROM small) FROM big`)
}

// restoreTo runs backupctl restore of m with config into a new database
// target.
func (e *env) restoreTo(t *testing.T, config string, m *catalog.Manifest, target string) result {
	t.Helper()
	e.dropLater(t, target)
	return e.run(t, e.backupctl, "--config", config, "restore", m.ID, "--database", e.db,
		"--to", e.pg.DSN(target), "--reason", "fault test", "--identity", e.identity)
}

// restoresIdentically restores m with config into a new database, compares
// it with the source and drops it again.
func (e *env) restoresIdentically(t *testing.T, config string, m *catalog.Manifest, target string) {
	t.Helper()
	start := time.Now()
	if r := e.restoreTo(t, config, m, target); r.code != 0 {
		t.Fatalf("restoring %s: exit %d\n%s", m.ID, r.code, r.stderr)
	}
	if src, dst := e.fingerprint(t, e.db), e.fingerprint(t, target); src != dst {
		t.Fatalf("backup %s restored %q, the source holds %q", m.ID, dst, src)
	}
	e.dropNow(t, target)
	t.Logf("backup %s restored identically in %s", m.ID, time.Since(start).Round(time.Millisecond))
}

// restoresToFile writes m's archive with config to a file and lists it with
// pg_restore: the object decrypted, matched its SHA-256 and is an archive.
func (e *env) restoresToFile(t *testing.T, config string, m *catalog.Manifest) {
	t.Helper()
	out := filepath.Join(e.dir, m.ID+".dump")
	defer os.Remove(out)
	e.mustRun(t, e.backupctl, "--config", config, "restore", m.ID, "--database", e.db, "--output", out,
		"--reason", "fault test", "--identity", e.identity)
	toc, err := exec.Command(filepath.Join(e.pg.BinDir, "pg_restore"), "--list", out).Output()
	if err != nil || !bytes.Contains(toc, []byte("TABLE DATA public big")) {
		t.Fatalf("restore --output did not write the archive of the big table: %v\n%s", err, toc)
	}
}

func (e *env) dropNow(t *testing.T, name string) {
	t.Helper()
	e.pg.Exec(t, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// nothingNew fails t if a failed run left a backup listed beyond before or a
// multipart upload beyond uploads.
func (e *env) nothingNew(t *testing.T, config string, before []*catalog.Manifest, uploads int) {
	t.Helper()
	after := e.listIn(t, config, e.db)
	for _, m := range after {
		if !slices.Contains(manifestIDs(before), m.ID) {
			t.Fatalf("the failed run listed backup %s", m.ID)
		}
	}
	if n := e.uploadsLeft(t); n > uploads {
		t.Fatalf("%d multipart uploads left behind", n-uploads)
	}
}

// newBackup returns the one backup of after that is not in before.
func newBackup(t *testing.T, before, after []*catalog.Manifest) *catalog.Manifest {
	t.Helper()
	var added []*catalog.Manifest
	for _, m := range after {
		if !slices.Contains(manifestIDs(before), m.ID) {
			added = append(added, m)
		}
	}
	if len(added) != 1 {
		t.Fatalf("want one new backup, got %v", manifestIDs(added))
	}
	return added[0]
}

// errorLine returns the last line of a failed run's stderr, the error, and
// fails t unless the run exited 1.
func errorLine(t *testing.T, what string, r result) string {
	t.Helper()
	line := lastLine(r.stderr)
	if r.code != 1 {
		t.Fatalf("%s: exit %d, want 1\nstderr: %s", what, r.code, r.stderr)
	}
	t.Logf("%s: %s", what, line)
	return line
}

// lineWith returns the last line of s that contains sub.
func lineWith(s, sub string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], sub) {
			return lines[i]
		}
	}
	return ""
}

// overwrite uploads over key (a new version on a versioned bucket) the
// current object with byte at changed.
func (e *env) overwrite(t *testing.T, bucket, key string, at int) {
	t.Helper()
	ctx := context.Background()
	c := e.s3.Client(t)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("pgtier/" + key)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x40
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("pgtier/" + key),
		Body: bytes.NewReader(b)}); err != nil {
		t.Fatalf("overwriting %s: %v", key, err)
	}
}
