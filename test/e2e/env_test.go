package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/crypto"
	"github.com/pgtier/pgtier/test/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// env is one operator's setup: a database with content, a locked bucket on
// MinIO, an age key pair, a config file and the built binaries.
type env struct {
	pg                    *harness.Postgres
	s3                    *harness.MinIO
	bucket, db, dir       string
	backupd, backupctl    string
	identity, recipients  string
	signingKey, verifyKey string
	config                string
	extraEnv              []string
	noGlobals             bool // leave the globals out of the backups
}

// newEnv builds an env around a fresh database loaded with sql.
func newEnv(t *testing.T, sql string) *env {
	t.Helper()
	e := &env{pg: harness.PG(t), s3: harness.S3(t), dir: t.TempDir()}
	e.backupd, e.backupctl = harness.BuildBinaries(t)
	e.bucket = e.s3.Bucket(t, true)
	e.db = e.pg.NewDB(t)
	if sql != "" {
		e.pg.Exec(t, e.db, sql)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	e.identity = e.write(t, "identity.txt", "# operator\n"+id.String()+"\n")
	e.recipients = e.write(t, "recipients.txt", "# operators\n"+id.Recipient().String()+"\n")
	e.signingKey, e.verifyKey = filepath.Join(e.dir, "signing.key"), filepath.Join(e.dir, "signing.pub")
	if _, err := crypto.WriteKeyPair(e.signingKey, e.verifyKey); err != nil {
		t.Fatal(err)
	}
	e.config = e.writeConfig(t, "config.yaml", "")
	return e
}

func (e *env) write(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeConfig writes a config for this env; extra is appended as YAML.
func (e *env) writeConfig(t *testing.T, name, extra string) string {
	t.Helper()
	return e.write(t, name, fmt.Sprintf(`environment: test
cluster: main
postgres:
  host: %s
  port: %d
  user: %s
  sslmode: disable
  databases: [%q]
  globals: %t
  bin_dir: %s
encryption:
  recipients_file: %s
  signing_key_file: %s
  verify_key_file: %s
storage:
  url: s3://%s/pgtier
  endpoint: %s
  region: %s
  ca_file: %s
%s`, e.pg.Host, e.pg.Port, e.pg.User, e.db, !e.noGlobals, e.pg.BinDir, e.recipients, e.signingKey, e.verifyKey,
		e.bucket, e.s3.Endpoint, e.s3.Region, e.s3.CAFile, extra))
}

// result is what one run of a binary printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// run runs a built binary the way an operator would, with S3 credentials
// from the standard AWS environment variables.
func (e *env) run(t *testing.T, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+e.s3.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+e.s3.SecretKey,
		"AWS_REGION="+e.s3.Region,
		"PGTIER_IDENTITY=",
	)
	cmd.Env = append(cmd.Env, e.extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", filepath.Base(bin), err)
	}
	return r
}

// mustRun runs a binary and fails t unless it exits 0.
func (e *env) mustRun(t *testing.T, bin string, args ...string) result {
	t.Helper()
	r := e.run(t, bin, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\nstderr: %s", filepath.Base(bin), strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// backup runs backupd --once and returns the manifests of the env's database.
func (e *env) backup(t *testing.T) []*catalog.Manifest {
	t.Helper()
	e.mustRun(t, e.backupd, "--config", e.config, "--once")
	return e.list(t, e.db)
}

// list runs backupctl list --json for one database.
func (e *env) list(t *testing.T, db string) []*catalog.Manifest {
	t.Helper()
	r := e.mustRun(t, e.backupctl, "--config", e.config, "list", "--database", db, "--json")
	var ms []*catalog.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil {
		t.Fatalf("list --json printed %q: %v", r.stdout, err)
	}
	return ms
}

// plainDump returns pg_dump's plain-text output for db, without comment
// lines, for comparing two databases.
func (e *env) plainDump(t *testing.T, db string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(e.pg.BinDir, "pg_dump"), "--no-password", e.pg.DSN(db)).Output()
	if err != nil {
		t.Fatalf("pg_dump %s: %v", db, err)
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		// Comments and pg_dump's per-run \restrict key are not content.
		if !strings.HasPrefix(line, "--") && !strings.HasPrefix(line, `\restrict `) && !strings.HasPrefix(line, `\unrestrict `) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// dbExists reports whether the shared cluster has database name.
func (e *env) dbExists(t *testing.T, name string) bool {
	t.Helper()
	return e.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = $1", name) == 1
}

// oneLine fails t unless s is exactly one non-empty line.
func oneLine(t *testing.T, s string) string {
	t.Helper()
	s = strings.TrimRight(s, "\n")
	if s == "" || strings.Contains(s, "\n") {
		t.Fatalf("want one line on stderr, got %q", s)
	}
	return s
}

// dropLater drops database name, if it exists, when t ends: for databases
// that backupctl creates.
func (e *env) dropLater(t *testing.T, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, e.pg.DSN("postgres"))
		if err != nil {
			t.Logf("dropping %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
}

func manifestIDs(ms []*catalog.Manifest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}
