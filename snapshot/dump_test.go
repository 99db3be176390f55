package snapshot_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgtier/pgtier/snapshot"
	"github.com/pgtier/pgtier/test/harness"
)

// loadVaried fills db with the shared fixture of varied objects and data.
func loadVaried(t *testing.T, pg *harness.Postgres, db string) {
	t.Helper()
	sql, err := os.ReadFile(filepath.Join(harness.Root(t), "test", "testdata", "varied.sql"))
	if err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, db, string(sql))
}

// bigDB makes a database whose dump is tens of MiB, so that a dump is still
// running when a test interrupts it.
func bigDB(t *testing.T, pg *harness.Postgres) string {
	t.Helper()
	db := pg.NewDB(t)
	pg.Exec(t, db, `CREATE TABLE big AS
		SELECT g, md5(g::text) || repeat('y', 100) AS pad FROM generate_series(1, 250000) g`)
	return db
}

// plainDump is the plain-text pg_dump of db without comments, blank lines
// and the random \restrict keys of newer pg_dump versions.
func plainDump(t *testing.T, tl snapshot.Tools, pg *harness.Postgres, db string) string {
	t.Helper()
	cmd := exec.Command(tl.PgDump, "--no-password", "--format=plain", "--dbname="+pg.DSN(db))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump %s: %v: %s", db, err, stderr.String())
	}
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" || strings.HasPrefix(l, "--") || strings.HasPrefix(l, `\restrict`) || strings.HasPrefix(l, `\unrestrict`) {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// newTarget creates an empty database with CreateDatabase and drops it when
// t ends. Its name holds the characters that quoting must get right.
func newTarget(t *testing.T, pg *harness.Postgres) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := `Restore "into" it's a=b\c ` + hex.EncodeToString(b[:])
	c := conn(pg, "postgres")
	if err := snapshot.CreateDatabase(ctx(t), c, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := snapshot.DropDatabase(context.Background(), c, name); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
	return name
}

func TestDumpRestoreRoundTrip(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	src := pg.NewDB(t)
	loadVaried(t, pg, src)
	dst := newTarget(t, pg)

	s, err := snapshot.Dump(ctx(t), tl, conn(pg, src))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var head bytes.Buffer
	in := io.TeeReader(s, &limitedWriter{w: &head, n: 5})
	if err := snapshot.Restore(ctx(t), tl, conn(pg, dst), in, snapshot.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if head.String() != "PGDMP" {
		t.Errorf("archive starts with %q, want PGDMP", head.String())
	}

	again := archive(t, tl, pg, dst)
	if n, err := snapshot.ListArchive(ctx(t), tl, bytes.NewReader(again)); err != nil || n < 20 {
		t.Errorf("listing the dump of the restored database: %d entries, %v", n, err)
	}

	if got, want := plainDump(t, tl, pg, dst), plainDump(t, tl, pg, src); got != want {
		t.Errorf("restored database differs from the source:\n%s", firstDiff(want, got))
	}
	srcCounts, err := snapshot.TableCounts(ctx(t), conn(pg, src))
	if err != nil {
		t.Fatal(err)
	}
	dstCounts, err := snapshot.TableCounts(ctx(t), conn(pg, dst))
	if err != nil {
		t.Fatal(err)
	}
	if len(srcCounts) == 0 || len(srcCounts) != len(dstCounts) {
		t.Fatalf("counts: source %+v, restored %+v", srcCounts, dstCounts)
	}
	for i := range srcCounts {
		if srcCounts[i] != dstCounts[i] {
			t.Errorf("count %+v, restored %+v", srcCounts[i], dstCounts[i])
		}
	}
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(l.n, len(p))
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// firstDiff shows where two texts part.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n- " + x + "\n+ " + y
		}
	}
	return "(same lines)"
}

func TestDumpMissingDatabase(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	s, err := snapshot.Dump(ctx(t), tl, conn(pg, "no_such_database_here"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := io.Copy(io.Discard, s)
	if err == nil {
		t.Fatalf("reading a dump of a missing database: %d bytes and no error", n)
	}
	if !strings.Contains(err.Error(), `"no_such_database_here" does not exist`) || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("error %q does not name the database and the exit status", err)
	}
	var te *snapshot.ToolError
	if !errors.As(err, &te) || te.ExitCode() != 1 || te.Tool != "pg_dump" {
		t.Errorf("error %#v is not a pg_dump ToolError with exit code 1", err)
	}
	if werr := s.Wait(); werr == nil || werr.Error() != err.Error() {
		t.Errorf("Wait() = %v, want %v", werr, err)
	}
}

func TestDumpStoppedByClose(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	db := bigDB(t, pg)
	s, err := snapshot.Dump(ctx(t), tl, conn(pg, db))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := s.Wait(); !errors.Is(err, snapshot.ErrStopped) {
		t.Errorf("Wait() after Close = %v, want ErrStopped", err)
	}
	if _, err := s.Read(make([]byte, 10)); err == nil || err == io.EOF {
		t.Errorf("Read after Close = %v, want an error", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

func TestDumpCancelled(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	db := bigDB(t, pg)
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	s, err := snapshot.Dump(c, tl, conn(pg, db))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := io.ReadFull(s, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.Copy(io.Discard, s); !errors.Is(err, context.Canceled) {
		t.Errorf("reading after cancel: %v, want context.Canceled", err)
	}
}

func TestDumpBackendTerminated(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	db := bigDB(t, pg)
	s, err := snapshot.Dump(ctx(t), tl, conn(pg, db))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := io.ReadFull(s, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	// The server ends pg_dump's session while it streams the table.
	n := pg.QueryInt(t, "postgres", `SELECT count(pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgtier'`, db)
	if n != 1 {
		t.Fatalf("terminated %d pgtier sessions, want 1", n)
	}
	_, err = io.Copy(io.Discard, s)
	var te *snapshot.ToolError
	if !errors.As(err, &te) || te.ExitCode() != 1 {
		t.Fatalf("reading after the session ended: %v, want a ToolError with exit status 1", err)
	}
	if !strings.Contains(err.Error(), "terminat") {
		t.Errorf("error %q does not say the session was terminated", err)
	}
}

func TestDumpGlobals(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	role := strings.TrimPrefix(pg.NewDB(t), "t_") + "_role"
	pg.Exec(t, "postgres", `CREATE ROLE `+role+` LOGIN PASSWORD 'Globals-Pa55'`)
	t.Cleanup(func() { cleanupExec(t, pg, "postgres", `DROP ROLE IF EXISTS `+role) })

	read := func(c snapshot.Conn) string {
		t.Helper()
		s, err := snapshot.DumpGlobals(ctx(t), tl, c)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		out, err := io.ReadAll(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	super := read(conn(pg, "postgres"))
	if !strings.Contains(super, "CREATE ROLE "+role) || !strings.Contains(super, "SCRAM-SHA-256$") {
		t.Errorf("superuser globals lack the role or its password:\n%s", super)
	}

	c := conn(pg, "postgres")
	c.User = role
	plain := read(c)
	if !strings.Contains(plain, "CREATE ROLE "+role) {
		t.Errorf("globals of a plain role lack the role:\n%s", plain)
	}
	if strings.Contains(plain, "SCRAM-SHA-256$") || strings.Contains(plain, "PASSWORD") {
		t.Errorf("globals of a plain role hold passwords:\n%s", plain)
	}
}
