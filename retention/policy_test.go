package retention

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	if err := defaultPolicy(nil).Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	for _, c := range []struct {
		name, want string
		edit       func(*Policy)
	}{
		{"unknown tier", `unknown tier "hourly"`, func(p *Policy) { p.Windows["hourly"] = Window{Min: span("1h"), Max: span("2h")} }},
		{"missing tier", "tier weekly has no window", func(p *Policy) { delete(p.Windows, Weekly) }},
		{"missing span", "tier daily needs both min and max", func(p *Policy) { p.Windows[Daily] = Window{Max: span("1d")} }},
		{"zero min", "tier base: min 0d is not positive", func(p *Policy) { p.Windows[Base] = Window{Min: span("0d"), Max: span("1d")} }},
		{"zero max", "tier base: max 0h is not positive", func(p *Policy) { p.Windows[Base] = Window{Min: span("1h"), Max: span("0h")} }},
		{"min over max", "tier monthly: min 13mo is longer than max 1y", func(p *Policy) { p.Windows[Monthly] = Window{Min: span("13mo"), Max: span("1y")} }},
		{"no interval", "interval must be positive", func(p *Policy) { p.Interval = 0 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := defaultPolicy(time.UTC)
			c.edit(&p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestWindows(t *testing.T) {
	paris, ny := mustLoad(t, "Europe/Paris"), mustLoad(t, "America/New_York")
	classes := policy(time.UTC, 6*time.Hour, "2d/5d", "7d/365d/STANDARD_IA", "4w/52w", "13mo/36mo/GLACIER_IR")
	tie := policy(time.UTC, 6*time.Hour, "2d/5d/A", "7d/52w/B", "4w/52w/C", "4w/52w/D")
	for _, c := range []struct {
		name          string
		p             Policy
		tiers         []Tier
		taken         string // UTC
		lock, expires string // UTC
		class         string
	}{
		{"base only", defaultPolicy(time.UTC), []Tier{Base}, "2026-11-21 06:00", "2026-11-23 06:00", "2026-11-26 06:00", ""},
		{"base and daily", classes, []Tier{Base, Daily}, "2026-11-21 00:00", "2026-11-28 00:00", "2027-11-21 00:00", "STANDARD_IA"},
		{"all four", classes, []Tier{Base, Daily, Weekly, Monthly}, "2026-11-01 00:00", "2027-12-01 00:00", "2029-11-01 00:00", "GLACIER_IR"},
		{"order of tiers does not matter", classes, []Tier{Monthly, Base}, "2026-11-01 00:00", "2027-12-01 00:00", "2029-11-01 00:00", "GLACIER_IR"},
		{"tie goes to the later tier", tie, []Tier{Base, Daily, Weekly}, "2026-11-02 00:00", "2026-11-30 00:00", "2027-11-01 00:00", "C"},
		{"tie among all", tie, []Tier{Daily, Monthly, Weekly}, "2026-11-02 00:00", "2026-11-30 00:00", "2027-11-01 00:00", "D"},
		{"unknown tier ignored", defaultPolicy(time.UTC), []Tier{Base, "hourly"}, "2026-11-21 06:00", "2026-11-23 06:00", "2026-11-26 06:00", ""},
		{"no tier", defaultPolicy(time.UTC), nil, "2026-11-21 06:00", "0001-01-01 00:00", "0001-01-01 00:00", ""},
		// Months clamp to the end of a shorter month.
		{"Jan 31 plus 13mo", defaultPolicy(time.UTC), []Tier{Monthly}, "2026-01-31 00:00", "2027-02-28 00:00", "2029-01-31 00:00", ""},
		{"leap day plus 36mo", defaultPolicy(time.UTC), []Tier{Monthly}, "2028-02-29 12:00", "2029-03-29 12:00", "2031-02-28 12:00", ""},
		{"Jan 31 in a leap year", policy(time.UTC, time.Hour, "1d/1d", "1d/1d", "1d/1d", "1mo/2mo"), []Tier{Monthly}, "2028-01-31 12:00", "2028-02-29 12:00", "2028-03-31 12:00", ""},
		// Days keep the wall-clock time of the policy's zone across DST:
		// 7 local days from 2026-03-05 01:00 EST is 2026-03-12 01:00 EDT,
		// 167 hours later.
		{"New York spring", policy(ny, 6*time.Hour, "7d/7d", "7d/7d", "7d/7d", "7d/7d"), []Tier{Base}, "2026-03-05 06:00", "2026-03-12 05:00", "2026-03-12 05:00", ""},
		// 2 days from 2026-10-24 12:00 CEST is 2026-10-26 12:00 CET: 49 hours.
		{"Paris autumn", policy(paris, 6*time.Hour, "2d/5d", "7d/365d", "4w/52w", "13mo/36mo"), []Tier{Base}, "2026-10-24 10:00", "2026-10-26 11:00", "2026-10-29 11:00", ""},
		// A month in Paris: taken 2026-01-31 23:30 UTC is February 1st there,
		// so 1mo is March 1st, 00:30 CET.
		{"Paris month", policy(paris, time.Hour, "1d/1d", "1d/1d", "1d/1d", "1mo/1mo"), []Tier{Monthly}, "2026-01-31 23:30", "2026-02-28 23:30", "2026-02-28 23:30", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			lock, exp, class := Windows(c.tiers, utc(c.taken), c.p)
			if want := utc(c.lock); !lock.Equal(want) && !(lock.IsZero() && want.Year() == 1) {
				t.Errorf("lock until %s, want %s", lock, want)
			}
			if want := utc(c.expires); !exp.Equal(want) && !(exp.IsZero() && want.Year() == 1) {
				t.Errorf("expires %s, want %s", exp, want)
			}
			if class != c.class {
				t.Errorf("storage class %q, want %q", class, c.class)
			}
			if !lock.IsZero() && lock.Location() != time.UTC {
				t.Errorf("lock date in %s, want UTC", lock.Location())
			}
		})
	}
}
