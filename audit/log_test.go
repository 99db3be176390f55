package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/storage"
)

// counting counts the calls that reach a store.
type counting struct {
	audit.Store
	puts, gets, lists atomic.Int64
}

func (c *counting) Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.ObjectInfo, error) {
	c.puts.Add(1)
	return c.Store.Put(ctx, key, r, o)
}

func (c *counting) Get(ctx context.Context, key, version string) (io.ReadCloser, storage.ObjectInfo, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key, version)
}

func (c *counting) List(ctx context.Context, prefix string) ([]storage.ObjectInfo, error) {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix)
}

// readOnly refuses every write, as a store without put permission does.
type readOnly struct{ audit.Store }

var errDenied = errors.New("AccessDenied: no put permission")

func (readOnly) Put(context.Context, string, io.Reader, storage.PutOptions) (storage.ObjectInfo, error) {
	return storage.ObjectInfo{}, errDenied
}

// lostResponse writes the first put and then reports ErrExists, as a retried
// conditional put whose first response was lost does.
type lostResponse struct {
	audit.Store
	once sync.Once
}

func (l *lostResponse) Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.ObjectInfo, error) {
	info, err := l.Store.Put(ctx, key, r, o)
	lost := false
	l.once.Do(func() { lost = err == nil })
	if lost {
		return storage.ObjectInfo{}, fmt.Errorf("putting %s: %w", key, storage.ErrExists)
	}
	return info, err
}

