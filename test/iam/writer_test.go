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

// Keys laid out as the catalog and the audit log lay them out.
const (
	dataKey     = "production/main/app/20260101T000000Z.dump.zst.age"
	manifestKey = "production/main/app/20260101T000000Z.manifest.json"
	globalsKey  = "production/main/_globals/20260101T000000Z.sql.zst.age"
	auditKey    = "production/audit/00000000000000000001.json"
)

// locked is the put options of a backup object: governance mode, so that the
// tests can try a bypass.
func locked(size int64) storage.PutOptions {
	return storage.PutOptions{SizeHint: size, LockMode: storage.LockGovernance, LockUntil: time.Now().Add(time.Hour)}
}

// versionExists asks, as root, whether a version is still stored.
func versionExists(t *testing.T, root *s3.Client, bucket, key, version string) bool {
	t.Helper()
	_, err := root.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &key, VersionId: &version})
	return err == nil
}

func TestWriterPolicy(t *testing.T) {
	mi := harness.S3(t)
	ctx := context.Background()
	bucket := mi.Bucket(t, true)
	root := mi.Client(t)
	w := newUser(t, mi, "writer", "writer.json", bucket)

	// Backing up: a multipart data object and a manifest, both locked, the
	// manifest written only if absent; a globals object.
	big := bytes.Repeat([]byte("pgtier"), 1<<20) // 6 MiB: two parts
	data, err := w.store.Put(ctx, dataKey, bytes.NewReader(big), locked(int64(len(big))))
	mustAllow(t, "multipart put with retention", err)
	o := locked(2)
	o.IfNoneMatch = true
	_, err = w.store.Put(ctx, manifestKey, strings.NewReader("{}"), o)
	mustAllow(t, "conditional put of a manifest with retention", err)
	_, err = w.store.Put(ctx, manifestKey, strings.NewReader("{}"), o)
	if !errors.Is(err, storage.ErrExists) {
		t.Errorf("second conditional put: want ErrExists, got %v", err)
	}
	_, err = w.store.Put(ctx, globalsKey, strings.NewReader("roles"), storage.PutOptions{})
	mustAllow(t, "put without retention", err)

	// Reading: manifests and audit records, never backup data.
	_, err = root.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(auditKey), Body: strings.NewReader("{}")})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{manifestKey, auditKey} {
		body, _, err := w.store.Get(ctx, key, "")
		mustAllow(t, "get "+key, err)
		if err == nil {
			_, _ = io.Copy(io.Discard, body)
			body.Close()
		}
	}
	for _, key := range []string{dataKey, globalsKey} {
		_, _, err = w.store.Get(ctx, key, "")
		mustDeny(t, "get "+key, err)
		_, err = w.store.Stat(ctx, key, "")
		mustDeny(t, "stat "+key, err)
	}
	_, _, err = w.store.Get(ctx, dataKey, data.VersionID)
	mustDeny(t, "get a version of backup data", err)

	infos, err := w.store.List(ctx, "production/")
	mustAllow(t, "list", err)
	if len(infos) != 4 {
		t.Errorf("listed %d objects, want 4", len(infos))
	}

	// Cleaning up after a failed upload.
	up, err := w.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket,
		Key: aws.String(dataKey + ".2"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
	mustAllow(t, "create multipart upload", err)
	if err == nil {
		_, err = w.client.ListParts(ctx, &s3.ListPartsInput{Bucket: &bucket, Key: up.Key, UploadId: up.UploadId})
		mustAllow(t, "list parts", err)
		uploads, err := w.store.ListUploads(ctx, dataKey+".2")
		mustAllow(t, "list uploads", err)
		if len(uploads) != 1 {
			t.Errorf("listed %d uploads, want 1", len(uploads))
		}
		for _, u := range uploads {
			mustAllow(t, "abort upload", w.store.AbortUpload(ctx, u))
		}
	}

	// Pruning adds delete markers; versions stay until the lifecycle rule
	// expires them.
	mustAllow(t, "delete the current version", w.store.Delete(ctx, dataKey))
	if !versionExists(t, root, bucket, dataKey, data.VersionID) {
		t.Error("the writer's delete removed the version")
	}
	plain, err := root.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("production/unlocked"), Body: strings.NewReader("x")})
	if err != nil {
		t.Fatal(err)
	}
	err = w.store.DeleteVersion(ctx, "production/unlocked", aws.ToString(plain.VersionId))
	mustDeny(t, "delete an unlocked version", err)
	if !versionExists(t, root, bucket, "production/unlocked", aws.ToString(plain.VersionId)) {
		t.Error("the writer removed a version")
	}
	_, err = w.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String(dataKey),
		VersionId: aws.String(data.VersionID), BypassGovernanceRetention: aws.Bool(true)})
	mustDeny(t, "delete a locked version bypassing governance", err)

	// The lock cannot be loosened: not in compliance mode (pgtier's
	// default), and not without the bypass in governance mode.
	shorten := func(key string, mode types.ObjectLockRetentionMode, bypass bool) error {
		_, err := w.client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: &bucket, Key: aws.String(key),
			BypassGovernanceRetention: aws.Bool(bypass),
			Retention:                 &types.ObjectLockRetention{Mode: mode, RetainUntilDate: aws.Time(time.Now().Add(time.Minute))}})
		return err
	}
	compliant := locked(1)
	compliant.LockMode = storage.LockCompliance
	_, err = w.store.Put(ctx, "production/main/app/compliance", strings.NewReader("x"), compliant)
	mustAllow(t, "put in compliance mode", err)
	for _, bypass := range []bool{false, true} {
		if shorten("production/main/app/compliance", types.ObjectLockRetentionModeCompliance, bypass) == nil {
			t.Errorf("the writer shortened a compliance retention (bypass %v)", bypass)
		}
	}
	if shorten(manifestKey, types.ObjectLockRetentionModeGovernance, false) == nil {
		t.Error("the writer shortened a governance retention without the bypass")
	}
	// MinIO lets s3:PutObjectRetention shorten a governance retention when
	// the request carries the bypass header, although the policy denies
	// s3:BypassGovernanceRetention. The version still cannot be deleted by
	// the writer.
	if err := shorten(manifestKey, types.ObjectLockRetentionModeGovernance, true); err == nil {
		t.Log("MinIO: the writer shortened a governance retention with the bypass header")
	}
	err = w.store.DeleteVersion(ctx, dataKey, data.VersionID)
	mustDeny(t, "delete a locked version", err)
	denyBucketChanges(t, w.client, bucket)

	comparePosture(t, w.store, openRoot(t, mi, bucket))
}

