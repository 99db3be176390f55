package snapshot

import (
	"context"
	"fmt"
)

// lockWaitTimeout is pg_dump's --lock-wait-timeout. pg_dump takes a shared
// lock on every table it dumps when it starts; a session holding an
// exclusive lock (a long ALTER TABLE, VACUUM FULL) would make it wait, and
// every later query on that table would queue behind pg_dump. After two
// minutes the dump fails instead, and the next scheduled run tries again.
const lockWaitTimeout = "120s"

// Dump starts pg_dump of c.Database in the custom archive format, without
// compression (pgtier compresses the stream itself):
//
//	pg_dump --format=custom --compress=0 --no-password --lock-wait-timeout=120s
//
// The returned Stream reads the archive as pg_dump writes it; its error
// (from the last Read or from Wait) says whether the dump is complete.
// Cancelling ctx kills pg_dump. The caller must Close the Stream.
func Dump(ctx context.Context, t Tools, c Conn) (*Stream, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("starting pg_dump: %w", err)
	}
	if t.PgDump == "" {
		return nil, fmt.Errorf("starting pg_dump on database %q: no pg_dump (use FindTools)", c.Database)
	}
	args := []string{
		"--format=custom",
		"--compress=0",
		"--no-password",
		"--lock-wait-timeout=" + lockWaitTimeout,
		dbnameArg(c.Database),
	}
	return startStream(ctx, c, "pg_dump", t.PgDump, args)
}

// DumpGlobals starts pg_dumpall --globals-only, which writes the roles,
// role settings and tablespaces of the server as an SQL script, connecting
// first to c.Database. Role passwords are included only when the role of c
// may read pg_authid (a superuser); otherwise --no-role-passwords is added,
// since pg_dumpall would fail without it, and the roles are dumped without
// their passwords. The Stream behaves as Dump's.
func DumpGlobals(ctx context.Context, t Tools, c Conn) (*Stream, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("starting pg_dumpall: %w", err)
	}
	if t.PgDumpAll == "" {
		return nil, fmt.Errorf("starting pg_dumpall on database %q: no pg_dumpall (use FindTools)", c.Database)
	}
	withPasswords, err := canReadAuthID(ctx, c)
	if err != nil {
		return nil, err
	}
	args := []string{
		"--globals-only",
		"--no-password",
		"--database=dbname=" + quoteConnValue(c.Database),
	}
	if !withPasswords {
		args = append(args, "--no-role-passwords")
	}
	return startStream(ctx, c, "pg_dumpall", t.PgDumpAll, args)
}

// canReadAuthID reports whether the role of c may read pg_authid, where
// the password hashes are.
func canReadAuthID(ctx context.Context, c Conn) (bool, error) {
	conn, err := connect(ctx, c)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	err = conn.QueryRow(ctx, `SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT')`).Scan(&ok)
	if err != nil {
		return false, c.redact(fmt.Errorf("checking access to pg_authid on %s: %w", c.addr(), err))
	}
	return ok, nil
}
