package ops

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct{ cmd, args string }

// dockerfile returns the instructions of the repository's Dockerfile.
func dockerfile(t *testing.T) []instruction {
	t.Helper()
	var ins []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(readRepoFile(t, "Dockerfile")), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if more, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		ins = append(ins, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return ins
}

// stages splits instructions at each FROM.
func stages(ins []instruction) [][]instruction {
	var st [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			st = append(st, nil)
		}
		if len(st) > 0 {
			st[len(st)-1] = append(st[len(st)-1], in)
		}
	}
	return st
}

func find(st []instruction, cmd string) []string {
	var args []string
	for _, in := range st {
		if in.cmd == cmd {
			args = append(args, in.args)
		}
	}
	return args
}

func TestDockerfileBuildStage(t *testing.T) {
	st := stages(dockerfile(t))
	if len(st) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, runtime)", len(st))
	}
	build := st[0]
	goVersion := goModVersion(t)
	if from := build[0].args; !strings.HasPrefix(from, "golang:"+goVersion+"-") {
		t.Errorf("build stage FROM %s: want the golang:%s image, the Go version go.mod asks for", from, goVersion)
	}
	runs := strings.Join(find(build, "RUN"), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=", "./cmd/backupd", "./cmd/backupctl"} {
		if !strings.Contains(runs, want) {
			t.Errorf("build stage: no %q in its RUN lines", want)
		}
	}
	// -X silently does nothing when the variable is missing.
	for _, main := range []string{"cmd/backupd/main.go", "cmd/backupctl/main.go"} {
		if !regexp.MustCompile(`(?m)^var version string`).Match(readRepoFile(t, main)) {
			t.Errorf("%s has no `var version string` for -X main.version", main)
		}
	}
}

func TestDockerfileRuntimeStage(t *testing.T) {
	st := stages(dockerfile(t))
	if len(st) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, runtime)", len(st))
	}
	rt := st[1]
	if from := rt[0].args; !strings.HasPrefix(from, "debian:") {
		t.Errorf("runtime stage FROM %s, want a debian image", from)
	}
	if !slices.Contains(find(rt, "ARG"), "PG_MAJOR=15") {
		t.Errorf("runtime stage: no ARG PG_MAJOR=15 stating the PostgreSQL client's major version")
	}
	runs := strings.Join(find(rt, "RUN"), "\n")
	for _, want := range []string{"postgresql-client-${PG_MAJOR}", "ca-certificates", "tzdata"} {
		if !strings.Contains(runs, want) {
			t.Errorf("runtime stage installs no %s", want)
		}
	}
	copies := strings.Join(find(rt, "COPY"), "\n")
	if !strings.Contains(copies, "--from=") || !strings.Contains(copies, "backupd") || !strings.Contains(copies, "backupctl") {
		t.Errorf("runtime stage does not copy backupd and backupctl from the build stage: COPY %s", copies)
	}
	users := find(rt, "USER")
	if len(users) == 0 {
		t.Fatal("runtime stage has no USER: it would run as root")
	}
	user, _, _ := strings.Cut(users[len(users)-1], ":")
	if user == "root" || user == "0" || user == "" {
		t.Errorf("runtime stage runs as USER %s, want a non-root user", users[len(users)-1])
	}
	if got := find(rt, "ENTRYPOINT"); !slices.Equal(got, []string{`["backupd"]`}) {
		t.Errorf("ENTRYPOINT %v, want [\"backupd\"]", got)
	}
	if got := find(rt, "CMD"); len(got) != 1 || !strings.Contains(got[0], `"--config"`) {
		t.Errorf("CMD %v, want the --config flag", got)
	}
}

func TestDockerignore(t *testing.T) {
	lines := strings.Split(string(readRepoFile(t, ".dockerignore")), "\n")
	for _, want := range []string{".git", "bin"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}

// goModVersion returns the major.minor Go version of go.mod's go line.
func goModVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(readRepoFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}