// denyBucketChanges checks that c may not change the bucket's lock,
// versioning, lifecycle or policy.
func denyBucketChanges(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	mustDeny(t, "suspend versioning", err)
	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &bucket,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
	mustDeny(t, "change the object lock configuration", err)
	_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &bucket, Policy: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	mustDeny(t, "put a bucket policy", err)
	_, err = c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: &bucket})
	mustDeny(t, "delete the lifecycle rules", err)
}

// openRoot opens the bucket with the root credentials.
func openRoot(t *testing.T, mi *harness.MinIO, bucket string) *storage.S3 {
	t.Helper()
	s, err := storage.OpenS3(context.Background(), storage.Options{URL: "s3://" + bucket, Endpoint: mi.Endpoint,
		Region: mi.Region, CAFile: mi.CAFile, AccessKey: mi.AccessKey, SecretKey: mi.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// comparePosture checks that the policy lets s read every posture setting
// that the root credentials can read.
func comparePosture(t *testing.T, s, root *storage.S3) {
	t.Helper()
	got, want := s.Posture(context.Background()), root.Posture(context.Background())
	for _, w := range want.Checks {
		g, _ := got.Get(w.Name)
		if g.Status != w.Status || g.Detail != w.Detail {
			t.Errorf("posture %s: %s %q, with root credentials %s %q", w.Name, g.Status, g.Detail, w.Status, w.Detail)
		}
	}
}
