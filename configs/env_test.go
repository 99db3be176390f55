package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEnvOverrides(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		check func(*Config) any // returns the value to compare with want
		want  any
	}{
		{"endpoint", map[string]string{"PGTIER_STORAGE_ENDPOINT": "https://minio.example:9000"},
			func(c *Config) any { return c.Storage.Endpoint }, "https://minio.example:9000"},
		{"port", map[string]string{"PGTIER_POSTGRES_PORT": "6543"},
			func(c *Config) any { return c.Postgres.Port }, 6543},
		{"top-level key", map[string]string{"PGTIER_ENVIRONMENT": "staging"},
			func(c *Config) any { return c.Environment }, "staging"},
		{"nested tier key", map[string]string{"PGTIER_TIERS_BASE_MIN": "3d"},
			func(c *Config) any { return c.Tiers.Base.Min.String() }, "3d"},
		{"storage class", map[string]string{"PGTIER_TIERS_MONTHLY_STORAGE_CLASS": "GLACIER_IR"},
			func(c *Config) any { return c.Tiers.Monthly.StorageClass }, "GLACIER_IR"},
		{"list", map[string]string{"PGTIER_POSTGRES_DATABASES": "app, billing"},
			func(c *Config) any { return c.Postgres.Databases }, []string{"app", "billing"}},
		{"bool", map[string]string{"PGTIER_POSTGRES_GLOBALS": "false"},
			func(c *Config) any { return c.Postgres.Globals }, false},
		{"jitter", map[string]string{"PGTIER_SCHEDULE_JITTER": "90s"},
			func(c *Config) any { return c.Schedule.Jitter }, 90 * time.Second},
		{"insecure http", map[string]string{"PGTIER_STORAGE_ENDPOINT": "http://127.0.0.1:9000", "PGTIER_STORAGE_ALLOW_INSECURE_HTTP": "true"},
			func(c *Config) any { return c.Storage.AllowInsecureHTTP }, true},
		{"tcp host gets verify-full", map[string]string{"PGTIER_POSTGRES_HOST": "db.example"},
			func(c *Config) any { return c.Postgres.SSLMode }, "verify-full"},
		{"relative path from the environment is relative to the working directory",
			map[string]string{"PGTIER_ENCRYPTION_RECIPIENTS_FILE": "testdata/recipients.txt"},
			func(c *Config) any { return c.Encryption.RecipientsFile }, mustAbs(t, "testdata/recipients.txt")},
		{"unrelated PGTIER_ variables are ignored", map[string]string{"PGTIER_TEST_POSTGRES_BIN": "/usr/bin"},
			func(c *Config) any { return c.Postgres.BinDir }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Load("testdata/good/minimal.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.check(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v; want %#v", got, tc.want)
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEnvRequiredKeys(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "pgtier.yaml")
	if err := os.WriteFile(file, []byte("# everything from the environment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGTIER_ENVIRONMENT", "production")
	t.Setenv("PGTIER_CLUSTER", "main")
	t.Setenv("PGTIER_STORAGE_URL", "s3://pgtier-backups/pgtier")
	t.Setenv("PGTIER_ENCRYPTION_RECIPIENTS_FILE", mustAbs(t, "testdata/recipients.txt"))
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Environment != "production" || c.Cluster != "main" || c.Storage.URL != "s3://pgtier-backups/pgtier" {
		t.Errorf("got %+v", c)
	}
}

func TestEnvErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad number", map[string]string{"PGTIER_POSTGRES_PORT": "abc"},
			`postgres.port (from PGTIER_POSTGRES_PORT): "abc" is not a whole number; write a whole number such as 5432`},
		{"bad value", map[string]string{"PGTIER_TIMEZONE": "Mars/Base"},
			`timezone (from PGTIER_TIMEZONE): unknown time zone "Mars/Base"`},
		{"bad duration", map[string]string{"PGTIER_TIERS_BASE_MIN": "2x"},
			`tiers.base.min (from PGTIER_TIERS_BASE_MIN): "2x" is not a calendar duration: unknown unit "x"`},
		{"misspelt key under a section", map[string]string{"PGTIER_STORAGE_ENDPONT": "https://x"},
			`PGTIER_STORAGE_ENDPONT: environment variable names no config key; check the spelling, did you mean "PGTIER_STORAGE_ENDPOINT"?`},
		{"misspelt top-level key", map[string]string{"PGTIER_ENVIRONMNT": "x"},
			`PGTIER_ENVIRONMNT: environment variable names no config key; check the spelling, did you mean "PGTIER_ENVIRONMENT"?`},
		{"password", map[string]string{"PGTIER_POSTGRES_PASSWORD": "hunter2"},
			`PGTIER_POSTGRES_PASSWORD: secrets are not allowed as config overrides; put the password in a file`},
		{"s3 secret", map[string]string{"PGTIER_STORAGE_SECRET_KEY": "wJalrXUtnFEMI"},
			`PGTIER_STORAGE_SECRET_KEY: secrets are not allowed as config overrides; remove it and use the AWS credential chain`},
		{"http endpoint", map[string]string{"PGTIER_STORAGE_ENDPOINT": "http://minio:9000"},
			`storage.endpoint (from PGTIER_STORAGE_ENDPOINT): plain http:// is refused; use https:// or set storage.allow_insecure_http: true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			const file = "testdata/good/minimal.yaml"
			_, err := Load(file)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			checkOneLine(t, file, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestCredentialsDirectory(t *testing.T) {
	cleanEnv(t)
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, "pgpassword"), []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "pgtier.yaml")
	body := "environment: production\ncluster: main\nstorage: {url: s3://pgtier-backups}\n" +
		"encryption: {recipients_file: " + mustAbs(t, "testdata/recipients.txt") + "}\n" +
		"postgres: {password_file: $CREDENTIALS_DIRECTORY/pgpassword}\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	// Unset (backupctl sharing the daemon's file): Load keeps the path as
	// written, and Password says what is missing.
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Postgres.PasswordFile != "$CREDENTIALS_DIRECTORY/pgpassword" {
		t.Errorf("PasswordFile = %q", c.Postgres.PasswordFile)
	}
	if _, err := c.Postgres.Password(); err == nil || !strings.Contains(err.Error(), "$CREDENTIALS_DIRECTORY is not set") {
		t.Errorf("Password without the variable: %v", err)
	}

	// Set (systemd LoadCredential=): expanded at load, and Password reads it.
	t.Setenv(credVar, creds)
	c, err = Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(creds, "pgpassword"); c.Postgres.PasswordFile != want {
		t.Errorf("PasswordFile = %q; want %q", c.Postgres.PasswordFile, want)
	}
	if pw, err := c.Postgres.Password(); err != nil || pw != "s3cr3t" {
		t.Errorf("Password() = %q, %v", pw, err)
	}

	// Set, but the credential is missing: Load fails.
	t.Setenv(credVar, t.TempDir())
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "postgres.password_file: stat ") {
		t.Errorf("Load with a missing credential: %v", err)
	}
}
