package crypto

import (
	"strings"
	"testing"
)

// fuzzSeeds returns key file contents that reach the branches of the parsers,
// built around freshly generated keys. A whole post-quantum public key (about
// two thousand characters) is left out: the fuzzer's minimizer spends minutes
// on inputs that large. The unit tests cover those keys.
func fuzzSeeds(f *testing.F) []string {
	x, h := newX25519(f), newHybrid(f)
	xs, xp := x.String(), x.Recipient().String()
	hs, hp := h.String(), h.Recipient().String()
	return []string{
		"",
		"# only a comment\n\n",
		xp + "\n",
		"\ufeff# ops\r\n  " + xp + "  \r\n" + hp[:120] + "\n",
		xp + "\n" + xp + "\n",
		xs + "\n",
		"# created: 2026-01-01T00:00:00Z\n# public key: " + xp + "\n" + xs + "\n",
		strings.ToLower(xs),
		hs + "\n" + xs + "\n",
		xs[:len(xs)-3] + "\n",
		hp[:100],
		"AGE-PLUGIN-YUBIKEY-1QQQQQQ\n",
		"age1yubikey1qqqqqqqqqq\n",
		xp + " " + xs + "\n",
		"ssh-ed25519 AAAA op@host\n",
		"-----BEGIN OPENSSH PRIVATE KEY-----\n",
		"age-encryption.org/v1\n-> scrypt x 18\n\xff\x00",
		"\xff\xfe\n",
	}
}

// Run the targets with a bound on minimization, which otherwise stalls the
// fuzzer for many seconds at a time on a loaded 2-core machine:
//
//	go test -run XXX -fuzz FuzzLoadRecipients -fuzztime 20s -fuzzminimizetime 2000x ./crypto
//
// fuzzKeyFile feeds key file contents to parse and checks that it does not
// panic, returns as many public key strings as keys, and fails, if at all,
// with a one-line message free of secret material. Reading the file is left
// out so that the fuzzer runs at full speed; the unit tests cover it.
func fuzzKeyFile(f *testing.F, parse func(path string, data []byte) (int, int, error)) {
	for _, s := range fuzzSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, keys, err := parse("/etc/pgtier/keys.txt", data)
		if err != nil {
			checkMessage(t, err)
			return
		}
		if n == 0 || n != keys {
			t.Fatalf("%d keys and %d public key strings without an error", n, keys)
		}
	})
}

func FuzzLoadRecipients(f *testing.F) {
	fuzzKeyFile(f, func(path string, data []byte) (int, int, error) {
		r, keys, err := parseRecipients(path, data)
		return len(r), len(keys), err
	})
}

func FuzzLoadIdentities(f *testing.F) {
	fuzzKeyFile(f, func(path string, data []byte) (int, int, error) {
		ids, keys, err := parseIdentities(path, data)
		return len(ids), len(keys), err
	})
}
