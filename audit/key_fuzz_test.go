package audit

import (
	"strings"
	"testing"
)

// FuzzParseKey feeds the record key parser of the log's listing arbitrary
// keys: it must not panic, and a key it accepts names a sequence of at
// least 1 that Key turns back into the same key, so that no two keys name
// one record.
func FuzzParseKey(f *testing.F) {
	const env = "production"
	for _, s := range []string{
		Key(env, 1), Key(env, 42), Key(env, 1<<62), Key(env, 0), Key("staging", 1),
		Prefix(env) + "99999999999999999999.json", Prefix(env) + "+0000000000000000001.json",
		Prefix(env) + "0000000000000000001.json", Prefix(env) + "00000000000000000001.json.tmp",
		Prefix(env) + "locks/00000000000000000001.json", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		seq, ok := parseKey(Prefix(env), key)
		if !ok {
			return
		}
		if seq < 1 || Key(env, seq) != key || !strings.HasPrefix(key, Prefix(env)) {
			t.Fatalf("parseKey(%q) = %d; Key gives %q", key, seq, Key(env, seq))
		}
	})
}
