package iam

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgtier/pgtier/snapshot"
	"github.com/pgtier/pgtier/test/harness"
)

// roleSQL runs configs/postgres/role.sql in db, as the README says to.
func roleSQL(t *testing.T, pg *harness.Postgres, db string) {
	t.Helper()
	sql, err := os.ReadFile(filepath.Join(harness.Root(t), "configs", "postgres", "role.sql"))
	if err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, db, string(sql))
}

// asBackupd connects to db as the role backupd.
func asBackupd(t *testing.T, pg *harness.Postgres, db string) *pgx.Conn {
	t.Helper()
	dsn := strings.Replace(pg.DSN(db), "//"+pg.User+"@", "//backupd@", 1)
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// sqlState returns the SQLSTATE of err, "" when it has none.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// runTool runs one of the server's client programs as the role backupd.
func runTool(t *testing.T, pg *harness.Postgres, tool string, args ...string) (string, error) {
	t.Helper()
	args = append([]string{"-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-U", "backupd", "--no-password"}, args...)
	cmd := exec.CommandContext(t.Context(), filepath.Join(pg.BinDir, tool), args...)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestBackupRole(t *testing.T) {
	pg := harness.PG(t)
	roleSQL(t, pg, "postgres")
	roleSQL(t, pg, "postgres") // again: harmless
	db := pg.NewDB(t)
	varied, err := os.ReadFile(filepath.Join(harness.Root(t), "test", "testdata", "varied.sql"))
	if err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, db, string(varied))
	// Objects made after the role still count, in a schema it was never
	// granted.
	pg.Exec(t, db, `CREATE SCHEMA later; CREATE TABLE later.t AS SELECT 1 AS n; REVOKE ALL ON SCHEMA later FROM PUBLIC`)

	// The role holds pg_read_all_data and no attribute beyond LOGIN.
	var attrs string
	pg.QueryRow(t, "postgres", `SELECT concat_ws(',',
		CASE WHEN rolsuper THEN 'superuser' END, CASE WHEN rolcreatedb THEN 'createdb' END,
		CASE WHEN rolcreaterole THEN 'createrole' END, CASE WHEN rolreplication THEN 'replication' END,
		CASE WHEN rolbypassrls THEN 'bypassrls' END, CASE WHEN rolcanlogin THEN 'login' END,
		(SELECT string_agg(b.rolname, ',' ORDER BY b.rolname) FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = r.oid))
		FROM pg_roles r WHERE rolname = 'backupd'`, nil, &attrs)
	if attrs != "login,pg_read_all_data" {
		t.Errorf("backupd has %s, want login,pg_read_all_data", attrs)
	}

	// Large objects need their own grant before PostgreSQL 19: without it
	// pg_dump stops, it does not skip them.
	archive := filepath.Join(t.TempDir(), "db.dump")
	out, err := runTool(t, pg, "pg_dump", "--format=custom", "--file="+archive, "--dbname="+db)
	if pg.QueryInt(t, db, "SELECT current_setting('server_version_num')::int") < 190000 &&
		(err == nil || !strings.Contains(out, "permission denied for large object 424242")) {
		t.Errorf("pg_dump as backupd of a large object without its grant: %v\n%s", err, out)
	}
	roleSQL(t, pg, db)

	// pg_dump as backupd, into a file, then list it.
	if out, err := runTool(t, pg, "pg_dump", "--format=custom", "--file="+archive, "--dbname="+db); err != nil {
		t.Fatalf("pg_dump as backupd: %v\n%s", err, out)
	}
	list, err := exec.CommandContext(t.Context(), filepath.Join(pg.BinDir, "pg_restore"), "--list", archive).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_restore --list: %v\n%s", err, list)
	}
	for _, entry := range []string{"TABLE DATA sales customers", "TABLE DATA sales orders_2026", "TABLE DATA public canary",
		"TABLE DATA later t", "BLOBS", "SEQUENCE SET sales invoice_numbers", "MATERIALIZED VIEW DATA sales revenue_by_month"} {
		if !strings.Contains(string(list), entry) {
			t.Errorf("the dump has no %q", entry)
		}
	}
	if out, err := runTool(t, pg, "pg_dumpall", "--globals-only", "--dbname=dbname="+db); err != nil {
		t.Errorf("pg_dumpall --globals-only as backupd: %v\n%s", err, out)
	} else if !strings.Contains(out, "CREATE ROLE backupd") {
		t.Errorf("the globals dump has no role backupd:\n%s", out)
	}

	// What pgtier's preflight reads.
	info, err := snapshot.Preflight(t.Context(), snapshot.Conn{Host: pg.Host, Port: pg.Port, User: "backupd", SSLMode: "disable", Database: db})
	if err != nil {
		t.Fatal(err)
	}
	if info.SystemID == "" || info.DatabaseSize == 0 {
		t.Errorf("preflight as backupd: %+v", info)
	}
	t.Logf("PostgreSQL %s: as backupd, system identifier %q", info.Version, info.SystemID)

	// It writes nothing: sessions are read-only, and without that setting
	// the privileges are missing.
	c := asBackupd(t, pg, db)
	for _, tc := range []struct{ sql, state string }{
		{`INSERT INTO public.canary VALUES ('x')`, "25006"},
		{`SET default_transaction_read_only = off`, ""},
		{`INSERT INTO public.canary VALUES ('x')`, "42501"},
		{`UPDATE sales.customers SET name = 'x'`, "42501"},
		{`DELETE FROM sales.orders`, "42501"},
		{`TRUNCATE public.canary`, "42501"},
		{`CREATE TABLE public.mine (n int)`, "42501"},
		{`DROP TABLE public.canary`, "42501"},
		{`SELECT lo_unlink(424242)`, "42501"},
		{`CREATE DATABASE mine`, "42501"},
		{`CREATE ROLE mine`, "42501"},
		{`SELECT count(*) FROM pg_authid`, ""},
		{`SELECT system_identifier FROM pg_control_system()`, ""},
	} {
		_, err := c.Exec(t.Context(), tc.sql)
		if got := sqlState(err); got != tc.state || (tc.state == "" && err != nil) {
			t.Errorf("%s as backupd: %v (SQLSTATE %q), want SQLSTATE %q", tc.sql, err, got, tc.state)
		}
	}
}

func TestBackupRoleRowSecurity(t *testing.T) {
	pg := harness.PG(t)
	roleSQL(t, pg, "postgres")
	db := pg.NewDB(t)
	pg.Exec(t, db, `CREATE TABLE tenants (id int, tenant text);
		INSERT INTO tenants VALUES (1, 'a'), (2, 'b');
		ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
		CREATE POLICY own ON tenants USING (tenant = current_user)`)
	out, err := runTool(t, pg, "pg_dump", "--format=custom", "--file="+filepath.Join(t.TempDir(), "db.dump"), "--dbname="+db)
	if err == nil || !strings.Contains(out, "row-level security") {
		t.Fatalf("pg_dump of a table with row level security: %v\n%s", err, out)
	}
	// The fix the role file gives.
	pg.Exec(t, "postgres", `ALTER ROLE backupd BYPASSRLS`)
	defer pg.Exec(t, "postgres", `ALTER ROLE backupd NOBYPASSRLS`)
	if out, err := runTool(t, pg, "pg_dump", "--format=custom", "--file="+filepath.Join(t.TempDir(), "db.dump"), "--dbname="+db); err != nil {
		t.Fatalf("pg_dump with BYPASSRLS: %v\n%s", err, out)
	}
}
