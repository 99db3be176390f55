package audit

import (
	"context"
	"fmt"
)

// Report is the result of Verify.
type Report struct {
	// Records is the number of record objects read.
	Records int
	// OK is true when every check passed.
	OK bool
	// FirstBad is the lowest sequence found bad (altered, missing,
	// undecodable or pointing at the wrong begin record); 0 when OK, or when
	// the only problem is an object in the prefix that is not a record.
	FirstBad int64
	// Problem says what is wrong with FirstBad, in one line; "" when OK.
	Problem string
	// Summary counts the accesses of every record that decodes, whether the
	// chain is OK or not.
	Summary Summary
}

// Verify reads the whole log (one listing and one Get per record) and checks
// that:
//   - sequences run from 1 without gaps, and nothing else is in the prefix;
//   - every record decodes strictly (DecodeRecord) and names its own seq;
//   - every prev_sha256 is the SHA-256 of the previous record's bytes (an
//     altered record is named by its sequence: its successor's hash no
//     longer matches);
//   - every end record closes an earlier begin record of the same action
//     and backup;
//   - the newest record this Log wrote or verified before is still there
//     with the same bytes.
//
// The error is for a store that cannot be read (it wraps ErrUnavailable);
// a broken chain is a Report with OK false.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	l.mu.Lock()
	seen := l.head
	l.mu.Unlock()

	recs, strays, err := l.readAll(ctx)
	if err != nil {
		return Report{}, err
	}
	v := verifier{byseq: map[int64]Record{}}
	var decoded []Record
	next := int64(1)
	for i, s := range recs {
		if s.seq != next {
			v.bad(next, fmt.Sprintf("record %d is missing", next))
		}
		next = s.seq + 1
		if s.gone {
			v.bad(s.seq, fmt.Sprintf("record %d was listed but is gone", s.seq))
			continue
		}
		r, ok := v.decode(s)
		if !ok {
			continue
		}
		if i > 0 && recs[i-1].seq == s.seq-1 && !recs[i-1].gone && r.PrevSHA256 != sum(recs[i-1].data) {
			v.bad(s.seq-1, fmt.Sprintf("record %d was altered: record %d holds another hash of it", s.seq-1, s.seq))
		}
		decoded = append(decoded, r)
		v.byseq[r.Seq] = r
		if r.Kind == KindEnd {
			v.checkEnd(r)
		}
	}
	v.checkSeen(seen, recs)
	for _, key := range strays {
		v.bad(0, fmt.Sprintf("%s is in the audit prefix but is not a record", key))
	}

	rep := Report{Records: len(recs), OK: !v.found, FirstBad: v.first, Problem: v.problem, Summary: Summarize(decoded)}
	if rep.OK && len(recs) > 0 {
		last := recs[len(recs)-1]
		l.mu.Lock()
		if !l.head.known || last.seq >= l.head.seq {
			l.head = head{known: true, seq: last.seq, sum: sum(last.data)}
		}
		l.mu.Unlock()
	}
	return rep, nil
}

// verifier collects the first problem of a Verify.
type verifier struct {
	found   bool
	first   int64
	problem string
	byseq   map[int64]Record
}

// bad notes a problem; the one with the lowest sequence wins, and one
// without a sequence (0) only when there is no other.
func (v *verifier) bad(seq int64, problem string) {
	if !v.found || (seq != 0 && (v.first == 0 || seq < v.first)) {
		v.found, v.first, v.problem = true, seq, problem
	}
}

func (v *verifier) decode(s stored) (Record, bool) {
	r, err := DecodeRecord(s.data)
	if err != nil {
		v.bad(s.seq, fmt.Sprintf("record %d does not decode: %v", s.seq, err))
		return Record{}, false
	}
	if r.Seq != s.seq {
		v.bad(s.seq, fmt.Sprintf("record %d says it is record %d", s.seq, r.Seq))
		return Record{}, false
	}
	return r, true
}

// checkEnd checks that end record e closes an earlier begin record of the
// same access.
func (v *verifier) checkEnd(e Record) {
	b, ok := v.byseq[e.BeginSeq]
	switch {
	case !ok:
		v.bad(e.Seq, fmt.Sprintf("end record %d closes record %d, which is not a valid record", e.Seq, e.BeginSeq))
	case b.Kind != KindBegin:
		v.bad(e.Seq, fmt.Sprintf("end record %d closes record %d, which is not a begin record", e.Seq, e.BeginSeq))
	case b.Action != e.Action || b.Environment != e.Environment || b.SourceEnvironment != e.SourceEnvironment ||
		b.Cluster != e.Cluster || b.Database != e.Database || b.BackupID != e.BackupID:
		v.bad(e.Seq, fmt.Sprintf("end record %d closes record %d, which is about another backup or action", e.Seq, e.BeginSeq))
	}
}

// checkSeen checks that the newest record the Log knew before is there
// with the same bytes: the chain cannot vouch for the newest record.
func (v *verifier) checkSeen(seen head, recs []stored) {
	if !seen.known || seen.seq == 0 {
		return
	}
	for _, s := range recs {
		if s.seq != seen.seq || s.gone {
			continue
		}
		if sum(s.data) != seen.sum {
			v.bad(s.seq, fmt.Sprintf("record %d changed since this process last read it", s.seq))
		}
		return
	}
	v.bad(seen.seq, fmt.Sprintf("record %d, which this process read before, is gone", seen.seq))
}
