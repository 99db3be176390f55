package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pgtier/pgtier/storage"
	"github.com/pgtier/pgtier/storage/storagetest"
	"github.com/pgtier/pgtier/test/harness"
)

// cutBody fails after n bytes, which makes the proxy drop the connection
// in the middle of the body.
type cutBody struct {
	io.ReadCloser
	n int64
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("cut")
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.ReadCloser.Read(p)
	c.n -= int64(n)
	return n, err
}

const cutAt = 256 << 10

// faultProxy forwards to MinIO, answers the next *fails requests with 503
// SlowDown, and cuts the next *cuts GET bodies after cutAt bytes. It keeps
// the Host header, so signatures still verify.
func faultProxy(t *testing.T, mi *harness.MinIO, fails, cuts *atomic.Int32) string {
	target, err := url.Parse(mi.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport: mi.HTTPClient().Transport,
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Method == http.MethodGet && resp.StatusCode/100 == 2 &&
				resp.ContentLength > cutAt && cuts.Add(-1) >= 0 {
				resp.Body = &cutBody{ReadCloser: resp.Body, n: cutAt}
			}
			return nil
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fails.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<Error><Code>SlowDown</Code><Message>injected</Message></Error>`)
			return
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestS3GetResumes(t *testing.T) {
	mi := harness.S3(t)
	var fails, cuts atomic.Int32
	endpoint := faultProxy(t, mi, &fails, &cuts)
	ctx := context.Background()
	for _, lock := range []bool{false, true} { // resumes by ETag, by version
		bucket := mi.Bucket(t, lock)
		direct := openMinIO(t, mi, bucket, "")
		o := minioOptions(mi, bucket, "")
		o.Endpoint, o.AllowInsecureHTTP = endpoint, true
		viaProxy, err := storage.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{4 << 20, 12 << 20} { // single part, multipart
			name := fmt.Sprintf("lock=%v/size=%d", lock, size)
			key := fmt.Sprintf("obj-%d", size)
			data := storagetest.Random(uint64(size), size)
			if _, err := direct.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			cuts.Store(3)
			got, err := readAll(ctx, viaProxy, key)
			if err != nil {
				t.Fatalf("%s: reading through 3 cuts: %v", name, err)
			}
			if !bytes.Equal(got, data) || cuts.Load() > 0 {
				t.Fatalf("%s: read %d bytes, equal %v, cuts left %d", name, len(got), bytes.Equal(got, data), cuts.Load())
			}
			cuts.Store(100)
			if _, err := readAll(ctx, viaProxy, key); err == nil || !strings.Contains(err.Error(), "resumed 5 times") {
				t.Fatalf("%s: reading through endless cuts: %v, want a failure after 5 resumes", name, err)
			}
		}
	}
}

func readAll(ctx context.Context, s storage.Store, key string) ([]byte, error) {
	rc, _, err := s.Get(ctx, key, "")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestS3PutRetries(t *testing.T) {
	mi := harness.S3(t)
	var fails, cuts atomic.Int32
	o := minioOptions(mi, mi.Bucket(t, true), "p")
	o.Endpoint, o.AllowInsecureHTTP = faultProxy(t, mi, &fails, &cuts), true
	s, err := storage.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	data := storagetest.Random(8, 12<<20)
	fails.Store(3)
	if _, err := s.Put(context.Background(), "k", bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatalf("put through 3 injected 503s: %v", err)
	}
	if fails.Load() > 0 {
		t.Fatalf("%d injected failures left unused", fails.Load())
	}
	if got, err := readAll(context.Background(), s, "k"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: equal %v, %v", bytes.Equal(got, data), err)
	}
}
