package snapshot_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pgtier/pgtier/snapshot"
	"github.com/pgtier/pgtier/test/harness"
)

func TestPreflight(t *testing.T) {
	pg := harness.PG(t)
	db := pg.NewDB(t)
	pg.Exec(t, db, `CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 5000) g`)

	info, err := snapshot.Preflight(ctx(t), conn(pg, db))
	if err != nil {
		t.Fatal(err)
	}
	wantNum := pg.QueryInt(t, db, `SELECT current_setting('server_version_num')::int`)
	if int64(info.VersionNum) != wantNum || info.Major != int(wantNum/10000) {
		t.Errorf("version num %d major %d, server says %d", info.VersionNum, info.Major, wantNum)
	}
	if !strings.HasPrefix(info.Version, strconv.Itoa(info.Major)+".") || strings.Contains(info.Version, " ") {
		t.Errorf("version %q", info.Version)
	}
	if want := pg.QueryString(t, db, `SELECT system_identifier::text FROM pg_control_system()`); info.SystemID != want || want == "" {
		t.Errorf("system id %q, want %q", info.SystemID, want)
	}
	if info.InRecovery {
		t.Errorf("in recovery on a primary")
	}
	if size := pg.QueryInt(t, db, `SELECT pg_database_size(current_database())`); info.DatabaseSize < 1<<20 || info.DatabaseSize > size*2 {
		t.Errorf("database size %d, server says %d", info.DatabaseSize, size)
	}
}

func TestPreflightUnreachable(t *testing.T) {
	pg := harness.PG(t)
	c := conn(pg, "postgres")
	c.Port = 1 // nothing listens there
	_, err := snapshot.Preflight(ctx(t), c)
	want := "connecting to postgres at 127.0.0.1:1 db postgres: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %v, want it to start with %q", err, want)
	}
}

func TestPreflightSocket(t *testing.T) {
	pg := harness.PG(t)
	c := conn(pg, "postgres")
	c.Host = pg.SocketDir
	c.SSLMode = "verify-full" // ignored on sockets, as libpq does
	info, err := snapshot.Preflight(ctx(t), c)
	if err != nil {
		t.Fatal(err)
	}
	if info.Major < 10 {
		t.Errorf("major %d", info.Major)
	}
}

func TestListDatabases(t *testing.T) {
	pg := harness.PG(t)
	a, b := pg.NewDB(t), pg.NewDB(t)
	noconn := pg.NewDB(t)
	pg.Exec(t, "postgres", `ALTER DATABASE `+noconn+` WITH ALLOW_CONNECTIONS false`)
	tmpl := pg.NewDB(t)
	pg.Exec(t, "postgres", `ALTER DATABASE `+tmpl+` WITH IS_TEMPLATE true`)
	t.Cleanup(func() { cleanupExec(t, pg, "postgres", `ALTER DATABASE `+tmpl+` WITH IS_TEMPLATE false`) })
	c := conn(pg, "postgres")

	all, err := snapshot.ListDatabases(ctx(t), c, []string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"postgres", a, b} {
		if !slices.Contains(all, want) {
			t.Errorf("* = %q, missing %s", all, want)
		}
	}
	for _, bad := range []string{"template0", "template1", noconn, tmpl} {
		if slices.Contains(all, bad) {
			t.Errorf("* = %q, includes %s", all, bad)
		}
	}
	if !slices.IsSorted(all) {
		t.Errorf("* = %q, not sorted", all)
	}

	got, err := snapshot.ListDatabases(ctx(t), c, []string{b, a, b, "*", a})
	if err != nil || !slices.Equal(got, all) {
		t.Errorf("names and * = %q, %v; want %q", got, err, all)
	}
	got, err = snapshot.ListDatabases(ctx(t), c, []string{b, a, b})
	if want := sorted(a, b); err != nil || !slices.Equal(got, want) {
		t.Errorf("names = %q, %v; want %q", got, err, want)
	}
	got, err = snapshot.ListDatabases(ctx(t), c, []string{"template1"})
	if err != nil || !slices.Equal(got, []string{"template1"}) {
		t.Errorf("explicit template1 = %q, %v", got, err)
	}

	_, err = snapshot.ListDatabases(ctx(t), c, []string{a, "no_such_db"})
	if err == nil || !strings.Contains(err.Error(), `"no_such_db" does not exist`) {
		t.Errorf("missing name: %v", err)
	}
	_, err = snapshot.ListDatabases(ctx(t), c, []string{noconn})
	if err == nil || !strings.Contains(err.Error(), "does not allow connections") {
		t.Errorf("no connections: %v", err)
	}
	_, err = snapshot.ListDatabases(ctx(t), c, []string{"nothing_like_this_*"})
	if err == nil || !strings.Contains(err.Error(), "no database matches") {
		t.Errorf("empty glob: %v", err)
	}
	if _, err = snapshot.ListDatabases(ctx(t), c, nil); err == nil {
		t.Errorf("no patterns: no error")
	}
}

