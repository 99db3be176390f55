package retention

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStaleWeek replays a week in which every backup from 2026-11-17 06:00
// to 2026-11-20 00:00 UTC failed (twelve runs, three days) while prune kept
// running after each. Prune deletes as usual while the newest base backup
// (2026-11-17 00:00) is at most 12 hours old, then refuses from 18:00 on;
// the first backup after the gap, 2026-11-20 06:00, is that day's daily,
// and the prune after it deletes what expired during the gap.
func TestStaleWeek(t *testing.T) {
	p := defaultPolicy(time.UTC)
	gapFrom, gapTo := utc("2026-11-17 06:00"), utc("2026-11-20 06:00")
	ok := func(t time.Time) bool { return t.Before(gapFrom) || !t.Before(gapTo) }
	kept, trace := replay(p, every(6*time.Hour), utc("2026-11-10 00:00"), utc("2026-11-23 00:00"), ok)
	golden(t, "stale-week.golden", trace)

	var dailies []string
	for _, b := range kept {
		if b.Has(Daily) {
			dailies = append(dailies, b.ID)
		}
	}
	want := "[20261110T000000Z 20261111T000000Z 20261112T000000Z 20261113T000000Z 20261114T000000Z 20261115T000000Z " +
		"20261116T000000Z 20261117T000000Z 20261120T060000Z 20261121T000000Z 20261122T000000Z 20261123T000000Z]"
	if fmt.Sprint(dailies) != want {
		t.Errorf("dailies %v\nwant %s", dailies, want)
	}
	for _, c := range []struct {
		at   string
		want string
	}{
		{"2026-11-17 12:00", "    delete 20261112T120000Z: expired from base (2026-11-17 12:00 UTC)\n"},
		{"2026-11-17 18:00", "    refused stale_base: database app: the newest base backup 20261117T000000Z was taken 18h ago, " +
			"more than twice the schedule interval of 6h: backups are failing, nothing is deleted\n"},
		{"2026-11-20 00:00", "    refused stale_base: database app: the newest base backup 20261117T000000Z was taken 3d ago, " +
			"more than twice the schedule interval of 6h: backups are failing, nothing is deleted\n"},
		{"2026-11-20 06:00", "    delete 20261112T180000Z: expired from base (2026-11-17 18:00 UTC)\n"},
	} {
		if got := tick(trace, utc(c.at), time.UTC); !strings.Contains(got, c.want) {
			t.Errorf("at %s:\n%s\nwant a line %q", c.at, got, c.want)
		}
	}
	if got := tick(trace, utc("2026-11-20 06:00"), time.UTC); strings.Count(got, "delete ") != 8 {
		t.Errorf("after the gap, want the 8 backups that expired during it deleted:\n%s", got)
	}
	for at := utc("2026-11-17 18:00"); at.Before(gapTo); at = at.Add(6 * time.Hour) {
		if got := tick(trace, at, time.UTC); strings.Contains(got, "delete ") || !strings.Contains(got, "refused stale_base") {
			t.Errorf("at %s, want a refusal and no deletion:\n%s", at, got)
		}
	}
}

