package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pgtier/pgtier/storage"
	"github.com/pgtier/pgtier/storage/storagetest"
	"github.com/pgtier/pgtier/test/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// openMinIO opens the store s3://bucket/prefix on the harness MinIO, with
// parts of 5 MiB.
func openMinIO(t *testing.T, mi *harness.MinIO, bucket, prefix string) *storage.S3 {
	t.Helper()
	s, err := storage.OpenS3(context.Background(), minioOptions(mi, bucket, prefix))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func minioOptions(mi *harness.MinIO, bucket, prefix string) storage.Options {
	return storage.Options{
		URL:         "s3://" + bucket + "/" + prefix,
		Endpoint:    mi.Endpoint,
		Region:      mi.Region,
		CAFile:      mi.CAFile,
		AccessKey:   mi.AccessKey,
		SecretKey:   mi.SecretKey,
		PartSize:    storage.MinPartSize,
		Concurrency: 3,
	}
}

func TestS3Conformance(t *testing.T) {
	mi := harness.S3(t)
	for _, lock := range []bool{false, true} {
		t.Run(fmt.Sprintf("lock=%v", lock), func(t *testing.T) {
			bucket := mi.Bucket(t, lock)
			var n atomic.Int64
			storagetest.Run(t, func(t *testing.T) storage.Store {
				return openMinIO(t, mi, bucket, fmt.Sprintf("suite/%d", n.Add(1)))
			})
		})
	}
}

func TestS3PrefixIsolation(t *testing.T) {
	mi := harness.S3(t)
	bucket := mi.Bucket(t, false)
	a := openMinIO(t, mi, bucket, "env/a")
	ab := openMinIO(t, mi, bucket, "env/ab")
	root := openMinIO(t, mi, bucket, "")
	ctx := context.Background()
	for _, s := range []storage.Store{a, ab} {
		if _, err := s.Put(ctx, "obj", strings.NewReader(s.String()), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for s, want := range map[storage.Store][]string{
		a:    {"obj"},
		ab:   {"obj"},
		root: {"env/a/obj", "env/ab/obj"},
	} {
		infos, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, i := range infos {
			got = append(got, i.Key)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s lists %q, want %q", s, got, want)
		}
	}
	rc, _, err := a.Get(ctx, "obj", "")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil || b.String() != a.String() {
		t.Fatalf("a/obj = %q, %v", b.String(), err)
	}
}

func TestS3ObjectLock(t *testing.T) {
	mi := harness.S3(t)
	s := openMinIO(t, mi, mi.Bucket(t, true), "locked")
	ctx := context.Background()
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, size := range []int{1000, 12 << 20} { // single put and multipart
		key := fmt.Sprintf("obj-%d", size)
		data := storagetest.Random(9, size)
		info, err := s.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{LockMode: "GOVERNANCE", LockUntil: until})
		if err != nil {
			t.Fatalf("locked put of %d bytes: %v", size, err)
		}
		st, err := s.Stat(ctx, key, info.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		if st.LockMode != storage.LockGovernance || !st.LockUntil.Equal(until) || st.Size != int64(size) {
			t.Fatalf("Stat = %+v, want GOVERNANCE until %s", st, until)
		}
		err = s.DeleteVersion(ctx, key, info.VersionID)
		if !errors.Is(err, storage.ErrLocked) {
			t.Fatalf("deleting a locked version: %v, want ErrLocked", err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("adding a delete marker to a locked object: %v", err)
		}
		if _, err := s.Stat(ctx, key, info.VersionID); err != nil {
			t.Fatalf("locked version after delete marker: %v", err)
		}
	}
}

func TestS3ComplianceLockExpires(t *testing.T) {
	mi := harness.S3(t)
	s := openMinIO(t, mi, mi.Bucket(t, true), "")
	ctx := context.Background()
	until := time.Now().Add(3 * time.Second)
	info, err := s.Put(ctx, "short", strings.NewReader("x"), storage.PutOptions{LockMode: "COMPLIANCE", LockUntil: until})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVersion(ctx, "short", info.VersionID); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("deleting a compliance-locked version: %v, want ErrLocked", err)
	}
	time.Sleep(time.Until(until) + 1500*time.Millisecond)
	if err := s.DeleteVersion(ctx, "short", info.VersionID); err != nil {
		t.Fatalf("deleting after the retention passed: %v", err)
	}
}

func TestS3IfNoneMatchMultipart(t *testing.T) {
	mi := harness.S3(t)
	s := openMinIO(t, mi, mi.Bucket(t, false), "p")
	ctx := context.Background()
	o := storage.PutOptions{IfNoneMatch: true}
	if _, err := s.Put(ctx, "k", bytes.NewReader(storagetest.Random(1, 12<<20)), o); err != nil {
		t.Fatal(err)
	}
	_, err := s.Put(ctx, "k", bytes.NewReader(storagetest.Random(2, 12<<20)), o)
	if !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second conditional multipart put: %v, want ErrExists", err)
	}
	ups, err := s.ListUploads(ctx, "k")
	if err != nil || len(ups) != 0 {
		t.Fatalf("uploads left: %v %v", ups, err)
	}
}

func TestS3Uploads(t *testing.T) {
	mi := harness.S3(t)
	bucket := mi.Bucket(t, false)
	s := openMinIO(t, mi, bucket, "pre")
	other := openMinIO(t, mi, bucket, "other")
	ctx := context.Background()
	out, err := mi.Client(t).CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String("pre/db/x.dump"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// MinIO lists the uploads of one whole key only.
	ups, err := s.ListUploads(ctx, "db/x.dump")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].Key != "db/x.dump" || ups[0].UploadID != aws.ToString(out.UploadId) || ups[0].Initiated.IsZero() {
		t.Fatalf("ListUploads = %+v", ups)
	}
	if ups, err := other.ListUploads(ctx, "db/x.dump"); err != nil || len(ups) != 0 {
		t.Fatalf("other prefix lists uploads %+v, %v", ups, err)
	}
	if err := s.AbortUpload(ctx, ups[0]); err != nil {
		t.Fatal(err)
	}
	if ups, err := s.ListUploads(ctx, "db/x.dump"); err != nil || len(ups) != 0 {
		t.Fatalf("after abort: %+v, %v", ups, err)
	}
	// AWS says NoSuchUpload; MinIO says nothing.
	if err := s.AbortUpload(ctx, ups[0]); err != nil && !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("aborting again: %v, want nil or ErrNotFound", err)
	}
}

func TestS3ServerTime(t *testing.T) {
	mi := harness.S3(t)
	s := openMinIO(t, mi, mi.Bucket(t, false), "")
	st, err := s.ServerTime(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(st); d < -time.Minute || d > time.Minute {
		t.Fatalf("server time %s is %s away from ours", st, d)
	}
	missing := openMinIO(t, mi, "no-such-bucket-here", "")
	if _, err := missing.ServerTime(context.Background()); err != nil {
		t.Fatalf("server time from an error response: %v", err)
	}
}
