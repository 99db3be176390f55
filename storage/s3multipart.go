package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// The multipart loop is written here rather than taken from the SDK's
// upload manager because the manager cannot keep the promises of Put: it
// aborts a failed upload with the caller's context, so a cancelled put
// leaves an incomplete upload behind and the abort error is dropped; and it
// holds Concurrency+2 part buffers plus the growth of its first read.

// putMultipart uploads first, then the rest of r, as one multipart upload,
// and aborts it on any failure.
func (s *S3) putMultipart(ctx context.Context, key string, r io.Reader, first []byte, o PutOptions) (ObjectInfo, error) {
	p := s.putInput(key, o)
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:                    p.Bucket,
		Key:                       p.Key,
		ChecksumAlgorithm:         types.ChecksumAlgorithmCrc32c,
		ContentType:               p.ContentType,
		ServerSideEncryption:      p.ServerSideEncryption,
		SSEKMSKeyId:               p.SSEKMSKeyId,
		StorageClass:              p.StorageClass,
		ObjectLockMode:            p.ObjectLockMode,
		ObjectLockRetainUntilDate: p.ObjectLockRetainUntilDate,
	})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("starting multipart upload: %w", classify(err))
	}
	u := &multipart{s: s, key: key, uploadID: aws.ToString(created.UploadId)}
	info, err := u.run(ctx, r, first, o)
	if err != nil {
		if aerr := u.abort(ctx); aerr != nil {
			return ObjectInfo{}, fmt.Errorf("%w (and aborting upload %s failed, prune will remove it: %w)", err, u.uploadID, aerr)
		}
		return ObjectInfo{}, err
	}
	return info, nil
}

// multipart is one multipart upload in progress.
type multipart struct {
	s        *S3
	key      string
	uploadID string

	mu    sync.Mutex
	parts []types.CompletedPart
}

func (u *multipart) run(ctx context.Context, r io.Reader, first []byte, o PutOptions) (ObjectInfo, error) {
	s := u.s
	size := len(first)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	// free holds part buffers that are no longer in flight; at most
	// concurrency+1 buffers exist: one being filled, the rest uploading.
	free := make(chan []byte, s.concurrency+1)
	allocated := 1
	buf, n, eof := first, size, false
	var total int64
	var stop error
	for num := int32(1); ; num++ {
		if num > MaxParts {
			stop = fmt.Errorf("input exceeds %d parts of %d bytes: give a larger size hint", MaxParts, size)
			break
		}
		part, pb := buf[:n], buf
		g.Go(func() error {
			defer func() { free <- pb }()
			return u.upload(gctx, num, part)
		})
		total += int64(n)
		if eof {
			break
		}
		buf = nil
		select {
		case buf = <-free:
		default:
			if allocated <= s.concurrency {
				allocated++
				buf = make([]byte, size)
			} else {
				select {
				case buf = <-free:
				case <-gctx.Done():
				}
			}
		}
		if buf == nil || gctx.Err() != nil {
			break
		}
		var err error
		if n, eof, err = fill(r, buf); err != nil {
			stop = err
			break
		}
		if n == 0 {
			break
		}
	}
	werr := g.Wait()
	switch {
	case ctx.Err() != nil:
		return ObjectInfo{}, ctx.Err()
	case stop != nil:
		return ObjectInfo{}, stop
	case werr != nil:
		return ObjectInfo{}, werr
	}
	return u.complete(ctx, total, o)
}

// upload sends one part with its CRC32C.
func (u *multipart) upload(ctx context.Context, num int32, b []byte) error {
	sum := crc32c(b)
	out, err := u.s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:            &u.s.bucket,
		Key:               aws.String(u.s.objectKey(u.key)),
		UploadId:          &u.uploadID,
		PartNumber:        aws.Int32(num),
		Body:              bytes.NewReader(b),
		ContentLength:     aws.Int64(int64(len(b))),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		ChecksumCRC32C:    &sum,
	})
	if err != nil {
		return fmt.Errorf("uploading part %d: %w", num, classify(err))
	}
	u.mu.Lock()
	u.parts = append(u.parts, types.CompletedPart{
		PartNumber:     aws.Int32(num),
		ETag:           out.ETag,
		ChecksumCRC32C: &sum,
	})
	u.mu.Unlock()
	return nil
}

func (u *multipart) complete(ctx context.Context, total int64, o PutOptions) (ObjectInfo, error) {
	slices.SortFunc(u.parts, func(a, b types.CompletedPart) int {
		return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber))
	})
	in := &s3.CompleteMultipartUploadInput{
		Bucket:          &u.s.bucket,
		Key:             aws.String(u.s.objectKey(u.key)),
		UploadId:        &u.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
	}
	if o.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	if o.IfMatch != "" {
		in.IfMatch = aws.String(o.IfMatch)
	}
	out, err := u.s.client.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("completing multipart upload: %w", classifyPut(err, o))
	}
	return putInfo(u.key, total, out.VersionId, out.ETag, o), nil
}

// abort removes the upload with a context that outlives the caller's, so a
// cancelled put still cleans up. An upload that is already gone is fine.
func (u *multipart) abort(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := u.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   &u.s.bucket,
		Key:      aws.String(u.s.objectKey(u.key)),
		UploadId: &u.uploadID,
	})
	if err = classify(err); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}
