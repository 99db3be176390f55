package scheduler

import (
	"time"

	"github.com/robfig/cron/v3"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/retention"
)

// intervalRuns is how many consecutive runs Interval looks at: enough for a
// 6-hourly schedule to cover two months, and for any weekly pattern.
const intervalRuns = 256

// Interval is the longest gap between consecutive runs of s after from: the
// schedule's interval for the retention rule that counts backups as failing.
func Interval(s cron.Schedule, from time.Time) time.Duration {
	var longest time.Duration
	t := s.Next(from)
	for range intervalRuns {
		next := s.Next(t)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(t))
		t = next
	}
	return longest
}

// Backups turns manifests into what the retention policy reasons about.
func Backups(ms []*catalog.Manifest) []retention.Backup {
	out := make([]retention.Backup, 0, len(ms))
	for _, m := range ms {
		b := retention.Backup{ID: m.ID, Database: m.Database, TakenAt: m.TakenAt, LockUntil: m.LockUntil, ExpiresAt: m.ExpiresAt}
		for _, t := range m.Tiers {
			b.Tiers = append(b.Tiers, retention.Tier(t))
		}
		out = append(out, b)
	}
	return out
}
