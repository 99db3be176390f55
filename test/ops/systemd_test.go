package ops

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pgtier/pgtier/test/harness"
)

const (
	unitFile = "configs/systemd/backupd.service"
	// unitBinary is where the unit expects backupd to be installed.
	unitBinary = "/usr/local/bin/backupd"
	// maxExposure is the highest overall exposure level accepted from
	// systemd-analyze security (0 is best, 10 worst).
	maxExposure = 2.0
)

// TestSystemdUnitVerify runs systemd-analyze verify on the unit. verify
// checks that ExecStart's program exists, and backupd is not installed here,
// so the unit is checked as a copy whose ExecStart names a freshly built
// backupd; nothing else in it changes.
func TestSystemdUnitVerify(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	unit := string(readRepoFile(t, unitFile))
	if n := strings.Count(unit, "ExecStart="+unitBinary+" "); n != 1 {
		t.Fatalf("%s: want one ExecStart=%s line, found %d", unitFile, unitBinary, n)
	}
	backupd, _ := harness.BuildBinaries(t)
	copied := filepath.Join(t.TempDir(), "backupd.service")
	unit = strings.Replace(unit, "ExecStart="+unitBinary+" ", "ExecStart="+backupd+" ", 1)
	if err := os.WriteFile(copied, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, filepath.Dir(copied), analyze, "verify", copied)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
}

// TestSystemdUnitExecStartFlags runs the built backupd with the unit's
// ExecStart arguments plus --version, which parses them and exits.
func TestSystemdUnitExecStartFlags(t *testing.T) {
	args := strings.Fields(unitSetting(t, "ExecStart"))
	if len(args) == 0 || args[0] != unitBinary {
		t.Fatalf("ExecStart=%s: want %s and its flags", strings.Join(args, " "), unitBinary)
	}
	backupd, _ := harness.BuildBinaries(t)
	out, err := run(t, t.TempDir(), backupd, append(args[1:], "--version")...)
	if err != nil {
		t.Fatalf("backupd %s --version: %v\n%s", strings.Join(args[1:], " "), err, out)
	}
}

var exposureLine = regexp.MustCompile(`Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)`)

func TestSystemdUnitSecurity(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	path := repoFile(t, unitFile)
	// --threshold is in tenths: 20 means an exposure of 2.0.
	threshold := strconv.Itoa(int(maxExposure * 10))
	out, err := run(t, filepath.Dir(path), analyze, "security", "--offline=true", "--no-pager", "--threshold="+threshold, path)
	m := exposureLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: no overall exposure level in its output (%v)\n%s", err, out)
	}
	level, perr := strconv.ParseFloat(m[1], 64)
	if perr != nil {
		t.Fatal(perr)
	}
	if err != nil || level > maxExposure {
		t.Fatalf("systemd-analyze security: exposure %.1f, want %.1f or lower (%v)\n%s", level, maxExposure, err, failedChecks(out))
	}
	t.Logf("exposure level %.1f", level)
}

// TestSystemdUnitSettings checks what the daemon relies on and what no
// analyzer checks.
func TestSystemdUnitSettings(t *testing.T) {
	for key, want := range map[string]string{
		"Type":         "notify",
		"NotifyAccess": "main",
		"User":         "backupd",
		"Group":        "backupd",
		"ExecReload":   "/bin/kill -HUP $MAINPID",
		"Restart":      "on-failure",
		"UMask":        "0077",
	} {
		if got := unitSetting(t, key); got != want {
			t.Errorf("%s=%s, want %s=%s", key, got, key, want)
		}
	}
	for _, key := range []string{"WatchdogSec", "TimeoutStopSec", "LoadCredential"} {
		if unitSetting(t, key) == "" {
			t.Errorf("%s= is not set", key)
		}
	}
	if unitSetting(t, "DynamicUser") == "yes" {
		t.Error("DynamicUser=yes: peer authentication to PostgreSQL needs the fixed user backupd")
	}
}

// unitSetting returns the value of the first uncommented key= line of the
// unit, or "".
func unitSetting(t *testing.T, key string) string {
	t.Helper()
	for _, line := range strings.Split(string(readRepoFile(t, unitFile)), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			return v
		}
	}
	return ""
}

// failedChecks returns the lines of systemd-analyze security's table that
// cost exposure, and its verdict.
func failedChecks(out string) string {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "✗") || strings.Contains(line, "Overall exposure") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
