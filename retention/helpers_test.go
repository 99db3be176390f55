package retention

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// cal is a calendar span for tests, with the semantics of configs.Duration:
// years and months first (clamped to the end of a shorter month), then
// weeks and days (wall clock kept), then hours (elapsed).
type cal struct {
	text                string
	months, days, hours int
}

var calPart = regexp.MustCompile(`(\d+)(y|mo|w|d|h)`)

func span(s string) cal {
	c := cal{text: s}
	for _, m := range calPart.FindAllStringSubmatch(s, -1) {
		n, _ := strconv.Atoi(m[1])
		switch m[2] {
		case "y":
			c.months += 12 * n
		case "mo":
			c.months += n
		case "w":
			c.days += 7 * n
		case "d":
			c.days += n
		case "h":
			c.hours += n
		}
	}
	return c
}

func (c cal) String() string { return c.text }

func (c cal) AddTo(t time.Time) time.Time {
	if c.months != 0 {
		y, m, d := t.Date()
		first := time.Date(y, m+time.Month(c.months), 1, 0, 0, 0, 0, time.UTC)
		if last := time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day(); d > last {
			d = last
		}
		hh, mm, ss := t.Clock()
		t = time.Date(first.Year(), first.Month(), d, hh, mm, ss, t.Nanosecond(), t.Location())
	}
	return t.AddDate(0, 0, c.days).Add(time.Duration(c.hours) * time.Hour)
}

// policy builds a policy from "min/max" spans in tier order.
func policy(loc *time.Location, interval time.Duration, windows ...string) Policy {
	p := Policy{Windows: map[Tier]Window{}, Location: loc, Interval: interval}
	for i, t := range Tiers() {
		mm := strings.SplitN(windows[i], "/", 3)
		w := Window{Min: span(mm[0]), Max: span(mm[1])}
		if len(mm) == 3 {
			w.StorageClass = mm[2]
		}
		p.Windows[t] = w
	}
	return p
}

// defaultPolicy is the policy of DESIGN section 5 on a 6-hour schedule.
func defaultPolicy(loc *time.Location) Policy {
	return policy(loc, 6*time.Hour, "2d/5d", "7d/365d", "4w/52w", "13mo/36mo")
}

// every returns a schedule of runs at multiples of d since the zero time
// (for d dividing a day: every d from 00:00 UTC).
func every(d time.Duration) func(time.Time) time.Time {
	return func(t time.Time) time.Time { return t.Truncate(d).Add(d) }
}

// localHours returns a schedule of runs at the given wall-clock hours of
// each day in loc, as time.Date resolves them.
func localHours(loc *time.Location, hours ...int) func(time.Time) time.Time {
	return func(t time.Time) time.Time {
		l := t.In(loc)
		for day := 0; ; day++ {
			for _, h := range hours {
				c := time.Date(l.Year(), l.Month(), l.Day()+day, h, 0, 0, 0, loc)
				if c.After(t) {
					return c
				}
			}
		}
	}
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("loading zone %s: %v", name, err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("writing %s: %v", path, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s (run go test ./retention -update to create it): %v", path, err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output; run go test ./retention -update and review the diff\n%s",
			path, firstDiff(string(want), got))
	}
}

// firstDiff shows the first line where want and got differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, a, b)
		}
	}
	return ""
}

// stamp formats an instant in loc for golden files.
func stamp(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04 MST Mon")
}

func tierList(tiers []Tier) string { return strings.Join(tierNames(tiers), ",") }

// renderSim writes a simulation result as a table, times in loc.
func renderSim(r SimResult, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "runs %d, refusals %d, kept %d\n", r.Runs, r.Refusals, r.Total)
	for _, t := range Tiers() {
		fmt.Fprintf(&b, "%-8s %d\n", t, r.Counts[t])
	}
	fmt.Fprintf(&b, "\n%-16s  %-24s  %-24s  %-24s  %s\n", "id", "taken", "lock until", "expires", "tiers")
	for _, k := range r.Backups {
		fmt.Fprintf(&b, "%-16s  %-24s  %-24s  %-24s  %s\n", k.ID, stamp(k.TakenAt, loc),
			stamp(k.LockUntil, loc), stamp(k.ExpiresAt, loc), tierList(k.Tiers))
	}
	return b.String()
}

// renderPlan writes a plan as text.
func renderPlan(r Result) string {
	var b strings.Builder
	for _, x := range r.Refused {
		fmt.Fprintf(&b, "refused %s [%s]: %s\n", x.Reason, x.Database, x.Message)
	}
	for _, d := range r.Keep {
		fmt.Fprintf(&b, "keep   %s %s %-26s %s\n", d.Backup.Database, d.Backup.ID, tierList(d.Backup.Tiers), d.Reason)
	}
	for _, d := range r.Delete {
		fmt.Fprintf(&b, "delete %s %s %-26s %s\n", d.Backup.Database, d.Backup.ID, tierList(d.Backup.Tiers), d.Reason)
	}
	return b.String()
}

// take returns the backup the daemon records when it starts one at t.
func take(db string, existing []Backup, t time.Time, p Policy) Backup {
	tiers := Promote(existing, t, p)
	lock, exp, _ := Windows(tiers, t, p)
	return Backup{ID: backupID(t), Database: db, TakenAt: t, Tiers: tiers, LockUntil: lock, ExpiresAt: exp}
}

// replay runs the daemon's cycle at each scheduled tick in [from, to]:
// a backup when ok says it succeeds, then a prune at that instant. It
// returns the backups left and a trace of what happened, times in loc.
func replay(p Policy, schedule func(time.Time) time.Time, from, to time.Time, ok func(time.Time) bool) ([]Backup, string) {
	loc := p.loc()
	var kept []Backup
	var b strings.Builder
	for t := schedule(from.Add(-time.Nanosecond)); !t.After(to); t = schedule(t) {
		if ok(t) {
			nb := take("app", kept, t, p)
			kept = append(kept, nb)
			fmt.Fprintf(&b, "%s  backup %s  %-26s lock %s  expires %s\n", stamp(t, loc), nb.ID,
				tierList(nb.Tiers), when(nb.LockUntil, loc), when(nb.ExpiresAt, loc))
		} else {
			fmt.Fprintf(&b, "%s  backup failed\n", stamp(t, loc))
		}
		plan := Plan(kept, p, t, Options{})
		for _, r := range plan.Refused {
			fmt.Fprintf(&b, "    refused %s: %s\n", r.Reason, r.Message)
		}
		for _, d := range plan.Delete {
			fmt.Fprintf(&b, "    delete %s: %s\n", d.Backup.ID, d.Reason)
		}
		kept = kept[:0:0]
		for _, d := range plan.Keep {
			kept = append(kept, d.Backup)
		}
	}
	return kept, b.String()
}
