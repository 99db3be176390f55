package audit_test

import (
	"testing"

	"github.com/pgtier/pgtier/audit"
)

func TestSummarize(t *testing.T) {
	rec := func(seq int64, kind string, beginSeq int64, outcome string) audit.Record {
		return audit.Record{Seq: seq, Kind: kind, BeginSeq: beginSeq, Outcome: outcome}
	}
	records := []audit.Record{
		rec(1, audit.KindBegin, 0, ""),
		rec(2, audit.KindBegin, 0, ""),
		rec(3, audit.KindBegin, 0, ""),
		rec(4, audit.KindBegin, 0, ""),
		rec(6, audit.KindEnd, 1, audit.OutcomeFailure), // a later duplicate end does not count
		rec(5, audit.KindEnd, 1, audit.OutcomeSuccess),
		rec(7, audit.KindEnd, 2, audit.OutcomeFailure),
		rec(8, audit.KindEnd, 99, audit.OutcomeSuccess), // closes nothing here
	}
	s := audit.Summarize(records)
	if s != (audit.Summary{Success: 1, Failure: 1, Incomplete: 2}) || s.Total() != 4 {
		t.Fatalf("Summarize = %+v", s)
	}
	m := s.ByResult()
	if len(m) != 3 || m["success"] != 1 || m["failure"] != 1 || m["incomplete"] != 2 {
		t.Fatalf("ByResult = %v", m)
	}
	if m := audit.Summarize(nil).ByResult(); len(m) != 3 || m["incomplete"] != 0 {
		t.Fatalf("ByResult of nothing = %v", m)
	}
}
