package snapshot_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pgtier/pgtier/snapshot"
	"github.com/pgtier/pgtier/test/harness"
)

func TestFindTools(t *testing.T) {
	pg := harness.PG(t)
	info, err := snapshot.Preflight(ctx(t), conn(pg, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	tl, err := snapshot.FindTools(pg.BinDir, info.Major)
	if err != nil {
		t.Fatal(err)
	}
	want := snapshot.Tools{
		Dir:       pg.BinDir,
		PgDump:    filepath.Join(pg.BinDir, "pg_dump"),
		PgDumpAll: filepath.Join(pg.BinDir, "pg_dumpall"),
		PgRestore: filepath.Join(pg.BinDir, "pg_restore"),
		Version:   tl.Version,
		Major:     info.Major,
	}
	if tl != want || !strings.HasPrefix(tl.Version, strconv.Itoa(info.Major)+".") {
		t.Errorf("FindTools(%s, %d) = %+v, want %+v", pg.BinDir, info.Major, tl, want)
	}

	// Without bin_dir, the server's major version's install is found.
	auto, err := snapshot.FindTools("", info.Major)
	if err != nil {
		t.Fatal(err)
	}
	if auto.Major < info.Major {
		t.Errorf("FindTools(\"\", %d) = %+v", info.Major, auto)
	}
}

func TestFindToolsRefusesOlder(t *testing.T) {
	pg := harness.PG(t)
	info, err := snapshot.Preflight(ctx(t), conn(pg, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.0'\n"
	if err := os.WriteFile(filepath.Join(dir, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = snapshot.FindTools(dir, info.Major)
	major := strconv.Itoa(info.Major)
	want := "pg_dump 9.6.0 at " + filepath.Join(dir, "pg_dump") + " is older than the server (" + major +
		"); install postgresql-client-" + major + " or set postgres.bin_dir"
	if err == nil || err.Error() != want {
		t.Errorf("FindTools with an old pg_dump = %v, want %q", err, want)
	}
}
