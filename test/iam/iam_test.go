// Package iam tests the least-privilege files in configs/: the IAM policies
// of configs/iam against MinIO users made with them, and the Postgres role
// of configs/postgres/role.sql against a real cluster.
package iam

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/pgtier/pgtier/storage"
	"github.com/pgtier/pgtier/test/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// policy returns configs/iam/<name> with BUCKET replaced by bucket, as the
// README tells operators to do.
func policy(t *testing.T, name, bucket string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.Root(t), "configs", "iam", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "BUCKET", bucket)
}

// user is a MinIO user made with one of the policies, seen both through
// pgtier's store and through a raw S3 client.
type user struct {
	store  *storage.S3
	client *s3.Client
}

// newUser creates a user with configs/iam/<file> for bucket.
func newUser(t *testing.T, mi *harness.MinIO, name, file, bucket string) user {
	t.Helper()
	ak, sk := harness.CreateUser(t, mi, name, policy(t, file, bucket))
	st, err := storage.OpenS3(context.Background(), storage.Options{
		URL:       "s3://" + bucket,
		Endpoint:  mi.Endpoint,
		Region:    mi.Region,
		CAFile:    mi.CAFile,
		AccessKey: ak,
		SecretKey: sk,
		PartSize:  storage.MinPartSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := s3.New(s3.Options{
		Region:       mi.Region,
		BaseEndpoint: aws.String(mi.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(ak, sk, ""),
		HTTPClient:   mi.HTTPClient(),
	})
	return user{store: st, client: c}
}

// denied reports whether err is the server refusing the caller's
// permissions: AccessDenied, or a bare 403 for a HEAD request.
func denied(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied" {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden
}

// mustDeny fails t unless err is an access denial.
func mustDeny(t *testing.T, what string, err error) {
	t.Helper()
	if !denied(err) {
		t.Errorf("%s: want AccessDenied, got %v", what, err)
	}
}

// mustAllow fails t if err is set.
func mustAllow(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}
