package crypto

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newSigningKey returns a fresh key pair and the base64 seed of its secret.
func newSigningKey(t testing.TB) (SigningKey, VerifyKey, string) {
	t.Helper()
	priv, pub, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub, base64.StdEncoding.EncodeToString(priv.priv.Seed())
}

func TestSignVerify(t *testing.T) {
	priv, pub, _ := newSigningKey(t)
	other, otherPub, _ := newSigningKey(t)
	data := []byte(`{"format":1,"id":"20261121T060000Z"}`)
	key, sig := Sign(priv, data)
	if key != pub.String() || key != priv.Public().String() {
		t.Fatalf("Sign names key %s, want %s", key, pub)
	}
	otherKey, otherSig := Sign(other, data)
	flipped := []byte(sig)
	flipped[3] ^= 1
	tests := []struct {
		name      string
		keys      []VerifyKey
		key       string
		data      []byte
		signature string
		want      error
	}{
		{"good", []VerifyKey{pub}, key, data, sig, nil},
		{"rotation: old and new key trusted", []VerifyKey{otherPub, pub}, key, data, sig, nil},
		{"rotation: the new key signs", []VerifyKey{otherPub, pub}, otherKey, data, otherSig, nil},
		{"no signature", []VerifyKey{pub}, key, data, "", ErrUnsigned},
		{"no key", []VerifyKey{pub}, "", data, sig, ErrUnsigned},
		{"altered data", []VerifyKey{pub}, key, []byte(`{"format":1,"id":"20261121T060001Z"}`), sig, ErrBadSignature},
		{"altered signature", []VerifyKey{pub}, key, data, string(flipped), ErrBadSignature},
		{"signature not base64", []VerifyKey{pub}, key, data, "!!", ErrBadSignature},
		{"short signature", []VerifyKey{pub}, key, data, sig[:40], ErrBadSignature},
		{"another key's signature", []VerifyKey{pub}, key, data, otherSig, ErrBadSignature},
		{"signed by another key", []VerifyKey{pub}, otherKey, data, otherSig, ErrUnknownKey},
		{"no trusted keys", nil, key, data, sig, ErrUnknownKey},
		{"junk key name", []VerifyKey{pub}, strings.Repeat("\n", 100), data, sig, ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.keys, tc.key, tc.data, tc.signature)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestWriteKeyPair(t *testing.T) {
	dir := t.TempDir()
	privPath, pubPath := filepath.Join(dir, "signing.key"), filepath.Join(dir, "verify.keys")
	pub, err := WriteKeyPair(privPath, pubPath)
	if err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]fs.FileMode{privPath: 0o600, pubPath: 0o644} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %04o, want %04o", path, fi.Mode().Perm(), mode)
		}
	}
	priv, err := LoadSigningKey(privPath)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := LoadVerifyKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].String() != pub.String() || priv.Public().String() != pub.String() {
		t.Fatalf("loaded %v and %v, wrote %v", priv, keys, pub)
	}
	key, sig := Sign(priv, []byte("manifest"))
	if err := Verify(keys, key, []byte("manifest"), sig); err != nil {
		t.Fatal(err)
	}

	before, _ := os.ReadFile(privPath)
	for _, paths := range [][2]string{
		{privPath, filepath.Join(dir, "new.keys")},
		{filepath.Join(dir, "new.key"), pubPath},
	} {
		_, err := WriteKeyPair(paths[0], paths[1])
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("WriteKeyPair(%s, %s) = %v, want a refusal to overwrite", paths[0], paths[1], err)
		}
		for _, p := range paths {
			if p != privPath && p != pubPath {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("refused WriteKeyPair left %s behind", p)
				}
			}
		}
	}
	if after, _ := os.ReadFile(privPath); !bytes.Equal(before, after) {
		t.Error("the signing key changed")
	}
	if _, err := WriteKeyPair(filepath.Join(dir, "same"), filepath.Join(dir, "same")); err == nil {
		t.Error("WriteKeyPair accepted one path for both keys")
	}
	orphan := filepath.Join(dir, "orphan.key")
	if _, err := WriteKeyPair(orphan, filepath.Join(dir, "missing", "verify.keys")); err == nil {
		t.Error("WriteKeyPair wrote into a missing directory")
	}
	if _, err := os.Stat(orphan); err == nil {
		t.Error("a failed WriteKeyPair left its signing key behind")
	}
}

// checkSignMessage fails unless err is a one-line *KeyFileError naming path
// and containing none of the secrets.
func checkSignMessage(t *testing.T, err error, path string, secrets ...string) {
	t.Helper()
	var kfe *KeyFileError
	if !errors.As(err, &kfe) {
		t.Errorf("error %T is not a *KeyFileError: %v", err, err)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error spans lines: %q", msg)
	}
	if !strings.Contains(msg, path) {
		t.Errorf("error does not name %s: %q", path, msg)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error contains secret material: %q", msg)
		}
	}
}

