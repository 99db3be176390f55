package storage

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// getResumes is how many times one Get body reopens the object after a
// broken connection before it gives up.
const getResumes = 5

// Get opens the version with GetObject and streams its body: nothing is
// buffered beyond the HTTP client's window. When the connection breaks
// mid-body, the body reopens the same version (pinned by version id, or by
// ETag on an unversioned bucket) at the offset reached, up to getResumes
// times, so a long restore survives a flaky network. The caller closes it.
func (s *S3) Get(ctx context.Context, key, versionID string) (io.ReadCloser, ObjectInfo, error) {
	if err := CheckKey(key); err != nil {
		return nil, ObjectInfo{}, err
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.objectKey(key))}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("getting %s: %w", s.name(key), classify(err))
	}
	info := ObjectInfo{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		VersionID:    aws.ToString(out.VersionId),
		LastModified: aws.ToTime(out.LastModified),
		LockMode:     string(out.ObjectLockMode),
		LockUntil:    aws.ToTime(out.ObjectLockRetainUntilDate),
		StorageClass: storageClass(string(out.StorageClass)),
		ETag:         aws.ToString(out.ETag),
	}
	return &s3Body{ctx: ctx, s: s, info: info, body: out.Body}, info, nil
}

// s3Body is a Get body that resumes after a broken connection.
type s3Body struct {
	ctx     context.Context
	s       *S3
	info    ObjectInfo
	body    io.ReadCloser
	off     int64
	resumes int
}

func (b *s3Body) Read(p []byte) (int, error) {
	if b.body == nil {
		return 0, fmt.Errorf("reading %s: body closed", b.s.name(b.info.Key))
	}
	n, err := b.body.Read(p)
	b.off += int64(n)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF) && b.off == b.info.Size:
		return n, io.EOF
	case errors.Is(err, io.EOF) && b.off > b.info.Size:
		return n, fmt.Errorf("reading %s: more bytes than its size %d", b.s.name(b.info.Key), b.info.Size)
	case b.ctx.Err() != nil:
		return n, b.ctx.Err()
	case b.off >= b.info.Size:
		// All bytes arrived; the error is about them (a checksum).
		return n, fmt.Errorf("reading %s: %w", b.s.name(b.info.Key), err)
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if b.resumes >= getResumes {
		return n, fmt.Errorf("reading %s at byte %d (resumed %d times): %w", b.s.name(b.info.Key), b.off, b.resumes, err)
	}
	b.resumes++
	b.s.log.Warn("object read broke; resuming", "object", b.s.name(b.info.Key), "offset", b.off, "error", err)
	if rerr := b.reopen(); rerr != nil {
		return n, fmt.Errorf("reading %s at byte %d: %w (resuming: %w)", b.s.name(b.info.Key), b.off, err, rerr)
	}
	return n, nil
}

// reopen requests the rest of the same version from b.off on.
func (b *s3Body) reopen() error {
	_ = b.body.Close()
	b.body = nil
	in := &s3.GetObjectInput{
		Bucket: &b.s.bucket,
		Key:    aws.String(b.s.objectKey(b.info.Key)),
		Range:  aws.String(fmt.Sprintf("bytes=%d-", b.off)),
	}
	if b.info.VersionID != "" {
		in.VersionId = &b.info.VersionID
	} else if b.info.ETag != "" {
		in.IfMatch = &b.info.ETag
	}
	out, err := b.s.client.GetObject(b.ctx, in)
	if err != nil {
		return classify(err)
	}
	b.body = out.Body
	return nil
}

func (b *s3Body) Close() error {
	if b.body == nil {
		return nil
	}
	err := b.body.Close()
	b.body = nil
	return err
}
