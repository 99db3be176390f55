package restore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/snapshot"
)

const (
	// toolWaitDelay bounds how long a killed tool's pipes are waited for.
	toolWaitDelay = 5 * time.Second
	// toolStderrMax is how much of a tool's stderr is kept for messages.
	toolStderrMax = 4 << 10
	// namesShown is how many table names a message lists before "...".
	namesShown = 3
)

// Archive is what a drill read from an archive's table of contents
// (pg_restore --list).
type Archive struct {
	// Entries is the number of entries in the table of contents.
	Entries int `json:"entries"`
	// TableData is the number of TABLE DATA entries: tables whose rows the
	// archive holds.
	TableData int `json:"table_data"`
}

// toc is a parsed pg_restore --list output. tables and data hold, for each
// TABLE and TABLE DATA entry, "schema table owner" as pg_restore prints it.
type toc struct {
	entries int
	tables  []string
	data    []string
}

// parseTOC reads pg_restore --list output. An entry line reads
// "ID; TABLEOID OID DESC SCHEMA NAME OWNER"; lines starting with ";" are
// comments.
func parseTOC(out []byte) toc {
	var t toc
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || line[0] == ';' {
			continue
		}
		t.entries++
		_, rest, ok := strings.Cut(line, "; ")
		if !ok {
			continue
		}
		fields := strings.SplitN(rest, " ", 3) // tableoid, oid, desc and the rest
		if len(fields) < 3 {
			continue
		}
		desc := fields[2]
		switch {
		case strings.HasPrefix(desc, "TABLE DATA "):
			t.data = append(t.data, strings.TrimPrefix(desc, "TABLE DATA "))
		case strings.HasPrefix(desc, "TABLE ATTACH "):
		case strings.HasPrefix(desc, "TABLE "):
			t.tables = append(t.tables, strings.TrimPrefix(desc, "TABLE "))
		}
	}
	return t
}

// nameSet indexes "schema table owner" strings by "schema table".
type nameSet struct {
	exact map[string]bool
	all   []string
}

func newNameSet(entries []string) nameSet {
	s := nameSet{exact: make(map[string]bool, len(entries)), all: entries}
	for _, e := range entries {
		if i := strings.LastIndexByte(e, ' '); i >= 0 {
			s.exact[e[:i]] = true
		}
	}
	return s
}

// has reports whether an entry names schema.table. Names are matched as
// pg_restore prints them, unquoted, so a name holding spaces may match
// another table's entry; such names are rare and the effect is a check that
// is too lenient, never a false failure.
func (s nameSet) has(schema, table string) bool {
	key := schema + " " + table
	if s.exact[key] {
		return true
	}
	for _, e := range s.all {
		if strings.HasPrefix(e, key+" ") {
			return true
		}
	}
	return false
}

// compareArchive checks that the archive holds the rows of every table the
// manifest counted: each such table the archive defines must have a TABLE
// DATA entry. Tables the archive does not define at all are created by
// their extension on restore (or were dropped while the backup ran); they
// are reported, not failed.
func compareArchive(tables []catalog.TableCount, t toc) Check {
	defined, data := newNameSet(t.tables), newNameSet(t.data)
	var missing, undefined []string
	for _, tc := range tables {
		name := tc.Schema + "." + tc.Table
		switch {
		case data.has(tc.Schema, tc.Table):
		case defined.has(tc.Schema, tc.Table):
			missing = append(missing, name)
		default:
			undefined = append(undefined, name)
		}
	}
	detail := fmt.Sprintf("%d entries; table data for %d tables, %d counted in the manifest", t.entries, len(t.data), len(tables))
	if len(undefined) > 0 {
		detail += fmt.Sprintf("; %d counted tables are not defined in the archive (extension tables, or dropped during the backup): %s",
			len(undefined), someNames(undefined))
	}
	if len(missing) > 0 {
		return Check{Name: CheckArchive, Result: ResultFail,
			Detail: fmt.Sprintf("the archive defines %d tables of the manifest without their data: %s (%s)", len(missing), someNames(missing), detail)}
	}
	return Check{Name: CheckArchive, Result: ResultPass, Detail: detail}
}

// someNames lists the first few names.
func someNames(names []string) string {
	if len(names) <= namesShown {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:namesShown], ", ") + fmt.Sprintf(" and %d more", len(names)-namesShown)
}

// lister runs pg_restore --list on what is written to it. Writes never
// fail: once pg_restore has read the table of contents it exits, and the
// rest of the archive is dropped here, so the same stream can feed a
// restore at the same time.
type lister struct {
	cmd    *exec.Cmd
	in     *os.File
	out    bytes.Buffer
	stderr tail
	werr   error
}

// startLister starts pg_restore --list --format=custom reading from the
// returned lister. It connects to no database.
func startLister(ctx context.Context, tools snapshot.Tools) (*lister, error) {
	if tools.PgRestore == "" {
		return nil, fmt.Errorf("starting pg_restore --list: no pg_restore (use FindTools)")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting pg_restore --list: %w", err)
	}
	l := &lister{in: pw}
	l.cmd = exec.CommandContext(ctx, tools.PgRestore, "--list", "--format=custom")
	l.cmd.Env = withoutPG(os.Environ())
	l.cmd.Stdin, l.cmd.Stdout, l.cmd.Stderr = pr, &l.out, &l.stderr
	l.cmd.WaitDelay = toolWaitDelay
	if err := l.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("starting pg_restore --list: %w", err)
	}
	pr.Close()
	return l, nil
}

func (l *lister) Write(p []byte) (int, error) {
	if l.werr == nil {
		_, l.werr = l.in.Write(p)
	}
	return len(p), nil
}

// wait ends the input and returns the parsed listing.
func (l *lister) wait() (toc, error) {
	l.in.Close()
	if err := l.cmd.Wait(); err != nil {
		return toc{}, &snapshot.ToolError{Tool: "pg_restore --list", Err: err, Stderr: l.stderr.String()}
	}
	return parseTOC(l.out.Bytes()), nil
}

// withoutPG returns env without the PG* variables, so that a tool reads
// its settings from its arguments and the variables set after this.
func withoutPG(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PG") {
			out = append(out, kv)
		}
	}
	return out
}

// tail keeps the last toolStderrMax bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - toolStderrMax; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
