package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pgtier/pgtier/storage"
)

// Append writes r as the next record of the log and returns it as stored,
// with the fields Append sets filled in (see Record).
//
// The next sequence is found from the newest record the Log knows of: the
// first Append lists the prefix once and reads the newest record; later ones
// start from the last record this Log wrote. Each Append then reads forward
// (one Get per record others appended since, plus one that finds nothing)
// and writes with a conditional put. When another writer took the sequence
// first, Append reads that record, moves on and retries after a short
// jittered pause, up to 20 times. A put whose response was lost but which
// did land is recognised by its bytes and not written twice.
//
// Any error means the record cannot be known to be written and the access
// must not happen. Store failures, and a log that stayed contended, wrap
// ErrUnavailable; a record that fails validation wraps ErrInvalidRecord (see
// Record and DecodeRecord for the rules; also, a record must not hold
// anything that looks like a password, a secret key or an age identity, and
// the error text is made one line and cut to 1 KiB).
func (l *Log) Append(ctx context.Context, r Record) (Record, error) {
	r, err := l.prepare(r)
	if err != nil {
		return Record{}, fmt.Errorf("refusing audit record: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for attempt := 1; ; attempt++ {
		if err := l.findHead(ctx); err != nil {
			return Record{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		r.Seq, r.PrevSHA256, r.Time = l.head.seq+1, l.head.sum, l.now().UTC()
		if r.Kind == KindEnd && r.BeginSeq >= r.Seq {
			return Record{}, fmt.Errorf("refusing audit record: %w: begin_seq %d is not in the log", ErrInvalidRecord, r.BeginSeq)
		}
		data, err := r.Encode()
		if err != nil {
			return Record{}, err
		}
		if len(data) > maxRecordBytes {
			return Record{}, fmt.Errorf("refusing audit record: %w: larger than %d bytes", ErrInvalidRecord, maxRecordBytes)
		}
		won, err := l.put(ctx, r.Seq, data)
		if err != nil {
			return Record{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if won {
			return r, nil
		}
		if attempt == maxAttempts {
			return Record{}, fmt.Errorf("%w: %s: still losing to other writers after %d attempts", ErrUnavailable, l.prefix, maxAttempts)
		}
		l.logger.Debug("audit record taken by another writer; retrying", "seq", r.Seq, "attempt", attempt)
		if err := pause(ctx, attempt); err != nil {
			return Record{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
}

// prepare fills the environments, normalises the error text and validates.
func (l *Log) prepare(r Record) (Record, error) {
	if r.Environment == "" {
		r.Environment = l.env
	}
	if r.Environment != l.env {
		return Record{}, fmt.Errorf("%w: environment %q is not the log's %q", ErrInvalidRecord, r.Environment, l.env)
	}
	if r.SourceEnvironment == "" {
		r.SourceEnvironment = r.Environment
	}
	r.CrossEnvironment = r.SourceEnvironment != r.Environment
	r.Format = Format
	r.Error = oneLine(r.Error)
	if r.IdentityKeys == nil {
		r.IdentityKeys = []string{}
	} else {
		r.IdentityKeys = append([]string{}, r.IdentityKeys...)
	}
	if err := r.checkContent(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// put writes record seq conditionally. It returns false when the sequence
// belongs to another record, after moving the head onto that record.
// l.mu is held.
func (l *Log) put(ctx context.Context, seq int64, data []byte) (bool, error) {
	key := Key(l.env, seq)
	o := storage.PutOptions{
		SizeHint:    int64(len(data)),
		ContentType: "application/json",
		IfNoneMatch: true,
	}
	if l.opts.LockMode != "" {
		o.LockMode, o.LockUntil = l.opts.LockMode, l.opts.LockUntil(l.now())
	}
	_, err := l.store.Put(ctx, key, bytes.NewReader(data), o)
	if err == nil {
		l.head = head{known: true, seq: seq, sum: sum(data)}
		return true, nil
	}
	if !errors.Is(err, storage.ErrExists) {
		return false, fmt.Errorf("writing %s: %w", key, err)
	}
	there, err := l.get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil // gone again: the next attempt reads forward from the old head
	}
	if err != nil {
		return false, fmt.Errorf("reading %s after losing it: %w", key, err)
	}
	l.head = head{known: true, seq: seq, sum: sum(there)}
	if bytes.Equal(there, data) {
		return true, nil // an earlier try of this put landed
	}
	return false, nil
}

// pause waits a jittered, growing while before attempt+1.
func pause(ctx context.Context, attempt int) error {
	base := min(time.Duration(attempt)*10*time.Millisecond, 200*time.Millisecond)
	d := base/2 + rand.N(base) //nolint:gosec // jitter, not a secret
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
