// Package harness runs the real servers that pgtier's integration tests need:
// a throwaway PostgreSQL cluster made with initdb and a MinIO server that
// serves TLS with a certificate authority the harness generates.
//
// Servers are shared by all tests of one test binary. They start lazily, the
// first time a test asks for one (PG, S3), and are stopped by Main, which every
// package that uses the harness must call from its TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
//
// All servers listen on 127.0.0.1 only. A missing server binary fails the
// test when the CI environment variable is set and skips it otherwise. The
// harness is for tests only; it is not part of pgtier.
package harness

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
)

// installHint names the script that installs every server the tests need.
const installHint = "run test/install.sh"

// suite is what one test binary has started; Main owns its lifetime.
type suite struct {
	mu      sync.Mutex
	inMain  bool
	dir     string // root temp dir, removed by Main
	pg      *Postgres
	pgErr   error
	s3      *MinIO
	s3Err   error
	build   *binaries
	stopped bool
}

// current is the one suite of this test binary. It is the only package-level
// state: Main and the lazily started servers must meet somewhere, because
// tests reach the servers through plain functions.
var current = &suite{}

// Main runs the tests of m and then stops every server the tests started and
// removes their files. It returns the exit code for os.Exit.
func Main(m *testing.M) int {
	current.mu.Lock()
	current.inMain = true
	current.mu.Unlock()

	code := m.Run()

	if err := current.shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// tempDir returns the suite's root temp dir, creating it on first use.
// The caller holds s.mu.
func (s *suite) tempDir() (string, error) {
	if !s.inMain {
		return "", errors.New("harness used without harness.Main: add func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }")
	}
	if s.stopped {
		return "", errors.New("harness already shut down")
	}
	if s.dir != "" {
		return s.dir, nil
	}
	dir, err := os.MkdirTemp("", "pgtier-harness-")
	if err != nil {
		return "", fmt.Errorf("making harness temp dir: %w", err)
	}
	// Postgres may run as another OS user and must reach its own subdirectory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("making harness temp dir: %w", err)
	}
	s.dir = dir
	return dir, nil
}

// shutdown stops the servers and removes the temp dir.
func (s *suite) shutdown() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	var errs []string
	if s.s3 != nil {
		if err := s.s3.Stop(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if s.pg != nil {
		if err := s.pg.Stop(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Sprintf("removing %s: %v", s.dir, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("stopping servers: %s", strings.Join(errs, "; "))
	}
	return nil
}

// missing ends the test because a server binary is not installed: a failure
// when CI is set, a skip otherwise.
func missing(t testing.TB, what string) {
	t.Helper()
	msg := fmt.Sprintf("harness: %s not found (%s)", what, installHint)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// notFoundError reports a server binary that is not installed.
type notFoundError struct{ what string }

func (e *notFoundError) Error() string { return e.what + " not found" }

// check ends the test if err is set, as a skip for a missing binary outside CI.
func check(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var nf *notFoundError
	if errors.As(err, &nf) {
		missing(t, nf.what)
		return
	}
	t.Fatalf("harness: %v", err)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n bytes of the file at path, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// logf notes what the harness did, when the tests run with -v.
func logf(format string, args ...any) {
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "harness: "+format+"\n", args...)
	}
}
