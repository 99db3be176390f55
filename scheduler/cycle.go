package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

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
}

// Run backs up each database in turn, one log line each, and returns an
// error naming every database that failed. A failed database does not stop
// the others.
func (c *Cycle) Run(ctx context.Context) error {
	names, err := c.names(ctx)
	if err != nil {
		return err
	}
	if c.Globals {
		names = append(names, catalog.GlobalsDatabase)
	}
	var failed []error
	for _, db := range names {
		if ctx.Err() != nil {
			failed = append(failed, fmt.Errorf("%s: %w", db, context.Cause(ctx)))
			continue
		}
		res, err := c.Job.Run(ctx, db)
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

// names expands the patterns among Databases and keeps exact names as they
// are: a named database that is missing fails on its own, with its own log
// line, and does not stop the others.
func (c *Cycle) names(ctx context.Context) ([]string, error) {
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
	return slices.Compact(names), nil
}
