package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// sqlTimeout bounds each helper's round trip to the server.
const sqlTimeout = 2 * time.Minute

// DSN returns a postgres:// URL for database db as the superuser, without TLS.
func (p *Postgres) DSN(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(p.User),
		Host:     p.Host + ":" + strconv.Itoa(p.Port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDB creates database name and drops it when t ends (forcibly; errors
// while dropping are only logged). It fails t if name already exists.
func (p *Postgres) CreateDB(t testing.TB, name string) {
	t.Helper()
	ident := pgx.Identifier{name}.Sanitize()
	p.Exec(t, "postgres", "CREATE DATABASE "+ident)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sqlTimeout)
		defer cancel()
		c, err := pgx.Connect(ctx, p.DSN("postgres"))
		if err != nil {
			t.Logf("harness: dropping database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Logf("harness: dropping database %s: %v", name, err)
		}
	})
}

// NewDB creates a database with a unique name derived from the test's name,
// dropped when t ends, and returns the name.
func (p *Postgres) NewDB(t testing.TB) string {
	t.Helper()
	name := uniqueName(t, "t_", '_', 63)
	p.CreateDB(t, name)
	return name
}

// Conn opens a connection to db that is closed when t ends.
func (p *Postgres) Conn(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), sqlTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, p.DSN(db))
	if err != nil {
		t.Fatalf("harness: connecting to %s: %v", db, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// Exec runs sql in db, which may hold several statements when no args are
// given, and fails t on error.
func (p *Postgres) Exec(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), sqlTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, p.DSN(db))
	if err != nil {
		t.Fatalf("harness: connecting to %s: %v", db, err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("harness: in %s: %s: %v", db, short(sql), err)
	}
}

// Query runs sql in db and returns every row's values, failing t on error.
func (p *Postgres) Query(t testing.TB, db, sql string, args ...any) [][]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), sqlTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, p.DSN(db))
	if err != nil {
		t.Fatalf("harness: connecting to %s: %v", db, err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("harness: in %s: %s: %v", db, short(sql), err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			t.Fatalf("harness: in %s: %s: %v", db, short(sql), err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("harness: in %s: %s: %v", db, short(sql), err)
	}
	return out
}

// QueryRow scans the single row that sql returns in db into dest, failing t
// on error or when there is no row.
func (p *Postgres) QueryRow(t testing.TB, db, sql string, args []any, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), sqlTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, p.DSN(db))
	if err != nil {
		t.Fatalf("harness: connecting to %s: %v", db, err)
	}
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		t.Fatalf("harness: in %s: %s: %v", db, short(sql), err)
	}
}

// QueryInt returns the single integer that sql returns in db.
func (p *Postgres) QueryInt(t testing.TB, db, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	p.QueryRow(t, db, sql, args, &n)
	return n
}

// QueryString returns the single text value that sql returns in db; cast
// other types with ::text.
func (p *Postgres) QueryString(t testing.TB, db, sql string, args ...any) string {
	t.Helper()
	var s string
	p.QueryRow(t, db, sql, args, &s)
	return s
}

// short trims sql for error messages.
func short(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 200 {
		return sql[:200] + "..."
	}
	return sql
}

// uniqueName makes a lower-case name from prefix, the test's name and a
// random suffix, with sep for any other character, at most limit bytes.
func uniqueName(t testing.TB, prefix string, sep byte, limit int) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("harness: reading random bytes: %v", err)
	}
	suffix := string(sep) + hex.EncodeToString(b[:])
	var name strings.Builder
	name.WriteString(prefix)
	for _, r := range strings.ToLower(t.Name()) {
		if name.Len() >= limit-len(suffix) {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			name.WriteRune(r)
		default:
			s := name.String()
			if s[len(s)-1] != sep {
				name.WriteByte(sep)
			}
		}
	}
	s := strings.TrimRight(name.String(), string(sep))
	return fmt.Sprintf("%s%s", s, suffix)
}
