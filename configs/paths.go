package configs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// credVar is the directory systemd's LoadCredential= puts credentials in.
const credVar = "CREDENTIALS_DIRECTORY"

// ErrNoCredentialsDirectory is wrapped by ExpandPath when a path refers to
// $CREDENTIALS_DIRECTORY and that variable is unset.
var ErrNoCredentialsDirectory = errors.New("$" + credVar + " is not set (systemd sets it for units with LoadCredential=)")

// ExpandPath replaces $CREDENTIALS_DIRECTORY (or ${CREDENTIALS_DIRECTORY}) in
// p with that environment variable, as set by systemd for a unit with
// LoadCredential=. Any other $ in p is an error, as is the variable being
// unset when p refers to it. A path without $ is returned unchanged.
func ExpandPath(p string) (string, error) {
	if !strings.Contains(p, "$") {
		return p, nil
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		if p[i] != '$' {
			b.WriteByte(p[i])
			i++
			continue
		}
		n := 0
		switch rest := p[i:]; {
		case strings.HasPrefix(rest, "${"+credVar+"}"):
			n = len(credVar) + 3
		case strings.HasPrefix(rest, "$"+credVar) && !isNameByte(rest, len(credVar)+1):
			n = len(credVar) + 1
		default:
			return "", fmt.Errorf("expanding %s: only $%s is expanded", quote(p), credVar)
		}
		dir := os.Getenv(credVar)
		if dir == "" {
			return "", fmt.Errorf("expanding %s: %w", quote(p), ErrNoCredentialsDirectory)
		}
		b.WriteString(dir)
		i += n
	}
	return b.String(), nil
}

func isNameByte(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// maxPassword bounds what Password reads.
const maxPassword = 4096

// Password reads the password from PasswordFile: "" means no password. The
// path may start with $CREDENTIALS_DIRECTORY (see ExpandPath). Trailing
// newlines are removed; an empty file, a file of several lines or one over
// 4 KiB is an error. Errors are *Error and never contain the password.
func (p Postgres) Password() (string, error) {
	if p.PasswordFile == "" {
		return "", nil
	}
	const key = "postgres.password_file"
	path, err := ExpandPath(p.PasswordFile)
	if err != nil {
		return "", &Error{Key: key, Problem: err.Error(), Fix: "run under systemd with LoadCredential= or give a plain path", Err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		return "", &Error{Key: key, Problem: err.Error(), Fix: "create it holding only the password, readable by the backup user (mode 0600)", Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPassword+1))
	if err != nil {
		return "", &Error{Key: key, Problem: "reading " + path + ": " + err.Error(), Fix: "check the file", Err: err}
	}
	pw := strings.TrimRight(string(data), "\r\n")
	switch {
	case len(data) > maxPassword:
		return "", &Error{Key: key, Problem: path + " is longer than 4096 bytes", Fix: "the file must hold only the password"}
	case pw == "":
		return "", &Error{Key: key, Problem: path + " is empty", Fix: "write the password into it, or remove postgres.password_file to connect without one"}
	case strings.ContainsAny(pw, "\r\n"):
		return "", &Error{Key: key, Problem: path + " holds more than one line", Fix: "the file must hold only the password"}
	}
	return pw, nil
}

// isSocket reports whether a postgres.host is a Unix socket directory (or a
// Linux abstract socket) rather than a TCP host.
func isSocket(host string) bool {
	return strings.HasPrefix(host, "/") || strings.HasPrefix(host, "@")
}

// pathKeys returns the keys that hold file paths, with pointers into c.
func (c *Config) pathKeys() []struct {
	key string
	p   *string
} {
	return []struct {
		key string
		p   *string
	}{
		{"postgres.password_file", &c.Postgres.PasswordFile},
		{"postgres.bin_dir", &c.Postgres.BinDir},
		{"encryption.recipients_file", &c.Encryption.RecipientsFile},
		{"encryption.signing_key_file", &c.Encryption.SigningKeyFile},
		{"encryption.verify_key_file", &c.Encryption.VerifyKeyFile},
		{"storage.ca_file", &c.Storage.CAFile},
		{"metrics.web_config_file", &c.Metrics.WebConfigFile},
	}
}

// resolvePaths makes every path absolute: relative to dir (the config file's
// directory) when written in the file, relative to the working directory when
// set in the environment. $CREDENTIALS_DIRECTORY is expanded when set; when
// unset such a path is kept as written, for the program that reads it to
// expand (backupctl sharing the daemon's file must still load it).
func (c *Config) resolvePaths(dir string) *Error {
	for _, k := range c.pathKeys() {
		p := *k.p
		if p == "" {
			continue
		}
		x, err := ExpandPath(p)
		switch {
		case errors.Is(err, ErrNoCredentialsDirectory):
			continue
		case err != nil:
			return &Error{Key: k.key, Problem: err.Error(), Fix: "write a plain path, or one starting with $" + credVar, Err: err}
		}
		if !filepath.IsAbs(x) {
			base := dir
			if os.Getenv(EnvName(k.key)) != "" {
				wd, err := os.Getwd()
				if err != nil {
					return &Error{Key: k.key, Problem: "resolving a relative path: " + err.Error(), Fix: "give an absolute path", Err: err}
				}
				base = wd
			}
			x = filepath.Join(base, x)
		}
		*k.p = filepath.Clean(x)
	}
	return nil
}
