package crypto

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// stockTool returns the path of a stock command-line tool. A missing tool
// fails the test when CI is set and skips it otherwise.
func stockTool(t *testing.T, path string) string {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required when CI is set: %v", path, err)
		}
		t.Skipf("%s not installed: %v", path, err)
	}
	return path
}

func run(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// TestStockToolsRead proves the promise of the design: an operator with an
// identity and no pgtier recovers a backup with age -d | zstd -d.
func TestStockToolsRead(t *testing.T) {
	ageBin, zstdBin := stockTool(t, "/usr/bin/age"), stockTool(t, "/usr/bin/zstd")
	op, breakGlass := newX25519(t), newX25519(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(key, []byte(op.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		level string
	}{
		{"empty", nil, "default"},
		{"text", testData(5<<20+11, true), "default"},
		{"random", testData(1<<20, false), "fastest"},
		{"text, best", testData(1<<20, true), "best"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := pipeline(t, tc.data, tc.level, op.Recipient(), breakGlass.Recipient())
			obj := filepath.Join(dir, "backup.dump.zst.age")
			if err := os.WriteFile(obj, ct, 0o600); err != nil {
				t.Fatal(err)
			}
			zst := run(t, nil, ageBin, "-d", "-i", key, obj)
			got := run(t, zst, zstdBin, "-d", "-c")
			if !bytes.Equal(got, tc.data) {
				t.Fatalf("stock tools gave %d bytes, want the %d written", len(got), len(tc.data))
			}
		})
	}
}

// TestStockToolsWrite checks the other direction: files and keys made by the
// stock tools are read by this package.
func TestStockToolsWrite(t *testing.T) {
	ageBin, zstdBin := stockTool(t, "/usr/bin/age"), stockTool(t, "/usr/bin/zstd")
	keygen := stockTool(t, "/usr/bin/age-keygen")
	dir := t.TempDir()
	key := filepath.Join(dir, "key.txt")
	run(t, nil, keygen, "-o", key)
	ids, pubs, err := LoadIdentities(key)
	if err != nil {
		t.Fatal(err)
	}
	recipientsFile := filepath.Join(dir, "recipients.txt")
	if err := os.WriteFile(recipientsFile, run(t, nil, keygen, "-y", key), 0o644); err != nil {
		t.Fatal(err)
	}
	_, keys, err := LoadRecipients(recipientsFile)
	if err != nil || len(keys) != 1 || keys[0] != pubs[0] {
		t.Fatalf("recipients %v, %v; want %v", keys, err, pubs)
	}

	data := testData(2<<20, true)
	zst := run(t, data, zstdBin, "-q", "-9", "-c")
	ct := run(t, zst, ageBin, "-R", recipientsFile)
	got, err := unpipeline(ct, ids...)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("round trip through the stock tools changed the data")
	}
	_, err = unpipeline(ct, age.Identity(newX25519(t)))
	if !IsNoIdentity(err) {
		t.Fatalf("err = %v, want a no-identity error", err)
	}
}
