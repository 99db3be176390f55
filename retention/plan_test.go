package retention

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// bk returns a backup of db taken at taken (UTC) with the dates the default
// policy gives its tiers.
func bk(db, taken string, tiers ...Tier) Backup {
	at := utc(taken)
	lock, exp, _ := Windows(tiers, at, defaultPolicy(time.UTC))
	return Backup{ID: backupID(at), Database: db, TakenAt: at, Tiers: tiers, LockUntil: lock, ExpiresAt: exp}
}

// recorded returns b with other recorded dates, as a manifest written under
// an older policy would have.
func recorded(b Backup, lock, expires string) Backup {
	b.LockUntil, b.ExpiresAt = time.Time{}, time.Time{}
	if lock != "" {
		b.LockUntil = utc(lock)
	}
	if expires != "" {
		b.ExpiresAt = utc(expires)
	}
	return b
}

// fresh is a recent base backup that keeps the database from being stale
// at 2026-11-21 12:00.
func fresh(db string) Backup { return bk(db, "2026-11-21 06:00", Base) }

// reasons returns the reason given to each backup id, and whether it is
// deleted.
func reasons(r Result) map[string]string {
	out := map[string]string{}
	for _, d := range r.Keep {
		out[d.Backup.Database+"/"+d.Backup.ID] = "keep: " + d.Reason
	}
	for _, d := range r.Delete {
		out[d.Backup.Database+"/"+d.Backup.ID] = "delete: " + d.Reason
	}
	return out
}

