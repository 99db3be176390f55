package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgtier/pgtier/storage"
	"github.com/pgtier/pgtier/storage/storagetest"
)

// recorder is a minimal S3 endpoint that accepts puts and multipart
// uploads, keeps nothing, and records each request's method, query and
// headers. It checks what goes on the wire where MinIO cannot (SSE needs a
// KMS there).
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, query string
	header        http.Header
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, recorded{r.Method, r.URL.RawQuery, r.Header.Clone()})
	rec.mu.Unlock()
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		fmt.Fprint(w, `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>up1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		fmt.Fprint(w, `<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>"x-3"</ETag></CompleteMultipartUploadResult>`)
	case r.Method == http.MethodPut:
		w.Header().Set("ETag", `"e"`)
		w.Header().Set("x-amz-version-id", "v1")
	default:
		http.Error(w, "unexpected", http.StatusBadRequest)
	}
}

func TestS3PutHeaders(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	s, err := storage.Open(context.Background(), storage.Options{
		URL: "s3://b/pre", Endpoint: srv.URL, AllowInsecureHTTP: true,
		AccessKey: "a", SecretKey: "s", SSE: "aws:kms", KMSKeyID: "key-1",
		PartSize: storage.MinPartSize, Concurrency: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	until := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	o := storage.PutOptions{LockMode: "compliance", LockUntil: until, StorageClass: "GLACIER_IR", IfNoneMatch: true, ContentType: "application/age"}
	for _, size := range []int{100, 11 << 20} {
		info, err := s.Put(context.Background(), "k", bytes.NewReader(storagetest.Random(1, size)), o)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != int64(size) || info.LockMode != "COMPLIANCE" || !info.LockUntil.Equal(until) {
			t.Fatalf("Put info = %+v", info)
		}
	}
	want := map[string]map[string]string{
		"put": {
			"X-Amz-Server-Side-Encryption":                "aws:kms",
			"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "key-1",
			"X-Amz-Object-Lock-Mode":                      "COMPLIANCE",
			"X-Amz-Object-Lock-Retain-Until-Date":         "2027-01-02T03:04:05Z",
			"X-Amz-Storage-Class":                         "GLACIER_IR",
			"If-None-Match":                               "*",
			"Content-Type":                                "application/age",
			"X-Amz-Checksum-Crc32c":                       "?",
		},
		"create": {
			"X-Amz-Server-Side-Encryption":                "aws:kms",
			"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "key-1",
			"X-Amz-Object-Lock-Mode":                      "COMPLIANCE",
			"X-Amz-Object-Lock-Retain-Until-Date":         "2027-01-02T03:04:05Z",
			"X-Amz-Storage-Class":                         "GLACIER_IR",
			"X-Amz-Checksum-Algorithm":                    "CRC32C",
			"Content-Type":                                "application/age",
		},
		"part":     {"X-Amz-Checksum-Crc32c": "?"},
		"complete": {"If-None-Match": "*"},
	}
	seen := map[string]int{}
	for _, r := range rec.reqs {
		kind := "put"
		switch {
		case r.method == http.MethodPost && r.query == "uploads=":
			kind = "create"
		case r.method == http.MethodPost:
			kind = "complete"
		case strings.Contains(r.query, "partNumber="):
			kind = "part"
		}
		seen[kind]++
		for h, v := range want[kind] {
			got := r.header.Get(h)
			if got == "" || (v != "?" && got != v) {
				t.Errorf("%s request: %s = %q, want %q", kind, h, got, v)
			}
		}
	}
	if seen["put"] != 1 || seen["create"] != 1 || seen["part"] != 3 || seen["complete"] != 1 {
		t.Fatalf("requests = %v, want 1 put, 1 create, 3 parts, 1 complete", seen)
	}
}

// TestS3PutMemoryBound checks that a streaming put allocates about
// PartSize*(Concurrency+1), not the size of its input.
func TestS3PutMemoryBound(t *testing.T) {
	srv := httptest.NewServer(&recorder{})
	defer srv.Close()
	const partSize, concurrency, size = storage.MinPartSize, 2, 100 << 20
	s, err := storage.Open(context.Background(), storage.Options{
		URL: "s3://b/pre", Endpoint: srv.URL, AllowInsecureHTTP: true,
		AccessKey: "a", SecretKey: "s", PartSize: partSize, Concurrency: concurrency,
	})
	if err != nil {
		t.Fatal(err)
	}
	src := io.LimitReader(zeros{}, size)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := s.Put(context.Background(), "k", src, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("put of %d MiB allocated %.1f MiB", size>>20, float64(alloc)/(1<<20))
	if limit := uint64(partSize*(concurrency+1) + 8<<20); alloc > limit {
		t.Fatalf("put of %d MiB allocated %d bytes, over %d", size>>20, alloc, limit)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
