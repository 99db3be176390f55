package e2e

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
)

// TestSecretsStaySecret: a full cycle with a distinctive database password
// and S3 secrets; neither appears in any output, log line, manifest, audit
// record or metric, even on a failure whose DSN holds the password.
func TestSecretsStaySecret(t *testing.T) {
	const pgSecret = "Distinctive-PG-Secret-4711"
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	role := strings.ReplaceAll(e.db, "t_", "r_")
	e.pg.Exec(t, "postgres", fmt.Sprintf("CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'", role, pgSecret))
	e.dropRoleLater(t, role)
	pwFile := e.write(t, "pgpassword", pgSecret+"\n")
	cfg, listen := e.daemonConfig(t, "secret.yaml", never, "")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.write(t, "secret.yaml", strings.Replace(string(b), "  user: "+e.pg.User+"\n", "  user: "+role+"\n  password_file: "+pwFile+"\n", 1))
	e.config = cfg
	writer, restorer := e.newUser(t, "writer"), e.newUser(t, "restorer")
	defer func() { e.extraEnv = nil }()
	secrets := []string{pgSecret, writer.secret, restorer.secret, e.s3.SecretKey}

	var seen []string
	e.as(writer)
	r := e.mustRun(t, e.backupd, "--config", cfg, "--once")
	seen = append(seen, r.stdout, r.stderr)
	d := e.startDaemon(t, cfg, listen)
	_, metrics := d.scrape(t, "/metrics")
	seen = append(seen, metrics)
	d.stop(t, syscall.SIGTERM, 30*time.Second)
	seen = append(seen, d.logText())

	e.as(restorer)
	m := e.list(t, e.db)[0]
	for _, args := range [][]string{
		{"list", "--json"}, {"show", m.ID, "--database", e.db, "--json"},
		{"restore", m.ID, "--database", e.db, "--output", filepath.Join(e.dir, "x.dump"), "--reason", "secrets test", "--identity", e.identity},
		{"audit", "list", "--json"},
	} {
		r := e.mustRun(t, e.backupctl, append([]string{"--config", cfg}, args...)...)
		seen = append(seen, r.stdout, r.stderr)
	}
	// A failing restore whose target DSN carries the password.
	bad := url.URL{Scheme: "postgres", User: url.UserPassword(role, pgSecret), Host: freeAddr(t), Path: "/nowhere"}
	r = e.run(t, e.backupctl, "--config", cfg, "restore", m.ID, "--database", e.db, "--to", bad.String(),
		"--reason", "secrets test", "--identity", e.identity)
	if r.code == 0 || !strings.Contains(r.stderr, role) {
		t.Fatalf("a restore to a closed port: exit %d, %q; want a failure naming the target", r.code, r.stderr)
	}
	t.Logf("backupctl said: %s", strings.TrimSpace(r.stderr))
	seen = append(seen, r.stdout, r.stderr)
	seen = append(seen, e.bucketText(t)...)

	for _, s := range secrets {
		for i, text := range seen {
			if strings.Contains(text, s) {
				t.Fatalf("secret %.6s... appears in output %d:\n%s", s, i, text)
			}
		}
	}
	if !strings.Contains(strings.Join(seen, ""), `"kind": "begin"`) {
		t.Fatal("no audit record was searched: the test proved less than it claims")
	}
}

// bucketText returns every object in the env's bucket that is not a backup's
// encrypted data: manifests, audit records, leases.
func (e *env) bucketText(t *testing.T) []string {
	t.Helper()
	client := e.s3.Client(t)
	ctx := context.Background()
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, o := range out.Contents {
		if strings.HasSuffix(*o.Key, ".age") {
			continue
		}
		obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		texts = append(texts, string(b))
	}
	if len(texts) < 3 {
		t.Fatalf("only %d objects to search in the bucket", len(texts))
	}
	return texts
}

// dropRoleLater drops role when t ends.
func (e *env) dropRoleLater(t *testing.T, role string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, e.pg.DSN("postgres"))
		if err != nil {
			t.Logf("dropping role %s: %v", role, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Logf("dropping role %s: %v", role, err)
		}
	})
}