func TestPlanReasons(t *testing.T) {
	now := utc("2026-11-21 12:00")
	const D, W, M = Daily, Weekly, Monthly
	for _, c := range []struct {
		name string
		b    Backup
		want string
	}{
		{"monthly", bk("app", "2026-03-01 00:00", Base, D, W, M), "keep: kept by monthly until 2029-03-01"},
		{"daily", bk("app", "2026-11-20 00:00", Base, D), "keep: kept by daily until 2027-11-20"},
		{"weekly outlives daily", bk("app", "2025-12-29 00:00", Base, D, W), "keep: kept by daily until 2026-12-29"},
		{"base with time of day", bk("app", "2026-11-20 18:00", Base), "keep: kept by base until 2026-11-25 18:00 UTC"},
		{"expired base", bk("app", "2026-11-16 06:00", Base), "delete: expired from base (2026-11-21 06:00 UTC)"},
		{"expired at now", bk("app", "2026-11-16 12:00", Base), "delete: expired from base (2026-11-21 12:00 UTC)"},
		{"expired daily", bk("app", "2025-11-20 00:00", Base, D), "delete: expired from base (2025-11-25) and daily (2026-11-20)"},
		{"expired three tiers", bk("app", "2025-11-03 00:00", Base, D, W), "delete: expired from base (2025-11-08), daily (2026-11-03) and weekly (2026-11-02)"},
		{"locked", recorded(bk("app", "2026-11-10 00:00", Base), "2026-11-23 00:00", "2026-11-15 00:00"), "keep: kept: locked until 2026-11-23"},
		{"recorded expiry kept", recorded(bk("app", "2026-11-20 00:00", Base, D), "2026-11-27 00:00", "2030-01-01 00:00"),
			"keep: kept until 2030-01-01, the expiry its manifest records (tiers base and daily)"},
		{"recorded expiry passed", recorded(bk("app", "2026-11-19 00:00", Base), "2026-11-20 00:00", "2026-11-20 00:00"),
			"delete: expired on 2026-11-20, the expiry its manifest records (tiers base)"},
		{"unknown tier", recorded(Backup{ID: "x", Database: "app", TakenAt: utc("2026-11-01 00:00"), Tiers: []Tier{Base, "hourly"}}, "", "2026-11-02 00:00"),
			"keep: kept: newest hourly backup"},
		{"no expiry", recorded(bk("app", "2026-11-01 00:00", Base), "", ""), "keep: kept: its manifest records no expiry date"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Two fresh backups, so that one deletion is not more than half,
			// and a newer holder of every tier.
			newer := bk("app", "2026-11-21 00:00", Base, Daily, Weekly, Monthly)
			r := Plan([]Backup{c.b, newer, fresh("app")}, defaultPolicy(time.UTC), now, Options{})
			if len(r.Refused) != 0 {
				t.Fatalf("refused: %+v", r.Refused)
			}
			if got := reasons(r)["app/"+c.b.ID]; got != c.want {
				t.Errorf("reason\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestPlanNewestOfEachTier(t *testing.T) {
	now := utc("2026-11-21 12:00")
	old := bk("app", "2025-11-03 00:00", Base, Daily, Weekly) // the only weekly
	oldDaily := bk("app", "2025-11-04 00:00", Base, Daily)
	r := Plan([]Backup{old, oldDaily, fresh("app"), bk("app", "2026-11-21 00:00", Base, Daily, Monthly)}, defaultPolicy(time.UTC), now, Options{})
	got := reasons(r)
	if want := "keep: kept: newest weekly backup"; got["app/"+old.ID] != want {
		t.Errorf("only weekly: %q, want %q", got["app/"+old.ID], want)
	}
	if !strings.HasPrefix(got["app/"+oldDaily.ID], "delete: expired from base") {
		t.Errorf("older daily: %q, want deleted", got["app/"+oldDaily.ID])
	}

	// Every backup expired and a schedule so slow that the newest is not
	// stale: the newest is kept for each of its tiers.
	p := defaultPolicy(time.UTC)
	p.Interval = 365 * 24 * time.Hour
	a, b := bk("app", "2026-11-10 06:00", Base), bk("app", "2026-11-11 06:00", Base, Daily, Weekly)
	r = Plan([]Backup{b, a}, p, utc("2027-12-01 00:00"), Options{})
	got = reasons(r)
	if want := "keep: kept: newest base, daily and weekly backup"; got["app/"+b.ID] != want {
		t.Errorf("newest of all: %q, want %q", got["app/"+b.ID], want)
	}
	if len(r.Refused) != 0 || len(r.Delete) != 1 || r.Delete[0].Backup.ID != a.ID {
		t.Errorf("refused %v, delete %v, want %s only", r.Refused, r.Delete, a.ID)
	}
}

func TestPlanStaleBase(t *testing.T) {
	p := defaultPolicy(time.UTC)
	old := bk("app", "2026-11-10 06:00", Base)
	last := bk("app", "2026-11-20 00:00", Base, Daily)
	daily := bk("app", "2026-11-19 00:00", Base, Daily)
	in := []Backup{old, daily, last}

	// Exactly twice the interval is not yet stale.
	r := Plan(in, p, utc("2026-11-20 12:00"), Options{})
	if len(r.Refused) != 0 || len(r.Delete) != 1 {
		t.Fatalf("at 2 intervals: refused %v, delete %d", r.Refused, len(r.Delete))
	}
	r = Plan(in, p, utc("2026-11-20 12:00").Add(time.Second), Options{})
	want := Refusal{Reason: RefusedStaleBase, Database: "app", Message: "database app: the newest base backup 20261120T000000Z " +
		"was taken 12h1s ago, more than twice the schedule interval of 6h: backups are failing, nothing is deleted"}
	if !slices.Equal(r.Refused, []Refusal{want}) {
		t.Errorf("refused %+v\nwant %+v", r.Refused, want)
	}
	if len(r.Delete) != 0 || len(r.Keep) != 3 {
		t.Errorf("stale plan deletes %d, keeps %d", len(r.Delete), len(r.Keep))
	}
	if got := reasons(r)["app/"+old.ID]; got != "keep: kept: prune refused (stale_base); otherwise expired from base (2026-11-15 06:00 UTC)" {
		t.Errorf("refused reason %q", got)
	}
	if got := reasons(r)["app/"+last.ID]; got != "keep: kept by daily until 2027-11-20" {
		t.Errorf("the other backups keep their own reason: %q", got)
	}

	// No base backup: stale.
	noBase := Backup{ID: "a", Database: "app", TakenAt: utc("2026-11-01 00:00"), Tiers: []Tier{Daily}, ExpiresAt: utc("2026-11-02 00:00")}
	r = Plan([]Backup{noBase, recorded(noBase, "", "2026-11-03 00:00")}, p, utc("2026-11-21 00:00"), Options{})
	if len(r.Refused) != 1 || r.Refused[0].Message != "database app has no base backup: nothing is deleted until a backup succeeds" || len(r.Delete) != 0 {
		t.Errorf("no base: %+v", r)
	}

	// No backups at all.
	r = Plan(nil, p, utc("2026-11-21 00:00"), Options{})
	if len(r.Refused) != 1 || r.Refused[0].Reason != RefusedStaleBase || r.Refused[0].Database != "" ||
		r.Refused[0].Message != "there are no backups at all: nothing is deleted until a backup succeeds" {
		t.Errorf("no backups: %+v", r)
	}
}

func TestPlanClockSkew(t *testing.T) {
	now := utc("2026-11-21 12:00")
	in := []Backup{bk("app", "2026-11-15 06:00", Base), bk("app", "2026-11-21 00:00", Base, Daily), fresh("app")}
	for _, c := range []struct {
		server  time.Time
		refused bool
	}{
		{time.Time{}, false},
		{now.Add(5 * time.Minute), false},
		{now.Add(-5 * time.Minute), false},
		{now.Add(5*time.Minute + time.Second), true},
		{now.Add(-7*time.Minute - 30*time.Second), true},
	} {
		r := Plan(in, defaultPolicy(time.UTC), now, Options{ServerTime: c.server, Force: true})
		if !c.refused {
			if len(r.Refused) != 0 || len(r.Delete) != 1 {
				t.Errorf("server %s: refused %v, delete %d", c.server, r.Refused, len(r.Delete))
			}
			continue
		}
		skew := now.Sub(c.server).Abs()
		want := Refusal{Reason: RefusedClockSkew, Message: "the local clock and the storage server's differ by " + human(skew) +
			" (more than 5m): nothing is deleted until the clocks agree (check NTP)"}
		if !slices.Equal(r.Refused, []Refusal{want}) || len(r.Delete) != 0 {
			t.Errorf("server %s: refused %+v, delete %d", c.server, r.Refused, len(r.Delete))
		}
	}
	r := Plan(in, defaultPolicy(time.UTC), now, Options{ServerTime: now.Add(-7*time.Minute - 30*time.Second)})
	if r.Refused[0].Message != "the local clock and the storage server's differ by 7m30s (more than 5m): nothing is deleted until the clocks agree (check NTP)" {
		t.Errorf("message %q", r.Refused[0].Message)
	}
}

func TestPlanTooMany(t *testing.T) {
	now := utc("2026-11-21 12:00")
	p := defaultPolicy(time.UTC)
	expired := func(db string, n int) []Backup {
		var out []Backup
		for i := range n {
			out = append(out, bk(db, utc("2026-11-15 00:00").Add(time.Duration(i)*time.Hour).Format("2006-01-02 15:04"), Base))
		}
		return out
	}
	keepers := []Backup{bk("app", "2026-11-21 00:00", Base, Daily, Weekly, Monthly), fresh("app")}

	half := append(expired("app", 2), keepers...)
	if r := Plan(half, p, now, Options{}); len(r.Refused) != 0 || len(r.Delete) != 2 {
		t.Errorf("deleting exactly half: refused %v, delete %d", r.Refused, len(r.Delete))
	}
	more := append(expired("app", 3), keepers...)
	r := Plan(more, p, now, Options{})
	want := Refusal{Reason: RefusedTooMany, Database: "app",
		Message: "database app: the plan deletes 3 of 5 backups, more than half: nothing is deleted unless forced (check the policy first)"}
	if !slices.Equal(r.Refused, []Refusal{want}) || len(r.Delete) != 0 || len(r.Keep) != 5 {
		t.Errorf("deleting 3 of 5: %+v", r)
	}
	if got := r.Keep[0].Reason; got != "kept: prune refused (too_many); otherwise expired from base (2026-11-20)" {
		t.Errorf("reason %q", got)
	}
	if r := Plan(more, p, now, Options{Force: true}); len(r.Refused) != 0 || len(r.Delete) != 3 {
		t.Errorf("forced: refused %v, delete %d", r.Refused, len(r.Delete))
	}

	// The rule is per database: db "big" is refused, "app" is pruned.
	two := append(slices.Clone(half), expired("big", 3)...)
	two = append(two, bk("big", "2026-11-21 06:00", Base, Daily, Weekly, Monthly))
	r = Plan(two, p, now, Options{})
	if len(r.Refused) != 1 || r.Refused[0].Database != "big" {
		t.Errorf("refused %+v, want big only", r.Refused)
	}
	for _, d := range r.Delete {
		if d.Backup.Database != "app" {
			t.Errorf("deletes %s/%s of a refused database", d.Backup.Database, d.Backup.ID)
		}
	}
	if len(r.Delete) != 2 {
		t.Errorf("delete %d of app, want 2", len(r.Delete))
	}
}

func TestPlanBadPolicy(t *testing.T) {
	p := defaultPolicy(time.UTC)
	delete(p.Windows, Monthly)
	in := []Backup{bk("app", "2026-11-15 00:00", Base), bk("app", "2026-11-21 00:00", Base, Daily), fresh("app")}
	r := Plan(in, p, utc("2026-11-21 12:00"), Options{Force: true})
	if len(r.Delete) != 0 || len(r.Refused) != 1 || r.Refused[0].Reason != RefusedBadPolicy ||
		r.Refused[0].Message != "the retention policy is not usable, nothing is deleted: checking retention policy: tier monthly has no window" {
		t.Errorf("bad policy: %+v", r)
	}
}

func TestPlanOrderAndInput(t *testing.T) {
	in := []Backup{fresh("b"), bk("a", "2026-11-21 00:00", Base, Daily, Weekly, Monthly), fresh("a"), bk("b", "2026-11-20 00:00", Base, Daily, Weekly, Monthly)}
	before := slices.Clone(in)
	r := Plan(in, defaultPolicy(time.UTC), utc("2026-11-21 12:00"), Options{})
	if !slices.EqualFunc(in, before, func(x, y Backup) bool { return x.ID == y.ID && x.Database == y.Database }) {
		t.Errorf("Plan reordered its input")
	}
	var got []string
	for _, d := range r.Keep {
		got = append(got, d.Backup.Database+"/"+d.Backup.ID)
	}
	want := []string{"a/20261121T000000Z", "a/20261121T060000Z", "b/20261120T000000Z", "b/20261121T060000Z"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", time.Second: "1s", 78 * time.Hour: "3d6h", 6 * time.Hour: "6h",
		5*time.Minute + 1500*time.Millisecond: "5m1s", 24*time.Hour + time.Minute: "1d1m", -time.Hour: "0s",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestPlanGolden plans a prune at 2026-11-21 06:00 UTC over two databases
// on the default policy: "app" backed up every 6 hours since 2026-09-15,
// its newest backup taken at 00:00; "crm" backed up likewise until
// 2026-11-18 00:00 and failing since, so stale: its plan is refused.
func TestPlanGolden(t *testing.T) {
	p := defaultPolicy(time.UTC)
	now := utc("2026-11-21 06:00")
	var all []Backup
	for db, last := range map[string]string{"app": "2026-11-21 00:00", "crm": "2026-11-18 00:00"} {
		r := Simulate(p, every(6*time.Hour), utc("2026-09-15 00:00"), utc(last))
		for _, b := range r.Backups {
			all = append(all, Backup{ID: b.ID, Database: db, TakenAt: b.TakenAt, Tiers: b.Tiers, LockUntil: b.LockUntil, ExpiresAt: b.ExpiresAt})
		}
	}
	r := Plan(all, p, now, Options{ServerTime: now.Add(90 * time.Second)})
	golden(t, "plan.golden", renderPlan(r))
	if len(r.Refused) != 1 || r.Refused[0].Database != "crm" || len(r.Delete) != 1 || r.Delete[0].Backup.ID != "20261116T060000Z" {
		t.Errorf("refused %+v, delete %d", r.Refused, len(r.Delete))
	}
}