func newLog(t testing.TB, s audit.Store, o audit.Options) *audit.Log {
	t.Helper()
	l, err := audit.New(s, "prod", o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func appendOK(t testing.TB, l *audit.Log, r audit.Record) audit.Record {
	t.Helper()
	got, err := l.Append(context.Background(), r)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return got
}

func verifyOK(t testing.TB, l *audit.Log, records int) audit.Report {
	t.Helper()
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK || rep.Records != records {
		t.Fatalf("Verify = %+v, want OK with %d records", rep, records)
	}
	return rep
}

func rawRecord(t testing.TB, s audit.Store, seq int64) []byte {
	t.Helper()
	body, _, err := s.Get(context.Background(), audit.Key("prod", seq), "")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestAppendChain(t *testing.T) {
	mem := storage.NewMemory()
	clock := time.Date(2026, 11, 21, 6, 0, 0, 0, time.FixedZone("CET", 3600))
	l := newLog(t, mem, audit.Options{Now: func() time.Time { return clock }})
	b := appendOK(t, l, begin("20261121T060000Z"))
	if b.Seq != 1 || b.PrevSHA256 != "" || b.Format != audit.Format || b.Environment != "prod" ||
		b.SourceEnvironment != "prod" || b.CrossEnvironment || !b.Time.Equal(clock) || b.Time.Location() != time.UTC {
		t.Fatalf("first record %+v", b)
	}
	e := appendOK(t, l, b.End(audit.OutcomeFailure, "pg_restore: error\nsecond line", 42))
	if e.Seq != 2 || e.PrevSHA256 != hexSum(rawRecord(t, mem, 1)) || e.BeginSeq != 1 || e.Error != "pg_restore: error second line" {
		t.Fatalf("second record %+v", e)
	}
	got, err := audit.DecodeRecord(rawRecord(t, mem, 2))
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := got.Encode(); !bytes.Equal(a, rawRecord(t, mem, 2)) {
		t.Fatal("the returned record is not what was stored")
	}
	rep := verifyOK(t, l, 2)
	if rep.Summary != (audit.Summary{Failure: 1}) {
		t.Fatalf("summary %+v", rep.Summary)
	}
}

func TestAppendCrossEnvironment(t *testing.T) {
	l := newLog(t, storage.NewMemory(), audit.Options{})
	r := begin("20261121T060000Z")
	r.SourceEnvironment = "staging"
	got := appendOK(t, l, r)
	if !got.CrossEnvironment || got.Environment != "prod" {
		t.Fatalf("record %+v", got)
	}
	r.Environment = "staging"
	if _, err := l.Append(context.Background(), r); !errors.Is(err, audit.ErrInvalidRecord) {
		t.Fatalf("a record of another environment: %v", err)
	}
}

func TestAppendRefusesInvalid(t *testing.T) {
	mem := &counting{Store: storage.NewMemory()}
	l := newLog(t, mem, audit.Options{})
	r := begin("20261121T060000Z")
	r.Target = "postgres://restore:s3cr3t@db/app"
	_, err := l.Append(context.Background(), r)
	if !errors.Is(err, audit.ErrInvalidRecord) || errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Append of a record with a password: %v", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte("s3cr3t")) {
		t.Fatalf("the error repeats the secret: %v", err)
	}
	e := begin("20261121T060000Z").End(audit.OutcomeSuccess, "", 1)
	e.BeginSeq = 9
	if _, err := l.Append(context.Background(), e); !errors.Is(err, audit.ErrInvalidRecord) {
		t.Fatalf("Append of an end record closing a later record: %v", err)
	}
	if n := mem.puts.Load(); n != 0 {
		t.Fatalf("%d puts for refused records", n)
	}
}

func TestAppendUnavailable(t *testing.T) {
	mem := storage.NewMemory()
	l := newLog(t, readOnly{mem}, audit.Options{})
	_, err := l.Append(context.Background(), begin("20261121T060000Z"))
	if !errors.Is(err, audit.ErrUnavailable) || !errors.Is(err, errDenied) {
		t.Fatalf("Append on a read-only store: %v", err)
	}
	if infos, _ := mem.List(context.Background(), ""); len(infos) != 0 {
		t.Fatalf("objects written: %v", infos)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newLog(t, mem, audit.Options{}).Append(ctx, begin("20261121T060000Z")); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Append with a cancelled context: %v", err)
	}
}

func TestAppendLostResponse(t *testing.T) {
	mem := storage.NewMemory()
	l := newLog(t, &lostResponse{Store: mem}, audit.Options{})
	got := appendOK(t, l, begin("20261121T060000Z"))
	if got.Seq != 1 {
		t.Fatalf("seq %d", got.Seq)
	}
	appendOK(t, l, got.End(audit.OutcomeSuccess, "", 7))
	verifyOK(t, l, 2)
}

func TestAppendCost(t *testing.T) {
	mem := &counting{Store: storage.NewMemory()}
	other := newLog(t, mem, audit.Options{})
	for range 3 {
		appendOK(t, other, begin("20261121T060000Z"))
	}
	mem.lists.Store(0)
	mem.gets.Store(0)
	l := newLog(t, mem, audit.Options{})
	for range 5 {
		appendOK(t, l, begin("20261121T060000Z"))
	}
	// One listing; the newest record; a miss before each of the 5 puts.
	if lists, gets := mem.lists.Load(), mem.gets.Load(); lists != 1 || gets != 6 {
		t.Fatalf("%d lists and %d gets for 5 appends", lists, gets)
	}
	// Records others append are read once each, forward from the cached head.
	appendOK(t, other, begin("20261121T060000Z"))
	appendOK(t, other, begin("20261121T060000Z"))
	mem.gets.Store(0)
	if r := appendOK(t, l, begin("20261121T060000Z")); r.Seq != 11 {
		t.Fatalf("seq %d after others appended", r.Seq)
	}
	if lists, gets := mem.lists.Load(), mem.gets.Load(); lists != 1 || gets != 3 {
		t.Fatalf("%d lists and %d gets to catch up on 2 records", lists, gets)
	}
	verifyOK(t, l, 11)
}

// appendConcurrently has writers append n records each at once, each writer
// with its own Log, and returns every record written.
func appendConcurrently(t *testing.T, logs []*audit.Log, n int) []audit.Record {
	t.Helper()
	var mu sync.Mutex
	var all []audit.Record
	var wg sync.WaitGroup
	for w, l := range logs {
		wg.Go(func() {
			for i := range n {
				r := begin(fmt.Sprintf("20261121T06%02d%02dZ", w, i))
				r.OSUser = fmt.Sprintf("operator%d", w)
				got, err := l.Append(context.Background(), r)
				if err != nil {
					t.Errorf("writer %d record %d: %v", w, i, err)
					return
				}
				mu.Lock()
				all = append(all, got)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return all
}

func checkSeqs(t *testing.T, records []audit.Record, n int) {
	t.Helper()
	seen := map[int64]bool{}
	for _, r := range records {
		if seen[r.Seq] {
			t.Fatalf("seq %d handed out twice", r.Seq)
		}
		seen[r.Seq] = true
	}
	for seq := int64(1); seq <= int64(n); seq++ {
		if !seen[seq] {
			t.Fatalf("seq %d missing among %d records", seq, len(records))
		}
	}
}

func TestAppendConcurrentMemory(t *testing.T) {
	mem := storage.NewMemory()
	logs := []*audit.Log{newLog(t, mem, audit.Options{}), newLog(t, mem, audit.Options{})}
	shared := newLog(t, mem, audit.Options{})
	logs = append(logs, shared, shared) // two goroutines on one Log too
	all := appendConcurrently(t, logs, 20)
	checkSeqs(t, all, 80)
	rep := verifyOK(t, newLog(t, mem, audit.Options{}), 80)
	if rep.Summary != (audit.Summary{Incomplete: 80}) {
		t.Fatalf("summary %+v", rep.Summary)
	}
}

func TestAppendLock(t *testing.T) {
	mem := storage.NewMemory()
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	l := newLog(t, mem, audit.Options{
		Now:       func() time.Time { return now },
		LockMode:  storage.LockCompliance,
		LockUntil: func(t time.Time) time.Time { return t.AddDate(1, 0, 0) },
	})
	appendOK(t, l, begin("20261121T060000Z"))
	info, err := mem.Stat(context.Background(), audit.Key("prod", 1), "")
	if err != nil {
		t.Fatal(err)
	}
	if info.LockMode != storage.LockCompliance || !info.LockUntil.Equal(now.AddDate(1, 0, 0)) {
		t.Fatalf("record stored with lock %s until %s", info.LockMode, info.LockUntil)
	}
	for _, o := range []audit.Options{{LockMode: storage.LockGovernance}, {LockMode: "forever"}} {
		if _, err := audit.New(mem, "prod", o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
	for _, env := range []string{"", "a/b", ".."} {
		if _, err := audit.New(mem, env, audit.Options{}); err == nil {
			t.Errorf("New accepted environment %q", env)
		}
	}
}
