package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pgtier/pgtier/storage"
	"github.com/pgtier/pgtier/test/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

var leaseKey = LeaseKey("test", "main")

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// record reads the lock object; nil when there is none.
func record(t *testing.T, s LeaseStore) *LeaseRecord {
	t.Helper()
	rec, err := readRecord(s)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func readRecord(s LeaseStore) (*LeaseRecord, error) {
	rc, _, err := s.Get(context.Background(), leaseKey, "")
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var rec LeaseRecord
	if err := json.NewDecoder(rc).Decode(&rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

func acquire(t *testing.T, l *Lease, want bool) {
	t.Helper()
	got, err := l.Acquire(context.Background())
	if err != nil || got != want {
		t.Fatalf("%s: Acquire = %v, %v; want %v", l.holder, got, err, want)
	}
}

func TestLeaseKey(t *testing.T) {
	if got := LeaseKey("production", "main"); got != "production/locks/main.lock" {
		t.Fatalf("LeaseKey = %q", got)
	}
}

func TestLeaseAcquireContendExpire(t *testing.T) {
	clk := newFakeClock()
	m := storage.NewMemory()
	m.SetClock(clk.Now)
	const ttl = time.Minute
	a := NewLease(m, leaseKey, "a", ttl, clk.Now, nil)
	b := NewLease(m, leaseKey, "b", ttl, clk.Now, nil)
	ctx := context.Background()

	acquire(t, a, true)
	t0 := clk.Now()
	if rec := record(t, m); rec.Holder != "a" || rec.Token != a.token || !rec.AcquiredAt.Equal(t0) || !rec.ExpiresAt.Equal(t0.Add(ttl)) {
		t.Fatalf("record after acquire = %+v", rec)
	}
	acquire(t, b, false)

	clk.Add(ttl / 2)
	acquire(t, a, true) // held by us: renewed
	if rec := record(t, m); !rec.AcquiredAt.Equal(t0) || !rec.ExpiresAt.Equal(t0.Add(ttl/2+ttl)) {
		t.Fatalf("record after acquiring again = %+v", rec)
	}
	clk.Add(ttl)
	acquire(t, b, false) // exactly at expires_at: not expired yet
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}

	clk.Add(ttl + time.Second)
	acquire(t, b, true) // expired: taken over
	if rec := record(t, m); rec.Token != b.token || !rec.AcquiredAt.Equal(clk.Now()) {
		t.Fatalf("record after takeover = %+v", rec)
	}
	if err := a.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Renew after takeover = %v, want ErrLeaseLost", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Renew when not held = %v, want ErrLeaseLost", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("Release of a lost lease: %v", err)
	}
	if rec := record(t, m); rec == nil || rec.Token != b.token {
		t.Fatalf("a's Release touched b's lease: %+v", rec)
	}

	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := record(t, m); rec != nil {
		t.Fatalf("record after release = %+v", rec)
	}
	if vs := m.Versions(leaseKey); !vs[len(vs)-1].DeleteMarker {
		t.Fatalf("release left no delete marker: %+v", vs)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatalf("releasing twice: %v", err)
	}
	acquire(t, a, true) // at once, over the delete marker
}

// testTakeover has n contenders find an expired lease at once: exactly one
// takes it over, and the old holder's renewal fails.
func testTakeover(t *testing.T, s LeaseStore) {
	clk := newFakeClock()
	const ttl, n = time.Minute, 8
	old := NewLease(s, leaseKey, "old", ttl, clk.Now, nil)
	acquire(t, old, true)
	clk.Add(2 * ttl)
	ls := make([]*Lease, n)
	got := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range ls {
		ls[i] = NewLease(s, leaseKey, fmt.Sprintf("c%d", i), ttl, clk.Now, nil)
		wg.Go(func() { got[i], errs[i] = ls[i].Acquire(context.Background()) })
	}
	wg.Wait()
	won := -1
	for i := range ls {
		if errs[i] != nil {
			t.Fatalf("contender %d: %v", i, errs[i])
		}
		if got[i] && won >= 0 {
			t.Fatalf("contenders %d and %d both took the lease over", won, i)
		}
		if got[i] {
			won = i
		}
	}
	if won < 0 {
		t.Fatal("no contender took the expired lease over")
	}
	if rec := record(t, s); rec.Token != ls[won].token {
		t.Fatalf("record = %+v, winner is %s", rec, ls[won].holder)
	}
	if err := old.Renew(context.Background()); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("old holder's Renew = %v, want ErrLeaseLost", err)
	}
}

