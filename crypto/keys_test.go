package crypto

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadRecipients(t *testing.T) {
	x1, x2 := newX25519(t), newX25519(t)
	h1, h2 := newHybrid(t), newHybrid(t)
	k1, k2 := x1.Recipient().String(), x2.Recipient().String()
	p1, p2 := h1.Recipient().String(), h2.Recipient().String()
	tests := []struct {
		name    string
		content string
		keys    []string
		wantErr string // substring; the path is checked separately
	}{
		{"one key", k1 + "\n", []string{k1}, ""},
		{"no final newline", k1, []string{k1}, ""},
		{"comments, blanks, CRLF, BOM, indent",
			"\ufeff# operators\r\n\r\n  " + k1 + "  \r\n\t# break-glass\r\n" + k2 + "\r\n",
			[]string{k1, k2}, ""},
		{"upper case key", strings.ToUpper(k1), []string{k1}, ""},
		{"hybrid", p1 + "\n" + p2 + "\n", []string{p1, p2}, ""},
		{"empty", "", nil, "no recipients in "},
		{"only comments", "# nobody yet\n\n", nil, "no recipients in "},
		{"secret key", k1 + "\n" + x2.String() + "\n", nil,
			"line 2 holds a secret key; the host must hold only public keys"},
		{"lower case secret key", strings.ToLower(x2.String()), nil, "line 1 holds a secret key"},
		{"hybrid secret key", "\n" + h1.String(), nil, "line 2 holds a secret key"},
		{"secret after a key", k1 + " " + x1.String(), nil, "line 1 holds a secret key"},
		{"plugin identity", "AGE-PLUGIN-YUBIKEY-1QQQQQQQQQQQQQQQQQ", nil, "line 1 holds a plugin identity"},
		{"ssh key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl op@host", nil,
			"line 1 holds an SSH key"},
		{"pem", "-----BEGIN PUBLIC KEY-----", nil, "line 1 holds a PEM block"},
		{"comment after key", k1 + " # alice", nil, "line 1 has text after the key"},
		{"garbage", "hello", nil, "line 1 is not an age public key"},
		{"damaged key", damage(k1), nil, "line 1 holds a damaged age public key"},
		{"short key", k1[:20], nil, "line 1 holds a damaged age public key"},
		{"damaged hybrid", p1[:len(p1)-3], nil, "line 1 holds a damaged post-quantum public key"},
		{"plugin recipient", "age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t", nil,
			"line 1 holds an age plugin recipient"},
		{"duplicate", k1 + "\n" + k2 + "\n" + k1 + "\n", nil, "line 3 repeats the key on line 1"},
		{"mixed", k1 + "\n" + p1 + "\n", nil, "mixes post-quantum keys (line 2) with classic keys (line 1)"},
		{"not utf-8", k1 + "\n\xff\xfe\n", nil, "line 2 is not UTF-8 text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "recipients.txt", tc.content, 0o644)
			recipients, keys, err := LoadRecipients(path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadRecipients: %v", err)
				}
				if !slices.Equal(keys, tc.keys) || len(recipients) != len(keys) {
					t.Fatalf("keys = %v (%d recipients), want %v", keys, len(recipients), tc.keys)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadRecipients succeeded, want error %q", tc.wantErr)
			}
			checkKeyFileError(t, err, path, tc.wantErr)
			for _, secret := range []string{x1.String(), x2.String(), h1.String()} {
				if strings.Contains(strings.ToUpper(err.Error()), secret[20:40]) {
					t.Errorf("error echoes a secret key: %v", err)
				}
			}
		})
	}
}

func TestLoadRecipientsNamesPublicKeyOfStraySecret(t *testing.T) {
	id := newX25519(t)
	path := writeFile(t, "recipients.txt", id.String()+"\n", 0o644)
	_, _, err := LoadRecipients(path)
	if err == nil || !strings.Contains(err.Error(), id.Recipient().String()) {
		t.Fatalf("error %v does not name the public key %s", err, id.Recipient())
	}
}

func TestLoadRecipientsMixedWrapsSentinel(t *testing.T) {
	content := newHybrid(t).Recipient().String() + "\n" + newX25519(t).Recipient().String() + "\n"
	_, _, err := LoadRecipients(writeFile(t, "r.txt", content, 0o644))
	if !errors.Is(err, ErrMixedRecipients) {
		t.Fatalf("err = %v, want ErrMixedRecipients", err)
	}
}

