package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgtier/pgtier/storage"
	"github.com/pgtier/pgtier/storage/storagetest"
)

func TestMemoryConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return storage.NewMemory() })
}

func TestLocalConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := storage.Open(context.Background(), storage.Options{URL: "file://" + t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestPartSizeFor(t *testing.T) {
	const mib = 1 << 20
	cases := []struct{ estimate, want int64 }{
		{-1, 8 * mib},
		{0, 8 * mib},
		{1, 8 * mib},
		{40 * mib, 8 * mib},
		{8 << 30, 8 * mib},
		{39 << 30, 8 * mib},
		{41 << 30, 9 * mib},
		{100 << 30, 21 * mib},
		{1 << 40, 210 * mib},
		{5 << 40, 1049 * mib},
		{25 << 40, 5 << 30},
		{1 << 62, 5 << 30},
	}
	for _, c := range cases {
		got := storage.PartSizeFor(c.estimate)
		if got != c.want {
			t.Errorf("PartSizeFor(%d) = %d MiB, want %d MiB", c.estimate, got/mib, c.want/mib)
		}
		if got%mib != 0 {
			t.Errorf("PartSizeFor(%d) = %d, not whole MiB", c.estimate, got)
		}
		if c.estimate > 0 && got < storage.MaxPartSize && got*storage.MaxParts < 2*c.estimate {
			t.Errorf("PartSizeFor(%d) = %d: 10,000 parts hold less than twice the estimate", c.estimate, got)
		}
	}
}

func TestCheckKey(t *testing.T) {
	for _, k := range []string{"a", "a/b", "prod/main/db/20261121T060000Z.dump.zst.age", "_globals/x.sql", ".hidden", "a..b"} {
		if err := storage.CheckKey(k); err != nil {
			t.Errorf("CheckKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "a\x00b", "\xff", strings.Repeat("a", 1025)} {
		if storage.CheckKey(k) == nil {
			t.Errorf("CheckKey(%q) accepted", k)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		o    storage.Options
		want string
	}{
		{storage.Options{URL: "ftp://x/y"}, "unknown scheme"},
		{storage.Options{URL: "s3://key:secret@bucket/p"}, "must not carry credentials"},
		{storage.Options{URL: "s3://bucket/p?x=1"}, "query"},
		{storage.Options{URL: "s3:///p"}, "s3://bucket/prefix"},
		{storage.Options{URL: "s3://bucket/a//b"}, "bad prefix"},
		{storage.Options{URL: "s3://b/p", Endpoint: "http://127.0.0.1:9000"}, "allow_insecure_http"},
		{storage.Options{URL: "s3://b/p", Endpoint: "minio:9000"}, "https://host"},
		{storage.Options{URL: "s3://b/p", Endpoint: "https://h/path"}, "https://host"},
		{storage.Options{URL: "s3://b/p", Endpoint: "https://h", CAFile: filepath.Join(dir, "none.pem")}, "ca file"},
		{storage.Options{URL: "s3://b/p", Endpoint: "https://h", AccessKey: "a"}, "together"},
		{storage.Options{URL: "s3://b/p", Endpoint: "https://h", SSE: "rot13"}, "sse"},
		{storage.Options{URL: "s3://b/p", Endpoint: "https://h", KMSKeyID: "k"}, "aws:kms"},
		{storage.Options{URL: "s3://b/p", Endpoint: "https://h", PartSize: 1 << 20}, "part size"},
		{storage.Options{URL: "file://relative/dir"}, "no host"},
		{storage.Options{URL: "file://" + dir + "/missing"}, "create it"},
		{storage.Options{URL: "file:relative"}, "absolute"},
	}
	for _, c := range cases {
		_, err := storage.Open(context.Background(), c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%+v) error = %v, want one that says %q", c.o, err, c.want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.pem"), []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := storage.Open(context.Background(), storage.Options{URL: "s3://b/p", Endpoint: "https://h", CAFile: filepath.Join(dir, "bad.pem")})
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("Open with a non-PEM CA file: %v", err)
	}
}

func TestOpenInsecureAllowed(t *testing.T) {
	s, err := storage.Open(context.Background(), storage.Options{URL: "s3://b/p/q/", Endpoint: "http://127.0.0.1:9000/", AllowInsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "s3://b/p/q at http://127.0.0.1:9000" {
		t.Fatalf("String() = %q", got)
	}
}

func TestMemoryLock(t *testing.T) {
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	m := storage.NewMemory()
	m.SetClock(func() time.Time { return now })
	ctx := context.Background()
	info, err := m.Put(ctx, "locked", strings.NewReader("x"), storage.PutOptions{LockMode: "compliance", LockUntil: now.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if info.LockMode != storage.LockCompliance || !info.LockUntil.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("Put info = %+v", info)
	}
	if err := m.DeleteVersion(ctx, "locked", info.VersionID); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("deleting a locked version: %v, want ErrLocked", err)
	}
	if err := m.Delete(ctx, "locked"); err != nil {
		t.Fatalf("a delete marker is allowed on a locked object: %v", err)
	}
	vs := m.Versions("locked")
	if len(vs) != 2 || vs[0].DeleteMarker || !vs[1].DeleteMarker {
		t.Fatalf("versions after delete = %+v", vs)
	}
	now = now.Add(48 * time.Hour)
	if err := m.DeleteVersion(ctx, "locked", info.VersionID); err != nil {
		t.Fatalf("deleting once the lock passed: %v", err)
	}
}

// clock is what a clock-skew check asks of a store.
type clock interface {
	ServerTime(ctx context.Context) (time.Time, error)
}

var (
	_ clock = (*storage.S3)(nil)
	_ clock = (*storage.Local)(nil)
	_ clock = (*storage.Memory)(nil)
)

func TestOpenErrorIsNilStore(t *testing.T) {
	for _, u := range []string{"s3:///nobucket", "file:///does/not/exist"} {
		s, err := storage.Open(context.Background(), storage.Options{URL: u})
		if err == nil || s != nil {
			t.Errorf("Open(%q) = %v, %v; want a nil Store and an error", u, s, err)
		}
	}
}

func TestOpenRefusesHTTPFromEnvironment(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
	_, err := storage.Open(context.Background(), storage.Options{URL: "s3://b/p", Region: "eu-west-1"})
	if err == nil || !strings.Contains(err.Error(), "allow_insecure_http") {
		t.Fatalf("Open with an http endpoint from the environment: %v", err)
	}
}
