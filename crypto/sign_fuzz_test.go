package crypto

import (
	"strings"
	"testing"
)

// signSeeds returns key file contents that reach the branches of the
// signature key parsers.
func signSeeds(f *testing.F) []string {
	_, pub, seed := newSigningKey(f)
	_, pub2, seed2 := newSigningKey(f)
	s, v := SigningKeyPrefix+" "+seed, VerifyKeyPrefix+" "+pub.String()
	return []string{
		"",
		"# only a comment\n\n",
		s + "\n",
		v + "\n",
		"\ufeff# ops\r\n  " + v + "  \r\n" + VerifyKeyPrefix + "\t" + pub2.String() + "\n",
		s + "\n" + SigningKeyPrefix + " " + seed2 + "\n",
		v + "\n" + v + "\n",
		v + "\n" + s + "\n",
		SigningKeyPrefix + " " + seed[:20],
		VerifyKeyPrefix,
		v + " # comment",
		"PGTIER-SIGNING-KEY-2 " + seed,
		seed,
		"AGE-SECRET-KEY-1QQQQ\n",
		"ssh-ed25519 AAAA op@host\n",
		"\xff\xfe\n",
	}
}

// fuzzSignFile feeds key file contents to parse and checks that it does not
// panic, returns at least one key without an error, and fails, if at all,
// with a one-line message that quotes no long token of the input.
func fuzzSignFile(f *testing.F, parse func(path string, data []byte) (int, error)) {
	for _, s := range signSeeds(f) {
		f.Add([]byte(s))
	}
	const path = "/etc/pgtier/keys.txt"
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := parse(path, data)
		if err == nil {
			if n == 0 {
				t.Fatal("no keys and no error")
			}
			return
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\n\r") {
			t.Fatalf("error spans lines: %q", msg)
		}
		// Public keys may be named; nothing else of the input may be.
		public := map[string]bool{SigningKeyPrefix: true, VerifyKeyPrefix: true}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == VerifyKeyPrefix {
				public[f[1]] = true
			}
		}
		for _, tok := range strings.Fields(string(data)) {
			fixed := strings.Contains(path+" "+SigningKeyPrefix+" "+VerifyKeyPrefix, tok)
			if len(tok) >= 16 && !public[tok] && !fixed && strings.Contains(msg, tok) {
				t.Fatalf("error quotes the input %q: %q", tok, msg)
			}
		}
	})
}

func FuzzLoadSigningKey(f *testing.F) {
	fuzzSignFile(f, func(path string, data []byte) (int, error) {
		k, err := parseSigningKey(path, data)
		if err != nil {
			return 0, err
		}
		if k.Public().String() == "" {
			return 0, nil
		}
		return 1, nil
	})
}

func FuzzLoadVerifyKey(f *testing.F) {
	fuzzSignFile(f, func(path string, data []byte) (int, error) {
		keys, err := parseVerifyKeys(path, data)
		return len(keys), err
	})
}
