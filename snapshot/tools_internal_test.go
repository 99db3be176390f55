package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTools writes pg_dump, pg_dumpall and pg_restore scripts into dir that
// print the given versions.
func fakeTools(t *testing.T, dir, dump, dumpall, restore string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"pg_dump": dump, "pg_dumpall": dumpall, "pg_restore": restore} {
		if v == "" {
			continue
		}
		script := "#!/bin/sh\necho '" + name + " (PostgreSQL) " + v + "'\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindToolsSearchOrder(t *testing.T) {
	lib := t.TempDir()
	pathDir := t.TempDir()
	t.Setenv("PATH", pathDir)
	fakeTools(t, filepath.Join(lib, "14", "bin"), "14.2", "14.2", "14.2")
	fakeTools(t, filepath.Join(lib, "17", "bin"), "17.1", "17.1", "17.1")
	fakeTools(t, filepath.Join(lib, "16", "bin"), "16.3", "16.3", "16.3")
	fakeTools(t, pathDir, "18.0", "18.0", "18.0")

	// No 15 install: the oldest newer one wins over PATH.
	got, err := findTools("", 15, lib)
	if err != nil {
		t.Fatal(err)
	}
	if got.Dir != filepath.Join(lib, "16", "bin") || got.Version != "16.3" || got.Major != 16 {
		t.Errorf("findTools(15) = %+v", got)
	}
	// The server's own major first.
	got, err = findTools("", 14, lib)
	if err != nil || got.Major != 14 {
		t.Errorf("findTools(14) = %+v, %v", got, err)
	}
	// Nothing under lib for 19: PATH, which is older.
	_, err = findTools("", 19, lib)
	if err == nil || !strings.Contains(err.Error(), "is older than the server (19); install postgresql-client-19") {
		t.Errorf("findTools(19) error = %v", err)
	}
	// Unknown server version: PATH, no comparison.
	got, err = findTools("", 0, lib)
	if err != nil || got.Dir != pathDir {
		t.Errorf("findTools(0) = %+v, %v", got, err)
	}
}

func TestFindToolsIncompleteDir(t *testing.T) {
	dir := t.TempDir()
	fakeTools(t, dir, "15.4", "", "15.4")
	_, err := findTools(dir, 15, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no pg_dumpall") {
		t.Errorf("missing pg_dumpall: %v", err)
	}
	fakeTools(t, dir, "15.4", "15.4", "14.1")
	_, err = findTools(dir, 15, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "pg_restore is version 14.1") {
		t.Errorf("mismatched pg_restore: %v", err)
	}
}

func TestFindToolsNothing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := findTools("", 15, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no pg_dump found") || !strings.Contains(err.Error(), "postgresql-client-15") {
		t.Errorf("no tools: %v", err)
	}
	_, err = findTools(t.TempDir(), 15, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "postgres.bin_dir") {
		t.Errorf("empty bin_dir: %v", err)
	}
}
