package storagetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/pgtier/pgtier/storage"
)

// putErr is the error of a put of data to key with o.
func putErr(s storage.Store, key string, data []byte, o storage.PutOptions) error {
	_, err := s.Put(context.Background(), key, bytes.NewReader(data), o)
	return err
}

// wantPrecondition fails unless err is ErrPrecondition and not ErrExists.
func wantPrecondition(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrPrecondition) || errors.Is(err, storage.ErrExists) {
		t.Fatalf("%s: error = %v, want ErrPrecondition (and not ErrExists)", what, err)
	}
}

// testETags checks that every way of reading an object gives the ETag its
// put returned, and that a put of other bytes changes it.
func testETags(t *testing.T, s storage.Store) {
	ctx := context.Background()
	info := put(t, s, "e/tag", []byte("one"), storage.PutOptions{})
	if info.ETag == "" {
		t.Fatal("Put returned no ETag")
	}
	st, err := s.Stat(ctx, "e/tag", "")
	if err != nil {
		t.Fatal(err)
	}
	_, ginfo := get(t, s, "e/tag", "")
	infos, err := s.List(ctx, "e/")
	if err != nil || len(infos) != 1 {
		t.Fatalf("List = %+v, %v", infos, err)
	}
	for what, etag := range map[string]string{"Stat": st.ETag, "Get": ginfo.ETag, "List": infos[0].ETag} {
		if etag != info.ETag {
			t.Errorf("%s ETag = %q, Put gave %q", what, etag, info.ETag)
		}
	}
	if again := put(t, s, "e/tag", []byte("two"), storage.PutOptions{}); again.ETag == info.ETag {
		t.Fatalf("a put of other bytes kept the ETag %q", info.ETag)
	}
}

func testIfMatch(t *testing.T, s storage.Store) {
	ctx := context.Background()
	wantPrecondition(t, "IfMatch on a missing key", putErr(s, "lease", []byte("x"), storage.PutOptions{IfMatch: `"0123456789abcdef0123456789abcdef"`}))
	wantNotFound(t, s, "lease")

	v1 := put(t, s, "lease", []byte("one"), storage.PutOptions{IfNoneMatch: true})
	v2 := put(t, s, "lease", []byte("two"), storage.PutOptions{IfMatch: v1.ETag})
	if v2.ETag == "" || v2.ETag == v1.ETag {
		t.Fatalf("ETag after a conditional overwrite = %q, before %q", v2.ETag, v1.ETag)
	}
	wantPrecondition(t, "IfMatch with a stale ETag", putErr(s, "lease", []byte("three"), storage.PutOptions{IfMatch: v1.ETag}))
	if b, _ := get(t, s, "lease", ""); string(b) != "two" {
		t.Fatalf("object after a refused conditional put = %q", b)
	}
	wantNoUploads(t, s, "lease")
	if err := putErr(s, "lease", []byte("x"), storage.PutOptions{IfMatch: v2.ETag, IfNoneMatch: true}); err == nil {
		t.Fatal("a put with both IfMatch and IfNoneMatch was accepted")
	}

	// Deleted (on a versioned bucket: a delete marker on top): IfMatch
	// fails, IfNoneMatch creates the key again.
	if err := s.Delete(ctx, "lease"); err != nil {
		t.Fatal(err)
	}
	wantPrecondition(t, "IfMatch after a delete", putErr(s, "lease", []byte("four"), storage.PutOptions{IfMatch: v2.ETag}))
	wantNotFound(t, s, "lease")
	v5 := put(t, s, "lease", []byte("five"), storage.PutOptions{IfNoneMatch: true})
	put(t, s, "lease", []byte("six"), storage.PutOptions{IfMatch: v5.ETag})
	if b, _ := get(t, s, "lease", ""); string(b) != "six" {
		t.Fatalf("object after re-creation and a conditional overwrite = %q", b)
	}
}

// testIfMatchRace has n puts with the same IfMatch race: exactly one may win.
func testIfMatchRace(t *testing.T, s storage.Store) {
	const n = 8
	base := put(t, s, "race", []byte("base"), storage.PutOptions{})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = putErr(s, "race", []byte{byte(i)}, storage.PutOptions{IfMatch: base.ETag})
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("conditional puts %d and %d both won", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, storage.ErrPrecondition):
			t.Fatalf("put %d: %v, want ErrPrecondition", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no conditional put won")
	}
	if b, _ := get(t, s, "race", ""); !bytes.Equal(b, []byte{byte(won)}) {
		t.Fatalf("object = %v, winner wrote %d", b, won)
	}
}

// testIfMatchMultipart checks the condition on a put big enough to go up in
// parts on S3 (with 5 MiB parts): refused, it leaves no upload behind.
func testIfMatchMultipart(t *testing.T, s storage.Store) {
	big := Random(11, storage.MinPartSize+1)
	v1 := put(t, s, "mp", []byte("small"), storage.PutOptions{})
	v2 := put(t, s, "mp", big, storage.PutOptions{IfMatch: v1.ETag})
	wantPrecondition(t, "big put with a stale ETag", putErr(s, "mp", big, storage.PutOptions{IfMatch: v1.ETag}))
	wantNoUploads(t, s, "mp")
	if b, info := get(t, s, "mp", ""); !bytes.Equal(b, big) || info.ETag != v2.ETag {
		t.Fatalf("object after a refused big put: %d bytes, ETag %q, want %q", len(b), info.ETag, v2.ETag)
	}
}
