package storage_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pgtier/pgtier/storage"
	"github.com/pgtier/pgtier/test/harness"
)

// shipped returns configs/iam/<name> with BUCKET replaced by bucket, as the
// README tells operators to do.
func shipped(t *testing.T, name, bucket string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.Root(t), "configs", "iam", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "BUCKET", bucket)
}

// wantStatus fails t unless the posture's named checks have the statuses
// given as name, status pairs.
func wantStatus(t *testing.T, p storage.Posture, pairs ...string) {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		c, ok := p.Get(pairs[i])
		switch {
		case !ok:
			t.Errorf("no %s check", pairs[i])
		case c.Status != pairs[i+1]:
			t.Errorf("%s is %s (%s), want %s", c.Name, c.Status, c.Detail, pairs[i+1])
		}
	}
	if t.Failed() || testing.Verbose() {
		for _, c := range p.Checks {
			t.Logf("%-20s %-7s %s", c.Name, c.Status, c.Detail)
		}
	}
}

// names returns the names of checks.
func names(cs []storage.Check) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func putPolicy(t *testing.T, c *s3.Client, bucket, policy string) {
	t.Helper()
	_, err := c.PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(policy)})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPostureLockedBucket(t *testing.T) {
	mi := harness.S3(t)
	ctx := context.Background()
	c := mi.Client(t)
	bucket := mi.Bucket(t, true)
	s := openMinIO(t, mi, bucket, "pgtier")

	p := s.Posture(ctx)
	// MinIO has no public access block API and, without a KMS, no default
	// encryption.
	wantStatus(t, p,
		storage.CheckVersioning, storage.StatusOK,
		storage.CheckObjectLock, storage.StatusOK,
		storage.CheckPublicAccessBlock, storage.StatusUnknown,
		storage.CheckPolicyStatus, storage.StatusOK,
		storage.CheckEncryption, storage.StatusWarn,
		storage.CheckTLSOnly, storage.StatusWarn,
		storage.CheckLifecycle, storage.StatusWarn)
	if b := p.Blocking(); len(b) != 0 {
		t.Errorf("blocking checks on a locked bucket: %v", b)
	}
	if p.Store != s.String() || len(p.Checks) != 7 {
		t.Errorf("posture of %q with %d checks", p.Store, len(p.Checks))
	}

	putPolicy(t, c, bucket, shipped(t, "bucket-policy.json", bucket))
	var lc types.BucketLifecycleConfiguration
	if err := json.Unmarshal([]byte(shipped(t, "lifecycle.json", bucket)), &lc); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket: aws.String(bucket), LifecycleConfiguration: &lc}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{
		Bucket: aws.String(bucket),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{
			ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{
				Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}},
		}}); err != nil {
		t.Fatal(err)
	}
	p = s.Posture(ctx)
	wantStatus(t, p,
		storage.CheckObjectLock, storage.StatusOK,
		storage.CheckPolicyStatus, storage.StatusOK,
		storage.CheckTLSOnly, storage.StatusOK,
		storage.CheckLifecycle, storage.StatusOK)
	if c, _ := p.Get(storage.CheckObjectLock); !strings.Contains(c.Detail, "GOVERNANCE 1 day") {
		t.Errorf("object lock detail %q does not name the default retention", c.Detail)
	}
	// MinIO keeps the non-current version rule but drops
	// AbortIncompleteMultipartUpload.
	if c, _ := p.Get(storage.CheckLifecycle); !strings.Contains(c.Detail, "non-current versions expire after 7 days") {
		t.Errorf("lifecycle detail %q", c.Detail)
	}
	// Requests over TLS still work under the TLS-only policy.
	if _, err := s.List(ctx, ""); err != nil {
		t.Errorf("listing over TLS with the TLS-only policy: %v", err)
	}
}

