package audit_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pgtier/pgtier/audit"
)

// FuzzDecodeRecord feeds DecodeRecord arbitrary bytes: it must not panic,
// its errors must be ErrInvalidRecord, and what it accepts must be exactly
// what Encode writes for the record, and hold no secret.
func FuzzDecodeRecord(f *testing.F) {
	b := stored(begin("20261121T060000Z"), 1, "")
	e := stored(b.End(audit.OutcomeFailure, "pg_restore: error", 9), 2, strings.Repeat("ab", 32))
	e.BeginSeq = 1
	for _, r := range []audit.Record{b, e} {
		data, err := r.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"seq": 1e30}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := audit.DecodeRecord(data)
		if err != nil {
			if !errors.Is(err, audit.ErrInvalidRecord) {
				t.Fatalf("error %v is not ErrInvalidRecord", err)
			}
			return
		}
		again, err := r.Encode()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted bytes are not canonical (%v)", err)
		}
		if bytes.Contains(bytes.ToUpper(data), []byte("AGE-SECRET-KEY-")) {
			t.Fatal("accepted an age identity")
		}
	})
}
