package snapshot

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

var sslmodeKeyword = regexp.MustCompile(`(?:^|\s)sslmode\s*=\s*'?([a-z-]+)`)

// ParseDSN reads a libpq connection string (URL or keyword form) into a Conn.
// A password missing from the DSN comes from PGPASSWORD or the passfile, as
// libpq does; the database must be named. Errors never include the DSN, which
// may hold a password.
func ParseDSN(dsn string) (Conn, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) {
			return Conn{}, errors.New("the target DSN cannot be parsed; write it as postgres://user@host:port/dbname or \"host=... dbname=...\"")
		}
		return Conn{}, fmt.Errorf("parsing the target DSN: %w", err)
	}
	c := Conn{
		Host:     cfg.Host,
		Port:     int(cfg.Port),
		User:     cfg.User,
		Password: cfg.Password,
		Database: cfg.Database,
		SSLMode:  os.Getenv("PGSSLMODE"),
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil && u.Query().Get("sslmode") != "" {
			c.SSLMode = u.Query().Get("sslmode")
		}
	} else if m := sslmodeKeyword.FindStringSubmatch(dsn); m != nil {
		c.SSLMode = m[1]
	}
	if c.Database == "" || !strings.Contains(dsn, c.Database) {
		return Conn{}, errors.New("the target DSN names no database; add the name of the new database to restore into")
	}
	return c, nil
}