// tick returns the lines of a replay trace for the run at t.
func tick(trace string, t time.Time, loc *time.Location) string {
	var out []string
	for _, line := range strings.Split(trace, "\n") {
		switch {
		case strings.HasPrefix(line, stamp(t, loc)+"  "):
			out = append(out, line)
		case len(out) > 0 && strings.HasPrefix(line, "    "):
			out = append(out, line)
		case len(out) > 0:
			return strings.Join(out, "\n") + "\n"
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// TestDaylightSaving replays a week around each daylight-saving change of
// 2026 in New York (March 8, November 1) and Paris (March 29, October 25),
// on two schedules: 02:00, 08:00, 14:00 and 20:00 local time (02:00 falls in
// the spring gap in both zones and, in Paris, in the repeated autumn hour),
// and every 6 hours from 00:00 UTC. Every local calendar day has exactly one
// daily backup, its first run, whether the day has 23, 24 or 25 hours.
func TestDaylightSaving(t *testing.T) {
	for _, z := range []struct {
		zone    string
		changes []string // local dates
	}{
		{"America/New_York", []string{"2026-03-08", "2026-11-01"}},
		{"Europe/Paris", []string{"2026-03-29", "2026-10-25"}},
	} {
		t.Run(z.zone, func(t *testing.T) {
			loc := mustLoad(t, z.zone)
			p := defaultPolicy(loc)
			var out strings.Builder
			for _, day := range z.changes {
				d, _ := time.ParseInLocation("2006-01-02", day, loc)
				from, to := d.AddDate(0, 0, -3), d.AddDate(0, 0, 4).Add(-time.Nanosecond)
				for _, s := range []struct {
					name     string
					schedule func(time.Time) time.Time
				}{{"local 02/08/14/20", localHours(loc, 2, 8, 14, 20)}, {"every 6h from 00:00 UTC", every(6 * time.Hour)}} {
					fmt.Fprintf(&out, "== %s, %s, week around %s\n", z.zone, s.name, day)
					kept, trace := replay(p, s.schedule, from, to, func(time.Time) bool { return true })
					out.WriteString(trace)
					checkDailies(t, kept, s.schedule, from, to, loc)
				}
			}
			golden(t, "dst-"+strings.ToLower(strings.ReplaceAll(z.zone[strings.Index(z.zone, "/")+1:], "_", "-"))+".golden", out.String())
		})
	}
}

// checkDailies checks that each local day between from and to has exactly
// one daily backup among kept, and that it is the day's first run.
func checkDailies(t *testing.T, kept []Backup, schedule func(time.Time) time.Time, from, to time.Time, loc *time.Location) {
	t.Helper()
	first := map[string]time.Time{}
	for r := schedule(from.Add(-time.Nanosecond)); !r.After(to); r = schedule(r) {
		if day := r.In(loc).Format("2006-01-02"); first[day].IsZero() {
			first[day] = r
		}
	}
	dailies := map[string][]time.Time{}
	for _, b := range kept {
		if b.Has(Daily) {
			day := b.TakenAt.In(loc).Format("2006-01-02")
			dailies[day] = append(dailies[day], b.TakenAt)
		}
	}
	if len(first) != 7 {
		t.Errorf("%d local days with runs from %s, want 7", len(first), from)
	}
	for day, r := range first {
		if got := dailies[day]; len(got) != 1 || !got[0].Equal(r) {
			t.Errorf("%s: dailies %v, want the first run %s", day, got, r)
		}
	}
	if len(dailies) != len(first) {
		t.Errorf("dailies on %d days, want %d", len(dailies), len(first))
	}
}

// TestISOWeeksAcrossNewYear: 2026 has 53 ISO weeks; week 53 runs from
// Monday 2026-12-28 to Sunday 2027-01-03, and week 1 of 2027 starts on
// Monday 2027-01-04. A simulation every 6 hours from Thursday 2026-12-24
// (week 52) to 2027-01-10 promotes exactly one weekly per ISO week, and the
// monthly of January on New Year's Day; in New York the weeks and months
// start 5 hours later in UTC, so the first run after local midnight (06:00
// UTC) takes the tier.
func TestISOWeeksAcrossNewYear(t *testing.T) {
	from, to := utc("2026-12-24 00:00"), utc("2027-01-10 18:00")
	ny := mustLoad(t, "America/New_York")
	var out strings.Builder
	for _, c := range []struct {
		loc              *time.Location
		weekly, monthly  []string
		dailies, backups int
	}{
		{time.UTC, []string{"20261224T000000Z", "20261228T000000Z", "20270104T000000Z"},
			[]string{"20261224T000000Z", "20270101T000000Z"}, 18, 33},
		// 2026-12-24 00:00 UTC is still Wednesday the 23rd in New York.
		{ny, []string{"20261224T000000Z", "20261228T060000Z", "20270104T060000Z"},
			[]string{"20261224T000000Z", "20270101T060000Z"}, 19, 34},
	} {
		p := defaultPolicy(c.loc)
		r := Simulate(p, every(6*time.Hour), from, to)
		fmt.Fprintf(&out, "== %s\n%s", c.loc, renderSim(r, c.loc))
		var weekly, monthly []string
		dailies := 0
		for _, b := range r.Backups {
			if slices.Contains(b.Tiers, Weekly) {
				weekly = append(weekly, b.ID)
			}
			if slices.Contains(b.Tiers, Monthly) {
				monthly = append(monthly, b.ID)
			}
			if slices.Contains(b.Tiers, Daily) {
				dailies++
			}
		}
		if fmt.Sprint(weekly) != fmt.Sprint(c.weekly) || fmt.Sprint(monthly) != fmt.Sprint(c.monthly) {
			t.Errorf("%s: weekly %v monthly %v, want %v and %v", c.loc, weekly, monthly, c.weekly, c.monthly)
		}
		if dailies != c.dailies || r.Total != c.backups {
			t.Errorf("%s: %d dailies and %d backups kept, want %d and %d", c.loc, dailies, r.Total, c.dailies, c.backups)
		}
		for _, b := range r.Backups {
			y, w := b.TakenAt.In(c.loc).ISOWeek()
			if slices.Contains(b.Tiers, Weekly) && w == 53 && y != 2026 {
				t.Errorf("week 53 in %d", y)
			}
		}
	}
	golden(t, "iso-weeks.golden", out.String())
}

// TestMonthLengths replays a daily backup at 12:00 UTC from January 31st
// to early March, in 2027 (February has 28 days) and 2028 (29), under
// short windows (base and daily 1d/7d, weekly 1w/1w, monthly 1mo/1mo). The January 31st monthly expires at the
// end of February, not in March: Feb 28 in 2027, Feb 29 in 2028; February's
// monthly expires on March 1st.
func TestMonthLengths(t *testing.T) {
	p := policy(time.UTC, 24*time.Hour, "1d/7d", "1d/7d", "1w/1w", "1mo/1mo")
	var out strings.Builder
	for _, c := range []struct {
		from, to string
		jan31    string // when the January 31st monthly is deleted
	}{
		{"2027-01-31 12:00", "2027-03-03 12:00", "2027-02-28 12:00"},
		{"2028-01-31 12:00", "2028-03-03 12:00", "2028-02-29 12:00"},
	} {
		fmt.Fprintf(&out, "== %s to %s\n", c.from, c.to)
		_, trace := replay(p, localHours(time.UTC, 12), utc(c.from), utc(c.to), func(time.Time) bool { return true })
		out.WriteString(trace)
		if strings.Contains(trace, "refused") {
			t.Errorf("a prune was refused:\n%s", trace)
		}
		want := "    delete " + backupID(utc(c.from)) + ": expired from base"
		if got := tick(trace, utc(c.jan31), time.UTC); !strings.Contains(got, want) {
			t.Errorf("the January 31st monthly is not deleted at %s:\n%s", c.jan31, got)
		}
	}
	golden(t, "month-lengths.golden", out.String())
}
