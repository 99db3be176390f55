package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pgtier/pgtier/storage"
)

// LargeSize is the size of the suite's big streaming put.
const LargeSize = 40 << 20

func testInvalidKeys(t *testing.T, s storage.Store) {
	for _, k := range []string{"", "/abs", "a//b", "a/../b", "..", "a/.", "trailing/", "./a"} {
		if _, err := s.Put(context.Background(), k, strings.NewReader("x"), storage.PutOptions{}); err == nil {
			t.Errorf("Put(%q) accepted an invalid key", k)
		}
	}
	if ks := keys(t, s, ""); len(ks) != 0 {
		t.Fatalf("invalid puts left %q", ks)
	}
}

func testInvalidLock(t *testing.T, s storage.Store) {
	for _, o := range []storage.PutOptions{
		{LockMode: "FOREVER", LockUntil: time.Now().Add(time.Hour)},
		{LockMode: storage.LockCompliance},
	} {
		if _, err := s.Put(context.Background(), "k", strings.NewReader("x"), o); err == nil {
			t.Errorf("Put with %+v accepted", o)
		}
	}
	wantNotFound(t, s, "k")
}

func testVersions(t *testing.T, s storage.Store) {
	v1 := put(t, s, "v", []byte("one"), storage.PutOptions{})
	v2 := put(t, s, "v", []byte("two"), storage.PutOptions{})
	if v1.VersionID == "" {
		t.Skip("store has no versions")
	}
	if v1.VersionID == v2.VersionID {
		t.Fatalf("two puts got the same version %q", v1.VersionID)
	}
	ctx := context.Background()
	if b, _ := get(t, s, "v", v1.VersionID); string(b) != "one" {
		t.Fatalf("version 1 = %q", b)
	}
	if err := s.DeleteVersion(ctx, "v", v1.VersionID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "v", v1.VersionID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat of deleted version: %v, want ErrNotFound", err)
	}
	if b, _ := get(t, s, "v", ""); string(b) != "two" {
		t.Fatalf("current after deleting the old version = %q", b)
	}
	// A plain delete hides the key and keeps the version.
	if err := s.Delete(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, "v")
	if b, _ := get(t, s, "v", v2.VersionID); string(b) != "two" {
		t.Fatalf("version 2 after delete = %q", b)
	}
	if err := s.DeleteVersion(ctx, "v", v2.VersionID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "v", v2.VersionID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat of deleted version: %v, want ErrNotFound", err)
	}
}

func testLargeStreaming(t *testing.T, s storage.Store) {
	h := sha256.New()
	src := io.TeeReader(newStream(7, LargeSize), h)
	info, err := s.Put(context.Background(), "big/object", src, storage.PutOptions{SizeHint: LargeSize})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != LargeSize {
		t.Fatalf("Put size = %d, want %d", info.Size, LargeSize)
	}
	want := h.Sum(nil)
	rc, ginfo, err := s.Get(context.Background(), "big/object", "")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h.Reset()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatal(err)
	}
	if n != LargeSize || ginfo.Size != LargeSize || !bytes.Equal(h.Sum(nil), want) {
		t.Fatalf("read back %d bytes (info %d), sha256 match %v", n, ginfo.Size, bytes.Equal(h.Sum(nil), want))
	}
	wantNoUploads(t, s, "big/object")
}

var errBoom = errors.New("pg_dump exited with status 1")

// failing returns n bytes of data, then err (or calls fn and goes on).
type failing struct {
	r   io.Reader
	n   int64
	err error
	fn  func()
}

func (f *failing) Read(p []byte) (int, error) {
	if f.n <= 0 {
		if f.fn == nil {
			return 0, f.err
		}
		f.fn()
		f.fn = nil
		f.n = 1 << 62
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

func testReaderError(t *testing.T, s storage.Store) {
	for _, n := range []int64{0, 1000, 12 << 20} {
		r := &failing{r: newStream(3, LargeSize), n: n, err: errBoom}
		_, err := s.Put(context.Background(), "failed", r, storage.PutOptions{SizeHint: LargeSize})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Put failing after %d bytes: error = %v, want it to wrap the reader's", n, err)
		}
		wantNotFound(t, s, "failed")
		wantNoUploads(t, s, "failed")
	}
	// A failed overwrite keeps the old object.
	put(t, s, "kept", []byte("old"), storage.PutOptions{})
	r := &failing{r: newStream(3, LargeSize), n: 12 << 20, err: errBoom}
	if _, err := s.Put(context.Background(), "kept", r, storage.PutOptions{}); !errors.Is(err, errBoom) {
		t.Fatalf("failing overwrite: %v", err)
	}
	if b, _ := get(t, s, "kept", ""); string(b) != "old" {
		t.Fatalf("after failed overwrite read %q", b)
	}
	wantNoUploads(t, s, "kept")
}

func testContextCancel(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, "cancelled", strings.NewReader("x"), storage.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: %v", err)
	}
	wantNotFound(t, s, "cancelled")
	for _, n := range []int64{1000, 12 << 20} {
		ctx, cancel := context.WithCancel(context.Background())
		r := &failing{r: newStream(5, LargeSize), n: n, fn: cancel}
		_, err := s.Put(ctx, "cancelled", r, storage.PutOptions{SizeHint: LargeSize})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Put cancelled after %d bytes: error = %v, want context.Canceled", n, err)
		}
		wantNotFound(t, s, "cancelled")
		wantNoUploads(t, s, "cancelled")
	}
}
