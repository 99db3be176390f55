package audit

// ResultIncomplete is the result of an access with a begin record and no
// end record: still running, or ended without writing its end (a crash, a
// lost store).
const ResultIncomplete = "incomplete"

// Summary counts accesses (begin records) by result, for the daemon's
// pgtier_restore_access_total{result}.
type Summary struct {
	Success    int // closed by an end record with OutcomeSuccess
	Failure    int // closed by an end record with OutcomeFailure
	Incomplete int // not closed (yet)
}

// Total is the number of accesses.
func (s Summary) Total() int { return s.Success + s.Failure + s.Incomplete }

// ByResult returns the counts keyed by the metric's result label: success,
// failure and incomplete, all three always present. Incomplete falls when a
// running access ends, so the numbers suit a gauge or a collector's const
// metrics rather than a Counter that is incremented.
func (s Summary) ByResult() map[string]int {
	return map[string]int{
		OutcomeSuccess:   s.Success,
		OutcomeFailure:   s.Failure,
		ResultIncomplete: s.Incomplete,
	}
}

// Summarize counts the begin records of records by the outcome of the first
// end record that closes each. Records need not be sorted; end records that
// close no begin record in records are ignored (Verify reports them).
func Summarize(records []Record) Summary {
	type end struct {
		seq     int64
		outcome string
	}
	first := map[int64]end{}
	for _, r := range records {
		if e, ok := first[r.BeginSeq]; r.Kind == KindEnd && (!ok || r.Seq < e.seq) {
			first[r.BeginSeq] = end{r.Seq, r.Outcome}
		}
	}
	var s Summary
	for _, r := range records {
		if r.Kind != KindBegin {
			continue
		}
		switch first[r.Seq].outcome {
		case OutcomeSuccess:
			s.Success++
		case OutcomeFailure:
			s.Failure++
		default:
			s.Incomplete++
		}
	}
	return s
}
