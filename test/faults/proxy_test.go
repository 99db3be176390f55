package faults_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pgtier/pgtier/test/faults"
	"github.com/pgtier/pgtier/test/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// setup starts a proxy in front of the harness MinIO and makes a bucket.
// It returns a client through the proxy that retries as the SDK's standard
// retryer does (without its retry quota), one that never retries, and one
// that talks to MinIO directly.
func setup(t *testing.T, lock bool) (p *faults.Proxy, bucket string, retrying, once, direct *s3.Client) {
	t.Helper()
	mi := harness.S3(t)
	p, err := faults.Start(mi.Endpoint, mi.HTTPClient().Transport)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	client := func(attempts int) *s3.Client {
		return s3.New(s3.Options{
			Region:       mi.Region,
			BaseEndpoint: aws.String(p.URL),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(mi.AccessKey, mi.SecretKey, ""),
			Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = 200 * time.Millisecond
				o.RateLimiter = ratelimit.None
			}),
		})
	}
	return p, mi.Bucket(t, lock), client(5), client(1), mi.Client(t)
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t *testing.T, c *s3.Client, bucket, key string, data []byte) error {
	t.Helper()
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)})
	return err
}

// get reads an object through c; it returns what arrived before an error.
func get(t *testing.T, c *s3.Client, bucket, key string) ([]byte, error) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key},
		func(o *s3.Options) { o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired })
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func exists(t *testing.T, c *s3.Client, bucket, key string) bool {
	t.Helper()
	_, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	var nf *types.NotFound
	if err != nil && !errors.As(err, &nf) {
		t.Fatalf("head %s: %v", key, err)
	}
	return err == nil
}

// apiError returns the S3 error code and HTTP status of err.
func apiError(err error) (string, int) {
	code, status := "", 0
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// TestPassThrough: without faults, objects go up and come back unchanged,
// signatures verify, and every request is logged.
func TestPassThrough(t *testing.T) {
	p, bucket, c, _, direct := setup(t, true)
	data := random(t, 3<<20)
	if err := put(t, c, bucket, "k", data); err != nil {
		t.Fatal(err)
	}
	got, err := get(t, c, bucket, "k")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, equal %v, %v", len(got), bytes.Equal(got, data), err)
	}
	if got, err := get(t, direct, bucket, "k"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("MinIO holds %d bytes, equal %v, %v", len(got), bytes.Equal(got, data), err)
	}
	log := strings.Join(p.Requests(), "\n")
	if !strings.Contains(log, "PUT /"+bucket+"/k") || !strings.Contains(log, "GET /"+bucket+"/k") || strings.Contains(log, "<-") {
		t.Fatalf("request log:\n%s", log)
	}
}

// TestErrorAnswers: 500 and 503 SlowDown answer in the server's place with
// S3 error bodies the SDK decodes; the SDK retries them.
func TestErrorAnswers(t *testing.T) {
	p, bucket, retrying, once, direct := setup(t, false)
	for _, c := range []struct {
		kind   faults.Kind
		code   string
		status int
	}{{faults.InternalError, "InternalError", 500}, {faults.SlowDown, "SlowDown", 503}} {
		key := strings.ReplaceAll(string(c.kind), " ", "-")
		rule := p.Arm(faults.Fault{Match: faults.Match{Method: "PUT", Key: key}, Kind: c.kind, Times: 2})
		err := put(t, once, bucket, key, random(t, 1<<20))
		if code, status := apiError(err); code != c.code || status != c.status {
			t.Fatalf("%s without retries: %v; want %s, %d", c.kind, err, c.code, c.status)
		}
		if exists(t, direct, bucket, key) {
			t.Fatalf("%s: the request reached MinIO", c.kind)
		}
		data := random(t, 1<<20)
		if err := put(t, retrying, bucket, key, data); err != nil {
			t.Fatalf("%s with retries: %v", c.kind, err)
		}
		if rule.Fired() != 2 || rule.Left() != 0 || p.Fired(c.kind) != 2 {
			t.Fatalf("%s fired %d times, %d left", c.kind, rule.Fired(), rule.Left())
		}
		if got, err := get(t, direct, bucket, key); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: MinIO holds %d bytes, %v", c.kind, len(got), err)
		}
	}
}

// TestResetRequest: a part whose upload is reset after 1 MiB fails without
// retries and never reaches MinIO; the SDK retries it, and the object
// completes whole.
func TestResetRequest(t *testing.T) {
	p, bucket, retrying, once, direct := setup(t, true)
	ctx := context.Background()
	key := "multi"
	up, err := direct.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{random(t, 5<<20), random(t, 5<<20)}
	part := func(c *s3.Client, n int32) (*s3.UploadPartOutput, error) {
		return c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(parts[n-1])})
	}
	rule := p.Arm(faults.Fault{Match: faults.UploadPart(key, 2), Kind: faults.ResetRequest, At: 1 << 20, Times: 2})
	first, err := part(once, 1)
	if err != nil || rule.Fired() != 0 {
		t.Fatalf("part 1 (not armed): %v, fired %d", err, rule.Fired())
	}
	if _, err := part(once, 2); err == nil || rule.Fired() != 1 {
		t.Fatalf("part 2 reset without retries: %v, fired %d", err, rule.Fired())
	} else {
		t.Logf("the SDK saw: %v", err)
	}
	listed, err := direct.ListParts(ctx, &s3.ListPartsInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId})
	if err != nil || len(listed.Parts) != 1 {
		t.Fatalf("MinIO lists %d parts (%v); want only part 1", len(listed.Parts), err)
	}
	second, err := part(retrying, 2)
	if err != nil || rule.Fired() != 2 {
		t.Fatalf("part 2 with retries: %v, fired %d", err, rule.Fired())
	}
	if _, err := direct.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key,
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: first.ETag}, {PartNumber: aws.Int32(2), ETag: second.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := get(t, direct, bucket, key); err != nil || !bytes.Equal(got, append(parts[0], parts[1]...)) {
		t.Fatalf("the object holds %d bytes, %v", len(got), err)
	}
}

