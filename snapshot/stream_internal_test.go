package snapshot

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	b := newTailBuffer(16)
	b.Write([]byte("first line\nsecond line\n"))
	b.Write([]byte("third\n"))
	if got := b.String(); got != "third\n" && !strings.HasSuffix(got, "third\n") {
		t.Errorf("tail = %q", got)
	}
	if got := b.String(); strings.Contains(got, "first") {
		t.Errorf("tail kept old text: %q", got)
	}
	small := newTailBuffer(100)
	small.Write([]byte("one\ntwo\n"))
	if got := small.String(); got != "one\ntwo\n" {
		t.Errorf("untruncated tail = %q", got)
	}
}

func TestLastLines(t *testing.T) {
	if got := lastLines("a\n\n b \nc\nd\n", 2); got != "c; d" {
		t.Errorf("lastLines = %q", got)
	}
}

func TestToolError(t *testing.T) {
	err := exec.Command("sh", "-c", "exit 3").Run()
	te := &ToolError{Tool: "pg_dump", Database: "app", Err: err, Stderr: "pg_dump: error: password pw1 rejected\n", secret: "pw1"}
	want := `running pg_dump on database "app": exit status 3: pg_dump: error: password *** rejected`
	if got := te.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if te.ExitCode() != 3 {
		t.Errorf("ExitCode() = %d", te.ExitCode())
	}
	var ee *exec.ExitError
	if !errors.As(te, &ee) {
		t.Errorf("ToolError does not unwrap to *exec.ExitError")
	}
}

func TestLineCounter(t *testing.T) {
	out := ";\n; Archive created at x\n;\n215; 1259 16386 TABLE public t postgres\n3330; 0 16386 TABLE DATA public t postgres\n"
	var lc lineCounter
	// Feed it in awkward pieces.
	for i := 0; i < len(out); i += 7 {
		end := min(i+7, len(out))
		if n, err := lc.Write([]byte(out[i:end])); n != end-i || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if lc.entries != 2 {
		t.Errorf("entries = %d, want 2", lc.entries)
	}
}

func TestParseToolVersion(t *testing.T) {
	for out, want := range map[string]struct {
		v     string
		major int
	}{
		"pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n": {"15.18", 15},
		"pg_dump (PostgreSQL) 9.6.0\n":                          {"9.6.0", 9},
		"pg_restore (PostgreSQL) 17beta1\n":                     {"17beta1", 17},
		"pg_dump (PostgreSQL) 18devel":                          {"18devel", 18},
	} {
		v, major, err := parseToolVersion("x", out)
		if err != nil || v != want.v || major != want.major {
			t.Errorf("parseToolVersion(%q) = %q, %d, %v; want %q, %d", out, v, major, err, want.v, want.major)
		}
	}
	if _, _, err := parseToolVersion("x", "something else"); err == nil {
		t.Errorf("parseToolVersion accepted garbage")
	}
}
