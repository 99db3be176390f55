package snapshot

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Connect opens one session to c with pgtier's settings: the password from
// c only (no password file, no PGPASSWORD), application_name pgtier. Its
// errors never hold the password. The caller closes the session.
func Connect(ctx context.Context, c Conn) (*pgx.Conn, error) {
	return connect(ctx, c)
}

// Env is the environment of a client tool (psql, pg_amcheck) that connects
// to c: the process's environment without its PG* variables, plus c's.
func (c Conn) Env() []string {
	return c.toolEnv()
}

// Redact returns err with c's password hidden in its text and folded onto
// one line; errors.Is and errors.As still see err. nil stays nil.
func (c Conn) Redact(err error) error {
	return c.redact(err)
}

// Role is what the connected role may do, as far as backups care.
type Role struct {
	Name        string
	Superuser   bool
	ReadAllData bool // a member of pg_read_all_data (PostgreSQL 14 and later)
}

// RoleOf reads the role c connects as.
func RoleOf(ctx context.Context, c Conn) (Role, error) {
	conn, err := connect(ctx, c)
	if err != nil {
		return Role{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	r := Role{Name: c.User}
	var member *bool
	err = conn.QueryRow(ctx, `SELECT r.rolname, r.rolsuper,
		CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = 'pg_read_all_data')
			THEN pg_has_role(current_user, 'pg_read_all_data', 'member') END
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&r.Name, &r.Superuser, &member)
	if err != nil {
		return Role{}, c.redact(fmt.Errorf("reading the role's memberships: %w", err))
	}
	r.ReadAllData = member != nil && *member
	return r, nil
}
