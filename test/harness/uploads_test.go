package harness_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pgtier/pgtier/test/harness"
)

func TestIncompleteUploads(t *testing.T) {
	mi := harness.S3(t)
	bucket := mi.Bucket(t, false)
	client := mi.Client(t)
	ctx := context.Background()
	before := mi.IncompleteUploads(t)
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("a/b/c")})
	if err != nil {
		t.Fatal(err)
	}
	if got := mi.IncompleteUploads(t); got != before+1 {
		t.Fatalf("after CreateMultipartUpload: %d incomplete uploads, want %d", got, before+1)
	}
	if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("a/b/c"), UploadId: up.UploadId}); err != nil {
		t.Fatal(err)
	}
	if got := mi.IncompleteUploads(t); got != before {
		t.Fatalf("after AbortMultipartUpload: %d incomplete uploads, want %d", got, before)
	}
}