func TestLeaseTakeoverMemory(t *testing.T) { testTakeover(t, storage.NewMemory()) }

func TestLeaseTakeoverLocal(t *testing.T) { testTakeover(t, localStore(t)) }

func localStore(t *testing.T) *storage.Local {
	l, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// lossy is a LeaseStore whose puts and deletes can be made to fail.
type lossy struct {
	LeaseStore
	mu          sync.Mutex
	dropAnswers int   // puts that land but answer with an error
	failPuts    bool  // puts that fail without landing
	deleteErr   error // the answer of every delete
}

var errNetwork = errors.New("connection reset by peer")

func (s *lossy) Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.ObjectInfo, error) {
	s.mu.Lock()
	fail, drop := s.failPuts, s.dropAnswers > 0
	if drop {
		s.dropAnswers--
	}
	s.mu.Unlock()
	if fail {
		return storage.ObjectInfo{}, errNetwork
	}
	info, err := s.LeaseStore.Put(ctx, key, r, o)
	if drop && err == nil {
		return storage.ObjectInfo{}, errNetwork
	}
	return info, err
}

func (s *lossy) Delete(ctx context.Context, key string) error {
	if s.deleteErr != nil {
		return s.deleteErr
	}
	return s.LeaseStore.Delete(ctx, key)
}

func TestLeaseRenewAfterLostAnswer(t *testing.T) {
	clk := newFakeClock()
	s := &lossy{LeaseStore: storage.NewMemory()}
	a := NewLease(s, leaseKey, "a", time.Minute, clk.Now, nil)
	b := NewLease(s, leaseKey, "b", time.Minute, clk.Now, nil)
	acquire(t, a, true)
	s.dropAnswers = 1
	clk.Add(time.Second)
	if err := a.Renew(context.Background()); !errors.Is(err, errNetwork) || errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Renew whose answer was lost = %v", err)
	}
	clk.Add(time.Second)
	if err := a.Renew(context.Background()); err != nil {
		t.Fatalf("Renew after a landed write whose answer was lost: %v", err)
	}
	if rec := record(t, s); rec.Token != a.token || !rec.RenewedAt.Equal(clk.Now()) {
		t.Fatalf("record = %+v", rec)
	}
	// A create that landed unseen is ours on the next try.
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.dropAnswers = 1
	if ok, err := a.Acquire(context.Background()); ok || !errors.Is(err, errNetwork) {
		t.Fatalf("Acquire whose answer was lost = %v, %v", ok, err)
	}
	acquire(t, a, true)
	acquire(t, b, false)
}