func TestLoadSigningKey(t *testing.T) {
	priv, pub, seed := newSigningKey(t)
	_, _, seed2 := newSigningKey(t)
	line := SigningKeyPrefix + " " + seed
	tests := []struct {
		name, content string
		mode          fs.FileMode
		wantErr       string
	}{
		{"one key", line + "\n", 0o600, ""},
		{"comments, blanks, CRLF, BOM, indent", "\ufeff# backupd\r\n\r\n  " + line + "  \r\n# end\r\n", 0o600, ""},
		{"group readable", line, 0o640, ""},
		{"world readable", line, 0o644, "open to every user (mode 0644); keep the key private: chmod 600"},
		{"world writable", line, 0o602, "open to every user"},
		{"empty", "", 0o600, "no signing key in"},
		{"only comments", "# nothing\n", 0o600, "no signing key in"},
		{"two keys", line + "\n" + SigningKeyPrefix + " " + seed2 + "\n", 0o600, "line 2 holds a second key (the first is on line 1)"},
		{"verify key", VerifyKeyPrefix + " " + pub.String(), 0o600, "line 1 holds a verify key, not a signing key"},
		{"damaged", SigningKeyPrefix + " " + seed[:len(seed)-4], 0o600, "line 1 holds a damaged signing key"},
		{"not base64", SigningKeyPrefix + " " + strings.Repeat("!", 44), 0o600, "line 1 holds a damaged signing key"},
		{"tab separated", SigningKeyPrefix + "\t" + seed, 0o600, ""},
		{"no value", SigningKeyPrefix, 0o600, "line 1 has no key after"},
		{"comment after key", line + " # ops", 0o600, "line 1 has text after the key"},
		{"bare seed", seed, 0o600, "line 1 is not a signing key; each line must be " + SigningKeyPrefix},
		{"future version", "PGTIER-SIGNING-KEY-2 " + seed, 0o600, "line 1 holds a key of a kind or version this pgtier does not know"},
		{"age identity", strings.ToUpper("AGE-SECRET-KEY-1" + strings.Repeat("q", 58)), 0o600, "line 1 holds an age key"},
		{"ssh key", "-----BEGIN OPENSSH PRIVATE KEY-----", 0o600, "line 1 holds an SSH or PEM key"},
		{"not utf-8", "\xff\xfe" + seed, 0o600, "line 1 is not UTF-8 text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "signing.key", tc.content, tc.mode)
			got, err := LoadSigningKey(path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.Public().String() != priv.Public().String() {
					t.Fatalf("loaded %v, want %v", got, priv)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("LoadSigningKey = %v, want an error containing %q", err, tc.wantErr)
			}
			checkSignMessage(t, err, path, seed, seed2, seed[:20])
		})
	}
}

func TestLoadVerifyKey(t *testing.T) {
	_, pub, seed := newSigningKey(t)
	_, pub2, _ := newSigningKey(t)
	line, line2 := VerifyKeyPrefix+" "+pub.String(), VerifyKeyPrefix+" "+pub2.String()
	tests := []struct {
		name, content string
		mode          fs.FileMode
		want          []string
		wantErr       string
	}{
		{"one key", line + "\n", 0o644, []string{pub.String()}, ""},
		{"rotation", "# current\n" + line + "\n# next\r\n" + line2, 0o444, []string{pub.String(), pub2.String()}, ""},
		{"world writable", line, 0o666, nil, "writable by every user (mode 0666), so anyone could add a key"},
		{"empty", "\n\n", 0o644, nil, "no verify keys in"},
		{"duplicate", line + "\n" + line2 + "\n" + line + "\n", 0o644, nil, "line 3 repeats the key on line 1"},
		{"signing key", line2 + "\n" + SigningKeyPrefix + " " + seed, 0o644, nil,
			"line 2 holds a signing key; a verify key file must hold only public keys: replace the line with " + line},
		{"damaged signing key", SigningKeyPrefix + " " + seed[:30], 0o644, nil, "replace the line with (backupctl keygen"},
		{"damaged", VerifyKeyPrefix + " " + pub.String()[:40], 0o644, nil, "line 1 holds a damaged verify key"},
		{"age recipient", "age1" + strings.Repeat("q", 58), 0o644, nil, "line 1 holds an age key"},
		{"garbage", "hello world", 0o644, nil, "line 1 is not a verify key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "verify.keys", tc.content, tc.mode)
			keys, err := LoadVerifyKey(path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, k := range keys {
					got = append(got, k.String())
				}
				if strings.Join(got, " ") != strings.Join(tc.want, " ") {
					t.Fatalf("loaded %v, want %v", got, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("LoadVerifyKey = %v, want an error containing %q", err, tc.wantErr)
			}
			checkSignMessage(t, err, path, seed, seed[:20])
		})
	}
}

func TestLoadSignFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{func() error { _, err := LoadSigningKey(missing); return err }(), "signing key file " + missing + " does not exist; make a key pair with backupctl keygen"},
		{func() error { _, err := LoadVerifyKey(missing); return err }(), "verify key file " + missing + " does not exist"},
		{func() error { _, err := LoadVerifyKey(dir); return err }(), dir + " is a directory"},
		{func() error { _, err := LoadSigningKey(""); return err }(), "no signing key file given"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("got %v, want %q", tc.err, tc.want)
		}
	}
	if _, err := LoadSigningKey(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v does not match fs.ErrNotExist", err)
	}
	if _, err := LoadSigningKey(writeFile(t, "k", "x", 0o604)); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("%v does not match fs.ErrPermission", err)
	}
}

func TestSigningKeyNeverPrints(t *testing.T) {
	priv, _, seed := newSigningKey(t)
	seedBytes := priv.priv.Seed()
	secrets := []string{seed, hex.EncodeToString(seedBytes), strings.Trim(fmt.Sprintf("%d", seedBytes[:6]), "[]")}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		out = append(out, fmt.Sprintf(verb, priv), fmt.Sprintf(verb, &priv), fmt.Sprintf(verb, []SigningKey{priv}))
	}
	j, err := json.Marshal(struct{ Key SigningKey }{priv})
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "k", priv)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("key", "k", priv)
	out = append(out, logs.String())
	for _, s := range out {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows the secret", s)
			}
		}
	}
	if s := fmt.Sprint(priv); !strings.Contains(s, priv.Public().String()) {
		t.Errorf("%q does not name the public key", s)
	}
}
