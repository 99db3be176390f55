package retention

import (
	"encoding/json"
	"testing"
	"time"
)

// TestSimulateThreeYears replays the default policy (base 2d/5d, daily
// 7d/365d, weekly 4w/52w, monthly 13mo/36mo) on a schedule every 6 hours
// from 2026-01-01 00:00 UTC to 2029-01-01 00:00 UTC, both included:
// 365+365+366 = 1096 days of 4 runs, plus the run at the end, is 4385 runs.
//
// A tier keeps a backup at `to` when the backup holds the tier and
// to < taken + max (strictly: a backup whose window ends exactly at `to`
// expired at `to`, and the prune of the run at `to` deleted it unless
// another tier keeps it). By hand, with to = 2029-01-01 00:00 UTC:
//
//   - base (5d): taken > to-5d = 2028-12-27 00:00. The runs of Dec 27 at
//     06, 12 and 18 (3), the 4 runs of each of Dec 28 to 31 (16) and the run
//     at to (1): 20. The run of Dec 27 00:00 ends its base window exactly at
//     to, so it is not counted (it is still kept, by daily).
//   - daily (365d): the daily backup of each UTC day is its 00:00 run.
//     2028 is a leap year, so to-365d = 2028-01-02 00:00, and the dailies
//     taken after it are those of 2028-01-03 to 2028-12-31 (364) and of
//     2029-01-01 (1): 365.
//   - weekly (52w = 364d): the weekly backup of each ISO week is its Monday
//     00:00 run (the simulation starts on Thursday 2026-01-01, whose run is
//     the weekly of 2026-W01, long expired). to is a Monday and to-52w =
//     Monday 2028-01-03; the Mondays after it up to and including to are
//     2028-01-10 ... 2029-01-01: 52.
//   - monthly (36mo): the monthly backup of each month is the run of the
//     1st at 00:00. to-36mo = 2026-01-01 00:00, whose monthly window ends
//     exactly at to; those of 2026-02-01 to 2029-01-01 remain: 11 + 12 +
//     12 + 1 = 36.
//
// Total kept: the 20 base backups, the 365 dailies of which 5 (Dec 28 to
// Jan 1 at 00:00) are among those 20, the weeklies (all Mondays after
// 2028-01-03, so all dailies already counted), and the monthlies of
// 2026-02-01 to 2028-01-01 that are not dailies (11 + 12 + 1 = 24):
// 20 + 360 + 24 = 404. Nothing else is kept: every other backup's
// expires_at is at or before to, and the newest backup of every tier is the
// run at to.
func TestSimulateThreeYears(t *testing.T) {
	p := defaultPolicy(time.UTC)
	from, to := utc("2026-01-01 00:00"), utc("2029-01-01 00:00")
	start := time.Now()
	r := Simulate(p, every(6*time.Hour), from, to)
	t.Logf("simulated %d runs in %s", r.Runs, time.Since(start))
	want := map[Tier]int{Base: 20, Daily: 365, Weekly: 52, Monthly: 36}
	for tier, n := range want {
		if r.Counts[tier] != n {
			t.Errorf("%s keeps %d backups, want %d", tier, r.Counts[tier], n)
		}
	}
	if r.Runs != 4385 || r.Total != 404 || r.Refusals != 0 || len(r.Backups) != r.Total {
		t.Errorf("runs %d total %d refusals %d backups %d, want 4385, 404, 0, 404", r.Runs, r.Total, r.Refusals, len(r.Backups))
	}
	golden(t, "simulate-three-years.golden", renderSim(r, time.UTC))
}

// TestSimulateJSON pins the JSON form of a simulation, the output of
// `backupctl retention simulate --json`.
func TestSimulateJSON(t *testing.T) {
	p := defaultPolicy(time.UTC)
	p.Windows[Monthly] = Window{Min: span("13mo"), Max: span("36mo"), StorageClass: "GLACIER_IR"}
	r := Simulate(p, every(24*time.Hour), utc("2026-11-20 00:00"), utc("2026-11-30 00:00"))
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "simulate.json.golden", string(out)+"\n")
	var back struct {
		Counts  map[string]int `json:"counts"`
		Total   int            `json:"total"`
		Backups []struct {
			ID        string    `json:"id"`
			TakenAt   time.Time `json:"taken_at"`
			Tiers     []string  `json:"tiers"`
			LockUntil time.Time `json:"lock_until"`
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"backups"`
	}
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Counts) != 4 || back.Counts["base"] != 5 || back.Total != len(back.Backups) || back.Backups[0].ID == "" {
		t.Errorf("unexpected JSON: %s", out)
	}
}

func TestSimulateEmptyAndStuck(t *testing.T) {
	p := defaultPolicy(time.UTC)
	r := Simulate(p, every(6*time.Hour), utc("2026-01-02 00:00"), utc("2026-01-01 00:00"))
	if r.Runs != 0 || r.Total != 0 || r.Backups == nil || len(r.Counts) != 4 {
		t.Errorf("empty span: %+v", r)
	}
	stuck := func(time.Time) time.Time { return utc("2026-01-01 00:00") }
	r = Simulate(p, stuck, utc("2026-01-01 00:00"), utc("2026-02-01 00:00"))
	if r.Runs != 1 {
		t.Errorf("a schedule that does not move forward ran %d times, want 1", r.Runs)
	}
}

// TestSimulateBadPolicy: an invalid policy never deletes and counts every
// prune as refused.
func TestSimulateBadPolicy(t *testing.T) {
	p := defaultPolicy(time.UTC)
	p.Interval = 0
	r := Simulate(p, every(6*time.Hour), utc("2026-01-01 00:00"), utc("2026-01-31 00:00"))
	if r.Total != r.Runs || r.Refusals != r.Runs {
		t.Errorf("bad policy: runs %d kept %d refusals %d", r.Runs, r.Total, r.Refusals)
	}
}

func BenchmarkSimulateThreeYears(b *testing.B) {
	p := defaultPolicy(time.UTC)
	for b.Loop() {
		Simulate(p, every(6*time.Hour), utc("2026-01-01 00:00"), utc("2029-01-01 00:00"))
	}
}