func TestCreateDropDatabase(t *testing.T) {
	pg := harness.PG(t)
	c := conn(pg, "postgres")
	name := `Restore "target" ` + strconv.Itoa(pg.Port)
	t.Cleanup(func() { _ = snapshot.DropDatabase(context.Background(), c, name) })

	if ok, err := snapshot.DatabaseExists(ctx(t), c, name); err != nil || ok {
		t.Fatalf("exists before create: %v, %v", ok, err)
	}
	if err := snapshot.CreateDatabase(ctx(t), c, name); err != nil {
		t.Fatal(err)
	}
	if ok, err := snapshot.DatabaseExists(ctx(t), c, name); err != nil || !ok {
		t.Fatalf("exists after create: %v, %v", ok, err)
	}
	if err := snapshot.CreateDatabase(ctx(t), c, name); err == nil {
		t.Errorf("second create succeeded")
	}
	owner := pg.QueryString(t, "postgres", `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name)
	if owner != pg.User {
		t.Errorf("owner %q, want %q", owner, pg.User)
	}

	// A session still connected does not stop the drop.
	pg.Conn(t, name)
	if err := snapshot.DropDatabase(ctx(t), c, name); err != nil {
		t.Fatal(err)
	}
	if ok, err := snapshot.DatabaseExists(ctx(t), c, name); err != nil || ok {
		t.Fatalf("exists after drop: %v, %v", ok, err)
	}
	if err := snapshot.DropDatabase(ctx(t), c, name); err != nil {
		t.Errorf("dropping a missing database: %v", err)
	}
	if err := snapshot.CreateDatabase(ctx(t), c, strings.Repeat("x", 64)); err == nil {
		t.Errorf("64-byte name accepted")
	}
}

func TestTableCounts(t *testing.T) {
	pg := harness.PG(t)
	db := pg.NewDB(t)
	pg.Exec(t, db, `
		CREATE SCHEMA "Odd ""Schema""";
		CREATE TABLE "Odd ""Schema"""."Small Table" (id int);
		INSERT INTO "Odd ""Schema"""."Small Table" SELECT generate_series(1, 42);
		CREATE TABLE public.empty (id int);
		CREATE TABLE public.big (id int);
		INSERT INTO public.big SELECT generate_series(1, 150000);
		ANALYZE public.big;
		CREATE TABLE public.parted (id int, k int) PARTITION BY LIST (k);
		CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES IN (1);
		CREATE TABLE public.parted_2 PARTITION OF public.parted FOR VALUES IN (2);
		INSERT INTO public.parted SELECT g, 1 + g % 2 FROM generate_series(1, 11) g;
		CREATE UNLOGGED TABLE public.scratch (id int);
		INSERT INTO public.scratch VALUES (1), (2);
		CREATE VIEW public.v AS SELECT * FROM public.empty;
		CREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS one;
	`)
	got, err := snapshot.TableCounts(ctx(t), conn(pg, db))
	if err != nil {
		t.Fatal(err)
	}
	want := []snapshot.TableCount{
		{Schema: `Odd "Schema"`, Table: "Small Table", Rows: 42, Exact: true},
		{Schema: "public", Table: "big"},
		{Schema: "public", Table: "empty", Rows: 0, Exact: true},
		{Schema: "public", Table: "parted_1", Rows: 5, Exact: true},
		{Schema: "public", Table: "parted_2", Rows: 6, Exact: true},
		{Schema: "public", Table: "scratch", Rows: 2, Exact: true},
	}
	if len(got) != len(want) {
		t.Fatalf("counts = %+v\nwant %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if w.Table == "big" {
			if g.Schema != w.Schema || g.Table != w.Table || g.Exact || g.Rows < 140000 || g.Rows > 160000 {
				t.Errorf("big = %+v, want an estimate near 150000", g)
			}
			continue
		}
		if g != w {
			t.Errorf("counts[%d] = %+v, want %+v", i, g, w)
		}
	}
}
