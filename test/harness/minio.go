package harness

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MinIO is the shared S3 server of a test binary. It serves HTTPS on
// 127.0.0.1 with a certificate signed by the CA in CAFile, with random root
// credentials. Its methods are safe for concurrent use; a test that kills
// the server affects every test that runs at the same time.
type MinIO struct {
	Endpoint  string // https://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	CAFile    string // PEM of the CA that signed the server certificate
	Region    string

	mu          sync.Mutex
	proc        *proc
	bin         string
	dir         string
	dataDir     string
	certsDir    string
	logPath     string
	port        int
	consolePort int
	client      *http.Client
}

// S3 returns the shared MinIO, starting it on first use and again if an
// earlier test left it killed. It skips or fails t when MinIO is not
// installed.
func S3(t testing.TB) *MinIO {
	t.Helper()
	s := current
	s.mu.Lock()
	if s.s3 == nil && s.s3Err == nil {
		s.s3, s.s3Err = s.startMinIO()
	}
	m, err := s.s3, s.s3Err
	s.mu.Unlock()
	check(t, err)
	if err := m.Start(); err != nil {
		t.Fatalf("harness: %v", err)
	}
	return m
}

// minioBinary finds MinIO: $PGTIER_MINIO, else minio in PATH, else
// $(go env GOPATH)/bin/minio.
func minioBinary() (string, error) {
	if p := os.Getenv("PGTIER_MINIO"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("PGTIER_MINIO=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "minio")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", &notFoundError{what: "minio (set PGTIER_MINIO)"}
}

// startMinIO prepares and starts the server. The caller holds s.mu.
func (s *suite) startMinIO() (*MinIO, error) {
	bin, err := minioBinary()
	if err != nil {
		return nil, err
	}
	root, err := s.tempDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "minio")
	m := &MinIO{
		AccessKey: "pgtier-" + randomHex(8),
		SecretKey: randomHex(20),
		CAFile:    filepath.Join(dir, "ca.pem"),
		Region:    "us-east-1",
		bin:       bin,
		dir:       dir,
		dataDir:   filepath.Join(dir, "data"),
		certsDir:  filepath.Join(dir, "certs"),
		logPath:   filepath.Join(dir, "minio.log"),
	}
	if err := os.MkdirAll(m.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("making %s: %w", m.dataDir, err)
	}
	if err := writeCerts(m.certsDir, m.CAFile); err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(m.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	m.client = &http.Client{Transport: tr}

	start := time.Now()
	if err := m.Start(); err != nil {
		return nil, err
	}
	logf("minio %s ready at %s in %v", bin, m.Endpoint, time.Since(start).Round(time.Millisecond))
	return m, nil
}

// Start starts the server if it is not running and waits until it is ready.
// The first start picks free ports; later starts reuse them and the data.
func (m *MinIO) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc != nil && !m.proc.exited() {
		return nil
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if m.port == 0 || attempt > 0 {
			if m.port, err = freePort(); err != nil {
				return err
			}
			if m.consolePort, err = freePort(); err != nil {
				return err
			}
			m.Endpoint = "https://127.0.0.1:" + strconv.Itoa(m.port)
		}
		if err = m.startOnce(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
	}
	return err
}

// startOnce runs the server on m.port and waits for it. The caller holds m.mu.
func (m *MinIO) startOnce() error {
	args := []string{
		"server", "--quiet", "--anonymous",
		"--address", "127.0.0.1:" + strconv.Itoa(m.port),
		"--console-address", "127.0.0.1:" + strconv.Itoa(m.consolePort),
		"--certs-dir", m.certsDir,
		m.dataDir,
	}
	env := childEnv(
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on",
		"MINIO_SITE_REGION="+m.Region,
		"MINIO_SCANNER_SPEED=slowest",
	)
	pr, err := startProc(m.bin, args, env, m.dir, m.logPath, nil)
	if err != nil {
		return fmt.Errorf("starting minio: %w", err)
	}
	m.proc = pr
	deadline := time.Now().Add(60 * time.Second)
	for {
		if pr.exited() {
			return fmt.Errorf("minio exited: %w: %s", pr.exitErr(), tail(m.logPath, 2000))
		}
		if m.ready() {
			return nil
		}
		if time.Now().After(deadline) {
			_ = pr.kill()
			return fmt.Errorf("minio not ready after 60s: %s", tail(m.logPath, 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ready asks the server's readiness endpoint once.
func (m *MinIO) ready() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/minio/health/ready", nil)
	if err != nil {
		return false
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop shuts the server down gracefully. Stopping a stopped server does nothing.
func (m *MinIO) Stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return nil
	}
	if err := m.proc.stop(syscall.SIGTERM, 10*time.Second); err != nil {
		return fmt.Errorf("stopping minio: %w", err)
	}
	return nil
}

// Kill ends the server at once with SIGKILL, as a crash would. Safe to call
// from any goroutine, for example while an upload is running.
func (m *MinIO) Kill() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return nil
	}
	if err := m.proc.kill(); err != nil {
		return fmt.Errorf("killing minio: %w", err)
	}
	return nil
}

// Restart kills the server if it is still running and starts it again on
// the same address with the same data and credentials.
func (m *MinIO) Restart() error {
	if err := m.Kill(); err != nil {
		return err
	}
	return m.Start()
}

// Running reports whether the server process is alive.
func (m *MinIO) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc != nil && !m.proc.exited()
}

// HTTPClient returns an HTTP client that trusts the harness CA.
func (m *MinIO) HTTPClient() *http.Client { return m.client }

// Log returns the end of the server log, for failure messages.
func (m *MinIO) Log() string { return tail(m.logPath, 8000) }

// Client returns an S3 client for the server with the root credentials,
// path-style addressing and the harness CA. It ignores the AWS_*
// environment and shared config files.
func (m *MinIO) Client(t testing.TB) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region:       m.Region,
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
		HTTPClient:   m.client,
	})
}

// Bucket creates a bucket with a unique name derived from the test's name
// and returns the name. With lock, the bucket has object lock enabled, which
// also turns versioning on; without, it is unversioned. Buckets are not
// removed: the server's data goes when Main ends.
func (m *MinIO) Bucket(t testing.TB, lock bool) string {
	t.Helper()
	name := uniqueName(t, "pgtier-", '-', 63)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := m.Client(t).CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                     aws.String(name),
		ObjectLockEnabledForBucket: aws.Bool(lock),
	})
	if err != nil {
		t.Fatalf("harness: creating bucket %s: %v", name, err)
	}
	return name
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux
	return hex.EncodeToString(b)
}
