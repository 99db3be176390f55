package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/crypto"
)

// TestTamperedManifestRefused: a manifest changed after signing is refused
// with a clear message, and no database is created.
func TestTamperedManifestRefused(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	m := e.backup(t)[0]
	key := aws.String("pgtier/test/main/" + e.db + "/" + m.ID + ".manifest.json")
	data := e.getObject(t, "test/main/"+e.db+"/"+m.ID+".manifest.json", "")
	altered := bytes.Replace(data, []byte(`"host": "`), []byte(`"host": "x`), 1)
	if bytes.Equal(altered, data) {
		t.Fatal("the manifest has no host field to alter")
	}
	if _, err := e.s3.Client(t).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(e.bucket), Key: key, Body: bytes.NewReader(altered), ChecksumAlgorithm: "CRC32C"}); err != nil {
		t.Fatal(err)
	}
	e.refused(t, m.ID, "signature")
}

// TestForeignSignatureRefused: a backup whose manifest another key signed
// (a daemon that is not ours writing to our bucket) is not listed, and
// restoring it is refused.
func TestForeignSignatureRefused(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	otherKey, otherPub := filepath.Join(e.dir, "other.key"), filepath.Join(e.dir, "other.pub")
	if _, err := crypto.WriteKeyPair(otherKey, otherPub); err != nil {
		t.Fatal(err)
	}
	mine := e.signingKey
	e.signingKey, e.verifyKey = otherKey, otherPub
	foreign := e.writeConfig(t, "foreign.yaml", "")
	e.signingKey, e.verifyKey = mine, filepath.Join(e.dir, "signing.pub")
	e.mustRun(t, e.backupd, "--config", foreign, "--once")
	r := e.mustRun(t, e.backupctl, "--config", e.config, "list", "--database", e.db, "--json")
	if strings.TrimSpace(r.stdout) != "[]" || !strings.Contains(r.stderr, "signature") {
		t.Fatalf("list showed %s (stderr %q); want no backup and a warning about the signature", r.stdout, r.stderr)
	}
	ms := e.listWith(t, foreign, e.db)
	if len(ms) != 1 {
		t.Fatalf("the foreign daemon's own config lists %d backups, want 1", len(ms))
	}
	e.refused(t, ms[0].ID, "not trusted")
}

// refused checks that restoring id fails with exit 1 and a line containing
// want, and creates no database.
func (e *env) refused(t *testing.T, id, want string) {
	t.Helper()
	target := e.db + "_refused"
	e.dropLater(t, target)
	r := e.run(t, e.backupctl, "--config", e.config, "restore", id, "--database", e.db,
		"--to", e.pg.DSN(target), "--reason", "test", "--identity", e.identity)
	line := lastLine(r.stderr)
	if r.code != 1 || !strings.Contains(line, want) {
		t.Fatalf("restore: exit %d, %q; want 1 and %q", r.code, r.stderr, want)
	}
	t.Logf("backupctl said: %s", line)
	if e.dbExists(t, target) {
		t.Fatal("a refused restore created its database")
	}
}

// listWith runs backupctl list --json with another config.
func (e *env) listWith(t *testing.T, config, db string) []*catalog.Manifest {
	t.Helper()
	saved := e.config
	defer func() { e.config = saved }()
	e.config = config
	return e.list(t, db)
}
