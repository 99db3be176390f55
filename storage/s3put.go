package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Put streams r to key. An input shorter than one part goes up in a single
// PutObject; a longer one in a multipart upload of parts of the part size
// (see Options.PartSize), Concurrency of them in flight. Memory: at most
// PartSize*(Concurrency+1) bytes of part buffers, whatever the input size.
// Every part carries its CRC32C. On any failure the multipart upload is
// aborted, with a context of its own, so neither an object nor an
// incomplete upload is left. IfNoneMatch and IfMatch are checked when the
// object is completed. Each request is retried; Put as a whole is not.
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

// putInput returns the PutObject request for key with o's headers and the
// store's encryption, without a body.
func (s *S3) putInput(key string, o PutOptions) *s3.PutObjectInput {
	in := &s3.PutObjectInput{Bucket: &s.bucket, Key: aws.String(s.objectKey(key))}
	if o.ContentType != "" {
		in.ContentType = &o.ContentType
	}
	if o.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	if o.IfMatch != "" {
		in.IfMatch = aws.String(o.IfMatch)
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
	return in
}

// putInfo is the ObjectInfo of a finished put.
func putInfo(key string, size int64, versionID, etag *string, o PutOptions) ObjectInfo {
	info := ObjectInfo{
		Key:          key,
		Size:         size,
		VersionID:    aws.ToString(versionID),
		ETag:         aws.ToString(etag),
		LockMode:     o.LockMode,
		StorageClass: o.StorageClass,
	}
	if o.LockMode != "" {
		info.LockUntil = o.LockUntil
	}
	return info
}

func (s *S3) putSingle(ctx context.Context, key string, b []byte, o PutOptions) (ObjectInfo, error) {
	in := s.putInput(key, o)
	in.Body = bytes.NewReader(b)
	in.ContentLength = aws.Int64(int64(len(b)))
	in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32c
	in.ChecksumCRC32C = aws.String(crc32c(b))
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return ObjectInfo{}, classifyPut(err, o)
	}
	return putInfo(key, int64(len(b)), out.VersionId, out.ETag, o), nil
}