func TestLoadIdentities(t *testing.T) {
	x1, x2, h1 := newX25519(t), newX25519(t), newHybrid(t)
	keygen := "# created: 2026-01-02T03:04:05Z\n# public key: " + x1.Recipient().String() + "\n" + x1.String() + "\n"
	tests := []struct {
		name    string
		content string
		keys    []string
		wantErr string
	}{
		{"age-keygen output", keygen, []string{x1.Recipient().String()}, ""},
		{"several, hybrid and classic", x1.String() + "\r\n\n" + h1.String() + "\n  " + x2.String() + "\n",
			[]string{x1.Recipient().String(), h1.Recipient().String(), x2.Recipient().String()}, ""},
		{"empty", "\n\n", nil, "no identities in "},
		{"public key", x1.Recipient().String(), nil, "line 1 holds a public key, not a secret key"},
		{"passphrase-protected", "age-encryption.org/v1\n-> scrypt abc 18\nxyz\n--- mac\n\x00\xff", nil,
			"line 1 starts a passphrase-protected file"},
		{"armored", "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n", nil, "line 1 starts a passphrase-protected file"},
		{"ssh private key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n", nil, "line 1 holds an SSH or PEM key"},
		{"plugin identity", "AGE-PLUGIN-YUBIKEY-1QQQQQQQQQQQQQQQQQ", nil, "line 1 holds a plugin identity"},
		{"damaged", damage(x1.String()), nil, "line 1 holds a damaged secret key"},
		{"damaged hybrid", h1.String()[:30], nil, "line 1 holds a damaged secret key"},
		{"text after", x1.String() + " # mine", nil, "line 1 has text before or after the key"},
		{"garbage", "\n\nhunter2", nil, "line 3 is not an age identity"},
		{"not utf-8", "\xff" + x1.String(), nil, "line 1 is not UTF-8 text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "key.txt", tc.content, 0o600)
			ids, keys, err := LoadIdentities(path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadIdentities: %v", err)
				}
				if !slices.Equal(keys, tc.keys) || len(ids) != len(keys) {
					t.Fatalf("keys = %v (%d identities), want %v", keys, len(ids), tc.keys)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadIdentities succeeded, want error %q", tc.wantErr)
			}
			checkKeyFileError(t, err, path, tc.wantErr)
		})
	}
}

func TestKeyFilePermissions(t *testing.T) {
	k := newX25519(t)
	if _, _, err := LoadRecipients(writeFile(t, "r.txt", k.Recipient().String(), 0o664)); err != nil {
		t.Errorf("group-writable recipients file: %v", err)
	}
	path := writeFile(t, "r.txt", k.Recipient().String(), 0o666)
	_, _, err := LoadRecipients(path)
	checkKeyFileError(t, err, path, "is writable by every user")
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("err = %v, want fs.ErrPermission", err)
	}

	if _, _, err := LoadIdentities(writeFile(t, "k.txt", k.String(), 0o640)); err != nil {
		t.Errorf("group-readable identity file: %v", err)
	}
	for _, mode := range []os.FileMode{0o644, 0o602} {
		path := writeFile(t, "k.txt", k.String(), mode)
		_, _, err := LoadIdentities(path)
		checkKeyFileError(t, err, path, "chmod 600")
	}

	if os.Geteuid() == 0 {
		return // root reads anything; the permission-denied message cannot be provoked
	}
	path = writeFile(t, "r.txt", k.Recipient().String(), 0o000)
	_, _, err = LoadRecipients(path)
	checkKeyFileError(t, err, path, "permission denied")
}

func TestKeyFileOpenErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.txt")
	_, _, err := LoadRecipients(missing)
	checkKeyFileError(t, err, missing, "does not exist; create it")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
	_, _, err = LoadIdentities(missing)
	checkKeyFileError(t, err, missing, "identity file "+missing+" does not exist")

	_, _, err = LoadRecipients(dir)
	checkKeyFileError(t, err, dir, "is a directory")

	big := writeFile(t, "big.txt", strings.Repeat("#\n", maxKeyFileSize), 0o600)
	_, _, err = LoadIdentities(big)
	checkKeyFileError(t, err, big, "too large")

	_, _, err = LoadRecipients("")
	checkKeyFileError(t, err, "", "no recipients file given")
}

// checkKeyFileError checks that err is a one-line *KeyFileError naming the
// file and holding want.
func checkKeyFileError(t *testing.T, err error, path, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	var kfe *KeyFileError
	if !errors.As(err, &kfe) || kfe.Path != path {
		t.Errorf("err = %#v, want a *KeyFileError for %s", err, path)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s and say %q", err, path, want)
	}
	checkMessage(t, err)
}

// damage changes the last character of a bech32 string to another valid one,
// breaking its checksum.
func damage(s string) string {
	last := s[len(s)-1]
	for _, c := range []byte("qpQP") {
		if c != last && (c >= 'a') == (last >= 'a') {
			return s[:len(s)-1] + string(c)
		}
	}
	panic("unreachable")
}
