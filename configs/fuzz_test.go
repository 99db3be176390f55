package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary YAML to Load: it must not panic, and every error
// must be a one-line *Error naming the file.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	seeds = append(seeds, "example.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"postgres: {port: {a: 1}}", "tiers: {base: 5}", "? [a, b]\n: c", "1: 2\n", "a.b.c: 1",
		"storage: {url: 's3://b\x00ucket'}", "environment: &x [*x]", "tiers: {base: {min: ~}}",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	recipients := filepath.Join(dir, "recipients.txt")
	if err := os.WriteFile(recipients, []byte("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	// Fixtures name ../recipients.txt and ../password.txt relative to their directory.
	sub := filepath.Join(dir, "fixture")
	if err := os.Mkdir(sub, 0o700); err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"password.txt", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	file := filepath.Join(sub, "pgtier.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(file)
		if err == nil {
			if c == nil || c.Location() == nil {
				t.Fatalf("Load returned %v without an error", c)
			}
			return
		}
		msg := err.Error()
		if !IsInvalid(err) || strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "config "+file+": ") {
			t.Fatalf("bad error %T: %q", err, msg)
		}
	})
}
