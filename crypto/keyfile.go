package crypto

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxKeyFileSize bounds what is read from a key file. Real files hold a few
// keys of at most about two thousand characters each.
const maxKeyFileSize = 1 << 20

// KeyFileError reports a problem with a recipients or identity file. Its
// message is one line that names the file, the line when there is one, and
// the fix. It never contains secret key material. Unwrap returns the cause,
// if any: the operating system error, fs.ErrPermission for a file whose mode
// is unsafe, or ErrMixedRecipients; so errors.Is(err, fs.ErrNotExist) and
// the like work.
type KeyFileError struct {
	Path string // the file as given to the loader
	Line int    // 1-based line number; 0 when the problem is the whole file
	msg  string
	err  error
}

// Error returns the one-line message.
func (e *KeyFileError) Error() string { return e.msg }

// Unwrap returns the cause, or nil.
func (e *KeyFileError) Unwrap() error { return e.err }

// keyKind names the two kinds of key file in messages and selects their rules.
type keyKind string

const (
	recipientsKind keyKind = "recipients"
	identityKind   keyKind = "identity"
)

// fileError builds a KeyFileError about the whole file.
func fileError(path string, cause error, format string, args ...any) *KeyFileError {
	return &KeyFileError{Path: path, msg: fmt.Sprintf(format, args...), err: cause}
}

// lineError builds a KeyFileError about one line: "FILE line N <problem>".
func lineError(path string, line int, problem string) *KeyFileError {
	return &KeyFileError{Path: path, Line: line,
		msg: fmt.Sprintf("%s line %d %s", showPath(path), line, problem)}
}

// showPath prints a path as given, quoted only when it holds characters that
// would break a one-line message.
func showPath(path string) string {
	if strings.ContainsFunc(path, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) {
		return strconv.Quote(path)
	}
	return path
}

// readKeyFile reads a whole key file, refusing directories, files that are
// too large, and files whose permissions let every user tamper with them
// (recipients) or read them (identities).
func readKeyFile(path string, kind keyKind) ([]byte, error) {
	p := showPath(path)
	if path == "" {
		return nil, fileError(path, nil, "no %s file given; set its path", kind)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(path, kind, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileError(path, err, "reading %s file %s: %v", kind, p, errCause(err))
	}
	if fi.IsDir() {
		return nil, fileError(path, nil, "%s is a directory; give the path of the %s file", p, kind)
	}
	if fi.Mode().IsRegular() {
		if err := checkMode(path, kind, fi.Mode().Perm()); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fileError(path, err, "reading %s file %s: %v", kind, p, errCause(err))
	}
	if len(data) > maxKeyFileSize {
		return nil, fileError(path, nil, "%s is larger than %d KiB, too large for a %s file; check the path",
			p, maxKeyFileSize>>10, kind)
	}
	return data, nil
}

// openError explains why a key file could not be opened.
func openError(path string, kind keyKind, err error) error {
	p := showPath(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fix := "create it with one age public key per line (age-keygen -y KEY)"
		if kind == identityKind {
			fix = "give the identity file written by age-keygen -o"
		}
		return fileError(path, err, "%s file %s does not exist; %s", kind, p, fix)
	case errors.Is(err, fs.ErrPermission):
		return fileError(path, err,
			"cannot read %s file %s: permission denied for uid %d; let this user read the file and its directories (chown or chmod)",
			kind, p, os.Geteuid())
	default:
		return fileError(path, err, "opening %s file %s: %v", kind, p, errCause(err))
	}
}

// checkMode refuses a recipients file that every user may write (anyone could
// add a key and read every later backup) and an identity file that every user
// may read or write.
func checkMode(path string, kind keyKind, perm fs.FileMode) error {
	p := showPath(path)
	switch {
	case kind == recipientsKind && perm&0o002 != 0:
		return fileError(path, fs.ErrPermission,
			"recipients file %s is writable by every user (mode %04o), so anyone could add a key; run chmod o-w %s",
			p, perm, p)
	case kind == identityKind && perm&0o006 != 0:
		return fileError(path, fs.ErrPermission,
			"identity file %s is open to every user (mode %04o); keep the secret key private: chmod 600 %s",
			p, perm, p)
	}
	return nil
}

// errCause strips the path that *fs.PathError repeats, to keep messages short.
func errCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// keyLine is one meaningful line of a key file.
type keyLine struct {
	n    int    // 1-based line number
	text string // trimmed of surrounding white space
}

// keyLines splits a key file into its meaningful lines, skipping blank lines
// and comments (lines starting with #, after leading white space).
func keyLines(data []byte) []keyLine {
	s := strings.TrimPrefix(string(data), "\ufeff")
	var lines []keyLine
	for i, raw := range strings.Split(s, "\n") {
		t := strings.TrimSpace(raw)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		lines = append(lines, keyLine{n: i + 1, text: t})
	}
	return lines
}

// notText reports a line that is not UTF-8 text, without echoing it.
func notText(path string, l keyLine) error {
	if utf8.ValidString(l.text) {
		return nil
	}
	return lineError(path, l.n, "is not UTF-8 text; this is not a key file or it is damaged")
}
