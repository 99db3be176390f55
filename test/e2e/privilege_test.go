package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/pgtier/pgtier/test/harness"
)

// user is a MinIO user made with one of the shipped IAM policies.
type user struct {
	access, secret string
	client         *s3.Client
}

func (e *env) newUser(t *testing.T, policy string) user {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.Root(t), "configs", "iam", policy+".json"))
	if err != nil {
		t.Fatal(err)
	}
	ak, sk := harness.CreateUser(t, e.s3, policy, strings.ReplaceAll(string(b), "BUCKET", e.bucket))
	return user{access: ak, secret: sk, client: s3.New(s3.Options{
		Region: e.s3.Region, BaseEndpoint: aws.String(e.s3.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""), HTTPClient: e.s3.HTTPClient(),
	})}
}

// as makes the env's commands run with u's credentials.
func (e *env) as(u user) {
	e.extraEnv = []string{"AWS_ACCESS_KEY_ID=" + u.access, "AWS_SECRET_ACCESS_KEY=" + u.secret}
}

func accessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied"
}

// TestLeastPrivilege: with configs/iam/writer.json the daemon backs up and
// prunes but cannot read a backup; with configs/iam/restorer.json an operator
// restores but cannot write or delete a backup.
func TestLeastPrivilege(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g;")
	e.noGlobals = true
	e.config = e.writeConfig(t, "short.yaml", shortWindows)
	writer, restorer := e.newUser(t, "writer"), e.newUser(t, "restorer")
	defer func() { e.extraEnv = nil }()
	ctx := context.Background()

	e.as(writer)
	e.backup(t)
	e.backup(t)
	ms := e.backup(t)
	last := ms[len(ms)-1]
	_, err := writer.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("pgtier/" + last.Object.Key)})
	if !accessDenied(err) {
		t.Fatalf("the writer read a backup's data: %v", err)
	}
	r := e.run(t, e.backupctl, "--config", e.config, "restore", last.ID, "--database", e.db,
		"--output", filepath.Join(e.dir, "w.dump"), "--reason", "test", "--identity", e.identity)
	if r.code != 1 || !strings.Contains(r.stderr, "AccessDenied") {
		t.Fatalf("restore with the writer's credentials: exit %d %q; want 1 and AccessDenied", r.code, r.stderr)
	}
	time.Sleep(time.Until(last.ExpiresAt.Add(2 * time.Second)))
	r = e.mustRun(t, e.backupctl, "--config", e.config, "prune", "--apply")
	if !strings.Contains(r.stdout, "deleted 1 of 3 backups") {
		t.Fatalf("the writer's prune printed:\n%s\nwant one backup deleted", r.stdout)
	}

	e.as(restorer)
	target := e.db + "_restored"
	e.dropLater(t, target)
	e.mustRun(t, e.backupctl, "--config", e.config, "restore", "--latest", "--database", e.db,
		"--to", e.pg.DSN(target), "--reason", "least privilege test", "--identity", e.identity)
	if got := e.pg.QueryInt(t, target, "SELECT count(*) FROM t"); got != 1000 {
		t.Fatalf("the restorer's restore has %d rows, want 1000", got)
	}
	key := aws.String("pgtier/" + last.Object.Key)
	if _, err := restorer.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: key,
		Body: bytes.NewReader([]byte("x")), ChecksumAlgorithm: "CRC32C"}); !accessDenied(err) {
		t.Fatalf("the restorer overwrote a backup: %v", err)
	}
	if _, err := restorer.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(e.bucket), Key: key}); !accessDenied(err) {
		t.Fatalf("the restorer deleted a backup: %v", err)
	}
	if r := e.run(t, e.backupd, "--config", e.config, "--once"); r.code == 0 {
		t.Fatal("backupd took a backup with the restorer's credentials")
	}
}
