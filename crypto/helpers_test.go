package crypto

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// writeFile writes content to a new file in a fresh temporary directory.
func writeFile(t testing.TB, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
	return path
}

func newX25519(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newHybrid(t testing.TB) *age.HybridIdentity {
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// checkMessage fails unless err is a one-line message free of secret key
// material.
func checkMessage(t testing.TB, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error spans lines: %q", msg)
	}
	if strings.Contains(strings.ToUpper(msg), "AGE-SECRET-KEY") {
		t.Errorf("error mentions secret key material: %q", msg)
	}
}

// testData returns n deterministic bytes: compressible text resembling the
// rows of a pg_dump archive when text is true, random bytes otherwise.
func testData(n int, text bool) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	if !text {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	var buf bytes.Buffer
	words := strings.Fields("alpha beta gamma delta paid shipped pending refunded customer order invoice NULL")
	for buf.Len() < n {
		switch r.IntN(3) {
		case 0: // a pgbench_accounts row: ids, a balance and blank filler
			buf.WriteString(strings.Repeat(" ", 4))
			buf.WriteString(string(rune('0' + r.IntN(10))))
			buf.WriteString("\t1\t0\t" + strings.Repeat(" ", 84) + "\n")
		case 1: // a row of short words and numbers
			for range 4 {
				buf.WriteString(words[r.IntN(len(words))])
				buf.WriteByte('\t')
			}
			buf.WriteString(strings.Repeat("9", r.IntN(8)) + "\n")
		default: // a hash-like column, hardly compressible
			for range 16 {
				buf.WriteByte("0123456789abcdef"[r.IntN(16)])
			}
			buf.WriteString("\n")
		}
	}
	return buf.Bytes()[:n]
}

// pipeline runs data through Compress and Encrypt into a buffer.
func pipeline(t testing.TB, data []byte, level string, recipients ...age.Recipient) []byte {
	t.Helper()
	var out bytes.Buffer
	enc, err := Encrypt(&out, recipients)
	if err != nil {
		t.Fatal(err)
	}
	zw, err := Compress(enc, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// unpipeline reverses pipeline; it returns what was read and the first error.
func unpipeline(ct []byte, identities ...age.Identity) ([]byte, error) {
	pr, err := Decrypt(bytes.NewReader(ct), identities)
	if err != nil {
		return nil, err
	}
	zr, err := Decompress(pr)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}
