// Package storagetest is the conformance suite that every storage.Store
// implementation must pass: round trips, listing and prefixes, conditional
// puts (IfNoneMatch, IfMatch and ETags), versions, big streaming puts, and
// failed puts that leave nothing behind. It is a test helper; nothing in it runs in production.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/pgtier/pgtier/storage"
)

// Run runs the suite. newStore must return a new, empty store each call
// (a fresh directory, bucket or prefix), cleaned up by t. For S3, give it a
// small Options.PartSize (5 MiB) so that the big puts go multipart in many
// parts.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Empty", testEmpty},
		{"Overwrite", testOverwrite},
		{"NotFound", testNotFound},
		{"List", testList},
		{"Delete", testDelete},
		{"IfNoneMatch", testIfNoneMatch},
		{"IfNoneMatchRace", testIfNoneMatchRace},
		{"ETags", testETags},
		{"IfMatch", testIfMatch},
		{"IfMatchRace", testIfMatchRace},
		{"IfMatchMultipart", testIfMatchMultipart},
		{"InvalidKeys", testInvalidKeys},
		{"InvalidLock", testInvalidLock},
		{"Versions", testVersions},
		{"LargeStreaming", testLargeStreaming},
		{"ReaderError", testReaderError},
		{"ContextCancel", testContextCancel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// Random returns n bytes of incompressible data, the same for the same seed.
func Random(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// stream is a reader of n incompressible bytes that only implements Read,
// like a pipe from pg_dump.
type stream struct {
	r io.Reader
}

func newStream(seed uint64, n int64) *stream {
	var s [32]byte
	s[0] = byte(seed)
	return &stream{r: io.LimitReader(rand.NewChaCha8(s), n)}
}

func (s *stream) Read(p []byte) (int, error) { return s.r.Read(p) }

func put(t *testing.T, s storage.Store, key string, data []byte, o storage.PutOptions) storage.ObjectInfo {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(data), o)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(data)) {
		t.Fatalf("Put(%q) = key %q size %d, want size %d", key, info.Key, info.Size, len(data))
	}
	return info
}

func get(t *testing.T, s storage.Store, key, version string) ([]byte, storage.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), key, version)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", key, version, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	if info.Size != int64(len(b)) {
		t.Fatalf("Get(%q) info size %d, read %d bytes", key, info.Size, len(b))
	}
	return b, info
}

func wantNotFound(t *testing.T, s storage.Store, key string) {
	t.Helper()
	if _, err := s.Stat(context.Background(), key, ""); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat(%q) error = %v, want ErrNotFound", key, err)
	}
	if _, _, err := s.Get(context.Background(), key, ""); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(%q) error = %v, want ErrNotFound", key, err)
	}
}

func keys(t *testing.T, s storage.Store, prefix string) []string {
	t.Helper()
	infos, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	ks := []string{}
	for _, i := range infos {
		ks = append(ks, i.Key)
	}
	return ks
}

// wantNoUploads fails when an incomplete upload of key remains. It lists
// with the whole key as the prefix, which MinIO needs.
func wantNoUploads(t *testing.T, s storage.Store, key string) {
	t.Helper()
	ups, err := s.ListUploads(context.Background(), key)
	if err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	for _, u := range ups {
		if u.Key == key {
			t.Fatalf("incomplete upload left for %q: %+v", key, u)
		}
	}
}

func testRoundTrip(t *testing.T, s storage.Store) {
	data := Random(1, 1000)
	info := put(t, s, "dir/sub/obj.bin", data, storage.PutOptions{ContentType: "application/octet-stream"})
	b, ginfo := get(t, s, "dir/sub/obj.bin", "")
	if !bytes.Equal(b, data) {
		t.Fatal("Get returned other bytes than were put")
	}
	if ginfo.Key != "dir/sub/obj.bin" || ginfo.VersionID != info.VersionID {
		t.Fatalf("Get info = %+v, put info = %+v", ginfo, info)
	}
	st, err := s.Stat(context.Background(), "dir/sub/obj.bin", "")
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != 1000 || st.Key != "dir/sub/obj.bin" || st.VersionID != info.VersionID || st.LastModified.IsZero() {
		t.Fatalf("Stat = %+v", st)
	}
	if info.VersionID != "" {
		if b, _ := get(t, s, "dir/sub/obj.bin", info.VersionID); !bytes.Equal(b, data) {
			t.Fatal("Get by version returned other bytes")
		}
	}
	if s.String() == "" {
		t.Fatal("String() is empty")
	}
}

