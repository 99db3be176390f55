package e2e

import (
	"bytes"
	"context"
	"io"
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

const canary = "PLAINTEXT-CANARY-7f3a9c"

func variedSQL(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.Root(t), "test", "testdata", "varied.sql"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRoundTrip backs up a database with varied content and restores it
// into a new database that backupctl creates: the two dump identically.
func TestRoundTrip(t *testing.T) {
	e := newEnv(t, variedSQL(t))
	ms := e.backup(t)
	if len(ms) != 1 {
		t.Fatalf("want one backup listed, got %d", len(ms))
	}
	m := ms[0]
	if m.Database != e.db || m.SHA256 == "" || m.StoredBytes == 0 || m.RawBytes == 0 || len(m.Tables) == 0 {
		t.Fatalf("manifest is incomplete: %+v", m)
	}
	if globals := e.list(t, "_globals"); len(globals) != 1 {
		t.Fatalf("want the globals backed up once, got %d", len(globals))
	}

	target := e.db + "_restored"
	e.dropLater(t, target)
	e.mustRun(t, e.backupctl, "--config", e.config, "restore", m.ID, "--database", e.db,
		"--to", e.pg.DSN(target), "--reason", "round trip test", "--identity", e.identity)
	if src, dst := e.plainDump(t, e.db), e.plainDump(t, target); src != dst {
		t.Fatalf("restored database differs from the source:\n%s", firstDiff(src, dst))
	}

	// --latest and --at pick the same backup, and --output writes the archive.
	out := filepath.Join(e.dir, "app.dump")
	e.mustRun(t, e.backupctl, "--config", e.config, "restore", "--at", time.Now().UTC().Format(time.RFC3339),
		"--database", e.db, "--output", out, "--reason", "copy", "--identity", e.identity)
	toc, err := exec.Command(filepath.Join(e.pg.BinDir, "pg_restore"), "--list", out).Output()
	if err != nil || !bytes.Contains(toc, []byte("TABLE DATA public canary")) {
		t.Fatalf("--output did not write a pg_dump archive: %v\n%s", err, toc)
	}
}

// TestObjectIsEncryptedAndRecoverableWithStockTools checks that the stored
// object holds no plaintext and that age, zstd and pg_restore alone restore it.
func TestObjectIsEncryptedAndRecoverableWithStockTools(t *testing.T) {
	for _, tool := range []string{"age", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed; run test/install.sh", tool)
			}
			t.Skipf("%s is not installed; run test/install.sh", tool)
		}
	}
	e := newEnv(t, "CREATE TABLE canary (secret text); INSERT INTO canary SELECT '"+canary+"' || g FROM generate_series(1, 1000) g;")
	m := e.backup(t)[0]
	obj := e.getObject(t, m.Object.Key, m.Object.VersionID)
	if bytes.Contains(obj, []byte(canary)) || bytes.Contains(obj, []byte("canary")) {
		t.Fatal("the stored object contains plaintext from the database")
	}
	file := filepath.Join(e.dir, m.ID+".dump.zst.age")
	if err := os.WriteFile(file, obj, 0o600); err != nil {
		t.Fatal(err)
	}
	target := e.db + "_manual"
	e.pg.CreateDB(t, target)
	script := `age -d -i "$1" "$2" | zstd -d | "$3" --no-password -d "$4"`
	cmd := exec.Command("bash", "-o", "pipefail", "-c", script, "recipe", e.identity, file,
		filepath.Join(e.pg.BinDir, "pg_restore"), e.pg.DSN(target))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("manual recipe failed: %v\n%s", err, out)
	}
	if got := e.pg.QueryInt(t, target, "SELECT count(*) FROM canary"); got != 1000 {
		t.Fatalf("manual recipe restored %d rows, want 1000", got)
	}
}

// TestObjectLock checks that data and manifest carry the manifest's
// retain-until date and that the data version cannot be deleted before it.
func TestObjectLock(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	m := e.backup(t)[0]
	// The first backup of the month is promoted to every tier: its lock is
	// the longest minimum, monthly's 13 months.
	if want := m.TakenAt.AddDate(0, 13, 0); !m.LockUntil.Equal(want) || m.LockMode != "COMPLIANCE" {
		t.Fatalf("lock_until %v mode %q, want %v COMPLIANCE (monthly.min 13mo)", m.LockUntil, m.LockMode, want)
	}
	client := e.s3.Client(t)
	ctx := context.Background()
	for _, key := range []string{m.Object.Key, "test/main/" + e.db + "/" + m.ID + ".manifest.json"} {
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("pgtier/" + key)})
		if err != nil {
			t.Fatal(err)
		}
		if head.ObjectLockRetainUntilDate == nil || !head.ObjectLockRetainUntilDate.Equal(m.LockUntil) || head.ObjectLockMode != "COMPLIANCE" {
			t.Fatalf("%s: retain-until %v mode %q, want %v COMPLIANCE", key, head.ObjectLockRetainUntilDate, head.ObjectLockMode, m.LockUntil)
		}
	}
	_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(e.bucket),
		Key: aws.String("pgtier/" + m.Object.Key), VersionId: aws.String(m.Object.VersionID)})
	if err == nil {
		t.Fatal("deleting the locked version succeeded")
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(e.bucket),
		Key: aws.String("pgtier/" + m.Object.Key), VersionId: aws.String(m.Object.VersionID)}); err != nil {
		t.Fatalf("the locked version is gone after a refused delete: %v", err)
	}
}

func (e *env) getObject(t *testing.T, key, version string) []byte {
	t.Helper()
	out, err := e.s3.Client(t).GetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String(e.bucket), Key: aws.String("pgtier/" + key), VersionId: aws.String(version)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uploadsLeft counts incomplete multipart uploads on the MinIO server. The
// tests do not run in parallel, so any upload left is one of theirs.
func (e *env) uploadsLeft(t *testing.T) int {
	t.Helper()
	return e.s3.IncompleteUploads(t)
}

// objectsLeft counts objects under the env's database prefix.
func (e *env) objectsLeft(t *testing.T) int {
	t.Helper()
	out, err := e.s3.Client(t).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{
		Bucket: aws.String(e.bucket), Prefix: aws.String("pgtier/test/main/" + e.db + "/")})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Contents)
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return "source:   " + al[i] + "\nrestored: " + bl[i]
		}
	}
	return "lengths differ"
}
