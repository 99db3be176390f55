package snapshot

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestConnString(t *testing.T) {
	c := Conn{Host: "/var/run/postgresql", Port: 5432, User: "backupd", Password: "hunter2-secret", SSLMode: "verify-full", Database: "app"}
	got := c.String()
	want := "host=/var/run/postgresql port=5432 user=backupd dbname=app sslmode=verify-full password=***"
	if got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if strings.Contains(got, c.Password) {
		t.Errorf("String() contains the password")
	}
}

func TestConnValidate(t *testing.T) {
	good := Conn{Host: "db", Port: 5432, User: "u", Database: "d"}
	if err := good.validate(); err != nil {
		t.Fatalf("validate(%v) = %v", good, err)
	}
	for name, c := range map[string]Conn{
		"host":     {Port: 5432, User: "u", Database: "d"},
		"port":     {Host: "db", User: "u", Database: "d"},
		"user":     {Host: "db", Port: 5432, Database: "d"},
		"database": {Host: "db", Port: 5432, User: "u"},
	} {
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("validate without %s = %v, want an error naming it", name, err)
		}
	}
}

func TestChildEnv(t *testing.T) {
	base := []string{"PATH=/usr/bin", "PGPASSWORD=inherited", "PGHOST=elsewhere", "PGSSLROOTCERT=/x", "HOME=/root"}
	c := Conn{Host: "/run/pg", Port: 5433, User: "backupd", Database: "app"}
	got := c.childEnv(base)
	want := []string{"PATH=/usr/bin", "HOME=/root", "PGHOST=/run/pg", "PGPORT=5433", "PGUSER=backupd", "PGDATABASE=app", "PGAPPNAME=pgtier", "PGPASSFILE=/dev/null/pgpass"}
	if !slices.Equal(got, want) {
		t.Errorf("childEnv = %q\nwant %q", got, want)
	}
	c.Password, c.SSLMode = "pw", "require"
	got = c.childEnv(base)
	if !slices.Contains(got, "PGPASSWORD=pw") || !slices.Contains(got, "PGSSLMODE=require") {
		t.Errorf("childEnv with password and sslmode = %q", got)
	}
}

func TestPgxConfig(t *testing.T) {
	t.Setenv("PGPASSWORD", "from-env")
	t.Setenv("PGOPTIONS", "-c statement_timeout=1")
	t.Setenv("PGSSLMODE", "require")
	c := Conn{Host: "/run/pg", Port: 5433, User: "o'brien", Database: `we\ird db`}
	cfg, err := c.pgxConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "/run/pg" || cfg.Port != 5433 || cfg.User != "o'brien" || cfg.Database != `we\ird db` {
		t.Errorf("config = host %q port %d user %q db %q", cfg.Host, cfg.Port, cfg.User, cfg.Database)
	}
	if cfg.Password != "" {
		t.Errorf("password %q taken from the environment", cfg.Password)
	}
	tcp := Conn{Host: "db.example", Port: 5432, User: "u", Database: "d"}
	cfg, err = tcp.pgxConfig()
	if err != nil {
		t.Fatal(err)
	}
	// sslmode "prefer" has a plain-text fallback; PGSSLMODE=require has none.
	if len(cfg.Fallbacks) != 1 || cfg.Fallbacks[0].TLSConfig != nil {
		t.Errorf("sslmode taken from the environment: fallbacks %+v", cfg.Fallbacks)
	}
	if len(cfg.RuntimeParams) != 1 || cfg.RuntimeParams["application_name"] != "pgtier" {
		t.Errorf("runtime params = %v", cfg.RuntimeParams)
	}
	c.Host, c.SSLMode = "db.example", "no-such-mode"
	c.Password = "p4ss-word-x"
	_, err = c.pgxConfig()
	if err == nil || strings.Contains(err.Error(), c.Password) {
		t.Errorf("bad sslmode: err = %v", err)
	}
}

func TestRedact(t *testing.T) {
	base := errors.New("a\n\tb s3cr3t c")
	err := Conn{Password: "s3cr3t"}.redact(base)
	if got := err.Error(); got != "a; b *** c" {
		t.Errorf("redacted = %q", got)
	}
	if !errors.Is(err, base) {
		t.Errorf("redacted error does not wrap the original")
	}
}

func TestDbnameArg(t *testing.T) {
	if got, want := dbnameArg(`a'b\c=d`), `--dbname=dbname='a\'b\\c=d'`; got != want {
		t.Errorf("dbnameArg = %q, want %q", got, want)
	}
}
