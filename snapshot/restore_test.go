package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pgtier/pgtier/snapshot"
	"github.com/pgtier/pgtier/test/harness"
)

// archive dumps db into memory.
func archive(t *testing.T, tl snapshot.Tools, pg *harness.Postgres, db string) []byte {
	t.Helper()
	s, err := snapshot.Dump(ctx(t), tl, conn(pg, db))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// countingReader counts the bytes read through it and can fail after a
// number of them.
type countingReader struct {
	r      io.Reader
	n      int64
	failAt int64 // 0: never
	err    error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.failAt > 0 {
		if c.n >= c.failAt {
			return 0, c.err
		}
		if left := c.failAt - c.n; int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestRestoreOptions(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	src := pg.NewDB(t)
	role := strings.TrimPrefix(src, "t_") + "_owner"
	pg.Exec(t, "postgres", `CREATE ROLE `+role)
	t.Cleanup(func() {
		cleanupExec(t, pg, "postgres", `DROP DATABASE IF EXISTS `+src+` WITH (FORCE)`)
		cleanupExec(t, pg, "postgres", `DROP ROLE IF EXISTS `+role)
	})
	pg.Exec(t, src, `CREATE TABLE owned (id int); ALTER TABLE owned OWNER TO `+role+`;
		GRANT SELECT ON owned TO PUBLIC; INSERT INTO owned VALUES (1), (2)`)
	data := archive(t, tl, pg, src)

	dst := newTarget(t, pg)
	r := &countingReader{r: bytes.NewReader(data)}
	o := snapshot.RestoreOptions{NoOwner: true, NoPrivileges: true, SingleTransaction: true}
	if err := snapshot.Restore(ctx(t), tl, conn(pg, dst), r, o); err != nil {
		t.Fatal(err)
	}
	if r.n != int64(len(data)) {
		t.Errorf("Restore read %d of %d bytes", r.n, len(data))
	}
	if owner := pg.QueryString(t, dst, `SELECT tableowner::text FROM pg_tables WHERE tablename = 'owned'`); owner != pg.User {
		t.Errorf("owner with NoOwner = %q, want %q", owner, pg.User)
	}
	if acl := pg.QueryString(t, dst, `SELECT coalesce(relacl::text, '') FROM pg_class WHERE relname = 'owned'`); acl != "" {
		t.Errorf("acl with NoPrivileges = %q, want none", acl)
	}
	if n := pg.QueryInt(t, dst, `SELECT count(*) FROM owned`); n != 2 {
		t.Errorf("restored %d rows, want 2", n)
	}

	// Into a database that already has the table: the first error stops it.
	err := snapshot.Restore(ctx(t), tl, conn(pg, dst), bytes.NewReader(data), snapshot.RestoreOptions{})
	var te *snapshot.ToolError
	if !errors.As(err, &te) || te.Tool != "pg_restore" || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("restoring twice: %v, want a pg_restore error saying the table exists", err)
	}
}

func TestRestoreReaderFails(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	src := bigDB(t, pg)
	data := archive(t, tl, pg, src)
	dst := newTarget(t, pg)

	broken := errors.New("chunk 7 failed authentication")
	r := &countingReader{r: bytes.NewReader(data), failAt: int64(len(data) / 2), err: broken}
	err := snapshot.Restore(ctx(t), tl, conn(pg, dst), r, snapshot.RestoreOptions{})
	if !errors.Is(err, broken) {
		t.Fatalf("Restore from a failing reader = %v, want it to wrap %v", err, broken)
	}

	// The error at the very end of the stream counts too.
	dst2 := newTarget(t, pg)
	r = &countingReader{r: bytes.NewReader(data), failAt: int64(len(data)), err: broken}
	err = snapshot.Restore(ctx(t), tl, conn(pg, dst2), r, snapshot.RestoreOptions{})
	if !errors.Is(err, broken) {
		t.Fatalf("Restore from a reader failing at its end = %v, want it to wrap %v", err, broken)
	}
}

func TestRestoreFromFailedDump(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	dst := newTarget(t, pg)
	s, err := snapshot.Dump(ctx(t), tl, conn(pg, "no_such_database_either"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = snapshot.Restore(ctx(t), tl, conn(pg, dst), s, snapshot.RestoreOptions{})
	if err == nil || !strings.Contains(err.Error(), `"no_such_database_either" does not exist`) {
		t.Errorf("Restore of a failed dump = %v, want the dump's error", err)
	}
}

func TestListArchive(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	src := pg.NewDB(t)
	loadVaried(t, pg, src)
	data := archive(t, tl, pg, src)

	r := &countingReader{r: bytes.NewReader(data)}
	n, err := snapshot.ListArchive(ctx(t), tl, r)
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Errorf("ListArchive = %d entries, want at least 20", n)
	}
	if r.n != int64(len(data)) {
		t.Errorf("ListArchive read %d of %d bytes", r.n, len(data))
	}

	broken := errors.New("sha-256 mismatch")
	_, err = snapshot.ListArchive(ctx(t), tl, &countingReader{r: bytes.NewReader(data), failAt: int64(len(data)), err: broken})
	if !errors.Is(err, broken) {
		t.Errorf("ListArchive of a failing reader = %v, want it to wrap %v", err, broken)
	}

	_, err = snapshot.ListArchive(ctx(t), tl, strings.NewReader("this is not a pg_dump archive at all"))
	var te *snapshot.ToolError
	if !errors.As(err, &te) || te.ExitCode() != 1 {
		t.Errorf("ListArchive of garbage = %v, want a pg_restore error", err)
	}
	t.Logf("garbage: %v", err)
}

func TestRestoreCancelled(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	dst := newTarget(t, pg)
	// A reader that never delivers, like a stalled download.
	pr, pw := io.Pipe()
	defer pw.Close()
	c, cancel := context.WithTimeout(ctx(t), time.Second)
	defer cancel()
	start := time.Now()
	err := snapshot.Restore(c, tl, conn(pg, dst), pr, snapshot.RestoreOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Restore from a stalled reader = %v, want the context's error", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Restore returned %v after the context ended", d)
	}
}
