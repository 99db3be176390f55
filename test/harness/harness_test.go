package harness_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"

	"github.com/pgtier/pgtier/test/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

func TestPostgres(t *testing.T) {
	pg := harness.PG(t)
	if pg.Host != "127.0.0.1" || pg.Port == 0 || pg.User != "postgres" {
		t.Fatalf("unexpected server %+v", pg)
	}
	pg.CreateDB(t, "harness_self")
	pg.Exec(t, "harness_self", `CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g`)
	if n := pg.QueryInt(t, "harness_self", "SELECT count(*) FROM t WHERE id > $1", 10); n != 990 {
		t.Fatalf("count = %d, want 990", n)
	}
	if v := pg.QueryString(t, "harness_self", "SHOW fsync"); v != "off" {
		t.Fatalf("fsync = %q, want off", v)
	}
	rows := pg.Query(t, "harness_self", "SELECT id, v FROM t ORDER BY id LIMIT 2")
	if len(rows) != 2 || len(rows[0]) != 2 {
		t.Fatalf("rows = %v", rows)
	}
	c, err := pgx.Connect(t.Context(), pg.DSN("harness_self"))
	if err != nil {
		t.Fatalf("connecting with DSN %s: %v", pg.DSN("harness_self"), err)
	}
	defer c.Close(t.Context())
	if _, err := os.Stat(filepath.Join(pg.BinDir, "pg_dump")); err != nil {
		t.Fatalf("pg_dump not in BinDir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pg.SocketDir, ".s.PGSQL."+strconv.Itoa(pg.Port))); err != nil {
		t.Fatalf("no unix socket: %v", err)
	}
}

func TestPostgresNewDB(t *testing.T) {
	pg := harness.PG(t)
	a, b := pg.NewDB(t), pg.NewDB(t)
	if a == b || !strings.HasPrefix(a, "t_testpostgresnewdb_") {
		t.Fatalf("names %q, %q", a, b)
	}
	if n := pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname IN ($1, $2)", a, b); n != 2 {
		t.Fatalf("found %d of the 2 databases", n)
	}
}

func TestPostgresKillAndStart(t *testing.T) {
	pg := harness.PG(t)
	db := pg.NewDB(t)
	pg.Exec(t, db, "CREATE TABLE k (id int); INSERT INTO k VALUES (1), (2)")
	port := pg.Port
	busy := pg.Conn(t, db)
	done := make(chan error, 1)
	go func() {
		_, err := busy.Exec(context.Background(), "SELECT pg_sleep(60)")
		done <- err
	}()
	for pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'") == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("query survived Kill")
	}
	if pg.Running() {
		t.Fatal("running after Kill")
	}
	if _, err := pgx.Connect(t.Context(), pg.DSN(db)); err == nil {
		t.Fatal("connected to a killed server")
	}
	pg = harness.PG(t) // starts it again, with crash recovery
	if pg.Port != port {
		t.Fatalf("port changed from %d to %d", port, pg.Port)
	}
	if n := pg.QueryInt(t, db, "SELECT count(*) FROM k"); n != 2 {
		t.Fatalf("count after recovery = %d, want 2", n)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, db, "SELECT 1")
}

func TestMinIOObjectLock(t *testing.T) {
	m := harness.S3(t)
	if !strings.HasPrefix(m.Endpoint, "https://127.0.0.1:") {
		t.Fatalf("endpoint %s", m.Endpoint)
	}
	c := m.Client(t)
	ctx := t.Context()
	bucket := m.Bucket(t, true)

	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning = %q, want Enabled", v.Status)
	}
	put, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:                    &bucket,
		Key:                       aws.String("base/a.dump"),
		Body:                      bytes.NewReader([]byte("hello")),
		ObjectLockMode:            types.ObjectLockModeCompliance,
		ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Hour)),
	})
	if err != nil {
		t.Fatalf("put with retention: %v", err)
	}
	if put.VersionId == nil || *put.VersionId == "" {
		t.Fatal("no version id")
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String("base/a.dump"), VersionId: put.VersionId})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("deleting a locked version: err = %v, want a refusal", err)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("base/a.dump"), VersionId: put.VersionId})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	if got.ObjectLockMode != types.ObjectLockModeCompliance {
		t.Fatalf("lock mode = %q", got.ObjectLockMode)
	}
}

func TestMinIOPlainBucketAndRestart(t *testing.T) {
	m := harness.S3(t)
	c := m.Client(t)
	bucket := m.Bucket(t, false)
	if bucket == m.Bucket(t, false) {
		t.Fatal("bucket names repeat")
	}
	ctx := t.Context()
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != "" {
		t.Fatalf("versioning = %q on a plain bucket", v.Status)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if m.Running() {
		t.Fatal("running after Kill")
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("k")})
	if err != nil {
		t.Fatalf("get after restart: %v", err)
	}
	defer got.Body.Close()
	if b, _ := io.ReadAll(got.Body); string(b) != "v" {
		t.Fatalf("body %q", b)
	}
}

func TestMinIOCA(t *testing.T) {
	m := harness.S3(t)
	resp, err := m.HTTPClient().Get(m.Endpoint + "/minio/health/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := os.Stat(m.CAFile); err != nil {
		t.Fatal(err)
	}
	plain := &http.Client{Transport: &http.Transport{}}
	if r, err := plain.Get(m.Endpoint); err == nil {
		r.Body.Close()
		t.Fatal("a client without the harness CA trusted the server")
	}
}

func TestBuildBinaries(t *testing.T) {
	root := harness.Root(t)
	for _, cmd := range []string{"backupd", "backupctl"} {
		if _, err := os.Stat(filepath.Join(root, "cmd", cmd)); err != nil {
			t.Skipf("cmd/%s not written yet", cmd)
		}
	}
	d, c := harness.BuildBinaries(t)
	for _, p := range []string{d, c} {
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			t.Fatalf("%s: not an executable: %v", p, err)
		}
	}
}
