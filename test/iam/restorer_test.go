package iam

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pgtier/pgtier/storage"
	"github.com/pgtier/pgtier/test/harness"
)

func TestRestorerPolicy(t *testing.T) {
	mi := harness.S3(t)
	ctx := context.Background()
	bucket := mi.Bucket(t, true)
	root := openRoot(t, mi, bucket)
	r := newUser(t, mi, "restorer", "restorer.json", bucket)

	want := bytes.Repeat([]byte("backup"), 1000)
	data, err := root.Put(ctx, dataKey, bytes.NewReader(want), locked(int64(len(want))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Put(ctx, manifestKey, strings.NewReader("{}"), locked(2)); err != nil {
		t.Fatal(err)
	}

	// Reading backups, by current object and by version.
	for _, version := range []string{"", data.VersionID} {
		body, _, err := r.store.Get(ctx, dataKey, version)
		mustAllow(t, "get backup data", err)
		if err == nil {
			got, _ := io.ReadAll(body)
			body.Close()
			if !bytes.Equal(got, want) {
				t.Error("read other bytes than were written")
			}
		}
	}
	_, err = r.store.Stat(ctx, dataKey, "")
	mustAllow(t, "stat backup data", err)
	_, err = r.store.List(ctx, "production/")
	mustAllow(t, "list", err)

	// Writing audit records, conditionally and locked, and nothing else.
	audit := locked(2)
	audit.IfNoneMatch = true
	_, err = r.store.Put(ctx, auditKey, strings.NewReader("{}"), audit)
	mustAllow(t, "put an audit record", err)
	_, err = r.store.Put(ctx, auditKey, strings.NewReader("{}"), audit)
	if !errors.Is(err, storage.ErrExists) {
		t.Errorf("second put of an audit record: want ErrExists, got %v", err)
	}
	_, err = r.store.Put(ctx, "staging/audit/00000000000000000001.json", strings.NewReader("{}"), storage.PutOptions{})
	mustAllow(t, "put an audit record of another environment", err)
	for _, key := range []string{dataKey, manifestKey, "production/main/app/20260102T000000Z.manifest.json",
		"production/audit.json", "audit/00000000000000000001.json", "production/locks/main.lock"} {
		_, err = r.store.Put(ctx, key, strings.NewReader("{}"), storage.PutOptions{})
		mustDeny(t, "put "+key, err)
	}
	_, err = r.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String(dataKey)})
	mustDeny(t, "start a multipart upload of backup data", err)
	_, err = r.client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: &bucket, Key: aws.String(dataKey),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(time.Now().Add(48 * time.Hour))}})
	mustDeny(t, "set the retention of backup data", err)

	// Deleting nothing.
	for _, key := range []string{dataKey, manifestKey, auditKey} {
		mustDeny(t, "delete "+key, r.store.Delete(ctx, key))
	}
	mustDeny(t, "delete a version", r.store.DeleteVersion(ctx, dataKey, data.VersionID))
	if _, err := root.Stat(ctx, dataKey, ""); err != nil {
		t.Errorf("backup data gone: %v", err)
	}
	denyBucketChanges(t, r.client, bucket)

	comparePosture(t, r.store, root)
}
