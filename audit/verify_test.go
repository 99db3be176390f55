package audit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/storage"
)

// fill appends n begin records, each but the last followed by its end.
func fill(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	for i := range n {
		b := appendOK(t, l, begin("20261121T060000Z"))
		if i < n-1 {
			appendOK(t, l, b.End(audit.OutcomeSuccess, "", 100))
		}
	}
}

// overwrite replaces record seq's bytes in place, as a put without a
// condition does.
func overwrite(t *testing.T, s audit.Store, seq int64, data []byte) {
	t.Helper()
	if _, err := s.Put(context.Background(), audit.Key("prod", seq), bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// alter rewrites record seq with another reason, keeping it valid.
func alter(t *testing.T, s audit.Store, seq int64) {
	t.Helper()
	r, err := audit.DecodeRecord(rawRecord(t, s, seq))
	if err != nil {
		t.Fatal(err)
	}
	r.Reason = "routine check"
	data, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, s, seq, data)
}

func wantBad(t *testing.T, l *audit.Log, seq int64, problem string) {
	t.Helper()
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.OK || rep.FirstBad != seq || !strings.Contains(rep.Problem, problem) {
		t.Fatalf("Verify = %+v, want record %d bad: %s", rep, seq, problem)
	}
}

func TestVerifyEmpty(t *testing.T) {
	rep := verifyOK(t, newLog(t, storage.NewMemory(), audit.Options{}), 0)
	if rep.Summary.Total() != 0 {
		t.Fatalf("summary %+v", rep.Summary)
	}
}

func TestVerifyAltered(t *testing.T) {
	mem := storage.NewMemory()
	fill(t, newLog(t, mem, audit.Options{}), 4) // records 1..7
	alter(t, mem, 3)
	wantBad(t, newLog(t, mem, audit.Options{}), 3, "record 3 was altered")
}

func TestVerifyUndecodable(t *testing.T) {
	mem := storage.NewMemory()
	fill(t, newLog(t, mem, audit.Options{}), 3)
	overwrite(t, mem, 2, []byte(`{"format": 1}`))
	wantBad(t, newLog(t, mem, audit.Options{}), 2, "record 2 does not decode")
}

func TestVerifyMissing(t *testing.T) {
	mem := storage.NewMemory()
	fill(t, newLog(t, mem, audit.Options{}), 3)
	if err := mem.Delete(context.Background(), audit.Key("prod", 4)); err != nil {
		t.Fatal(err)
	}
	wantBad(t, newLog(t, mem, audit.Options{}), 4, "record 4 is missing")
	if err := mem.Delete(context.Background(), audit.Key("prod", 1)); err != nil {
		t.Fatal(err)
	}
	wantBad(t, newLog(t, mem, audit.Options{}), 1, "record 1 is missing")
}

func TestVerifyWrongSeq(t *testing.T) {
	mem := storage.NewMemory()
	fill(t, newLog(t, mem, audit.Options{}), 2)
	overwrite(t, mem, 2, rawRecord(t, mem, 1))
	wantBad(t, newLog(t, mem, audit.Options{}), 2, "says it is record 1")
}

func TestVerifyStray(t *testing.T) {
	mem := storage.NewMemory()
	fill(t, newLog(t, mem, audit.Options{}), 1)
	if _, err := mem.Put(context.Background(), "prod/audit/notes.txt", strings.NewReader("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	wantBad(t, newLog(t, mem, audit.Options{}), 0, "notes.txt")
}

func TestVerifyEndOfAnotherBackup(t *testing.T) {
	mem := storage.NewMemory()
	l := newLog(t, mem, audit.Options{})
	b := appendOK(t, l, begin("20261121T060000Z"))
	e := b.End(audit.OutcomeSuccess, "", 1)
	e.BackupID = "20261120T060000Z"
	appendOK(t, l, e)
	wantBad(t, l, 2, "another backup")

	mem = storage.NewMemory()
	l = newLog(t, mem, audit.Options{})
	b = appendOK(t, l, begin("20261121T060000Z"))
	e = appendOK(t, l, b.End(audit.OutcomeSuccess, "", 1))
	appendOK(t, l, e.End(audit.OutcomeSuccess, "", 1))
	wantBad(t, l, 3, "not a begin record")
}

// TestVerifyNewestRecord shows the limit of the chain: the newest record has
// no successor, so a fresh Log cannot see it altered, while a Log that wrote
// or verified it before can.
func TestVerifyNewestRecord(t *testing.T) {
	mem := storage.NewMemory()
	writer := newLog(t, mem, audit.Options{})
	fill(t, writer, 2) // records 1..3
	reader := newLog(t, mem, audit.Options{})
	verifyOK(t, reader, 3)
	alter(t, mem, 3)
	verifyOK(t, newLog(t, mem, audit.Options{}), 3)
	wantBad(t, writer, 3, "changed since this process last read it")
	wantBad(t, reader, 3, "changed since this process last read it")

	if err := mem.Delete(context.Background(), audit.Key("prod", 3)); err != nil {
		t.Fatal(err)
	}
	wantBad(t, reader, 3, "is gone")
}

func TestVerifyUnreadable(t *testing.T) {
	mem := storage.NewMemory()
	fill(t, newLog(t, mem, audit.Options{}), 1)
	l := newLog(t, failingGet{mem}, audit.Options{})
	if _, err := l.Verify(context.Background()); !errors.Is(err, audit.ErrUnavailable) || !errors.Is(err, errDenied) {
		t.Fatalf("Verify on an unreadable store: %v", err)
	}
	if _, err := l.List(context.Background()); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("List on an unreadable store: %v", err)
	}
}

func TestList(t *testing.T) {
	mem := storage.NewMemory()
	l := newLog(t, mem, audit.Options{})
	fill(t, l, 2)
	records, err := l.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 3 || records[0].Seq != 1 || records[1].Kind != audit.KindEnd || records[2].Seq != 3 {
		t.Fatalf("List = %+v", records)
	}
	overwrite(t, mem, 2, []byte("garbage"))
	if _, err := l.List(context.Background()); !errors.Is(err, audit.ErrInvalidRecord) {
		t.Fatalf("List with an undecodable record: %v", err)
	}
}

// failingGet lists but cannot read objects.
type failingGet struct{ audit.Store }

func (failingGet) Get(context.Context, string, string) (io.ReadCloser, storage.ObjectInfo, error) {
	return nil, storage.ObjectInfo{}, errDenied
}
