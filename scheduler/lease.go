package scheduler

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"sync"
	"time"

	"github.com/pgtier/pgtier/storage"
)

// DefaultLeaseTTL is the lease's lifetime without renewal when NewLease is
// given none.
const DefaultLeaseTTL = 2 * time.Minute

// ErrLeaseLost is matched by the error of a renewal that found the lease
// taken over or deleted, or that could not be made before the lease
// expired. The work done under the lease must stop.
var ErrLeaseLost = errors.New("lease lost")

// ErrLeaseHeld is matched by Hold's error when another holder has the lease.
var ErrLeaseHeld = errors.New("lease held by another daemon")

// LeaseStore is what the lease needs of a storage.Store.
type LeaseStore interface {
	Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.ObjectInfo, error)
	Get(ctx context.Context, key, versionID string) (io.ReadCloser, storage.ObjectInfo, error)
	Delete(ctx context.Context, key string) error
}

// LeaseRecord is the content of the lock object.
type LeaseRecord struct {
	Holder     string    `json:"holder"` // host and pid, for messages
	Token      string    `json:"token"`  // random, one per Lease: who holds it
	AcquiredAt time.Time `json:"acquired_at"`
	RenewedAt  time.Time `json:"renewed_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// LeaseKey is the key of a cluster's lock object, relative to the store.
func LeaseKey(environment, cluster string) string {
	return path.Join(environment, "locks", cluster+".lock")
}

// Lease is one daemon's side of the lease between daemons, which keeps two
// daemons configured for the same cluster (say on a primary and its
// standby) from backing it up at the same time. The lease is one object,
// LeaseKey: <environment>/locks/<cluster>.lock under the store's prefix,
// holding a LeaseRecord in JSON. Every write of it is conditional, so the
// store decides every race:
//
//   - Acquire creates it with If-None-Match: *. When it exists, Acquire
//     reads it with its ETag: a record of this Lease's token is renewed; an
//     expired one (expires_at before now) is taken over with If-Match on
//     the ETag read, so of several contenders exactly one wins; any other
//     record means another holder has it until its expires_at.
//   - Renew rewrites our record with If-Match on the ETag of our last
//     write, pushing expires_at to now + ttl. A failed precondition means
//     someone took the lease over (or deleted it): ErrLeaseLost, and the
//     work done under it must stop. Hold renews every ttl/3.
//   - Release renews once more (proving with If-Match that the lease is
//     still ours and leaving a whole ttl for the next step), then deletes
//     the object, so that a waiting daemon's create succeeds at once; on a
//     versioned bucket the delete adds a delete marker, and a create with
//     If-None-Match: * over a delete marker succeeds (S3 and MinIO).
//
// A daemon that dies holding the lease blocks the others for at most ttl
// (DefaultLeaseTTL: 2 minutes). Expiry is judged by the contender's clock
// against the holder's expires_at, so the hosts' clocks must agree to well
// within ttl/3 (NTP does): a contender whose clock runs more than 2·ttl/3
// ahead may take over a live lease.
//
// The lock object must be overwritable and deletable: it is written without
// a retention date. A bucket whose default retention applies to every put
// also locks each version of it; that works (a put adds a version, a delete
// adds a marker) but keeps a version per renewal until the lifecycle rule
// removes it, so such a default should not cover locks/. A store that
// refuses the delete with ErrLocked gets an expired record instead.
//
// A Lease's methods are safe for concurrent use; they take turns.
type Lease struct {
	store  LeaseStore
	key    string
	holder string
	token  string
	ttl    time.Duration
	now    func() time.Time
	log    *slog.Logger

	mu   sync.Mutex
	etag string      // of our last write; "" when not held
	rec  LeaseRecord // our last write
}

// NewLease returns a lease on key that is not held yet. holder names this
// daemon in messages ("" for the host name and pid); a random token,
// written with it, tells this Lease from any other. ttl <= 0 means
// DefaultLeaseTTL; now nil means time.Now; logger nil discards.
func NewLease(store LeaseStore, key, holder string, ttl time.Duration, now func() time.Time, logger *slog.Logger) *Lease {
	if holder == "" {
		host, _ := os.Hostname()
		holder = fmt.Sprintf("%s pid %d", host, os.Getpid())
	}
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Lease{store: store, key: key, holder: holder, token: rand.Text(), ttl: ttl, now: now,
		log: logger.With("lease", key)}
}

// Acquire takes the lease, or renews it when this Lease holds it. It
// returns false, and no error, when another holder has it (logged with who
// and until when). Errors are the store's and change nothing: a write
// whose answer was lost is found to be ours by the next Acquire or Renew.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	ok, _, err := l.acquire(ctx)
	return ok, err
}

func (l *Lease) acquire(ctx context.Context) (bool, LeaseRecord, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var cur *LeaseRecord
	for range 4 { // each round lost a race to a write that was not there before
		var etag string
		var err error
		if cur, etag, err = l.read(ctx); err != nil {
			return false, LeaseRecord{}, err
		}
		now := l.now()
		rec := LeaseRecord{Holder: l.holder, Token: l.token, AcquiredAt: now, RenewedAt: now, ExpiresAt: now.Add(l.ttl)}
		var o storage.PutOptions
		switch {
		case cur == nil:
			o.IfNoneMatch = true
		case cur.Token == l.token:
			rec.AcquiredAt = cur.AcquiredAt
			o.IfMatch = etag
		case now.After(cur.ExpiresAt):
			l.log.Info("taking over an expired lease", "holder", cur.Holder, "expired_at", cur.ExpiresAt)
			o.IfMatch = etag
		default:
			l.etag = ""
			l.log.Info("lease held by another daemon", "holder", cur.Holder, "until", cur.ExpiresAt)
			return false, *cur, nil
		}
		info, err := l.write(ctx, rec, o)
		if err == nil {
			l.etag, l.rec = info.ETag, rec
			return true, rec, nil
		}
		if !errors.Is(err, storage.ErrExists) && !errors.Is(err, storage.ErrPrecondition) {
			return false, LeaseRecord{}, err
		}
	}
	l.etag = ""
	if cur == nil {
		return false, LeaseRecord{Holder: "another daemon"}, nil
	}
	return false, *cur, nil
}

// Renew pushes the lease's expiry to now + ttl. It fails with ErrLeaseLost
// when the lease is not held or was taken over or deleted; any other error
// is the store's, and the lease is still held until its expiry.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renew(ctx)
}

// renew is Renew with l.mu held.
func (l *Lease) renew(ctx context.Context) error {
	if l.etag == "" {
		return fmt.Errorf("renewing lease %s: not held: %w", l.key, ErrLeaseLost)
	}
	now := l.now()
	rec := l.rec
	rec.RenewedAt, rec.ExpiresAt = now, now.Add(l.ttl)
	info, err := l.write(ctx, rec, storage.PutOptions{IfMatch: l.etag})
	if errors.Is(err, storage.ErrPrecondition) {
		// A write of ours may have landed without our seeing its answer
		// (a retried request): if the record is still ours, go on from it.
		cur, etag, rerr := l.read(ctx)
		if rerr != nil {
			return rerr
		}
		if cur == nil || cur.Token != l.token {
			l.etag = ""
			by := "deleted"
			if cur != nil {
				by = "taken over by " + cur.Holder
			}
			return fmt.Errorf("renewing lease %s: %s: %w", l.key, by, ErrLeaseLost)
		}
		info, err = l.write(ctx, rec, storage.PutOptions{IfMatch: etag})
		if errors.Is(err, storage.ErrPrecondition) {
			l.etag = ""
			return fmt.Errorf("renewing lease %s: changed meanwhile: %w", l.key, ErrLeaseLost)
		}
	}
	if err != nil {
		return err
	}
	l.etag, l.rec = info.ETag, rec
	return nil
}

// Release gives the lease up: it renews it once more, which proves it is
// still ours, then deletes the lock object. Releasing a lease that is not
// held, or that was lost, does nothing. When the store refuses the delete
// with storage.ErrLocked, an expired record is written in its place. On an
// error the lease expires by itself.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.etag == "" {
		return nil
	}
	if err := l.renew(ctx); errors.Is(err, ErrLeaseLost) {
		l.log.Warn("lease lost before release", "error", err)
		return nil
	} else if err != nil {
		return fmt.Errorf("releasing lease %s: %w", l.key, err)
	}
	err := l.store.Delete(ctx, l.key)
	if errors.Is(err, storage.ErrLocked) {
		rec := l.rec
		rec.ExpiresAt = l.now()
		_, err = l.write(ctx, rec, storage.PutOptions{IfMatch: l.etag})
	}
	l.etag = ""
	if err != nil {
		return fmt.Errorf("releasing lease %s: %w", l.key, err)
	}
	return nil
}

// Hold runs fn while holding the lease: it acquires the lease (an error
// matching ErrLeaseHeld, and fn not run, when another holder has it),
// renews it every ttl/3 while fn runs, and releases it when fn returns.
// fn's context is cancelled, with a cause matching ErrLeaseLost, when the
// lease is lost, or when no renewal has succeeded by ttl/6 before it
// expires (failed ones are retried until then); Hold then returns an error
// matching ErrLeaseLost, and fn's error with it. A failed release is
// logged, not returned: the lease then expires within ttl. The renewals
// are timed by the system clock, the record's dates by now. Holds on one
// Lease must not overlap: the second would find the lease its own.
func (l *Lease) Hold(ctx context.Context, fn func(context.Context) error) error {
	ok, cur, err := l.acquire(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("lease %s: %w: %s until %s", l.key, ErrLeaseHeld, cur.Holder, cur.ExpiresAt.UTC().Format(time.RFC3339))
	}
	fctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	lost := make(chan error, 1)
	go func() { lost <- l.keep(fctx, done, cancel) }()
	err = fn(fctx)
	close(done)
	lerr := <-lost
	cancel(nil)
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), l.ttl)
	defer rcancel()
	if rerr := l.Release(rctx); rerr != nil {
		l.log.Warn("lease not released; it expires by itself", "error", rerr)
	}
	switch {
	case lerr != nil && err != nil:
		return fmt.Errorf("%w; the work under it stopped: %w", lerr, err)
	case lerr != nil:
		return lerr
	}
	return err
}

// keep renews the lease every ttl/3 until done is closed or ctx ends. A
// failed renewal is retried, each try bounded by the time left, until ttl/6
// before the lease expires. When the lease is lost, or that time comes
// without a renewal, it cancels ctx with the error and returns it.
func (l *Lease) keep(ctx context.Context, done <-chan struct{}, cancel context.CancelCauseFunc) error {
	every := max(l.ttl/3, time.Millisecond)
	wait := every
	var last error // of the failed renewals since the last success
	for {
		t := time.NewTimer(wait)
		select {
		case <-done:
			t.Stop()
			return nil
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		l.mu.Lock()
		stopAt := l.rec.ExpiresAt.Add(-every / 2)
		l.mu.Unlock()
		if left := stopAt.Sub(l.now()); left > 0 {
			rctx, rcancel := context.WithTimeout(ctx, left)
			err := l.Renew(rctx)
			rcancel()
			switch {
			case ctx.Err() != nil:
				return nil //nolint:nilerr // the caller's context ended: not a lost lease
			case err == nil:
				wait, last = every, nil
				continue
			case errors.Is(err, ErrLeaseLost):
				return l.stop(err, cancel)
			}
			last = err
			if l.now().Before(stopAt) {
				l.log.Warn("renewing lease failed; retrying", "error", err, "until", stopAt)
				wait = every / 10
				continue
			}
		}
		if last == nil {
			last = errors.New("no time was left to try")
		}
		return l.stop(fmt.Errorf("lease %s not renewed before it expires: %w: %w", l.key, ErrLeaseLost, last), cancel)
	}
}

// stop cancels the work under the lease with err, and returns err.
func (l *Lease) stop(err error, cancel context.CancelCauseFunc) error {
	l.log.Error("lease lost; stopping the work under it", "error", err)
	cancel(err)
	return err
}

// read returns the current record and its ETag; nil when there is none. A
// record that cannot be decoded counts as held until its object's time plus
// ttl.
func (l *Lease) read(ctx context.Context) (*LeaseRecord, string, error) {
	rc, info, err := l.store.Get(ctx, l.key, "")
	if errors.Is(err, storage.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading lease %s: %w", l.key, err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return nil, "", fmt.Errorf("reading lease %s: %w", l.key, err)
	}
	if info.ETag == "" {
		return nil, "", fmt.Errorf("reading lease %s: the store gave no ETag", l.key)
	}
	var rec LeaseRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.Token == "" || rec.ExpiresAt.IsZero() {
		rec = LeaseRecord{Holder: "an unreadable lease record", ExpiresAt: info.LastModified.Add(l.ttl)}
	}
	return &rec, info.ETag, nil
}

// write puts rec with o's condition.
func (l *Lease) write(ctx context.Context, rec LeaseRecord, o storage.PutOptions) (storage.ObjectInfo, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("writing lease %s: %w", l.key, err)
	}
	o.ContentType = "application/json"
	info, err := l.store.Put(ctx, l.key, bytes.NewReader(b), o)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("writing lease %s: %w", l.key, err)
	}
	if info.ETag == "" {
		return storage.ObjectInfo{}, fmt.Errorf("writing lease %s: the store gave no ETag", l.key)
	}
	return info, nil
}
