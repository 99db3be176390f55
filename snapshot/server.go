package snapshot

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ServerInfo is what Preflight learns about a server.
type ServerInfo struct {
	// Version is the short server version, such as "15.4".
	Version string
	// VersionNum is server_version_num, such as 150004.
	VersionNum int
	// Major is the major version: 15 for 15.4, 9 for 9.6.
	Major int
	// SystemID is the cluster's system identifier, or "" when the role may
	// not read pg_control_system() (it needs superuser or pg_monitor on
	// some versions).
	SystemID string
	// InRecovery is true on a standby.
	InRecovery bool
	// DatabaseSize is pg_database_size of the connected database, in bytes.
	DatabaseSize int64
}

// Preflight connects to c and reads the server's version, system identifier,
// recovery state and the size of c.Database. It is read-only and safe to
// call at any time. A connection failure reads
// "connecting to postgres at HOST:PORT db D: ...".
func Preflight(ctx context.Context, c Conn) (ServerInfo, error) {
	conn, err := connect(ctx, c)
	if err != nil {
		return ServerInfo{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var info ServerInfo
	var version string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'),
		current_setting('server_version_num')::int,
		pg_is_in_recovery(),
		pg_database_size(current_database())`).
		Scan(&version, &info.VersionNum, &info.InRecovery, &info.DatabaseSize)
	if err != nil {
		return ServerInfo{}, c.redact(fmt.Errorf("reading server version from %s: %w", c.addr(), err))
	}
	info.Version = version
	if f := strings.Fields(version); len(f) > 0 {
		info.Version = f[0]
	}
	info.Major = info.VersionNum / 10000

	err = conn.QueryRow(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&info.SystemID)
	if err != nil {
		if !isPermissionDenied(err) {
			return ServerInfo{}, c.redact(fmt.Errorf("reading system identifier from %s: %w", c.addr(), err))
		}
		info.SystemID = ""
	}
	return info, nil
}

// isPermissionDenied reports whether err is SQLSTATE 42501.
func isPermissionDenied(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}

// ListDatabases resolves patterns to database names on the server of c,
// sorted and without duplicates. "*" (or any pattern with the glob
// characters of path.Match) matches every database that is not a template,
// allows connections and is valid; a pattern that matches nothing is an
// error. Any other entry is an exact name that must exist and allow
// connections, or the error names it. No patterns is an error.
func ListDatabases(ctx context.Context, c Conn, patterns []string) ([]string, error) {
	if len(patterns) == 0 {
		return nil, errors.New("listing databases: no database names or patterns given")
	}
	conn, err := connect(ctx, c)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	rows, err := conn.Query(ctx, `SELECT datname, datistemplate, datallowconn, datconnlimit <> -2
		FROM pg_database ORDER BY datname`)
	if err != nil {
		return nil, c.redact(fmt.Errorf("listing databases on %s: %w", c.addr(), err))
	}
	type dbRow struct {
		template, allowConn, valid bool
	}
	all := map[string]dbRow{}
	var names []string
	for rows.Next() {
		var name string
		var r dbRow
		if err := rows.Scan(&name, &r.template, &r.allowConn, &r.valid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("listing databases on %s: %w", c.addr(), err)
		}
		all[name] = r
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, c.redact(fmt.Errorf("listing databases on %s: %w", c.addr(), err))
	}

	seen := map[string]bool{}
	for _, p := range patterns {
		if strings.ContainsAny(p, `*?[\`) {
			matched := false
			for _, name := range names {
				r := all[name]
				if r.template || !r.allowConn || !r.valid {
					continue
				}
				ok, err := path.Match(p, name)
				if err != nil {
					return nil, fmt.Errorf("listing databases: bad pattern %q: %w", p, err)
				}
				if ok {
					seen[name], matched = true, true
				}
			}
			if !matched && p != "*" {
				return nil, fmt.Errorf("listing databases on %s: no database matches %q", c.addr(), p)
			}
			continue
		}
		r, ok := all[p]
		switch {
		case !ok:
			return nil, fmt.Errorf("listing databases on %s: database %q does not exist", c.addr(), p)
		case !r.allowConn || !r.valid:
			return nil, fmt.Errorf("listing databases on %s: database %q does not allow connections", c.addr(), p)
		}
		seen[p] = true
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// DatabaseExists reports whether database name exists on the server of c
// (connecting to c.Database).
func DatabaseExists(ctx context.Context, c Conn, name string) (bool, error) {
	conn, err := connect(ctx, c)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&ok)
	if err != nil {
		return false, c.redact(fmt.Errorf("looking up database %q on %s: %w", name, c.addr(), err))
	}
	return ok, nil
}

// CreateDatabase creates an empty database name from template0, owned by
// c.User, connecting to c.Database (the maintenance database). It fails if
// the database exists. It is not idempotent.
func CreateDatabase(ctx context.Context, c Conn, name string) error {
	if err := checkDatabaseName(name); err != nil {
		return fmt.Errorf("creating database: %w", err)
	}
	conn, err := connect(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE template0"
	if _, err := conn.Exec(ctx, sql); err != nil {
		return c.redact(fmt.Errorf("creating database %q on %s: %w", name, c.addr(), err))
	}
	return nil
}

// DropDatabase drops database name, connecting to c.Database. On PostgreSQL
// 13 and later it ends the sessions connected to it (WITH (FORCE)); before
// that it fails while any session is connected. Dropping a database that
// does not exist succeeds, so cleanup paths may call it unconditionally.
func DropDatabase(ctx context.Context, c Conn, name string) error {
	if err := checkDatabaseName(name); err != nil {
		return fmt.Errorf("dropping database: %w", err)
	}
	if name == c.Database {
		return fmt.Errorf("dropping database %q: it is the database the session is connected to", name)
	}
	conn, err := connect(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var num int
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&num); err != nil {
		return c.redact(fmt.Errorf("dropping database %q on %s: reading server version: %w", name, c.addr(), err))
	}
	sql := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize()
	if num >= 130000 {
		sql += " WITH (FORCE)"
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return c.redact(fmt.Errorf("dropping database %q on %s: %w", name, c.addr(), err))
	}
	return nil
}

// checkDatabaseName refuses names the server would silently change: empty,
// with a NUL byte, or longer than NAMEDATALEN-1 (63) bytes.
func checkDatabaseName(name string) error {
	switch {
	case name == "":
		return errors.New("database name is empty")
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("database name %q contains a NUL byte", name)
	case len(name) > 63:
		return fmt.Errorf("database name %q is longer than 63 bytes", name)
	}
	return nil
}
