package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/pgtier/pgtier/storage"
)

// readConcurrency is the number of records read at once.
const readConcurrency = 8

// stored is one record object as read.
type stored struct {
	seq  int64
	key  string
	data []byte
	gone bool // listed, then not found
}

// readAll lists the prefix and reads every record object, in sequence
// order. Keys under the prefix that do not name a record come back in
// strays. The cost is one listing and one Get per record.
func (l *Log) readAll(ctx context.Context) ([]stored, []string, error) {
	infos, err := l.store.List(ctx, l.prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: listing %s: %w", ErrUnavailable, l.prefix, err)
	}
	var recs []stored
	var strays []string
	for _, info := range infos {
		seq, ok := parseKey(l.prefix, info.Key)
		switch {
		case ok:
			recs = append(recs, stored{seq: seq, key: info.Key})
		case info.Key != l.prefix: // a folder marker is not a stray
			strays = append(strays, info.Key)
		}
	}
	slices.SortFunc(recs, func(a, b stored) int { return cmp.Compare(a.seq, b.seq) })
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readConcurrency)
	for i := range recs {
		g.Go(func() error {
			data, err := l.get(gctx, recs[i].key)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				recs[i].gone = true
			case err != nil:
				return fmt.Errorf("%w: reading audit record %d: %w", ErrUnavailable, recs[i].seq, err)
			default:
				recs[i].data = data
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return recs, strays, nil
}

// List returns every record of the log in sequence order, for display. It
// reads the whole log: one listing and one Get per record. A record that
// does not decode, or whose key does not match its seq, fails the listing
// with an error wrapping ErrInvalidRecord; List does not check the chain
// (Verify does).
func (l *Log) List(ctx context.Context) ([]Record, error) {
	recs, _, err := l.readAll(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(recs))
	for _, s := range recs {
		if s.gone {
			continue
		}
		r, err := DecodeRecord(s.data)
		if err != nil {
			return nil, fmt.Errorf("audit record %d: %w", s.seq, err)
		}
		if r.Seq != s.seq {
			return nil, fmt.Errorf("audit record %d: %w: it says it is record %d", s.seq, ErrInvalidRecord, r.Seq)
		}
		out = append(out, r)
	}
	return out, nil
}