func testEmpty(t *testing.T, s storage.Store) {
	put(t, s, "empty", nil, storage.PutOptions{})
	if b, _ := get(t, s, "empty", ""); len(b) != 0 {
		t.Fatalf("empty object read back %d bytes", len(b))
	}
}

func testOverwrite(t *testing.T, s storage.Store) {
	put(t, s, "k", []byte("one"), storage.PutOptions{})
	put(t, s, "k", []byte("two, longer"), storage.PutOptions{})
	if b, _ := get(t, s, "k", ""); string(b) != "two, longer" {
		t.Fatalf("after overwrite read %q", b)
	}
	if ks := keys(t, s, ""); !slices.Equal(ks, []string{"k"}) {
		t.Fatalf("List = %q", ks)
	}
}

func testNotFound(t *testing.T, s storage.Store) {
	wantNotFound(t, s, "missing")
	wantNotFound(t, s, "missing/deeper/key")
	put(t, s, "file", []byte("x"), storage.PutOptions{})
	wantNotFound(t, s, "file/below")
}

func testList(t *testing.T, s storage.Store) {
	if ks := keys(t, s, ""); len(ks) != 0 {
		t.Fatalf("new store lists %q", ks)
	}
	for i, k := range []string{"x/2", "x/1", "x/sub/3", "xy/4", "y", "x/sub/deep/5"} {
		put(t, s, k, Random(uint64(i), i), storage.PutOptions{})
	}
	cases := map[string][]string{
		"":        {"x/1", "x/2", "x/sub/3", "x/sub/deep/5", "xy/4", "y"},
		"x/":      {"x/1", "x/2", "x/sub/3", "x/sub/deep/5"},
		"x":       {"x/1", "x/2", "x/sub/3", "x/sub/deep/5", "xy/4"},
		"x/sub/":  {"x/sub/3", "x/sub/deep/5"},
		"x/s":     {"x/sub/3", "x/sub/deep/5"},
		"x/1":     {"x/1"},
		"nothing": {},
		"z/":      {},
	}
	for prefix, want := range cases {
		if got := keys(t, s, prefix); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
	infos, err := s.List(context.Background(), "x/sub/")
	if err != nil {
		t.Fatal(err)
	}
	if infos[0].Size != 2 || infos[1].Size != 5 || infos[0].LastModified.IsZero() {
		t.Fatalf("List infos = %+v", infos)
	}
}

func testDelete(t *testing.T, s storage.Store) {
	put(t, s, "a/b", []byte("x"), storage.PutOptions{})
	put(t, s, "a/c", []byte("y"), storage.PutOptions{})
	ctx := context.Background()
	if err := s.Delete(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, "a/b")
	if ks := keys(t, s, ""); !slices.Equal(ks, []string{"a/c"}) {
		t.Fatalf("List after delete = %q", ks)
	}
	if err := s.Delete(ctx, "a/b"); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	if err := s.Delete(ctx, "never/was"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	put(t, s, "a/b", []byte("back"), storage.PutOptions{})
	if b, _ := get(t, s, "a/b", ""); string(b) != "back" {
		t.Fatalf("after delete and put read %q", b)
	}
}

func testIfNoneMatch(t *testing.T, s storage.Store) {
	o := storage.PutOptions{IfNoneMatch: true}
	put(t, s, "audit/1", []byte("first"), o)
	_, err := s.Put(context.Background(), "audit/1", bytes.NewReader([]byte("second")), o)
	if !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second conditional put error = %v, want ErrExists", err)
	}
	if b, _ := get(t, s, "audit/1", ""); string(b) != "first" {
		t.Fatalf("object after refused put = %q", b)
	}
	wantNoUploads(t, s, "audit/1")
	if err := s.Delete(context.Background(), "audit/1"); err != nil {
		t.Fatal(err)
	}
	put(t, s, "audit/1", []byte("third"), o)
}

func testIfNoneMatchRace(t *testing.T, s storage.Store) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Put(context.Background(), "race", bytes.NewReader([]byte{byte(i)}), storage.PutOptions{IfNoneMatch: true})
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("puts %d and %d both won", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, storage.ErrExists):
			t.Fatalf("put %d: %v, want ErrExists", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no conditional put won")
	}
	if b, _ := get(t, s, "race", ""); !bytes.Equal(b, []byte{byte(won)}) {
		t.Fatalf("object = %v, winner wrote %d", b, won)
	}
}
