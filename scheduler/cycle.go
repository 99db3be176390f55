package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/snapshot"
)

// Cycle is one round of backups: every configured database, then the
// globals.
type Cycle struct {
	Job *Job
	// Admin connects to the maintenance database, to expand patterns.
	Admin     snapshot.Conn
	Databases []string // names or "*"
	Globals   bool
	Logger    *slog.Logger
	// Observe, when set, is told of each database's outcome.
	Observe func(database string, res Result, err error)
}

// Run backs up each database in turn, one log line each, and returns an
// error naming every database that failed. A failed database does not stop
// the others. A database already backed up at or after slot (by another
// daemon) is skipped; a zero slot skips none.
func (c *Cycle) Run(ctx context.Context, slot time.Time) error {
	names, err := c.Names(ctx)
	if err != nil {
		return err
	}
	var failed []error
	for _, db := range names {
		if ctx.Err() != nil {
			failed = append(failed, fmt.Errorf("%s: %w", db, context.Cause(ctx)))
			continue
		}
		res, err := c.Job.Run(ctx, db, slot)
		if errors.Is(err, ErrSlotTaken) {
			c.Logger.Info("backup skipped: this slot is already backed up", "database", db,
				"id", res.Manifest.ID, "host", res.Manifest.Host)
			continue
		}
		if c.Observe != nil {
			c.Observe(db, res, err)
		}
		if err != nil {
			c.Logger.Error("backup failed", "database", db, "error", err)
			failed = append(failed, err)
			continue
		}
		m := res.Manifest
		c.Logger.Info("backup done", "database", db, "id", m.ID, "tiers", m.Tiers,
			"raw_bytes", m.RawBytes, "stored_bytes", m.StoredBytes,
			"seconds", res.Duration.Seconds(), "lock_until", m.LockUntil)
	}
	return errors.Join(failed...)
}

// Names expands the patterns among Databases and keeps exact names as they
// are: a named database that is missing fails on its own, with its own log
// line, and does not stop the others. The globals come last, when kept.
func (c *Cycle) Names(ctx context.Context) ([]string, error) {
	var patterns, names []string
	for _, d := range c.Databases {
		if strings.ContainsAny(d, "*?[") {
			patterns = append(patterns, d)
		} else {
			names = append(names, d)
		}
	}
	if len(patterns) > 0 {
		found, err := snapshot.ListDatabases(ctx, c.Admin, patterns)
		if err != nil {
			return nil, err
		}
		names = append(names, found...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if c.Globals {
		names = append(names, catalog.GlobalsDatabase)
	}
	return names, nil
}