func TestLeaseUnreadableRecord(t *testing.T) {
	clk := newFakeClock()
	m := storage.NewMemory()
	m.SetClock(clk.Now)
	if _, err := m.Put(context.Background(), leaseKey, strings.NewReader("{not json"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	a := NewLease(m, leaseKey, "a", time.Minute, clk.Now, nil)
	acquire(t, a, false)
	clk.Add(time.Minute + time.Second)
	acquire(t, a, true)
}

func TestLeaseReleaseLocked(t *testing.T) {
	clk := newFakeClock()
	s := &lossy{LeaseStore: storage.NewMemory(), deleteErr: fmt.Errorf("deleting: %w", storage.ErrLocked)}
	a := NewLease(s, leaseKey, "a", time.Minute, clk.Now, nil)
	b := NewLease(s, leaseKey, "b", time.Minute, clk.Now, nil)
	acquire(t, a, true)
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Nanosecond)
	acquire(t, b, true) // the expired record written in place of the delete
}

func TestLeaseHold(t *testing.T) {
	m := storage.NewMemory()
	const ttl = 150 * time.Millisecond
	a := NewLease(m, leaseKey, "a", ttl, nil, nil)
	b := NewLease(m, leaseKey, "b", ttl, nil, nil)
	ctx := context.Background()
	ran := false
	err := a.Hold(ctx, func(ctx context.Context) error {
		ran = true
		time.Sleep(3 * ttl) // renewed meanwhile
		if err := b.Hold(ctx, func(context.Context) error { t.Error("b ran while a held the lease"); return nil }); !errors.Is(err, ErrLeaseHeld) {
			t.Errorf("b.Hold while a holds = %v, want ErrLeaseHeld", err)
		}
		return ctx.Err()
	})
	if err != nil || !ran {
		t.Fatalf("Hold = %v, ran %v", err, ran)
	}
	if rec := record(t, m); rec != nil {
		t.Fatalf("lease left after Hold: %+v", rec)
	}
	errWork := errors.New("pg_dump failed")
	if err := b.Hold(ctx, func(context.Context) error { return errWork }); !errors.Is(err, errWork) {
		t.Fatalf("Hold = %v, want fn's error", err)
	}
	if rec := record(t, m); rec != nil {
		t.Fatalf("lease left after a failed fn: %+v", rec)
	}
}

func TestLeaseHoldLost(t *testing.T) {
	m := storage.NewMemory()
	const ttl = 150 * time.Millisecond
	a := NewLease(m, leaseKey, "a", ttl, nil, nil)
	intruder := []byte(`{"holder":"intruder","token":"x","expires_at":"2100-01-01T00:00:00Z"}`)
	err := a.Hold(context.Background(), func(ctx context.Context) error {
		// Another daemon, with a clock far ahead, takes the lease over.
		if _, err := m.Put(ctx, leaseKey, strings.NewReader(string(intruder)), storage.PutOptions{}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if !errors.Is(context.Cause(ctx), ErrLeaseLost) {
				t.Errorf("fn's context cause = %v, want ErrLeaseLost", context.Cause(ctx))
			}
			return ctx.Err()
		case <-time.After(10 * ttl):
			t.Error("fn's context was not cancelled when the lease was lost")
			return nil
		}
	})
	if !errors.Is(err, ErrLeaseLost) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Hold = %v, want ErrLeaseLost and fn's error", err)
	}
	if rec := record(t, m); rec == nil || rec.Holder != "intruder" {
		t.Fatalf("a's release touched the intruder's lease: %+v", rec)
	}
}

func TestLeaseHoldRenewalsFail(t *testing.T) {
	s := &lossy{LeaseStore: storage.NewMemory()}
	const ttl = 300 * time.Millisecond
	a := NewLease(s, leaseKey, "a", ttl, nil, nil)
	var expires, stopped time.Time
	err := a.Hold(context.Background(), func(ctx context.Context) error {
		expires = record(t, s).ExpiresAt
		s.mu.Lock()
		s.failPuts = true
		s.mu.Unlock()
		<-ctx.Done()
		stopped = time.Now()
		return ctx.Err()
	})
	if !errors.Is(err, ErrLeaseLost) || !errors.Is(err, errNetwork) {
		t.Fatalf("Hold = %v, want ErrLeaseLost and the store's error", err)
	}
	if !stopped.Before(expires) {
		t.Fatalf("work stopped at %s, after the lease expired at %s", stopped, expires)
	}
}

