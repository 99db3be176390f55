package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pgtier/pgtier/storage"
)

// Store is what the audit log needs of an object store.
type Store interface {
	// Put writes key; with IfNoneMatch it fails with storage.ErrExists when
	// the key already has a current object, leaving that object untouched.
	Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.ObjectInfo, error)
	// Get opens the current object ("" versionID); storage.ErrNotFound when
	// there is none.
	Get(ctx context.Context, key, versionID string) (io.ReadCloser, storage.ObjectInfo, error)
	// List returns every current object under prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]storage.ObjectInfo, error)
}

// ErrUnavailable is wrapped by the errors of Append when the store could not
// be read or written, or stayed contended: the record cannot be known to be
// written, and the access it announces must not happen. Verify and List wrap it when the
// store cannot be read.
var ErrUnavailable = errors.New("audit log unavailable")

// maxAttempts bounds the conditional puts of one Append that lose to another
// writer.
const maxAttempts = 20

// seqDigits is the width of the zero-padded sequence in a record key.
const seqDigits = 20

// Prefix is where environment's audit records live, relative to the store.
func Prefix(environment string) string {
	return environment + "/audit/"
}

// Key is the key of record seq of environment's log.
func Key(environment string, seq int64) string {
	return fmt.Sprintf("%s%0*d.json", Prefix(environment), seqDigits, seq)
}

// parseKey returns the sequence named by a record key under prefix.
func parseKey(prefix, key string) (int64, bool) {
	name, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(name, ".json")
	if !ok || len(digits) != seqDigits || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	seq, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || seq < 1 {
		return 0, false
	}
	return seq, true
}

// Options configures a Log.
type Options struct {
	// Logger receives warnings and retries; nil discards them.
	Logger *slog.Logger
	// Now is the clock that dates records; nil means time.Now.
	Now func() time.Time
	// LockMode is "" (no retention), storage.LockCompliance or
	// storage.LockGovernance; with a mode, LockUntil gives the retain-until
	// date of a record written at a given time, and is required.
	LockMode  string
	LockUntil func(written time.Time) time.Time
}

// head is the newest record a Log knows of.
type head struct {
	known bool   // the store has been read
	seq   int64  // 0 for an empty log
	sum   string // hex SHA-256 of the record's bytes
}

// Log is one environment's audit log in a store. It is safe for concurrent
// use; its appends are serialised, and any number of Logs, in any number of
// processes, may append to the same log at once.
type Log struct {
	store  Store
	env    string
	prefix string
	opts   Options
	logger *slog.Logger
	now    func() time.Time

	mu   sync.Mutex
	head head
}

// New returns the audit log of environment kept in store. It does not
// contact the store.
func New(store Store, environment string, o Options) (*Log, error) {
	if err := checkEnvironment(environment); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	switch o.LockMode {
	case "":
	case storage.LockCompliance, storage.LockGovernance:
		if o.LockUntil == nil {
			return nil, fmt.Errorf("audit log: lock mode %s needs a LockUntil", o.LockMode)
		}
	default:
		return nil, fmt.Errorf("audit log: unknown lock mode %q (use COMPLIANCE or GOVERNANCE)", o.LockMode)
	}
	l := &Log{store: store, env: environment, prefix: Prefix(environment), opts: o, logger: o.Logger, now: o.Now}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l, nil
}

// Environment returns the log's environment.
func (l *Log) Environment() string { return l.env }

// get reads the current bytes of key, at most maxRecordBytes+1 of them.
func (l *Log) get(ctx context.Context, key string) ([]byte, error) {
	body, _, err := l.store.Get(ctx, key, "")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxRecordBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return data, nil
}

func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// findHead reads the store for the newest record: one listing of the prefix
// on first use, then a Get of each following sequence until one is missing.
// l.mu is held.
func (l *Log) findHead(ctx context.Context) error {
	if !l.head.known {
		infos, err := l.store.List(ctx, l.prefix)
		if err != nil {
			return fmt.Errorf("listing %s: %w", l.prefix, err)
		}
		var top int64
		for _, info := range infos {
			if seq, ok := parseKey(l.prefix, info.Key); ok && seq > top {
				top = seq
			}
		}
		h := head{known: true, seq: top}
		if top > 0 {
			data, err := l.get(ctx, Key(l.env, top))
			if err != nil {
				return fmt.Errorf("reading the newest audit record: %w", err)
			}
			h.sum = sum(data)
			l.warnIfBad(top, data)
		}
		l.head = h
	}
	for {
		next := l.head.seq + 1
		data, err := l.get(ctx, Key(l.env, next))
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading audit record %d: %w", next, err)
		}
		l.head = head{known: true, seq: next, sum: sum(data)}
		l.warnIfBad(next, data)
	}
}

// warnIfBad logs when the record an append builds on does not decode; the
// append goes on, and Verify reports the record.
func (l *Log) warnIfBad(seq int64, data []byte) {
	r, err := DecodeRecord(data)
	if err == nil && r.Seq != seq {
		err = fmt.Errorf("it says it is record %d", r.Seq)
	}
	if err != nil {
		l.logger.Warn("audit record is not valid; run backupctl audit verify", "seq", seq, "error", err)
	}
}
