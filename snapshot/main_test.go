package snapshot_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgtier/pgtier/snapshot"
	"github.com/pgtier/pgtier/test/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// conn names database db of the harness cluster as its superuser.
func conn(pg *harness.Postgres, db string) snapshot.Conn {
	return snapshot.Conn{Host: pg.Host, Port: pg.Port, User: pg.User, SSLMode: "disable", Database: db}
}

// ctx is a context for one test, bounded so that a hung tool fails the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// tools finds the client tools of the harness cluster.
func tools(t *testing.T, pg *harness.Postgres) snapshot.Tools {
	t.Helper()
	info, err := snapshot.Preflight(ctx(t), conn(pg, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	tl, err := snapshot.FindTools(pg.BinDir, info.Major)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// cleanupExec runs sql in db from a t.Cleanup function (t.Context is done
// by then); failures are logged.
func cleanupExec(t *testing.T, pg *harness.Postgres, db, sql string) {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pc, err := pgx.Connect(c, pg.DSN(db))
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer pc.Close(c)
	if _, err := pc.Exec(c, sql); err != nil {
		t.Logf("cleanup: %s: %v", sql, err)
	}
}

// sorted returns its arguments sorted.
func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
