package snapshot_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgtier/pgtier/snapshot"
	"github.com/pgtier/pgtier/test/harness"
)

const (
	rightPassword = "Right-Pa55word-9137"
	wrongPassword = "Wrong-Pa55word-2468"
)

// passwordRole makes a login role that must give rightPassword over TCP and
// the socket (the harness cluster trusts everyone else), and returns its
// name. The role and the pg_hba.conf lines go when t ends.
func passwordRole(t *testing.T, pg *harness.Postgres) string {
	t.Helper()
	role := strings.TrimPrefix(pg.NewDB(t), "t_") + "_pw"
	pg.Exec(t, "postgres", `CREATE ROLE `+role+` LOGIN PASSWORD '`+rightPassword+`'`)
	hba := pg.QueryString(t, "postgres", `SHOW hba_file`)
	orig, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	lines := "host all " + role + " 127.0.0.1/32 scram-sha-256\nlocal all " + role + " scram-sha-256\n"
	if err := os.WriteFile(hba, append([]byte(lines), orig...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(hba, orig, 0o600); err != nil {
			t.Errorf("restoring %s: %v", hba, err)
		}
		cleanupExec(t, pg, "postgres", `SELECT pg_reload_conf()`)
		cleanupExec(t, pg, "postgres", `DROP ROLE IF EXISTS `+role)
	})
	pg.Exec(t, "postgres", `SELECT pg_reload_conf()`)

	// The reload is asynchronous: wait until the role is refused without
	// its password.
	cfg, err := pgx.ParseConfig(pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = role
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := pgx.ConnectConfig(ctx(t), cfg)
		if err != nil {
			break
		}
		c.Close(context.Background())
		if time.Now().After(deadline) {
			t.Fatal("pg_hba.conf change not in effect after 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return role
}

func TestPasswords(t *testing.T) {
	pg := harness.PG(t)
	tl := tools(t, pg)
	role := passwordRole(t, pg)
	good := conn(pg, "postgres")
	good.User, good.Password = role, rightPassword
	socket := good
	socket.Host = pg.SocketDir

	// The right password works for pgx and for the tools, over TCP and the
	// socket.
	sysID := pg.QueryString(t, "postgres", `SELECT system_identifier::text FROM pg_control_system()`)
	for _, c := range []snapshot.Conn{good, socket} {
		info, err := snapshot.Preflight(ctx(t), c)
		if err != nil {
			t.Errorf("Preflight(%v) = %v", c, err)
		}
		// A plain role may or may not read pg_control_system().
		if info.SystemID != "" && info.SystemID != sysID {
			t.Errorf("Preflight(%v) system id %q, want %q or none", c, info.SystemID, sysID)
		}
		t.Logf("system id seen by a plain role: %q", info.SystemID)
		if n := dumpBytes(t, tl, c); n == 0 {
			t.Errorf("Dump(%v) wrote nothing", c)
		}
	}
	if s := good.String(); strings.Contains(s, rightPassword) {
		t.Errorf("String() = %q shows the password", s)
	}

	// The tools do not take a password from the daemon's own environment.
	t.Setenv("PGPASSWORD", rightPassword)
	t.Setenv("PGUSER", role)
	none := good
	none.Password = ""
	checkFails(t, "no password: Preflight", mustErr(snapshot.Preflight(ctx(t), none)))
	checkFails(t, "no password: Dump", dumpErr(t, tl, none))
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGUSER", "")

	// A wrong password: every error says so without showing either one.
	bad := good
	bad.Password = wrongPassword
	checkFails(t, "Preflight", mustErr(snapshot.Preflight(ctx(t), bad)))
	checkFails(t, "Preflight over the socket", mustErr(snapshot.Preflight(ctx(t), withHost(bad, pg.SocketDir))))
	checkFails(t, "ListDatabases", mustErr(snapshot.ListDatabases(ctx(t), bad, []string{"*"})))
	checkFails(t, "TableCounts", mustErr(snapshot.TableCounts(ctx(t), bad)))
	checkFails(t, "DatabaseExists", mustErr(snapshot.DatabaseExists(ctx(t), bad, "postgres")))
	checkFails(t, "CreateDatabase", snapshot.CreateDatabase(ctx(t), bad, "never_created"))
	checkFails(t, "DropDatabase", snapshot.DropDatabase(ctx(t), bad, "never_created"))
	checkFails(t, "Dump", dumpErr(t, tl, bad))
	_, err := snapshot.DumpGlobals(ctx(t), tl, bad)
	checkFails(t, "DumpGlobals", err)
	data := archive(t, tl, pg, "postgres")
	checkFails(t, "Restore", snapshot.Restore(ctx(t), tl, bad, bytes.NewReader(data), snapshot.RestoreOptions{}))
}

func withHost(c snapshot.Conn, host string) snapshot.Conn {
	c.Host = host
	return c
}

func mustErr[T any](_ T, err error) error { return err }

// dumpBytes dumps c and returns the archive's size, failing t on error.
func dumpBytes(t *testing.T, tl snapshot.Tools, c snapshot.Conn) int64 {
	t.Helper()
	s, err := snapshot.Dump(ctx(t), tl, c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := io.Copy(io.Discard, s)
	if err != nil {
		t.Errorf("Dump(%v): %v", c, err)
	}
	return n
}

// dumpErr dumps c and returns the error of reading the archive.
func dumpErr(t *testing.T, tl snapshot.Tools, c snapshot.Conn) error {
	t.Helper()
	s, err := snapshot.Dump(ctx(t), tl, c)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = io.Copy(io.Discard, s)
	return err
}

// checkFails checks that err is an authentication failure that shows no
// password.
func checkFails(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	msg := err.Error()
	if strings.Contains(msg, rightPassword) || strings.Contains(msg, wrongPassword) {
		t.Errorf("%s: error shows a password: %s", what, msg)
	}
	if !strings.Contains(msg, "password authentication failed") && !strings.Contains(msg, "no password supplied") {
		t.Errorf("%s: error does not say the login failed: %s", what, msg)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: error spans lines: %q", what, msg)
	}
	t.Logf("%s: %s", what, msg)
}
