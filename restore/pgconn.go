package restore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgtier/pgtier/snapshot"
)

// pgtierApp is the application_name of pgtier's sessions, as snapshot sets.
const pgtierApp = "pgtier"

// noPassFile is a password file path that cannot exist, so that pgx and
// the tools take the password from the Conn only, as snapshot does.
const noPassFile = "/dev/null/pgpass" // #nosec G101 -- a path, not a credential

// connect opens one session to c, with the settings snapshot uses: the
// password from c only, application_name pgtier.
func connect(ctx context.Context, c snapshot.Conn) (*pgx.Conn, error) {
	sslmode := c.SSLMode
	if sslmode == "" {
		sslmode = "prefer"
	}
	cfg, err := pgx.ParseConfig(strings.Join([]string{
		"host=" + quoteConnValue(c.Host),
		"port=" + strconv.Itoa(c.Port),
		"user=" + quoteConnValue(c.User),
		"dbname=" + quoteConnValue(c.Database),
		"application_name=" + pgtierApp,
		"connect_timeout=30",
		"passfile=" + noPassFile,
		"sslmode=" + quoteConnValue(sslmode),
	}, " "))
	if err != nil {
		return nil, redact(fmt.Errorf("building the connection settings for %s: %w", c, err), c)
	}
	cfg.Password = c.Password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, redact(fmt.Errorf("connecting to postgres at %s:%d db %s: %w", c.Host, c.Port, c.Database, err), c)
	}
	return conn, nil
}

// toolEnv is the environment of a client tool connecting to c.
func toolEnv(c snapshot.Conn) []string {
	env := append(withoutPG(os.Environ()),
		"PGHOST="+c.Host, "PGPORT="+strconv.Itoa(c.Port), "PGUSER="+c.User,
		"PGAPPNAME="+pgtierApp, "PGPASSFILE="+noPassFile)
	if c.SSLMode != "" {
		env = append(env, "PGSSLMODE="+c.SSLMode)
	}
	if c.Password != "" {
		env = append(env, "PGPASSWORD="+c.Password)
	}
	return env
}

// quoteConnValue quotes v for a libpq keyword/value connection string.
func quoteConnValue(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}

// redact returns err with c's password removed from its text, on one line.
func redact(err error, c snapshot.Conn) error {
	return &redacted{err: err, secret: c.Password}
}

type redacted struct {
	err    error
	secret string
}

func (e *redacted) Error() string { return scrub(e.err.Error(), e.secret) }
func (e *redacted) Unwrap() error { return e.err }

// scrub removes secret from s and folds s onto one line.
func scrub(s, secret string) string {
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return strings.Join(strings.Fields(s), " ")
}

// lastLines joins the last n non-empty lines of s with "; ".
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
