package crypto

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// The two kinds of signature key file, as named in messages.
const (
	signingKind keyKind = "signing key"
	verifyKind  keyKind = "verify key"
)

// readSignFile reads a whole signing or verify key file, refusing
// directories, files that are too large, a signing key file that every user
// may read or write, and a verify key file that every user may write (anyone
// could add a key and have forged manifests trusted).
func readSignFile(path string, kind keyKind) ([]byte, error) {
	p := showPath(path)
	if path == "" {
		return nil, fileError(path, nil, "no %s file given; set its path", kind)
	}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fileError(path, err, "%s file %s does not exist; make a key pair with backupctl keygen", kind, p)
	case errors.Is(err, fs.ErrPermission):
		return nil, fileError(path, err, "cannot read %s file %s: permission denied for uid %d; let this user read the file and its directories (chown or chmod)",
			kind, p, os.Geteuid())
	case err != nil:
		return nil, fileError(path, err, "opening %s file %s: %v", kind, p, errCause(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileError(path, err, "reading %s file %s: %v", kind, p, errCause(err))
	}
	if fi.IsDir() {
		return nil, fileError(path, nil, "%s is a directory; give the path of the %s file", p, kind)
	}
	perm := fi.Mode().Perm()
	switch {
	case !fi.Mode().IsRegular():
	case kind == signingKind && perm&0o006 != 0:
		return nil, fileError(path, fs.ErrPermission,
			"signing key file %s is open to every user (mode %04o); keep the key private: chmod 600 %s", p, perm, p)
	case kind == verifyKind && perm&0o002 != 0:
		return nil, fileError(path, fs.ErrPermission,
			"verify key file %s is writable by every user (mode %04o), so anyone could add a key; run chmod o-w %s", p, perm, p)
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

// parseSigningKey parses the contents of the signing key file at path.
func parseSigningKey(path string, data []byte) (SigningKey, error) {
	var (
		key   SigningKey
		first int
	)
	for _, l := range keyLines(data) {
		if err := notText(path, l); err != nil {
			return SigningKey{}, err
		}
		prefix, value, problem := splitKeyLine(l.text, signingKind)
		switch {
		case problem != "":
			return SigningKey{}, lineError(path, l.n, problem)
		case prefix == VerifyKeyPrefix:
			return SigningKey{}, lineError(path, l.n, "holds a verify key, not a signing key; give the signing key file written by backupctl keygen")
		case first != 0:
			return SigningKey{}, lineError(path, l.n, fmt.Sprintf("holds a second key (the first is on line %d); keep one signing key per file", first))
		}
		seed, ok := decodeKey(value, ed25519.SeedSize)
		if !ok {
			return SigningKey{}, lineError(path, l.n, "holds a damaged signing key (bad base64 or length); copy the file again from where backupctl keygen wrote it")
		}
		key, first = SigningKey{ed25519.NewKeyFromSeed(seed)}, l.n
	}
	if first == 0 {
		return SigningKey{}, fileError(path, nil, "no signing key in %s; make one with backupctl keygen", showPath(path))
	}
	return key, nil
}

// parseVerifyKeys parses the contents of the verify key file at path.
func parseVerifyKeys(path string, data []byte) ([]VerifyKey, error) {
	var keys []VerifyKey
	seen := map[string]int{}
	for _, l := range keyLines(data) {
		if err := notText(path, l); err != nil {
			return nil, err
		}
		prefix, value, problem := splitKeyLine(l.text, verifyKind)
		if problem != "" {
			return nil, lineError(path, l.n, problem)
		}
		if prefix == SigningKeyPrefix {
			fix := "(backupctl keygen writes it next to the signing key)"
			if seed, ok := decodeKey(value, ed25519.SeedSize); ok {
				fix = VerifyKeyPrefix + " " + SigningKey{ed25519.NewKeyFromSeed(seed)}.Public().String()
			}
			return nil, lineError(path, l.n, "holds a signing key; a verify key file must hold only public keys: replace the line with "+fix+
				" and keep the signing key only on the backup host")
		}
		pub, ok := decodeKey(value, ed25519.PublicKeySize)
		if !ok {
			return nil, lineError(path, l.n, "holds a damaged verify key (bad base64 or length); copy it again from the file backupctl keygen wrote")
		}
		k := VerifyKey{ed25519.PublicKey(pub)}
		if prev, dup := seen[k.String()]; dup {
			return nil, lineError(path, l.n, fmt.Sprintf("repeats the key on line %d; remove one of them", prev))
		}
		seen[k.String()] = l.n
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fileError(path, nil, "no verify keys in %s; add the %s line that backupctl keygen wrote", showPath(path), VerifyKeyPrefix)
	}
	return keys, nil
}

// splitKeyLine splits a trimmed line into its prefix (one of the two key
// prefixes) and its value. On failure it returns a problem phrased to follow
// "FILE line N", never quoting the line.
func splitKeyLine(s string, kind keyKind) (prefix, value, problem string) {
	want := "backupctl keygen"
	fields := strings.Fields(s)
	upper := strings.ToUpper(s)
	switch {
	case strings.HasPrefix(upper, "AGE-SECRET-KEY-") || strings.HasPrefix(upper, "AGE-PLUGIN-") || strings.HasPrefix(strings.ToLower(s), "age1"):
		return "", "", "holds an age key; manifest " + string(kind) + "s are a different kind of key, made with " + want
	case strings.HasPrefix(s, "-----BEGIN") || isSSHKey(s):
		return "", "", "holds an SSH or PEM key; pgtier takes only the " + string(kind) + "s made with " + want
	case len(fields) == 0 || (fields[0] != SigningKeyPrefix && fields[0] != VerifyKeyPrefix):
		if strings.HasPrefix(upper, "PGTIER-") {
			return "", "", "holds a key of a kind or version this pgtier does not know; make a new key pair with " + want
		}
		return "", "", "is not a " + string(kind) + "; each line must be " + map[keyKind]string{
			signingKind: SigningKeyPrefix, verifyKind: VerifyKeyPrefix}[kind] + " and the key, as " + want + " writes it"
	case len(fields) == 1:
		return "", "", "has no key after " + fields[0] + "; copy the line again from the file " + want + " wrote"
	case len(fields) > 2:
		return "", "", "has text after the key; put comments on their own line, starting with #"
	}
	return fields[0], fields[1], ""
}

// decodeKey decodes standard base64 of exactly size bytes.
func decodeKey(s string, size int) ([]byte, bool) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != size {
		return nil, false
	}
	return b, true
}
