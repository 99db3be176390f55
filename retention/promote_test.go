package retention

import (
	"slices"
	"testing"
	"time"
)

func TestPromote(t *testing.T) {
	ny, paris := mustLoad(t, "America/New_York"), mustLoad(t, "Europe/Paris")
	held := func(taken string, tiers ...Tier) Backup {
		return Backup{ID: backupID(utc(taken)), TakenAt: utc(taken), Tiers: append([]Tier{Base}, tiers...)}
	}
	all := []Tier{Base, Daily, Weekly, Monthly}
	for _, c := range []struct {
		name     string
		loc      *time.Location
		existing []Backup
		taken    string // UTC
		want     []Tier
	}{
		{"first backup", time.UTC, nil, "2026-11-21 06:00", all},
		{"second of the day", time.UTC, []Backup{held("2026-11-21 00:00", Daily, Weekly, Monthly)}, "2026-11-21 06:00", []Tier{Base}},
		{"next day, same week and month", time.UTC, []Backup{held("2026-11-18 00:00", Daily, Weekly, Monthly)}, "2026-11-19 00:00", []Tier{Base, Daily}},
		{"base backups of the day do not count", time.UTC, []Backup{held("2026-11-21 00:00"), held("2026-11-21 06:00")}, "2026-11-21 12:00", all},
		{"a later backup of the day counts", time.UTC, []Backup{held("2026-11-21 18:00", Daily)}, "2026-11-21 12:00", []Tier{Base, Weekly, Monthly}},
		{"Monday starts a week", time.UTC, []Backup{held("2026-11-22 18:00", Daily, Weekly, Monthly)}, "2026-11-23 00:00", []Tier{Base, Daily, Weekly}},
		{"Sunday ends a week", time.UTC, []Backup{held("2026-11-16 00:00", Daily, Weekly)}, "2026-11-22 23:00", []Tier{Base, Daily, Monthly}},
		// 2026-12-28 to 2027-01-03 is ISO week 53 of 2026.
		{"ISO week 53 crosses the year", time.UTC, []Backup{held("2026-12-28 00:00", Daily, Weekly, Monthly)}, "2027-01-03 00:00", []Tier{Base, Daily, Monthly}},
		{"ISO week 1 of 2027", time.UTC, []Backup{held("2027-01-03 00:00", Daily, Monthly)}, "2027-01-04 00:00", []Tier{Base, Daily, Weekly}},
		{"same day a year apart", time.UTC, []Backup{held("2025-11-21 00:00", Daily, Weekly, Monthly)}, "2026-11-21 00:00", all},
		{"same month number a year apart", time.UTC, []Backup{held("2025-11-30 00:00", Monthly)}, "2026-11-01 00:00", all},
		{"February after January 31", time.UTC, []Backup{held("2026-01-31 00:00", Daily, Monthly)}, "2026-02-01 00:00", all},
		{"leap day", time.UTC, []Backup{held("2028-02-28 00:00", Daily, Monthly)}, "2028-02-29 00:00", []Tier{Base, Daily, Weekly}},
		// 2026-11-21 02:00 UTC is still November 20th in New York.
		{"New York day", ny, []Backup{held("2026-11-20 12:00", Daily, Weekly, Monthly)}, "2026-11-21 02:00", []Tier{Base}},
		{"New York next day", ny, []Backup{held("2026-11-21 02:00", Daily, Weekly, Monthly)}, "2026-11-21 06:00", []Tier{Base, Daily}},
		// Spring forward: 2026-03-08 is 23 hours long in New York, from
		// 05:00 UTC to 04:00 UTC the next day.
		{"New York spring day", ny, []Backup{held("2026-03-08 05:00", Daily)}, "2026-03-09 03:59", []Tier{Base, Weekly, Monthly}},
		{"New York after spring day", ny, []Backup{held("2026-03-08 05:00", Daily)}, "2026-03-09 04:00", []Tier{Base, Daily, Weekly, Monthly}},
		// Fall back: 2026-11-01 is 25 hours long, 04:00 UTC to 05:00 UTC.
		{"New York fall day", ny, []Backup{held("2026-11-01 04:00", Daily)}, "2026-11-02 04:59", []Tier{Base, Weekly, Monthly}},
		{"New York after fall day", ny, []Backup{held("2026-11-01 04:00", Daily)}, "2026-11-02 05:00", []Tier{Base, Daily, Weekly, Monthly}},
		// 2026-01-31 23:30 UTC is February 1st, 00:30 in Paris.
		{"Paris month", paris, []Backup{held("2026-01-31 22:00", Daily, Weekly, Monthly)}, "2026-01-31 23:30", []Tier{Base, Daily, Monthly}},
		{"Paris Sunday night is Monday", paris, []Backup{held("2026-11-22 12:00", Daily, Weekly)}, "2026-11-22 23:30", []Tier{Base, Daily, Weekly, Monthly}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := defaultPolicy(c.loc)
			before := slices.Clone(c.existing)
			got := Promote(c.existing, utc(c.taken), p)
			if !slices.Equal(got, c.want) {
				t.Errorf("Promote = %v, want %v", got, c.want)
			}
			for i := range before {
				if !slices.Equal(before[i].Tiers, c.existing[i].Tiers) {
					t.Errorf("Promote modified its input")
				}
			}
		})
	}
}
