package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"sync"
	"time"

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

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Put streams r to key. An input shorter than one part goes up in a single
// PutObject; a longer one in a multipart upload of parts of the part size
// (see Options.PartSize), Concurrency of them in flight. Memory: at most
// PartSize*(Concurrency+1) bytes of part buffers, whatever the input size.
// Every part carries its CRC32C. On any failure the multipart upload is
// aborted, with a context of its own, so neither an object nor an
// incomplete upload is left. IfNoneMatch is checked when the object is
// completed. Each request is retried; Put as a whole is not.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, o PutOptions) (ObjectInfo, error) {
	if err := CheckKey(key); err != nil {
		return ObjectInfo{}, err
	}
	mode, err := checkLock(o)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("putting %s: %w", s.name(key), err)
	}
	o.LockMode = mode
	size := s.partSizeFor(o.SizeHint)
	r = ctxReader{ctx, r}
	first := make([]byte, size)
	n, eof, err := fill(r, first)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("putting %s: %w", s.name(key), contextFirst(ctx, err))
	}
	var info ObjectInfo
	if eof {
		info, err = s.putSingle(ctx, key, first[:n], o)
	} else {
		info, err = s.putMultipart(ctx, key, r, first, o)
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("putting %s: %w", s.name(key), err)
	}
	return info, nil
}

// partSizeFor returns the part size of a put of about hint bytes.
func (s *S3) partSizeFor(hint int64) int64 {
	if s.partSize == 0 {
		return PartSizeFor(hint)
	}
	return min(max(s.partSize, fitPartSize(hint)), MaxPartSize)
}

// fill reads into b until it is full or r ends. eof tells that r ended;
// a reader's error is returned as a readerError.
func fill(r io.Reader, b []byte) (n int, eof bool, err error) {
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, readerError{err}
		}
	}
	return n, false, nil
}

func crc32c(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(b, castagnoli))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func (s *S3) putSingle(ctx context.Context, key string, b []byte, o PutOptions) (ObjectInfo, error) {
	in := &s3.PutObjectInput{
		Bucket:            &s.bucket,
		Key:               aws.String(s.objectKey(key)),
		Body:              bytes.NewReader(b),
		ContentLength:     aws.Int64(int64(len(b))),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		ChecksumCRC32C:    aws.String(crc32c(b)),
	}
	if o.ContentType != "" {
		in.ContentType = &o.ContentType
	}
	if o.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	if s.sse != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.sse)
	}
	if s.kmsKeyID != "" {
		in.SSEKMSKeyId = &s.kmsKeyID
	}
	if o.StorageClass != "" {
		in.StorageClass = types.StorageClass(o.StorageClass)
	}
	if o.LockMode != "" {
		in.ObjectLockMode = types.ObjectLockMode(o.LockMode)
		in.ObjectLockRetainUntilDate = aws.Time(o.LockUntil)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return ObjectInfo{}, classify(err)
	}
	return ObjectInfo{
		Key:          key,
		Size:         int64(len(b)),
		VersionID:    aws.ToString(out.VersionId),
		ETag:         aws.ToString(out.ETag),
		LockMode:     o.LockMode,
		LockUntil:    lockUntil(o),
		StorageClass: o.StorageClass,
	}, nil
}

// lockUntil is the retain-until date a put sets: none without a mode.
func lockUntil(o PutOptions) time.Time {
	if o.LockMode == "" {
		return time.Time{}
	}
	return o.LockUntil
}

// putMultipart uploads first, then the rest of r, as one multipart upload,
// and aborts it on any failure.
func (s *S3) putMultipart(ctx context.Context, key string, r io.Reader, first []byte, o PutOptions) (ObjectInfo, error) {
	in := &s3.CreateMultipartUploadInput{
		Bucket:            &s.bucket,
		Key:               aws.String(s.objectKey(key)),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
	}
	if o.ContentType != "" {
		in.ContentType = &o.ContentType
	}
	if s.sse != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.sse)
	}
	if s.kmsKeyID != "" {
		in.SSEKMSKeyId = &s.kmsKeyID
	}
	if o.StorageClass != "" {
		in.StorageClass = types.StorageClass(o.StorageClass)
	}
	if o.LockMode != "" {
		in.ObjectLockMode = types.ObjectLockMode(o.LockMode)
		in.ObjectLockRetainUntilDate = aws.Time(o.LockUntil)
	}
	created, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("starting multipart upload: %w", classify(err))
	}
	u := &multipart{s: s, key: key, uploadID: aws.ToString(created.UploadId)}
	info, err := u.run(ctx, r, first, o)
	if err != nil {
		if aerr := u.abort(ctx); aerr != nil {
			return ObjectInfo{}, fmt.Errorf("%w (and aborting upload %s failed, prune will remove it: %v)", err, u.uploadID, aerr)
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
	out, err := u.s.client.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("completing multipart upload: %w", classify(err))
	}
	return ObjectInfo{
		Key:          u.key,
		Size:         total,
		VersionID:    aws.ToString(out.VersionId),
		ETag:         aws.ToString(out.ETag),
		LockMode:     o.LockMode,
		LockUntil:    lockUntil(o),
		StorageClass: o.StorageClass,
	}, nil
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
