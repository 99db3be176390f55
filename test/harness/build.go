package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// modulePath is the module whose root Root looks for.
const modulePath = "github.com/pgtier/pgtier"

// binaries is the result of the one build per test binary.
type binaries struct {
	backupd, backupctl string
	err                error
}

// Root returns the repository's root directory: the nearest directory above
// the working directory whose go.mod declares the pgtier module.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := root()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return dir
}

func root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && declares(b, modulePath) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("finding the repository root: no go.mod of %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// declares reports whether go.mod content b declares module mod.
func declares(b []byte, mod string) bool {
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == mod {
			return true
		}
	}
	return false
}

// BuildBinaries builds ./cmd/backupd and ./cmd/backupctl once per test
// binary into a harness temp dir and returns their paths. A failed build
// fails t (and every later caller) with the compiler's output.
func BuildBinaries(t testing.TB) (backupd, backupctl string) {
	t.Helper()
	s := current
	s.mu.Lock()
	if s.build == nil {
		s.build = s.buildBinaries()
	}
	b := s.build
	s.mu.Unlock()
	if b.err != nil {
		t.Fatalf("harness: %v", b.err)
	}
	return b.backupd, b.backupctl
}

// buildBinaries runs go build. The caller holds s.mu.
func (s *suite) buildBinaries() *binaries {
	tmp, err := s.tempDir()
	if err != nil {
		return &binaries{err: err}
	}
	repo, err := root()
	if err != nil {
		return &binaries{err: err}
	}
	out := filepath.Join(tmp, "bin")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return &binaries{err: fmt.Errorf("making %s: %w", out, err)}
	}
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", out+"/", "./cmd/backupd", "./cmd/backupctl")
	cmd.Dir = repo
	if msg, err := cmd.CombinedOutput(); err != nil {
		return &binaries{err: fmt.Errorf("building backupd and backupctl: %w: %s", err, strings.TrimSpace(string(msg)))}
	}
	logf("built backupd and backupctl in %v", time.Since(start).Round(time.Millisecond))
	return &binaries{backupd: filepath.Join(out, "backupd"), backupctl: filepath.Join(out, "backupctl")}
}
