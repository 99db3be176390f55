package scheduler

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/pgtier/pgtier/storage"
)

// FuzzLeaseRecord puts arbitrary bytes in the lock object and lets a Lease
// read them and try to acquire: it must not panic or fail; a record it
// cannot decode counts as held until the object's time plus ttl; it takes
// the lease exactly when the record it read has expired, and then the lock
// object holds its own record.
func FuzzLeaseRecord(f *testing.F) {
	start := newFakeClock().Now()
	for _, rec := range []LeaseRecord{
		{Holder: "db1 pid 7", Token: "T0KEN", AcquiredAt: start, RenewedAt: start, ExpiresAt: start.Add(time.Minute)},
		{Holder: "db2 pid 8", Token: "T0KEN", AcquiredAt: start, RenewedAt: start, ExpiresAt: start.Add(-time.Second)},
		{Token: "T0KEN", ExpiresAt: start},
	} {
		data, err := json.Marshal(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"token":"x"}`, `{"token":"","expires_at":"2026-11-21T06:00:01Z"}`,
		`{"token":"x","expires_at":"0001-01-01T00:00:00Z"}`, `{"token":"x","expires_at":"9999-12-31T23:59:59Z"}`,
		`{"token":"x","expires_at":"2026-11-21T07:00:00+01:00"}`, `{"token":1}`, "\xef\xbb\xbf{}",
	} {
		f.Add([]byte(s))
	}
	const ttl = time.Minute
	f.Fuzz(func(t *testing.T, data []byte) {
		clock := newFakeClock()
		store := storage.NewMemory()
		store.SetClock(clock.Now)
		if _, err := store.Put(t.Context(), leaseKey, bytes.NewReader(data), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Second)
		l := NewLease(store, leaseKey, "fuzz", ttl, clock.Now, nil)
		cur, _, err := l.read(t.Context())
		if err != nil || cur == nil || cur.ExpiresAt.IsZero() {
			t.Fatalf("read = %v, %v", cur, err)
		}
		var rec LeaseRecord
		if json.Unmarshal(data[:min(len(data), 64<<10)], &rec) != nil || rec.Token == "" || rec.ExpiresAt.IsZero() {
			if want := start.Add(ttl); !cur.ExpiresAt.Equal(want) {
				t.Fatalf("an unreadable record is held until %s, want %s", cur.ExpiresAt, want)
			}
		}
		ok, err := l.Acquire(t.Context())
		if err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		if want := clock.Now().After(cur.ExpiresAt); ok != want {
			t.Fatalf("Acquire = %v over a record held until %s at %s", ok, cur.ExpiresAt, clock.Now())
		}
		if ok {
			if got := record(t, store); got == nil || got.Token != l.token {
				t.Fatalf("after Acquire the lock object holds %+v", got)
			}
		}
	})
}
