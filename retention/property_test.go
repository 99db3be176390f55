package retention

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// randomCatalog builds the backups of two databases, taken at random gaps
// (with failures) under p, some of them with recorded dates that a
// different policy would have written.
func randomCatalog(rng *rand.Rand, p Policy, start time.Time) []Backup {
	var all []Backup
	for _, db := range []string{"a", "b"} {
		var mine []Backup
		at := start
		for range rng.IntN(120) {
			at = at.Add(time.Duration(1+rng.IntN(72)) * time.Hour)
			b := take(db, mine, at, p)
			switch rng.IntN(10) {
			case 0:
				b.ExpiresAt = b.ExpiresAt.Add(time.Duration(rng.IntN(200)-100) * time.Hour)
			case 1:
				b.LockUntil = b.ExpiresAt.Add(time.Duration(rng.IntN(100)) * time.Hour)
			}
			mine = append(mine, b)
		}
		all = append(all, mine...)
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all
}

// TestPlanProperties checks, over random catalogs, times and options, that
// a plan accounts for every backup once and never deletes a backup before
// its lock date or expiry date, the newest backup of any tier, anything of
// a refused database, or more than half of a database unless forced.
func TestPlanProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	policies := []Policy{
		defaultPolicy(time.UTC),
		defaultPolicy(mustLoad(t, "America/New_York")),
		policy(mustLoad(t, "Europe/Paris"), 12*time.Hour, "1h/1d", "1d/3d", "1w/2w", "1mo/2mo"),
	}
	start := utc("2026-01-01 00:00")
	deleted := 0
	for i := range 600 {
		p := policies[i%len(policies)]
		all := randomCatalog(rng, p, start)
		now := start.Add(time.Duration(rng.IntN(24*400)) * time.Hour)
		o := Options{Force: rng.IntN(4) == 0}
		if rng.IntN(3) == 0 {
			o.ServerTime = now.Add(time.Duration(rng.IntN(20)-10) * time.Minute)
		}
		r := Plan(all, p, now, o)
		deleted += len(r.Delete)
		checkPlan(t, all, p, now, o, r)
	}
	if deleted == 0 {
		t.Errorf("no random plan deleted anything: the properties were not exercised")
	}
}

func checkPlan(t *testing.T, all []Backup, p Policy, now time.Time, o Options, r Result) {
	t.Helper()
	seen := map[string]int{}
	for _, d := range append(append([]Decision{}, r.Keep...), r.Delete...) {
		seen[d.Backup.Database+"/"+d.Backup.ID]++
		if d.Reason == "" {
			t.Errorf("%s/%s: no reason", d.Backup.Database, d.Backup.ID)
		}
	}
	if len(seen) != len(all) {
		t.Fatalf("plan has %d backups, input %d", len(seen), len(all))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s appears %d times", k, n)
		}
	}
	count, dels := map[string]int{}, map[string]int{}
	newest := map[string]map[Tier]time.Time{}
	newestBase := map[string]time.Time{}
	for _, b := range all {
		count[b.Database]++
		if newest[b.Database] == nil {
			newest[b.Database] = map[Tier]time.Time{}
		}
		for _, tier := range b.Tiers {
			if b.TakenAt.After(newest[b.Database][tier]) {
				newest[b.Database][tier] = b.TakenAt
			}
		}
		if b.Has(Base) && b.TakenAt.After(newestBase[b.Database]) {
			newestBase[b.Database] = b.TakenAt
		}
	}
	refused := map[string]bool{}
	for _, x := range r.Refused {
		refused[x.Database] = true
	}
	skewed := !o.ServerTime.IsZero() && now.Sub(o.ServerTime).Abs() > MaxClockSkew
	for _, d := range r.Delete {
		b := d.Backup
		dels[b.Database]++
		switch {
		case b.ExpiresAt.IsZero() || now.Before(b.ExpiresAt):
			t.Errorf("%s deleted before its expiry %s at %s", b.ID, b.ExpiresAt, now)
		case now.Before(b.LockUntil):
			t.Errorf("%s deleted before its lock date %s at %s", b.ID, b.LockUntil, now)
		case refused[""] || refused[b.Database] || skewed:
			t.Errorf("%s/%s deleted from a refused plan", b.Database, b.ID)
		case now.Sub(newestBase[b.Database]) > 2*p.Interval:
			t.Errorf("%s/%s deleted while the newest base is stale", b.Database, b.ID)
		}
		for _, tier := range b.Tiers {
			if newest[b.Database][tier].Equal(b.TakenAt) {
				t.Errorf("%s/%s deleted though it is the newest %s", b.Database, b.ID, tier)
			}
		}
	}
	for db, n := range dels {
		if !o.Force && 2*n > count[db] {
			t.Errorf("%s: %d of %d deleted without force", db, n, count[db])
		}
	}
}

// TestSimulateProperties checks that a simulation keeps, at its end, a
// daily for each of the last 365 local days and never holds a tier twice
// in one day, ISO week or month.
func TestSimulateProperties(t *testing.T) {
	loc := mustLoad(t, "Europe/Paris")
	p := defaultPolicy(loc)
	r := Simulate(p, localHours(loc, 1, 9, 17), utc("2026-01-01 00:00"), utc("2027-06-30 00:00"))
	days, weeks, months := map[string]int{}, map[string]int{}, map[string]int{}
	for _, b := range r.Backups {
		l := b.TakenAt.In(loc)
		y, w := l.ISOWeek()
		if slices.Contains(b.Tiers, Daily) {
			days[l.Format("2006-01-02")]++
		}
		if slices.Contains(b.Tiers, Weekly) {
			weeks[fmt.Sprintf("%d-W%02d", y, w)]++
		}
		if slices.Contains(b.Tiers, Monthly) {
			months[l.Format("2006-01")]++
		}
	}
	for _, m := range []map[string]int{days, weeks, months} {
		for k, n := range m {
			if n != 1 {
				t.Errorf("%s holds its tier %d times", k, n)
			}
		}
	}
	// Monthlies also hold daily, so days has more than 365 entries; the
	// daily tier itself keeps the last 365 days.
	if r.Counts[Daily] != 365 || len(days) < 365 || r.Refusals != 0 {
		t.Errorf("daily keeps %d, %d days with a daily, %d refusals; want 365, at least 365 and 0", r.Counts[Daily], len(days), r.Refusals)
	}
}