// testContention has n daemons, each with its own Lease, take turns on the
// lease: at most one runs at a time, and each gets its turns.
func testContention(t *testing.T, s LeaseStore, ttl time.Duration) {
	const n, turns = 8, 2
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var inside, most, done atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		l := NewLease(s, leaseKey, fmt.Sprintf("daemon %d", i), ttl, nil, nil)
		wg.Go(func() {
			for turn := 0; turn < turns; {
				err := l.Hold(ctx, func(ctx context.Context) error {
					k := inside.Add(1)
					defer inside.Add(-1)
					for m := most.Load(); k > m && !most.CompareAndSwap(m, k); m = most.Load() {
					}
					if rec, err := readRecord(s); err != nil || rec == nil || rec.Token != l.token {
						t.Errorf("%s runs, the record says %+v, %v", l.holder, rec, err)
					}
					work := 20 * time.Millisecond
					if i == 0 && turn == 0 {
						work = 2 * ttl // renewed while others wait
					}
					select {
					case <-time.After(work):
						return nil
					case <-ctx.Done():
						return context.Cause(ctx)
					}
				})
				switch {
				case err == nil:
					turn++
					done.Add(1)
				case errors.Is(err, ErrLeaseHeld):
					time.Sleep(time.Duration(5+rand.IntN(20)) * time.Millisecond)
				default:
					t.Errorf("%s: %v", l.holder, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 || done.Load() != n*turns {
		t.Fatalf("at most %d daemons held the lease at once, want 1; %d turns of %d", most.Load(), done.Load(), n*turns)
	}
	if rec := record(t, s); rec != nil {
		t.Fatalf("lease left after every daemon released it: %+v", rec)
	}
}

func TestLeaseContentionMemory(t *testing.T) {
	testContention(t, storage.NewMemory(), 300*time.Millisecond)
}

func TestLeaseContentionLocal(t *testing.T) {
	testContention(t, localStore(t), 300*time.Millisecond)
}

func TestLeaseMinIO(t *testing.T) {
	mi := harness.S3(t)
	for _, versioned := range []bool{false, true} {
		t.Run(fmt.Sprintf("versioned=%v", versioned), func(t *testing.T) {
			bucket := mi.Bucket(t, versioned)
			s, err := storage.Open(context.Background(), storage.Options{URL: "s3://" + bucket + "/p",
				Endpoint: mi.Endpoint, Region: mi.Region, CAFile: mi.CAFile, AccessKey: mi.AccessKey, SecretKey: mi.SecretKey})
			if err != nil {
				t.Fatal(err)
			}
			t.Run("ReleaseAndCreate", func(t *testing.T) { testReleaseAndCreate(t, mi, bucket, s, versioned) })
			t.Run("Contention", func(t *testing.T) { testContention(t, s, time.Second) })
			t.Run("Takeover", func(t *testing.T) { testTakeover(t, s) })
		})
	}
}

// testReleaseAndCreate checks that a release deletes the lock object (on a
// versioned bucket: adds a delete marker) and that the next daemon's create
// with If-None-Match: * then succeeds at once.
func testReleaseAndCreate(t *testing.T, mi *harness.MinIO, bucket string, s LeaseStore, versioned bool) {
	clk := newFakeClock()
	a := NewLease(s, leaseKey, "a", time.Minute, clk.Now, nil)
	b := NewLease(s, leaseKey, "b", time.Minute, clk.Now, nil)
	acquire(t, a, true)
	acquire(t, b, false)
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, err := mi.Client(t).ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{
		Bucket: aws.String(bucket), Prefix: aws.String("p/" + leaseKey)})
	if err != nil {
		t.Fatal(err)
	}
	if markers := len(out.DeleteMarkers); versioned && (markers != 1 || !aws.ToBool(out.DeleteMarkers[0].IsLatest)) {
		t.Fatalf("versioned bucket: %d delete markers after release, want 1 on top", markers)
	}
	acquire(t, b, true)
	if rec := record(t, s); rec.Token != b.token {
		t.Fatalf("record = %+v", rec)
	}
	if err := b.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
}
