// Package storage is pgtier's object store: one small interface, Store, and
// three implementations of it: S3 (any S3-compatible service, through
// aws-sdk-go-v2), Local (a directory, for tests and for operators who accept
// that it has no immutability) and Memory (a working in-memory store for unit
// tests of the code above it).
//
// The package moves bytes and maps server errors to the sentinels callers
// branch on (ErrNotFound, ErrExists, ErrPrecondition, ErrLocked). It knows
// nothing of backups, manifests or retention: object keys and lock dates are
// decided by its callers. Every Store is safe for concurrent use.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound is matched (with errors.Is) by errors about an object, version
// or upload that does not exist. It is permanent: retrying will not help.
var ErrNotFound = errors.New("object not found")

// ErrExists is matched by the error of a Put with IfNoneMatch when the key
// already has a current object (S3: 412 Precondition Failed, or 409 when
// another conditional write to the key is in progress). The object that is
// there is left untouched.
var ErrExists = errors.New("object already exists")

// ErrPrecondition is matched by the error of a Put with IfMatch when the key
// has no current object (none ever, or a delete marker) or its current
// object has another ETag (S3: 412 Precondition Failed, 404, or 409 when
// another conditional write to the key is in progress). Nothing is written.
// It does not match ErrExists, which stays the answer to IfNoneMatch.
var ErrPrecondition = errors.New("object changed: precondition failed")

// ErrLocked is matched by the error of deleting an object version whose
// object-lock retention has not passed yet. It is permanent until the
// retain-until date.
var ErrLocked = errors.New("object version is locked by its retention")

// ErrInvalidStorageClass marks a put whose storage class the bucket does not
// support. It is permanent: the configuration must change.
var ErrInvalidStorageClass = errors.New("the bucket does not support this storage class")

// Lock modes accepted in PutOptions.LockMode, as S3 spells them.
const (
	LockCompliance = "COMPLIANCE"
	LockGovernance = "GOVERNANCE"
)

// ObjectInfo describes one object version. Fields a store does not have are
// zero: Local has no VersionID, lock or storage class; List fills neither
// VersionID nor the lock fields; S3's Put does not fill LastModified.
type ObjectInfo struct {
	Key          string // relative to the store's URL
	Size         int64
	VersionID    string
	LastModified time.Time
	LockMode     string // "", COMPLIANCE or GOVERNANCE
	LockUntil    time.Time
	StorageClass string
	// ETag names the object's current content for PutOptions.IfMatch, as
	// the store spells it (S3: quoted, an MD5 of the bytes for a single
	// put; Memory: the same; Local: see Local).
	ETag string
}

// PutOptions controls one Put.
type PutOptions struct {
	// SizeHint is the expected size in bytes, 0 when unknown. S3 uses it to
	// choose a part size large enough for 10,000 parts (see PartSizeFor).
	SizeHint int64
	// LockMode is "" (no retention), COMPLIANCE or GOVERNANCE. With a mode,
	// LockUntil must be set and is the object's retain-until date. Without
	// one, LockUntil is ignored. Local ignores both.
	LockMode  string
	LockUntil time.Time
	// StorageClass is the S3 storage class, "" for the bucket default.
	StorageClass string
	ContentType  string
	// IfNoneMatch makes the put fail with ErrExists when the key already has
	// a current object (If-None-Match: *).
	IfNoneMatch bool
	// IfMatch, an ETag as ObjectInfo.ETag gives it, makes the put replace
	// the key's current object only while that object still has this ETag
	// (If-Match), and fail with ErrPrecondition otherwise; of several puts
	// with the same IfMatch, at most one succeeds. "" puts unconditionally.
	// It excludes IfNoneMatch. On S3 the condition is checked when the
	// object is completed; Local checks it under a lock that holds on one
	// host only (see Local).
	IfMatch string
}

// Upload is an incomplete upload: an S3 multipart upload, or a Local
// temporary file, that was neither completed nor aborted.
type Upload struct {
	Key       string // relative to the store's URL
	UploadID  string
	Initiated time.Time
}

// Store is the whole surface of an object store. Consumers declare the
// smaller interface they need; every implementation here satisfies this one,
// and also has ServerTime(ctx) (time.Time, error), the store's clock, for
// clock-skew checks. Keys are slash-separated, relative to the store's URL,
// and must be valid (see CheckKey).
type Store interface {
	// Put streams r to key and returns the new object's info. Big inputs go
	// up in parts; on any failure (reader error, cancelled context, server
	// error) nothing is left behind: no object and no incomplete upload. A
	// reader error is returned wrapped, so errors.Is finds it. Requests are
	// retried on throttling and server errors; Put as a whole is not
	// retried, since r cannot be rewound.
	Put(ctx context.Context, key string, r io.Reader, o PutOptions) (ObjectInfo, error)
	// Get opens the object's version ("" for the current one). The body
	// streams from the store; the caller closes it. Reading stops with the
	// context.
	Get(ctx context.Context, key, versionID string) (io.ReadCloser, ObjectInfo, error)
	// Stat returns the version's info ("" for the current one).
	Stat(ctx context.Context, key, versionID string) (ObjectInfo, error)
	// List returns the current objects whose keys start with prefix ("" for
	// all), recursively, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes the current object. On a versioned bucket it adds a
	// delete marker and keeps the versions. Deleting a missing key is not
	// an error. Idempotent.
	Delete(ctx context.Context, key string) error
	// DeleteVersion removes one version for good; ErrLocked while its
	// retention lasts, ErrNotFound when there is no such version.
	DeleteVersion(ctx context.Context, key, versionID string) error
	// ListUploads returns the incomplete uploads whose keys start with
	// prefix, including ones still in progress. MinIO lists only the
	// uploads of the one key equal to prefix (and none for ""); it removes
	// stale uploads itself after a day.
	ListUploads(ctx context.Context, prefix string) ([]Upload, error)
	// AbortUpload removes an incomplete upload and its parts.
	AbortUpload(ctx context.Context, u Upload) error
	// String is the store's URL for messages; it never holds credentials.
	String() string
}

