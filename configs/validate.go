package configs

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// validate checks c in the order of the file and returns the first problem.
func (c *Config) validate() *Error {
	checks := []func() *Error{
		c.checkNames, c.checkTimezone, c.Postgres.check, c.Schedule.check,
		c.Tiers.check, c.Encryption.check, c.Compression.check, c.checkStorage,
		c.Metrics.check, c.checkAudit,
	}
	for _, check := range checks {
		if e := check(); e != nil {
			return e
		}
	}
	return nil
}

func required(key, fix string) *Error {
	return &Error{Key: key, Problem: "required, no default", Fix: fix + " (or set " + EnvName(key) + ")"}
}

func (c *Config) checkNames() *Error {
	for _, n := range []struct{ key, val, example string }{
		{"environment", c.Environment, "production"},
		{"cluster", c.Cluster, "main"},
	} {
		if n.val == "" {
			return required(n.key, "set it to a short label such as "+n.example)
		}
		if !safeSegment(n.val) {
			return &Error{Key: n.key, Problem: quote(n.val) + " is not a safe name for object keys",
				Fix: `use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, at most 63 characters, no ".."`}
		}
	}
	return nil
}

// safeSegment reports whether s can be one segment of an object key:
// [a-z0-9][a-z0-9._-]*, at most 63 bytes, without "..".
func safeSegment(s string) bool {
	if s == "" || len(s) > 63 || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

func (c *Config) checkTimezone() *Error {
	const fix = "use an IANA time zone name such as UTC or Europe/Berlin"
	if c.Timezone == "" || c.Timezone == "Local" {
		return &Error{Key: "timezone", Problem: quote(c.Timezone) + " depends on the host", Fix: fix}
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return &Error{Key: "timezone", Problem: "unknown time zone " + quote(c.Timezone), Fix: fix, Err: err}
	}
	c.loc = loc
	return nil
}

func (p Postgres) check() *Error {
	switch {
	case p.Host == "":
		return &Error{Key: "postgres.host", Problem: "empty", Fix: "set a socket directory such as /var/run/postgresql or a host name"}
	case strings.ContainsAny(p.Host, "=,@/ \t\r\n") && !isSocket(p.Host), strings.Contains(p.Host, "://"):
		return &Error{Key: "postgres.host", Problem: "expected a host name or a socket directory, not a connection string",
			Fix: "put only the host here; user, port and password have their own keys"}
	case p.Port < 1 || p.Port > 65535:
		return &Error{Key: "postgres.port", Problem: fmt.Sprintf("%d is not a port", p.Port), Fix: "use 1..65535 (Postgres listens on 5432 by default)"}
	case p.User == "":
		return &Error{Key: "postgres.user", Problem: "empty", Fix: "name a role with pg_read_all_data, such as backupd"}
	}
	modes := []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
	if p.SSLMode != "" && !slices.Contains(modes, p.SSLMode) {
		return &Error{Key: "postgres.sslmode", Problem: quote(p.SSLMode) + " is not an sslmode", Fix: "use one of " + strings.Join(modes, ", ")}
	}
	if e := checkDatabases(p.Databases); e != nil {
		return e
	}
	if p.PasswordFile != "" && !strings.Contains(p.PasswordFile, "$") {
		fi, err := os.Stat(p.PasswordFile)
		switch {
		case err != nil:
			return &Error{Key: "postgres.password_file", Problem: err.Error(),
				Fix: "create it holding only the password, readable by the backup user (mode 0600), or remove the key", Err: err}
		case fi.IsDir():
			return &Error{Key: "postgres.password_file", Problem: p.PasswordFile + " is a directory", Fix: "name the file that holds the password"}
		}
	}
	return nil
}

func checkDatabases(dbs []string) *Error {
	const key = "postgres.databases"
	if len(dbs) == 0 {
		return &Error{Key: key, Problem: "empty list", Fix: `list database names, or ["*"] for every database`}
	}
	seen := map[string]bool{}
	for _, db := range dbs {
		switch {
		case db == "" || strings.ContainsFunc(db, func(r rune) bool { return r < ' ' || r == 0x7f }):
			return &Error{Key: key, Problem: "empty or unprintable name " + quote(db), Fix: "list database names as Postgres spells them"}
		case db == "*" && len(dbs) > 1:
			return &Error{Key: key, Problem: `"*" is listed with other names`, Fix: `"*" already means every database: use it alone, or list names`}
		case seen[db]:
			return &Error{Key: key, Problem: quote(db) + " is listed twice", Fix: "list each database once"}
		}
		seen[db] = true
	}
	return nil
}

func (s Schedule) check() *Error {
	const key = "schedule.base"
	sched, err := cron.ParseStandard(s.Base)
	if err != nil {
		return &Error{Key: key, Problem: fmt.Sprintf("%s: %v", quote(s.Base), err),
			Fix: `write a 5-field cron spec such as "0 */6 * * *" or a descriptor such as "@every 6h"`, Err: err}
	}
	if s.Jitter < 0 {
		return &Error{Key: "schedule.jitter", Problem: "negative", Fix: "use 0s or a positive delay such as 5m"}
	}
	t := sched.Next(reference())
	if t.IsZero() {
		return &Error{Key: key, Problem: quote(s.Base) + " never runs", Fix: "check the day and month fields"}
	}
	// The jitter must stay below the shortest gap between runs, or runs overlap.
	gap := time.Duration(-1)
	for range 100 {
		n := sched.Next(t)
		if n.IsZero() {
			break
		}
		if d := n.Sub(t); gap < 0 || d < gap {
			gap = d
		}
		t = n
	}
	if gap > 0 && s.Jitter >= gap {
		return &Error{Key: "schedule.jitter", Problem: fmt.Sprintf("%s is not shorter than the %s between runs", shortDuration(s.Jitter), shortDuration(gap)),
			Fix: "use a jitter shorter than the schedule's interval"}
	}
	return nil
}

func (t Tiers) check() *Error {
	for _, tier := range []struct {
		name string
		t    Tier
	}{{"base", t.Base}, {"daily", t.Daily}, {"weekly", t.Weekly}, {"monthly", t.Monthly}} {
		key := "tiers." + tier.name
		switch {
		case tier.t.Min.IsZero():
			return &Error{Key: key + ".min", Problem: "missing", Fix: durationFix}
		case tier.t.Max.IsZero():
			return &Error{Key: key + ".max", Problem: "missing", Fix: durationFix}
		}
		if ok, from := tier.t.Min.NeverLonger(tier.t.Max); !ok {
			return &Error{Key: key + ".min", Problem: fmt.Sprintf("min %s is longer than max %s (starting %s)", tier.t.Min, tier.t.Max, from.Format("2006-01-02")),
				Fix: "make min no longer than max on every calendar date"}
		}
		if e := checkStorageClass(key+".storage_class", tier.t.StorageClass); e != nil {
			return e
		}
	}
	return nil
}

func checkStorageClass(key, class string) *Error {
	if class == "" {
		return nil
	}
	switch class {
	case "GLACIER", "DEEP_ARCHIVE":
		return &Error{Key: key, Problem: class + " objects cannot be read without a separate restore request, which pgtier does not make",
			Fix: "use GLACIER_IR (instant retrieval) or STANDARD_IA"}
	}
	for i := 0; i < len(class); i++ {
		c := class[i]
		upper, digit := c >= 'A' && c <= 'Z', i > 0 && c >= '0' && c <= '9'
		if !upper && !digit && c != '_' {
			return &Error{Key: key, Problem: quote(class) + " is not a storage class name", Fix: "use an S3 storage class such as STANDARD_IA or GLACIER_IR, or \"\" for the bucket default"}
		}
	}
	return nil
}

func (e Encryption) check() *Error {
	const key = "encryption.recipients_file"
	const fix = "create it with each operator's age public key, one per line (age-keygen -y IDENTITY_FILE prints it)"
	if e.RecipientsFile == "" {
		return required(key, "point it at a file of age public keys, such as /etc/pgtier/recipients.txt")
	}
	return checkReadable(key, e.RecipientsFile, fix)
}

// checkReadable opens path to prove it exists, is a file and can be read.
func checkReadable(key, path, fix string) *Error {
	p, err := ExpandPath(path)
	if err != nil {
		return &Error{Key: key, Problem: err.Error(), Fix: "run under systemd with LoadCredential= or give a plain path", Err: err}
	}
	f, err := os.Open(p)
	if err != nil {
		return &Error{Key: key, Problem: err.Error(), Fix: fix, Err: err}
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		return &Error{Key: key, Problem: p + " is not a regular file", Fix: fix, Err: err}
	}
	return nil
}

func (c Compression) check() *Error {
	switch c.Level {
	case "fastest", "default", "better", "best":
		return nil
	}
	if n, err := strconv.Atoi(c.Level); err == nil && n >= 1 && n <= 22 && strconv.Itoa(n) == c.Level {
		return nil
	}
	return &Error{Key: "compression.level", Problem: quote(c.Level) + " is not a zstd level",
		Fix: "use fastest, default, better, best or a number from 1 to 22"}
}

func (m Metrics) check() *Error {
	const key = "metrics.listen"
	host, port, err := net.SplitHostPort(m.Listen)
	if err != nil {
		return &Error{Key: key, Problem: quote(m.Listen) + " is not host:port", Fix: "use an address such as 127.0.0.1:9861", Err: err}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return &Error{Key: key, Problem: quote(port) + " is not a port", Fix: "use an address such as 127.0.0.1:9861"}
	}
	if strings.ContainsAny(host, " /\t\r\n") {
		return &Error{Key: key, Problem: quote(host) + " is not a host", Fix: "use an address such as 127.0.0.1:9861"}
	}
	if m.WebConfigFile != "" {
		return checkReadable("metrics.web_config_file", m.WebConfigFile, "name a Prometheus web config file (TLS, basic auth), or remove the key for plain HTTP on loopback")
	}
	return nil
}