func TestPosturePlainBucket(t *testing.T) {
	mi := harness.S3(t)
	s := openMinIO(t, mi, mi.Bucket(t, false), "")
	p := s.Posture(context.Background())
	wantStatus(t, p,
		storage.CheckVersioning, storage.StatusFail,
		storage.CheckObjectLock, storage.StatusFail,
		storage.CheckPolicyStatus, storage.StatusOK)
	if got, want := names(p.Blocking()), []string{storage.CheckVersioning, storage.CheckObjectLock}; !slices.Equal(got, want) {
		t.Errorf("blocking %v, want %v", got, want)
	}
	if got := names(p.Failed()); !slices.Equal(got, []string{storage.CheckVersioning, storage.CheckObjectLock}) {
		t.Errorf("failed %v", got)
	}
}

func TestPosturePublicBucket(t *testing.T) {
	mi := harness.S3(t)
	ctx := context.Background()
	c := mi.Client(t)
	for _, tc := range []struct {
		name    string
		actions string
		// minioPublic is what MinIO's GetBucketPolicyStatus says: public
		// only when anyone may both list and write.
		minioPublic bool
	}{
		{"read", `"s3:GetObject"`, false},
		{"read-write", `["s3:GetObject","s3:ListBucket","s3:PutObject"]`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := mi.Bucket(t, true)
			putPolicy(t, c, bucket, `{"Version":"2012-10-17","Statement":[{"Sid":"Anyone","Effect":"Allow",
				"Principal":{"AWS":["*"]},"Action":`+tc.actions+`,
				"Resource":["arn:aws:s3:::`+bucket+`","arn:aws:s3:::`+bucket+`/*"]}]}`)
			st, err := c.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToBool(st.PolicyStatus.IsPublic); got != tc.minioPublic {
				t.Logf("MinIO now reports IsPublic=%v for this policy", got)
			}
			p := openMinIO(t, mi, bucket, "").Posture(ctx)
			wantStatus(t, p, storage.CheckPolicyStatus, storage.StatusFail, storage.CheckObjectLock, storage.StatusOK)
			if got := names(p.Blocking()); !slices.Equal(got, []string{storage.CheckPolicyStatus}) {
				t.Errorf("blocking %v, want the policy status", got)
			}
		})
	}
}

func TestPostureMissingBucket(t *testing.T) {
	mi := harness.S3(t)
	p := openMinIO(t, mi, "pgtier-no-such-bucket", "").Posture(context.Background())
	for _, c := range p.Checks {
		if c.Status != storage.StatusFail || !strings.Contains(c.Detail, "does not exist") {
			t.Errorf("%s: %s %q", c.Name, c.Status, c.Detail)
		}
	}
	if len(p.Blocking()) == 0 {
		t.Error("a missing bucket does not block")
	}
}

func TestPostureUnreachable(t *testing.T) {
	mi := harness.S3(t)
	o := minioOptions(mi, "bucket", "")
	o.Endpoint = "https://127.0.0.1:1"
	s, err := storage.OpenS3(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p := s.Posture(ctx)
	if len(p.Checks) != 7 {
		t.Fatalf("%d checks", len(p.Checks))
	}
	for _, c := range p.Checks {
		if c.Status != storage.StatusUnknown || !strings.Contains(c.Detail, "cannot reach") {
			t.Errorf("%s: %s %q", c.Name, c.Status, c.Detail)
		}
	}
	if got := names(p.Blocking()); !slices.Equal(got, []string{storage.CheckObjectLock}) {
		t.Errorf("blocking %v, want the unknown object lock", got)
	}
}

func TestPostureNotApplicable(t *testing.T) {
	local, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []storage.Posture{local.Posture(context.Background()), storage.NewMemory().Posture(context.Background())} {
		if len(p.Checks) != 7 || p.Store == "" {
			t.Errorf("posture %+v", p)
		}
		for _, c := range p.Checks {
			if c.Status != storage.StatusUnknown || !strings.HasPrefix(c.Detail, "not applicable") {
				t.Errorf("%s %s: %s %q", p.Store, c.Name, c.Status, c.Detail)
			}
		}
		if got := names(p.Blocking()); !slices.Equal(got, []string{storage.CheckObjectLock}) {
			t.Errorf("%s: blocking %v", p.Store, got)
		}
	}
}
