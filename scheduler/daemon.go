package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// Locker serialises backup cycles between daemons that back up the same
// cluster: Hold runs fn while this daemon holds the lock, and fails at once
// with an error matching ErrLeaseHeld when another daemon holds it. Lease is
// the Locker the daemon uses.
type Locker interface {
	Hold(ctx context.Context, fn func(context.Context) error) error
}

// Plan is what one configuration gives the daemon; Reload swaps it whole.
type Plan struct {
	Cluster  string
	Schedule cron.Schedule
	Interval time.Duration // longest gap between scheduled runs
	Jitter   time.Duration
	CatchUp  bool
	Cycle    *Cycle
	Pruner   *Pruner
	Lock     Locker
	// After, when set, runs after every cycle under the lock (metrics
	// rebuilt from the catalog, the audit log summarised).
	After func(ctx context.Context)
}

// Daemon runs backup cycles on a cron schedule until its context ends. One
// cycle runs at a time; a slot that comes while a cycle still runs is
// skipped. It is safe to call Reload while Run runs.
type Daemon struct {
	Logger  *slog.Logger
	Now     func() time.Time
	Metrics *Metrics // may be nil
	// LockRetry is how often a daemon that finds the lease held tries
	// again, and LockWait how long it keeps trying for one slot; both are
	// capped by the schedule (a quarter of the interval, and one interval).
	LockRetry, LockWait time.Duration
	// StopWait bounds how long Run waits for a cancelled cycle to end.
	StopWait time.Duration

	plan    atomic.Pointer[Plan]
	catchUp sync.WaitGroup
	mu      sync.Mutex
	cron    *cron.Cron
	entry   cron.EntryID
	ctx     context.Context
}

// Run schedules cycles by plan, runs a catch-up cycle at once if the newest
// backup of a database is older than one interval, and returns when ctx
// ends, after the cycle in flight (whose context it cancels) has stopped or
// StopWait has passed.
func (d *Daemon) Run(ctx context.Context, plan *Plan) error {
	d.plan.Store(plan)
	c := cron.New(cron.WithChain(cron.Recover(cronLogger{d.Logger}), cron.SkipIfStillRunning(cronLogger{d.Logger})))
	d.mu.Lock()
	d.cron, d.ctx = c, ctx
	d.entry = c.Schedule(plan.Schedule, d.job(ctx))
	d.mu.Unlock()
	c.Start()
	d.nextRun()
	if plan.CatchUp {
		d.catchUp.Go(func() { d.catchUpRun(ctx) })
	}
	<-ctx.Done()
	stopped := make(chan struct{})
	go func() {
		<-c.Stop().Done()
		d.catchUp.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(d.StopWait):
		return fmt.Errorf("a backup cycle did not stop within %s", d.StopWait)
	}
	return nil
}

// Reload makes plan the daemon's plan for every cycle that starts from now
// on; a cycle in flight finishes under the old plan.
func (d *Daemon) Reload(plan *Plan) {
	d.plan.Store(plan)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cron == nil {
		return
	}
	d.cron.Remove(d.entry)
	d.entry = d.cron.Schedule(plan.Schedule, d.job(d.ctx))
	d.nextRun()
}

// job is the cron job: it is given the daemon's context, since cron's jobs
// take none, and records its slot, the time it was due.
func (d *Daemon) job(ctx context.Context) cron.Job {
	return cron.FuncJob(func() {
		slot := d.Now()
		d.nextRun()
		d.cycle(ctx, slot)
	})
}

func (d *Daemon) nextRun() {
	p := d.plan.Load()
	if d.Metrics != nil && p != nil {
		d.Metrics.NextRun(p.Cluster, p.Schedule.Next(d.Now()))
	}
}

// catchUpRun runs a cycle at once when a database's newest backup is older
// than one interval: the host was down when a run was due.
func (d *Daemon) catchUpRun(ctx context.Context) {
	p := d.plan.Load()
	now := d.Now()
	stale, err := d.stale(ctx, p, now)
	if err != nil {
		d.Logger.Error("checking for a missed backup", "error", err)
		return
	}
	if stale == "" {
		return
	}
	d.Logger.Info("catching up: a scheduled backup was missed", "database", stale, "interval", p.Interval.String())
	// A backup within the last interval counts, so two daemons starting
	// together do not both catch up.
	d.cycle(ctx, now.Add(-p.Interval))
}

// stale names a database whose newest backup is older than one interval.
func (d *Daemon) stale(ctx context.Context, p *Plan, now time.Time) (string, error) {
	names, err := p.Cycle.Names(ctx)
	if err != nil {
		return "", err
	}
	for _, db := range names {
		ms, err := p.Cycle.Job.Catalog.List(ctx, db)
		if err != nil {
			return "", err
		}
		if len(ms) == 0 || now.Sub(ms[len(ms)-1].TakenAt) > p.Interval {
			return db, nil
		}
	}
	return "", nil
}

// cycle waits out the jitter, then backs up, prunes and runs After under the
// lock. When another daemon holds the lock it tries again every LockRetry
// for LockWait: the slot check then skips what the other daemon did.
func (d *Daemon) cycle(ctx context.Context, slot time.Time) {
	p := d.plan.Load()
	if p.Jitter > 0 {
		wait := time.Duration(rand.Int64N(int64(p.Jitter))) // #nosec G404 -- spreads load, not a secret
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
	retry := min(d.LockRetry, p.Interval/4)
	deadline := d.Now().Add(min(d.LockWait, p.Interval))
	for {
		err := p.Lock.Hold(ctx, func(ctx context.Context) error { return d.locked(ctx, p, slot) })
		switch {
		case err == nil:
			return
		case errors.Is(err, ErrLeaseHeld) && d.Now().Before(deadline):
			d.Logger.Info("another daemon is backing up this cluster; waiting", "retry_in", retry.String())
			select {
			case <-time.After(retry):
				continue
			case <-ctx.Done():
				return
			}
		case ctx.Err() != nil:
			d.Logger.Warn("backup cycle stopped", "error", err)
			return
		default:
			d.Logger.Error("backup cycle failed", "error", err)
			return
		}
	}
}

// locked is one cycle under the lock. Failures are logged and counted
// where they happen; the cycle prunes and refreshes the metrics all the same
// (prune has its own safety rules for failing backups).
func (d *Daemon) locked(ctx context.Context, p *Plan, slot time.Time) error {
	_ = p.Cycle.Run(ctx, slot)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	_ = d.prune(ctx, p)
	if p.After != nil {
		p.After(ctx)
	}
	return nil
}

// prune plans and applies retention, and counts what it did.
func (d *Daemon) prune(ctx context.Context, p *Plan) error {
	plan, err := p.Pruner.Plan(ctx, false)
	if err != nil {
		d.Logger.Error("prune failed", "error", err)
		return err
	}
	res, err := p.Pruner.Apply(ctx, plan)
	if d.Metrics != nil {
		d.Metrics.PruneRefused(p.Cluster, plan.Refused)
		d.Metrics.Pruned(p.Cluster, res.Deleted)
	}
	if err != nil {
		d.Logger.Error("prune failed", "error", err)
	}
	return err
}

// cronLogger lets robfig/cron log through slog.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append([]any{"error", err}, kv...)...)
}
