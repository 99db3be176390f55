package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Stat reads the version's metadata with HeadObject, including its lock
// mode, retain-until date and storage class (STANDARD when the server
// leaves it out).
func (s *S3) Stat(ctx context.Context, key, versionID string) (ObjectInfo, error) {
	if err := CheckKey(key); err != nil {
		return ObjectInfo{}, err
	}
	in := &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.objectKey(key))}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := s.client.HeadObject(ctx, in)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("reading metadata of %s: %w", s.name(key), classify(err))
	}
	return ObjectInfo{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		VersionID:    aws.ToString(out.VersionId),
		LastModified: aws.ToTime(out.LastModified),
		LockMode:     string(out.ObjectLockMode),
		LockUntil:    aws.ToTime(out.ObjectLockRetainUntilDate),
		StorageClass: storageClass(string(out.StorageClass)),
		ETag:         aws.ToString(out.ETag),
	}, nil
}

func storageClass(c string) string {
	if c == "" {
		return "STANDARD"
	}
	return c
}

// List pages through ListObjectsV2 under the store's prefix and returns the
// keys relative to it, sorted.
func (s *S3) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.bucket,
		Prefix: aws.String(s.prefix + prefix),
	})
	var infos []ObjectInfo
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", s.name(prefix), classify(err))
		}
		for _, o := range page.Contents {
			k, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
			if !ok {
				continue
			}
			infos = append(infos, ObjectInfo{
				Key:          k,
				Size:         aws.ToInt64(o.Size),
				LastModified: aws.ToTime(o.LastModified),
				StorageClass: storageClass(string(o.StorageClass)),
				ETag:         aws.ToString(o.ETag),
			})
		}
	}
	slices.SortFunc(infos, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return infos, nil
}

// Delete sends DeleteObject without a version: on a versioned bucket it adds
// a delete marker, which object lock allows. A missing key is not an error.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.objectKey(key))})
	if err = classify(err); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("deleting %s: %w", s.name(key), err)
	}
	return nil
}

// DeleteVersion removes one version for good: ErrLocked while its retention
// lasts. It never bypasses governance retention.
func (s *S3) DeleteVersion(ctx context.Context, key, versionID string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if versionID == "" {
		return fmt.Errorf("deleting a version of %s: no version id given", s.name(key))
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket:    &s.bucket,
		Key:       aws.String(s.objectKey(key)),
		VersionId: &versionID,
	})
	if err != nil {
		return fmt.Errorf("deleting version %s of %s: %w", versionID, s.name(key), classify(err))
	}
	return nil
}

// ListUploads pages through ListMultipartUploads under the store's prefix.
// AWS matches prefix as a key prefix; MinIO matches it as a whole key, so
// on MinIO ListUploads("") is always empty, and a caller that wants to see
// the leftovers of one object asks for exactly its key.
func (s *S3) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{
		Bucket: &s.bucket,
		Prefix: aws.String(s.prefix + prefix),
	})
	var ups []Upload
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing incomplete uploads in %s: %w", s.name(prefix), classify(err))
		}
		for _, u := range page.Uploads {
			k, ok := strings.CutPrefix(aws.ToString(u.Key), s.prefix)
			if !ok {
				continue
			}
			ups = append(ups, Upload{Key: k, UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
		}
	}
	slices.SortFunc(ups, func(a, b Upload) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.Initiated.Compare(b.Initiated))
	})
	return ups, nil
}

// AbortUpload aborts a multipart upload; ErrNotFound when it is gone.
func (s *S3) AbortUpload(ctx context.Context, u Upload) error {
	if err := CheckKey(u.Key); err != nil {
		return err
	}
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   &s.bucket,
		Key:      aws.String(s.objectKey(u.Key)),
		UploadId: &u.UploadID,
	})
	if err != nil {
		return fmt.Errorf("aborting upload %s of %s: %w", u.UploadID, s.name(u.Key), classify(err))
	}
	return nil
}

// ServerTime returns the Date header of a small list request, the server's
// clock to second precision, for clock-skew checks. An error response still
// gives the time when it carries a Date.
func (s *S3) ServerTime(ctx context.Context) (time.Time, error) {
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  &s.bucket,
		Prefix:  aws.String(s.prefix),
		MaxKeys: aws.Int32(1),
	})
	var h http.Header
	if err == nil {
		if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
			h = raw.Header
		}
	} else {
		var re *awshttp.ResponseError
		if !errors.As(err, &re) || re.Response == nil {
			return time.Time{}, fmt.Errorf("reading the time of %s: %w", s, classify(err))
		}
		h = re.Response.Header
	}
	d := h.Get("Date")
	if d == "" {
		return time.Time{}, fmt.Errorf("reading the time of %s: the response has no Date header", s)
	}
	t, perr := http.ParseTime(d)
	if perr != nil {
		return time.Time{}, fmt.Errorf("reading the time of %s: bad Date header %q: %w", s, d, perr)
	}
	return t, nil
}
