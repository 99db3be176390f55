package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Manifest signatures are ed25519 over the bytes the caller gives (the
// manifest without its signature). Keys live in text files of one key per
// line, blank lines and lines starting with # ignored:
//
//	# signing key file, mode 0600, read by backupd
//	PGTIER-SIGNING-KEY-1 <base64 of the 32-byte ed25519 seed>
//
//	# verify key file, read by backupctl; one line per trusted key
//	PGTIER-VERIFY-KEY-1 <base64 of the 32-byte ed25519 public key>
//
// A verify file may hold several keys, so that a new signing key can be
// trusted before the daemon switches to it. Public keys appear in manifests
// as the same base64 string.
const (
	SigningKeyPrefix   = "PGTIER-SIGNING-KEY-1"
	VerifyKeyPrefix    = "PGTIER-VERIFY-KEY-1"
	SignatureAlgorithm = "ed25519"
)

// Errors of Verify, matched with errors.Is. Each is permanent: the signed
// data, its signature or the verify key file must change.
var (
	// ErrUnsigned: there is no signature (or no signer's public key).
	ErrUnsigned = errors.New("not signed")
	// ErrBadSignature: the signature is malformed or does not match the
	// data: the data or the signature was altered.
	ErrBadSignature = errors.New("signature does not match the signed data")
	// ErrUnknownKey: the signature names a public key that is not in the
	// verify key file.
	ErrUnknownKey = errors.New("signed by a key that is not trusted")
)

// SigningKey is an ed25519 private key. It never prints its secret: every
// fmt verb shows its public key only, and it marshals to JSON as {}.
type SigningKey struct{ priv ed25519.PrivateKey }

// VerifyKey is an ed25519 public key.
type VerifyKey struct{ pub ed25519.PublicKey }

// Public returns the verify key that belongs to k.
func (k SigningKey) Public() VerifyKey {
	if len(k.priv) != ed25519.PrivateKeySize {
		return VerifyKey{}
	}
	return VerifyKey{k.priv.Public().(ed25519.PublicKey)}
}

// String names the key by its public half.
func (k SigningKey) String() string { return "signing key for " + k.Public().String() }

// Format prints String for every verb, so no format can reveal the secret.
func (k SigningKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// String is the public key in base64, as manifests and verify files hold it.
func (k VerifyKey) String() string { return base64.StdEncoding.EncodeToString(k.pub) }

// GenerateSigningKey returns a new random key pair.
func GenerateSigningKey() (SigningKey, VerifyKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, VerifyKey{}, fmt.Errorf("generating signing key: %w", err)
	}
	return SigningKey{priv}, VerifyKey{pub}, nil
}

// Sign signs data and returns the signer's public key and the signature,
// both in base64, for the manifest's signature field. It panics on the zero
// SigningKey, as ed25519.Sign does on a key of the wrong size.
func Sign(key SigningKey, data []byte) (publicKey, signature string) {
	sig := ed25519.Sign(key.priv, data)
	return key.Public().String(), base64.StdEncoding.EncodeToString(sig)
}

// Verify checks that signature is publicKey's signature of data and that
// publicKey is one of keys. It returns nil, or an error matching
// ErrUnsigned, ErrUnknownKey or ErrBadSignature (checked in that order).
func Verify(keys []VerifyKey, publicKey string, data []byte, signature string) error {
	if publicKey == "" || signature == "" {
		return ErrUnsigned
	}
	var signer ed25519.PublicKey
	for _, k := range keys {
		if k.String() == publicKey {
			signer = k.pub
			break
		}
	}
	if signer == nil {
		return fmt.Errorf("%w: key %s is not in the verify key file (%d keys)", ErrUnknownKey, printable(publicKey), len(keys))
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: the signature is not %d bytes of base64", ErrBadSignature, ed25519.SignatureSize)
	}
	if !ed25519.Verify(signer, data, sig) {
		return fmt.Errorf("%w (key %s)", ErrBadSignature, publicKey)
	}
	return nil
}

// printable shortens an untrusted string for a one-line message.
func printable(s string) string {
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// WriteKeyPair makes a new key pair and writes the signing key to privPath
// (mode 0600) and the verify key to pubPath (mode 0644). It refuses to
// overwrite either file; when the second write fails, the first file is
// removed. It returns the verify key, for the operator to note.
func WriteKeyPair(privPath, pubPath string) (VerifyKey, error) {
	if privPath == "" || pubPath == "" || privPath == pubPath {
		return VerifyKey{}, errors.New("writing signing keys: give two different paths, one for the signing key and one for the verify key")
	}
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return VerifyKey{}, fmt.Errorf("%s already exists; pgtier never overwrites a key file: move it away or choose another path", showPath(p))
		}
	}
	priv, pub, err := GenerateSigningKey()
	if err != nil {
		return VerifyKey{}, err
	}
	seed := base64.StdEncoding.EncodeToString(priv.priv.Seed())
	privText := "# pgtier manifest signing key (ed25519), for backupd. Keep it secret:\n" +
		"# whoever holds it can sign backups. Its verify key, for backupctl:\n" +
		"# " + VerifyKeyPrefix + " " + pub.String() + "\n" +
		SigningKeyPrefix + " " + seed + "\n"
	pubText := "# pgtier manifest verify keys (ed25519), for backupctl: one per line.\n" +
		"# Add a new key here before backupd signs with it.\n" +
		VerifyKeyPrefix + " " + pub.String() + "\n"
	if err := writeNew(privPath, privText, 0o600); err != nil {
		return VerifyKey{}, err
	}
	if err := writeNew(pubPath, pubText, 0o644); err != nil {
		_ = os.Remove(privPath)
		return VerifyKey{}, err
	}
	return pub, nil
}

// writeNew creates path, which must not exist, with content and mode, and
// syncs it to disk.
func writeNew(path, content string, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; pgtier never overwrites a key file: move it away or choose another path", showPath(path))
		}
		return fmt.Errorf("creating key file %s: %w", showPath(path), errCause(err))
	}
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Chmod(mode) // the umask may have narrowed it
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("writing key file %s: %w", showPath(path), errCause(err))
	}
	return nil
}

// LoadSigningKey reads a signing key file: exactly one PGTIER-SIGNING-KEY-1
// line. It refuses a file that every user may read or write. Every error is
// a *KeyFileError of one line naming the file, the line and the fix; none
// contains key material.
func LoadSigningKey(path string) (SigningKey, error) {
	data, err := readSignFile(path, signingKind)
	if err != nil {
		return SigningKey{}, err
	}
	return parseSigningKey(path, data)
}

// LoadVerifyKey reads a verify key file: one or more PGTIER-VERIFY-KEY-1
// lines, each a key whose signatures are trusted. It refuses a file that
// every user may write, an empty file, duplicate keys and signing keys.
// Every error is a *KeyFileError of one line naming the file, the line and
// the fix.
func LoadVerifyKey(path string) ([]VerifyKey, error) {
	data, err := readSignFile(path, verifyKind)
	if err != nil {
		return nil, err
	}
	return parseVerifyKeys(path, data)
}
