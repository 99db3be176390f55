package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// debianLibDir is where Debian and Ubuntu install each major version's
// client tools, as <debianLibDir>/<major>/bin.
const debianLibDir = "/usr/lib/postgresql"

// versionTimeout bounds one "<tool> --version" run.
const versionTimeout = 10 * time.Second

// Tools is a matching set of pg_dump, pg_dumpall and pg_restore in one
// directory. Paths are absolute.
type Tools struct {
	Dir       string
	PgDump    string
	PgDumpAll string
	PgRestore string
	// Version is pg_dump's version, such as "15.4".
	Version string
	// Major is pg_dump's major version: 15 for 15.4, 9 for 9.6.0.
	Major int
}

// FindTools finds the client tools for a server of major version
// serverMajor. When binDir is set it looks only there (an explicit
// postgres.bin_dir is never silently replaced by another install). Otherwise
// it looks in /usr/lib/postgresql/<serverMajor>/bin, then in the newer
// major versions installed under /usr/lib/postgresql (oldest first), then in
// $PATH. The first directory with a pg_dump is used: its pg_dump must not be
// older than the server (a pg_dump cannot dump a newer server), and
// pg_dumpall and pg_restore of the same major version must sit next to it.
// serverMajor 0 means unknown and skips the version comparison.
// FindTools runs each tool with --version and nothing else.
func FindTools(binDir string, serverMajor int) (Tools, error) {
	return findTools(binDir, serverMajor, debianLibDir)
}

func findTools(binDir string, serverMajor int, libDir string) (Tools, error) {
	pgDump, err := locatePgDump(binDir, serverMajor, libDir)
	if err != nil {
		return Tools{}, err
	}
	dir := filepath.Dir(pgDump)
	t := Tools{
		Dir:       dir,
		PgDump:    pgDump,
		PgDumpAll: filepath.Join(dir, "pg_dumpall"),
		PgRestore: filepath.Join(dir, "pg_restore"),
	}
	t.Version, t.Major, err = toolVersion(t.PgDump)
	if err != nil {
		return Tools{}, err
	}
	if serverMajor > 0 && t.Major < serverMajor {
		return Tools{}, fmt.Errorf("pg_dump %s at %s is older than the server (%d); install postgresql-client-%d or set postgres.bin_dir",
			t.Version, t.PgDump, serverMajor, serverMajor)
	}
	for _, p := range []string{t.PgDumpAll, t.PgRestore} {
		if !isExecutable(p) {
			return Tools{}, fmt.Errorf("%s has pg_dump but no %s; install the complete postgresql-client-%d or set postgres.bin_dir",
				dir, filepath.Base(p), t.Major)
		}
		v, major, err := toolVersion(p)
		if err != nil {
			return Tools{}, err
		}
		if major != t.Major {
			return Tools{}, fmt.Errorf("%s is version %s but pg_dump next to it is %s; reinstall postgresql-client-%d or set postgres.bin_dir",
				p, v, t.Version, t.Major)
		}
	}
	return t, nil
}

// locatePgDump returns the path of the pg_dump that FindTools uses.
func locatePgDump(binDir string, serverMajor int, libDir string) (string, error) {
	if binDir != "" {
		p := filepath.Join(binDir, "pg_dump")
		if !isExecutable(p) {
			return "", fmt.Errorf("no executable pg_dump in postgres.bin_dir %s", binDir)
		}
		return absPath(p)
	}
	var looked []string
	if serverMajor > 0 {
		for _, dir := range libBinDirs(libDir, serverMajor) {
			p := filepath.Join(dir, "pg_dump")
			if isExecutable(p) {
				return p, nil
			}
			looked = append(looked, dir)
		}
	}
	p, err := exec.LookPath("pg_dump")
	if err == nil {
		return absPath(p)
	}
	looked = append(looked, "$PATH")
	hint := "install the PostgreSQL client tools"
	if serverMajor > 0 {
		hint = fmt.Sprintf("install postgresql-client-%d", serverMajor)
	}
	return "", fmt.Errorf("no pg_dump found (looked in %s); %s or set postgres.bin_dir", strings.Join(looked, ", "), hint)
}

// libBinDirs lists <libDir>/<major>/bin for major >= serverMajor, the
// server's own major first, then the newer ones in ascending order.
func libBinDirs(libDir string, serverMajor int) []string {
	dirs := []string{filepath.Join(libDir, strconv.Itoa(serverMajor), "bin")}
	entries, err := os.ReadDir(libDir)
	if err != nil {
		return dirs
	}
	var newer []int
	for _, e := range entries {
		if m, err := strconv.Atoi(e.Name()); err == nil && m > serverMajor {
			newer = append(newer, m)
		}
	}
	sort.Ints(newer)
	for _, m := range newer {
		dirs = append(dirs, filepath.Join(libDir, strconv.Itoa(m), "bin"))
	}
	return dirs
}

func absPath(p string) (string, error) {
	a, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", p, err)
	}
	return a, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// versionRE matches "pg_dump (PostgreSQL) 15.4 (Debian ...)", "... 9.6.0",
// "... 17beta1" and "... 18devel".
var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)[0-9A-Za-z.]*`)

// toolVersion runs "path --version" with no PG* environment and returns the
// version and major version it prints.
func toolVersion(path string) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), versionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = withoutPG(os.Environ())
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, scrub(msg, ""))
		}
		return "", 0, fmt.Errorf("running %s --version: %w", path, err)
	}
	return parseToolVersion(path, out.String())
}

func parseToolVersion(path, out string) (string, int, error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return "", 0, errors.New("reading the version of " + path + ": unexpected output " + strconv.Quote(strings.TrimSpace(out)))
	}
	version := strings.TrimPrefix(m[0], "(PostgreSQL) ")
	// Before 10 the major version had two parts (9.6); Major keeps the
	// first, as ServerInfo.Major does.
	major, _ := strconv.Atoi(m[1])
	return version, major, nil
}
