package storage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
)

// Retry policy of every S3 request: the SDK's standard retryer (throttling,
// 5xx, connection errors) with more attempts, a longer backoff and no
// client-side retry quota, so a flaky endpoint slows a backup down instead
// of failing it.
const (
	retryMaxAttempts = 10
	retryMaxBackoff  = 20 * time.Second
	// abortTimeout bounds the clean-up of a failed upload, which runs even
	// when the caller's context is already cancelled.
	abortTimeout = 2 * time.Minute
)

// S3 is a Store on an S3 bucket under a key prefix. Keys given to it are
// relative to the prefix; List and ListUploads return them relative too.
// Every put carries the configured server-side encryption and a CRC32C
// checksum (per part for multipart uploads), which S3 requires with object
// lock. Safe for concurrent use.
type S3 struct {
	client      *s3.Client
	bucket      string
	prefix      string // "" or ends with "/"
	endpoint    string
	sse         string
	kmsKeyID    string
	partSize    int64
	concurrency int
	log         *slog.Logger
}

// OpenS3 returns the S3 store for o.URL (s3://bucket/prefix). An http://
// endpoint is refused unless o.AllowInsecureHTTP is set. It does not
// contact the server.
func OpenS3(ctx context.Context, o Options) (*S3, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("storage url %q: want s3://bucket/prefix", o.URL)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := CheckKey(prefix); err != nil {
			return nil, fmt.Errorf("storage url %q: bad prefix: %w", o.URL, err)
		}
		prefix += "/"
	}
	s := &S3{
		bucket:      u.Host,
		prefix:      prefix,
		partSize:    o.PartSize,
		concurrency: o.Concurrency,
		log:         o.Logger,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.concurrency <= 0 {
		s.concurrency = DefaultConcurrency
	}
	if s.partSize != 0 && (s.partSize < MinPartSize || s.partSize > MaxPartSize) {
		return nil, fmt.Errorf("storage part size %d: must be between %d and %d bytes", s.partSize, MinPartSize, MaxPartSize)
	}
	switch o.SSE {
	case "", "AES256":
		if o.KMSKeyID != "" {
			return nil, errors.New("storage kms key id is set but sse is not aws:kms")
		}
	case "aws:kms":
	default:
		return nil, fmt.Errorf("storage sse %q: use \"\", AES256 or aws:kms", o.SSE)
	}
	s.sse, s.kmsKeyID = o.SSE, o.KMSKeyID
	if o.Endpoint != "" {
		if s.endpoint, err = checkEndpoint(o.Endpoint, o.AllowInsecureHTTP); err != nil {
			return nil, err
		}
	}
	if s.client, err = newS3Client(ctx, o, s.endpoint, s.log); err != nil {
		return nil, err
	}
	if be := s.client.Options().BaseEndpoint; s.endpoint == "" && be != nil {
		// An endpoint from AWS_ENDPOINT_URL or the shared config obeys
		// the same rule.
		if _, err := checkEndpoint(*be, o.AllowInsecureHTTP); err != nil {
			return nil, fmt.Errorf("%w (set in the AWS environment or config)", err)
		}
		s.endpoint = *be
	}
	return s, nil
}

// checkEndpoint validates an endpoint URL and returns it without a trailing
// slash.
func checkEndpoint(endpoint string, allowHTTP bool) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("storage endpoint: %w", err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || strings.Trim(u.Path, "/") != "" {
		return "", fmt.Errorf("storage endpoint %q: want https://host[:port]", u.Redacted())
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return "", fmt.Errorf("storage endpoint %s uses plain http, which would send data and signatures in the clear: use https, or set storage.allow_insecure_http to accept it", endpoint)
		}
	default:
		return "", fmt.Errorf("storage endpoint %q: want https://host[:port]", endpoint)
	}
	return strings.TrimRight(endpoint, "/"), nil
}

func newS3Client(ctx context.Context, o Options, endpoint string, log *slog.Logger) (*s3.Client, error) {
	hc, err := HTTPClient(o.CAFile)
	if err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(hc),
		config.WithLogger(slogLogger{log}),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = retryMaxAttempts
				so.MaxBackoff = retryMaxBackoff
				so.RateLimiter = ratelimit.None
				so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(tlsPermanent)}, so.Retryables...)
			})
		}),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	switch {
	case o.AccessKey != "" && o.SecretKey != "":
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, "")))
	case o.AccessKey != "" || o.SecretKey != "":
		return nil, errors.New("storage credentials: access key and secret key must be given together")
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading aws configuration: %w", err)
	}
	if cfg.Region == "" {
		if endpoint == "" {
			return nil, errors.New("storage region is not set: set storage.region or AWS_REGION")
		}
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if endpoint != "" {
			so.BaseEndpoint = aws.String(endpoint)
			so.UsePathStyle = true
		}
		// Multipart objects carry composite checksums, which the SDK
		// cannot check on download; it would warn on every such GET.
		so.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// HTTPClient returns the SDK's HTTP client, trusting caFile's certificates
// in addition to the system roots, with TLS 1.2 at least: the client every
// AWS service client of pgtier's uses with the storage endpoint.
func HTTPClient(caFile string) (*awshttp.BuildableClient, error) {
	var roots *x509.CertPool
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading storage ca file: %w", err)
		}
		roots, err = x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("storage ca file %s holds no PEM certificate", caFile)
		}
	}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		tr.TLSClientConfig.MinVersion = tls.VersionTLS12
		if roots != nil {
			tr.TLSClientConfig.RootCAs = roots
		}
	}), nil
}

// tlsPermanent says that a failed certificate check or a server that does
// not speak TLS is not worth a retry; it leaves other errors to the SDK,
// which would otherwise retry them as connection errors for minutes.
func tlsPermanent(err error) aws.Ternary {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr x509.CertificateInvalidError
	var rerr tls.RecordHeaderError
	if errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) ||
		errors.As(err, &cerr) || errors.As(err, &rerr) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// slogLogger passes the SDK's log lines to slog.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "aws-sdk")
}

// String returns s3://bucket/prefix, with the endpoint when one is set.
func (s *S3) String() string {
	u := "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
	if s.endpoint != "" {
		u += " at " + s.endpoint
	}
	return u
}

// objectKey is the bucket key of a store key.
func (s *S3) objectKey(key string) string { return s.prefix + key }

// name is the full URL of key, for messages.
func (s *S3) name(key string) string { return "s3://" + s.bucket + "/" + s.prefix + key }
