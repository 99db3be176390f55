package audit

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFieldBytes bounds one text field; the error text is cut to maxErrorBytes.
const (
	maxFieldBytes = 4096
	maxErrorBytes = 1024
)

// field is one text field of a record, named as in JSON.
type field struct {
	name, value string
}

// textFields returns every text field of r, identity keys included.
func (r *Record) textFields() []field {
	fs := []field{
		{"prev_sha256", r.PrevSHA256}, {"kind", r.Kind},
		{"os_user", r.OSUser}, {"host", r.Host}, {"cloud_identity", r.CloudIdentity},
		{"action", r.Action}, {"environment", r.Environment},
		{"source_environment", r.SourceEnvironment}, {"cluster", r.Cluster},
		{"database", r.Database}, {"backup_id", r.BackupID}, {"object_key", r.ObjectKey},
		{"object_version", r.ObjectVersion}, {"sha256", r.SHA256}, {"target", r.Target},
		{"output_path", r.OutputPath}, {"reason", r.Reason}, {"outcome", r.Outcome},
		{"error", r.Error},
	}
	for _, k := range r.IdentityKeys {
		fs = append(fs, field{"identity_keys", k})
	}
	return fs
}

// checkFields returns the first problem of r's text fields, "" when none:
// invalid UTF-8, control characters, oversized fields, empty identity keys
// and anything that looks like a secret. Messages name the field, never its
// value.
func checkFields(r *Record) string {
	for _, f := range r.textFields() {
		switch {
		case !utf8.ValidString(f.value):
			return f.name + " is not valid UTF-8"
		case len(f.value) > maxFieldBytes:
			return fmt.Sprintf("%s is longer than %d bytes", f.name, maxFieldBytes)
		case strings.ContainsFunc(f.value, unicode.IsControl):
			return f.name + " holds a control character (one line only)"
		case f.name == "identity_keys" && f.value == "":
			return "identity_keys holds an empty key"
		case looksSecret(f.value):
			return f.name + " looks like it holds a password or secret key; pass it redacted"
		}
	}
	return ""
}

var (
	// userinfoPassword finds the password of scheme://user:password@host.
	userinfoPassword = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s@:]*:([^/\s@]*)@`)
	// keyedSecret finds password=value and its relatives, as in DSNs and
	// environment assignments.
	keyedSecret = regexp.MustCompile(`(?i)(?:^|[^a-z])(?:pg|ssl)?(?:password|passwd|secret_?key|secret_access_key)\s*=\s*('[^']*'|"[^"]*"|[^\s&;,]*)`)
)

// looksSecret reports whether s holds something that looks like a password
// in a DSN or URL (postgres://u:p@h, password=p), a secret key assignment or
// an age secret key. Empty values and redaction marks (***, xxxxx,
// [REDACTED]) are not secrets. A record with such a field is refused as a
// defence in depth: callers redact first.
func looksSecret(s string) bool {
	if strings.Contains(strings.ToUpper(s), "AGE-SECRET-KEY-") {
		return true
	}
	for _, m := range userinfoPassword.FindAllStringSubmatch(s, -1) {
		if !redacted(m[1]) {
			return true
		}
	}
	for _, m := range keyedSecret.FindAllStringSubmatch(s, -1) {
		if !redacted(strings.Trim(m[1], `'"`)) {
			return true
		}
	}
	return false
}

// redacted reports whether v is empty or a redaction mark.
func redacted(v string) bool {
	v = strings.Trim(strings.ToLower(v), "[]<>()")
	if v == "" || v == "redacted" {
		return true
	}
	return strings.Trim(v, "*") == "" || (len(v) >= 3 && strings.Trim(v, "x") == "")
}

// oneLine replaces line breaks and other control characters with spaces,
// trims the ends and cuts s to maxErrorBytes.
func oneLine(s string) string {
	s = strings.TrimSpace(strings.Map(func(c rune) rune {
		if unicode.IsControl(c) {
			return ' '
		}
		return c
	}, s))
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxErrorBytes {
		return s
	}
	cut := maxErrorBytes - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
