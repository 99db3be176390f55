package catalog

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseID feeds ParseID arbitrary ids: it must not panic, it fails with
// a one-line message, and an id it accepts is the one NewID gives for its
// time, so that one snapshot has one id.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"20261121T060000Z", "20240229T235959Z", "20230229T000000Z", "20261121T240000Z",
		"20261121T060000", "2026-11-21T06:00:00Z", "00000101T000000Z", "99991231T235959Z",
		"20261121t060000z", "20261121T060000Z\n", "", "\xff",
		"20261121T060000.5Z", "20261121T060000,000Z", // fractional seconds, which time.Parse allows
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		taken, err := ParseID(id)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if got := NewID(taken); got != id {
			t.Fatalf("ParseID accepted %q, the id of %s is %q", id, taken.Format(time.RFC3339Nano), got)
		}
	})
}

// FuzzSplitKey feeds the key parsers of List and Orphans arbitrary object
// keys: they must not panic, and a key they accept is the one ManifestKey
// or DataKey builds from the database and id they return.
func FuzzSplitKey(f *testing.F) {
	l := testLayout
	for _, db := range []string{"app", GlobalsDatabase, "a b", "x.y"} {
		f.Add(l.ManifestKey(db, "20261121T060000Z"))
		f.Add(l.DataKey(db, "20261121T060000Z"))
	}
	for _, s := range []string{
		l.ClusterPrefix() + "20261121T060000Z.manifest.json",
		l.ClusterPrefix() + "a/b/20261121T060000Z.manifest.json",
		l.ClusterPrefix() + "app/20261121T060000Z.sql.zst.age",
		l.ClusterPrefix() + GlobalsDatabase + "/20261121T060000Z.dump.zst.age",
		l.ClusterPrefix() + "app/.manifest.json",
		"production/main2/app/20261121T060000Z.manifest.json",
		"production/audit/00000000000000000001.json",
		"production/locks/main.lock",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if db, id, ok := l.splitManifestKey(key); ok {
			if db == "" || strings.Contains(db, "/") || l.ManifestKey(db, id) != key {
				t.Fatalf("splitManifestKey(%q) = %q, %q", key, db, id)
			}
		}
		if db, id, ok := l.splitDataKey(key); ok {
			if db == "" || strings.Contains(db, "/") || l.DataKey(db, id) != key {
				t.Fatalf("splitDataKey(%q) = %q, %q", key, db, id)
			}
		}
	})
}
