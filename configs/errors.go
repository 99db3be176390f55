package configs

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
)

// Error is a configuration problem, printed as one line that names the file,
// the key and the fix:
//
//	config FILE: KEY: problem; fix
//
// When the value came from the environment the variable is named after the
// key: "config FILE: postgres.port (from PGTIER_POSTGRES_PORT): ...". File is
// empty for problems found outside Load (Postgres.Password); Key is empty for
// problems with the whole file. Error never contains a secret.
// Commands map it to exit status 2 (see IsInvalid).
type Error struct {
	File    string // the config file as given to Load
	Key     string // dotted key ("storage.url") or an environment variable name
	Env     string // environment variable that supplied the value, if any
	Problem string // what is wrong
	Fix     string // what the operator should do
	Err     error  // underlying cause, if any (for errors.Is/As)
}

// Error returns the one-line message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" ")
		b.WriteString(e.File)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
		if e.Env != "" {
			b.WriteString(" (from ")
			b.WriteString(e.Env)
			b.WriteString(")")
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return oneLine(b.String())
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// IsInvalid reports whether err is, or wraps, a configuration *Error.
func IsInvalid(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// oneLine replaces control characters (newlines, tabs) with spaces and
// collapses runs of spaces, so that a message is always a single line.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// quote shows an operator-supplied value in a message: quoted, control
// characters escaped, cut to a readable length. Never use it on secrets.
func quote(v string) string {
	const max = 64
	r := []rune(v)
	if len(r) > max {
		return strconv.Quote(string(r[:max])) + "..."
	}
	return strconv.Quote(v)
}
