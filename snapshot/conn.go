package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// appName is the application_name every session of pgtier reports, so that
// pg_stat_activity shows who is reading.
const appName = "pgtier"

// noPassFile is a password file path that cannot exist (nothing lives
// under /dev/null), so libpq and pgx find no password there.
const noPassFile = "/dev/null/pgpass" // #nosec G101 -- a path, not a credential

// connectTimeoutSeconds bounds how long pgx waits for a server to answer a
// connection attempt; the context may cut it shorter.
const connectTimeoutSeconds = 30

// Conn names one database on one server and how to log in. Host is a host
// name, an IP address, or a Unix socket directory (starting with "/"). Host,
// Port, User and Database are required; SSLMode and Password may be empty
// (libpq's default sslmode "prefer"; no password). SSLMode is ignored for
// socket directories, as libpq does.
//
// The password comes from Password only: neither pgx nor the tools read
// PGPASSWORD or a password file (~/.pgpass, PGPASSFILE). The tools run with
// PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE, PGPASSWORD, PGAPPNAME and
// PGPASSFILE built from these fields and none of the PG* variables of the
// calling process; pgx gets the same settings explicitly. libpq's
// certificate files under ~/.postgresql (root.crt for sslmode verify-full)
// apply to both.
type Conn struct {
	Host     string
	Port     int
	User     string
	Password string
	SSLMode  string
	Database string
}

// String describes c for messages and logs. It never contains the password;
// a set password shows as "password=***".
func (c Conn) String() string {
	s := fmt.Sprintf("host=%s port=%d user=%s dbname=%s", c.Host, c.Port, c.User, c.Database)
	if c.SSLMode != "" {
		s += " sslmode=" + c.SSLMode
	}
	if c.Password != "" {
		s += " password=***"
	}
	return s
}

// WithDatabase returns a copy of c that names database name.
func (c Conn) WithDatabase(name string) Conn {
	c.Database = name
	return c
}

// addr is HOST:PORT for messages.
func (c Conn) addr() string {
	return c.Host + ":" + strconv.Itoa(c.Port)
}

// validate reports a missing required field instead of letting libpq fall
// back to a default server or user.
func (c Conn) validate() error {
	switch {
	case c.Host == "":
		return errors.New("postgres host is not set")
	case c.Port <= 0 || c.Port > 65535:
		return fmt.Errorf("postgres port %d is not a valid port", c.Port)
	case c.User == "":
		return errors.New("postgres user is not set")
	case c.Database == "":
		return errors.New("postgres database is not set")
	}
	return nil
}

// pgxConfig builds a pgx configuration from c. The password is set on the
// parsed configuration, never written into the connection string, so no
// parse error can quote it.
func (c Conn) pgxConfig() (*pgx.ConnConfig, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	kv := []string{
		"host=" + quoteConnValue(c.Host),
		"port=" + strconv.Itoa(c.Port),
		"user=" + quoteConnValue(c.User),
		"dbname=" + quoteConnValue(c.Database),
		"application_name=" + appName,
		"connect_timeout=" + strconv.Itoa(connectTimeoutSeconds),
		"target_session_attrs=any",
		"passfile=" + noPassFile,
		"sslmode=" + quoteConnValue(c.sslMode()),
	}
	cfg, err := pgx.ParseConfig(strings.Join(kv, " "))
	if err != nil {
		return nil, c.redact(fmt.Errorf("building postgres connection settings for %s: %w", c.addr(), err))
	}
	cfg.Password = c.Password
	cfg.RuntimeParams = map[string]string{"application_name": appName}
	return cfg, nil
}

// sslMode is c.SSLMode or libpq's default.
func (c Conn) sslMode() string {
	if c.SSLMode == "" {
		return "prefer"
	}
	return c.SSLMode
}

// connect opens one session to c. Its error reads
// "connecting to postgres at HOST:PORT db D: ...".
func connect(ctx context.Context, c Conn) (*pgx.Conn, error) {
	cfg, err := c.pgxConfig()
	if err != nil {
		return nil, fmt.Errorf("connecting to postgres: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, c.redact(fmt.Errorf("connecting to postgres at %s db %s: %w", c.addr(), c.Database, err))
	}
	return conn, nil
}

// childEnv is the environment of a tool: base without any PG* variable, plus
// the connection settings of c.
func (c Conn) childEnv(base []string) []string {
	env := append(withoutPG(base),
		"PGHOST="+c.Host,
		"PGPORT="+strconv.Itoa(c.Port),
		"PGUSER="+c.User,
		"PGDATABASE="+c.Database,
		"PGAPPNAME="+appName,
		"PGPASSFILE="+noPassFile,
	)
	if c.SSLMode != "" {
		env = append(env, "PGSSLMODE="+c.SSLMode)
	}
	if c.Password != "" {
		env = append(env, "PGPASSWORD="+c.Password)
	}
	return env
}

// withoutPG returns base without the variables whose names start with PG.
func withoutPG(base []string) []string {
	env := make([]string, 0, len(base)+7)
	for _, kv := range base {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// toolEnv is childEnv of the current process environment.
func (c Conn) toolEnv() []string {
	return c.childEnv(os.Environ())
}

// quoteConnValue quotes v for a libpq keyword/value connection string.
func quoteConnValue(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}

// dbnameArg is a --dbname argument that names database name and nothing
// else, whatever characters the name holds (a bare name with "=" in it would
// be read as a connection string).
func dbnameArg(name string) string {
	return "--dbname=dbname=" + quoteConnValue(name)
}

// redact hides c.Password in err's text and puts it on one line; errors.Is
// and errors.As still see the wrapped error.
func (c Conn) redact(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{err: err, secret: c.Password}
}

type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string {
	return scrub(e.err.Error(), e.secret)
}

func (e *redactedError) Unwrap() error { return e.err }

// scrub removes secret from s and folds s onto one line.
func scrub(s, secret string) string {
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "***")
	}
	s = strings.ReplaceAll(s, "\n\t", "; ")
	return strings.ReplaceAll(s, "\n", "; ")
}