// TestBrokenBodies: a truncated GET body delivers exactly At bytes under the
// full Content-Length, then fails the read; a reset one fails it with a
// connection reset; a flipped bit changes exactly one bit at At.
func TestBrokenBodies(t *testing.T) {
	p, bucket, c, _, direct := setup(t, false)
	data := random(t, 3<<20)
	// With its CRC32C, as pgtier puts a small object.
	if _, err := direct.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("obj"),
		Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c}); err != nil {
		t.Fatal(err)
	}
	const at = 1<<20 + 17
	for _, kind := range []faults.Kind{faults.TruncateBody, faults.ResetResponse} {
		p.Arm(faults.Fault{Match: faults.GetObject("/obj"), Kind: kind, At: at})
		got, err := get(t, c, bucket, "obj")
		// A reset discards what the client's kernel had not yet handed over.
		if err == nil || len(got) > at || !bytes.Equal(got, data[:len(got)]) ||
			(kind == faults.TruncateBody && len(got) != at) {
			t.Fatalf("%s: read %d bytes, %v; want the first %d or, after a reset, fewer, and an error", kind, len(got), err, at)
		}
		if kind == faults.ResetResponse && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("%s: %v; want a connection reset", kind, err)
		}
		t.Logf("%s: %v", kind, err)
	}
	p.Arm(faults.Fault{Match: faults.GetObject("/obj"), Kind: faults.FlipBit, At: at})
	got, err := get(t, c, bucket, "obj")
	if err != nil || len(got) != len(data) {
		t.Fatalf("flipped bit: read %d bytes, %v", len(got), err)
	}
	for i := range got {
		if want := data[i] ^ byte(map[bool]int{true: 1}[i == at]); got[i] != want {
			t.Fatalf("byte %d is %#x, want %#x", i, got[i], want)
		}
	}
	// The SDK's own check of a single-part object's CRC32C catches the flip.
	p.Arm(faults.Fault{Match: faults.GetObject("/obj"), Kind: faults.FlipBit, At: at})
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("obj"),
		ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(out.Body)
	out.Body.Close()
	if err == nil {
		t.Fatal("the SDK accepted a body with a flipped bit although MinIO sent its checksum")
	}
	t.Logf("checksum mode: %v", err)
}

// TestErrorIn200: an <Error> inside a 200 answer to CompleteMultipartUpload
// is an error to the SDK. Not forwarded, the upload stays open and can be
// completed on retry; forwarded, MinIO completed the object although the
// client was told it failed.
func TestErrorIn200(t *testing.T) {
	p, bucket, retrying, once, direct := setup(t, true)
	ctx := context.Background()
	upload := func(key string) *s3.CompleteMultipartUploadInput {
		up, err := direct.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		part, err := direct.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(random(t, 1<<20))})
		if err != nil {
			t.Fatal(err)
		}
		return &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}
	}

	in := upload("kept")
	rule := p.Arm(faults.Fault{Match: faults.CompleteUpload("/kept"), Kind: faults.ErrorIn200, Times: 2})
	_, err := once.CompleteMultipartUpload(ctx, in)
	if code, _ := apiError(err); code != "InternalError" {
		t.Fatalf("complete with an error in a 200: %v; want InternalError", err)
	}
	if exists(t, direct, bucket, "kept") {
		t.Fatal("the object exists although the complete was not forwarded")
	}
	if _, err := retrying.CompleteMultipartUpload(ctx, in); err != nil || rule.Fired() != 2 {
		t.Fatalf("complete with retries: %v, fired %d", err, rule.Fired())
	}
	if !exists(t, direct, bucket, "kept") {
		t.Fatal("the retried complete left no object")
	}

	in = upload("done")
	p.Arm(faults.Fault{Match: faults.CompleteUpload("/done"), Kind: faults.ErrorIn200, Forward: true})
	if _, err := once.CompleteMultipartUpload(ctx, in); err == nil {
		t.Fatal("complete with a forwarded error in a 200 succeeded")
	}
	if !exists(t, direct, bucket, "done") {
		t.Fatal("the forwarded complete left no object")
	}
	_, err = once.CompleteMultipartUpload(ctx, in)
	code, status := apiError(err)
	t.Logf("completing again after a forwarded error in a 200: %v (%s, %d)", err, code, status)
}

// TestShiftDate: the Date header of answers moves by Shift.
func TestShiftDate(t *testing.T) {
	p, bucket, c, _, _ := setup(t, false)
	p.Arm(faults.Fault{Match: faults.Match{Method: "GET"}, Kind: faults.ShiftDate, Shift: 10 * time.Minute, Times: faults.Always})
	for range 2 {
		out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket})
		if err != nil {
			t.Fatal(err)
		}
		raw := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
		date, err := http.ParseTime(raw.Header.Get("Date"))
		if err != nil {
			t.Fatal(err)
		}
		if skew := time.Until(date); skew < 9*time.Minute || skew > 11*time.Minute {
			t.Fatalf("Date %v is %v from now; want about 10m", date, skew)
		}
	}
	if p.Fired(faults.ShiftDate) != 2 {
		t.Fatalf("ShiftDate fired %d times", p.Fired(faults.ShiftDate))
	}
}
