package snapshot_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgtier/pgtier/snapshot"
)

// envSecret is the PGPASSWORD that FuzzParseDSN runs with; no error may
// quote it.
const envSecret = "env-Secret-6c1f0e" // #nosec G101 -- a test value

// FuzzParseDSN feeds ParseDSN arbitrary connection strings: it must not
// panic; it fails with a one-line message that quotes no password, neither
// the DSN's nor PGPASSWORD's; what it accepts names a database that the DSN
// spells out, carries the password libpq would use, and describes itself
// without it.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{
		"postgres://app:Hunter2-secret@db.internal:5433/newdb?sslmode=verify-full",
		"postgresql://app@db.internal/newdb",
		"postgres://app:Hunter2-secret@db.internal:5433/",
		"postgres://app:Hunter2-secret@db.internal:99999/newdb",
		"postgres://app:Hunter2%zz@db.internal/newdb",
		"postgres://[::1]:5432/newdb?sslmode=disable&connect_timeout=x",
		"host=/run/postgresql dbname=newdb user=app password='it''s a \\'secret'",
		"host=db port=5432 dbname=newdb sslmode=require password=Hunter2-secret",
		"host=db password='Hunter2-secret",
		"host=db password=Hunter2-secret",
		"host=db dbname=",
		"dbname = newdb sslmode = verify-ca",
		"host=a,b port=1,2,3 dbname=x password=Hunter2-secret",
		"service=nowhere dbname=x password=Hunter2-secret",
		"",
		"\x00",
	} {
		f.Add(s)
	}
	// Keep the host's libpq settings out: no password file, no service file,
	// and a known PGPASSWORD.
	for _, k := range []string{"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSSLMODE", "PGSERVICE",
		"PGSSLCERT", "PGSSLKEY", "PGSSLROOTCERT", "PGCONNECT_TIMEOUT", "PGTARGETSESSIONATTRS"} {
		f.Setenv(k, "")
	}
	f.Setenv("PGPASSFILE", "/dev/null/pgpass")
	f.Setenv("PGSERVICEFILE", "/dev/null/pg_service.conf")
	f.Setenv("PGPASSWORD", envSecret)
	f.Fuzz(func(t *testing.T, dsn string) {
		// The password libpq would use, when the DSN parses at all.
		var password string
		if cfg, err := pgconn.ParseConfig(dsn); err == nil {
			password = cfg.Password
		}
		c, err := snapshot.ParseDSN(dsn)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("multi-line error %q", msg)
			}
			for _, secret := range []string{envSecret, password} {
				if len(secret) >= 4 && strings.Contains(msg, secret) {
					t.Fatalf("error %q quotes the password", msg)
				}
			}
			return
		}
		if c.Database == "" || !strings.Contains(dsn, c.Database) {
			t.Fatalf("accepted %q naming database %q", dsn, c.Database)
		}
		if c.Password != password {
			t.Fatalf("password %q, libpq's is %q", c.Password, password)
		}
		// String depends on the password only through its presence.
		other := c
		other.Password = "x"
		if c.Password != "" && c.String() != other.String() {
			t.Fatalf("String %q shows the password", c.String())
		}
	})
}
