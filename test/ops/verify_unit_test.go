package ops

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pgtier/pgtier/test/harness"
)

const (
	verifyService = "configs/systemd/pgtier-verify.service"
	verifyTimer   = "configs/systemd/pgtier-verify.timer"
	// verifyBinary is where the drill unit expects backupctl.
	verifyBinary = "/usr/local/bin/backupctl"
)

// TestVerifyUnitsVerify runs systemd-analyze verify on the drill's service
// and timer, as copies whose ExecStart names a freshly built backupctl.
func TestVerifyUnitsVerify(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	service := string(readRepoFile(t, verifyService))
	if n := strings.Count(service, "ExecStart="+verifyBinary+" "); n != 1 {
		t.Fatalf("%s: want one ExecStart=%s line, found %d", verifyService, verifyBinary, n)
	}
	_, backupctl := harness.BuildBinaries(t)
	dir := t.TempDir()
	service = strings.Replace(service, "ExecStart="+verifyBinary+" ", "ExecStart="+backupctl+" ", 1)
	for name, text := range map[string]string{
		filepath.Base(verifyService): service,
		filepath.Base(verifyTimer):   string(readRepoFile(t, verifyTimer)),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := run(t, dir, analyze, "verify", filepath.Base(verifyTimer), filepath.Base(verifyService))
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify %s %s: %v\n%s", verifyTimer, verifyService, err, out)
	}
}

// TestVerifyUnitExecStartFlags runs the built backupctl with the drill's
// ExecStart arguments plus --help, which fails on an unknown flag.
func TestVerifyUnitExecStartFlags(t *testing.T) {
	args := splitCommand(t, setting(t, verifyService, "ExecStart"))
	if len(args) == 0 || args[0] != verifyBinary {
		t.Fatalf("ExecStart=%q: want %s and its arguments", args, verifyBinary)
	}
	for _, want := range []string{"verify", "--latest", "--database", "--reason", "--restore-into"} {
		if !strings.Contains(strings.Join(args, " "), want) {
			t.Errorf("ExecStart does not pass %s", want)
		}
	}
	_, backupctl := harness.BuildBinaries(t)
	out, err := run(t, t.TempDir(), backupctl, append(args[1:], "--help")...)
	if err != nil {
		t.Fatalf("backupctl %s --help: %v\n%s", strings.Join(args[1:], " "), err, out)
	}
}

func TestVerifyUnitSecurity(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	path := repoFile(t, verifyService)
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

// TestVerifyUnitSettings checks what the drill relies on: a oneshot run as
// its own user with the identity as a credential, and a weekly timer that
// catches up and spreads its start, well within the 8 days of the
// PgtierVerifyStale alert.
func TestVerifyUnitSettings(t *testing.T) {
	for file, want := range map[string]map[string]string{
		verifyService: {
			"Type":        "oneshot",
			"User":        "pgtier-verify",
			"Environment": "PGTIER_IDENTITY=%d/identity",
			"UMask":       "0077",
		},
		verifyTimer: {
			"OnCalendar":         "Sun *-*-* 03:00:00",
			"Persistent":         "true",
			"RandomizedDelaySec": "4h",
			"Unit":               "pgtier-verify.service",
		},
	} {
		for key, value := range want {
			if got := setting(t, file, key); got != value {
				t.Errorf("%s: %s=%s, want %s", file, key, got, value)
			}
		}
	}
	if got := setting(t, verifyService, "LoadCredential"); !strings.HasPrefix(got, "identity:") {
		t.Errorf("%s: the first LoadCredential=%s, want the identity", verifyService, got)
	}
	if !strings.Contains(setting(t, verifyTimer, "WantedBy"), "timers.target") {
		t.Errorf("%s is not wanted by timers.target", verifyTimer)
	}
}

// setting returns the value of the first uncommented key= line of a unit
// file, or "".
func setting(t *testing.T, file, key string) string {
	t.Helper()
	for _, line := range strings.Split(string(readRepoFile(t, file)), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			return v
		}
	}
	return ""
}

// splitCommand splits a command line as systemd does for the arguments the
// drill unit uses: words separated by spaces, double quotes around a word
// with spaces.
func splitCommand(t *testing.T, line string) []string {
	t.Helper()
	var args []string
	var word strings.Builder
	quoted, inWord := false, false
	for _, c := range line {
		switch {
		case c == '"':
			quoted, inWord = !quoted, true
		case c == ' ' && !quoted:
			if inWord {
				args = append(args, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quotes in %q", line)
	}
	if inWord {
		args = append(args, word.String())
	}
	return args
}