// Options says which store to open and how to reach it.
type Options struct {
	// URL is s3://bucket/prefix or file:///absolute/dir.
	URL string
	// Endpoint is an S3-compatible endpoint (https://host:port); empty for
	// AWS. Setting it turns on path-style addressing.
	Endpoint string
	// Region defaults to us-east-1 when Endpoint is set, else to the AWS
	// configuration (AWS_REGION, shared config).
	Region string
	// CAFile is a PEM file of extra certificate authorities trusted for the
	// endpoint, in addition to the system's.
	CAFile string
	// AllowInsecureHTTP permits an http:// endpoint.
	AllowInsecureHTTP bool
	// SSE is "", AES256 or aws:kms; KMSKeyID names the key for aws:kms.
	SSE, KMSKeyID string
	// PartSize is the smallest multipart part size in bytes; 0 picks
	// PartSizeFor(SizeHint) for each put. It is raised when a put's SizeHint
	// needs larger parts. At least 5 MiB.
	PartSize int64
	// Concurrency is the number of parts uploaded at once; 0 means 4.
	Concurrency int
	// Logger receives the store's diagnostics; nil discards them.
	Logger *slog.Logger
	// AccessKey and SecretKey are static credentials; empty means the
	// default AWS credential chain (environment, shared files, instance
	// role).
	AccessKey, SecretKey string
}

// Open returns the store for o.URL: s3:// or file://. It does not contact
// the server: a wrong bucket or credentials show on the first request.
func Open(ctx context.Context, o Options) (Store, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("parsing storage url: %w", err)
	}
	if u.User != nil {
		return nil, fmt.Errorf("storage url %s must not carry credentials (use a credentials file or the AWS credential chain)", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("storage url %s: query and fragment are not supported", o.URL)
	}
	switch u.Scheme {
	case "s3":
		s, err := OpenS3(ctx, o)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("storage url %s: a file url has no host (use file:///absolute/dir)", o.URL)
		}
		l, err := NewLocal(u.Path)
		if err != nil {
			return nil, err
		}
		return l, nil
	default:
		return nil, fmt.Errorf("storage url %q: unknown scheme (use s3://bucket/prefix or file:///dir)", o.URL)
	}
}

// CheckKey reports whether key is a valid object key: non-empty UTF-8 of at
// most 1024 bytes, slash-separated, with no empty, "." or ".." segment and
// no leading or trailing slash.
func CheckKey(key string) error {
	if key == "" {
		return errors.New("empty object key")
	}
	if len(key) > 1024 || !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
		return fmt.Errorf("invalid object key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid object key %q: empty, \".\" or \"..\" segment", key)
		}
	}
	if path.Clean(key) != key {
		return fmt.Errorf("invalid object key %q", key)
	}
	return nil
}

// checkLock validates the lock fields and the conditions of o and returns
// the normalised mode.
func checkLock(o PutOptions) (string, error) {
	if err := checkConditions(o); err != nil {
		return "", err
	}
	mode := strings.ToUpper(o.LockMode)
	switch mode {
	case "":
		return "", nil
	case LockCompliance, LockGovernance:
		if o.LockUntil.IsZero() {
			return "", fmt.Errorf("lock mode %s without a retain-until date", mode)
		}
		return mode, nil
	default:
		return "", fmt.Errorf("unknown lock mode %q (use COMPLIANCE or GOVERNANCE)", o.LockMode)
	}
}

// checkConditions refuses a put with both conditions.
func checkConditions(o PutOptions) error {
	if o.IfNoneMatch && o.IfMatch != "" {
		return errors.New("IfNoneMatch and IfMatch exclude each other")
	}
	return nil
}

// sameETag compares two ETags, quoted or not.
func sameETag(a, b string) bool {
	return a != "" && strings.Trim(a, `"`) == strings.Trim(b, `"`)
}

// ctxReader stops reading once ctx is done, so a Put of an endless stream
// ends with the context.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// readerError marks an error that came from the caller's reader, so that Put
// can say so and keep it matchable.
type readerError struct{ err error }

func (e readerError) Error() string { return "reading data: " + e.err.Error() }
func (e readerError) Unwrap() error { return e.err }

// contextFirst returns ctx's error when ctx is done, else err: a read that
// failed because the put was cancelled reports the cancellation.
func contextFirst(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}
