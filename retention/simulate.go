package retention

import (
	"slices"
	"time"
)

// SimBackup is one backup kept at the end of a simulation. Its JSON form is
// part of `backupctl retention simulate --json`.
type SimBackup struct {
	ID        string    `json:"id"`
	TakenAt   time.Time `json:"taken_at"`
	Tiers     []Tier    `json:"tiers"`
	LockUntil time.Time `json:"lock_until"`
	ExpiresAt time.Time `json:"expires_at"`
	// StorageClass is the class of its longest-kept tier, "" for the
	// bucket's default.
	StorageClass string `json:"storage_class,omitempty"`
}

// SimResult is what a policy keeps at the end of a simulation. Its JSON
// form is the output of `backupctl retention simulate --json`:
//
//   - counts: for each tier, the backups that hold the tier and whose
//     taken_at plus the tier's max is after the end of the simulation, that
//     is, the backups the tier itself still keeps;
//   - total: the backups kept, whatever keeps them;
//   - backups: those backups, oldest first, with their storage class;
//   - runs: the scheduled backups replayed;
//   - refusals: the prunes that deleted nothing because a safety rule
//     refused them.
type SimResult struct {
	Counts   map[Tier]int `json:"counts"`
	Total    int          `json:"total"`
	Backups  []SimBackup  `json:"backups"`
	Runs     int          `json:"runs"`
	Refusals int          `json:"refusals"`
}

// Simulate replays a schedule under policy p from from to to, both
// included, as the daemon would run it if every backup succeeded: at each
// run it takes a backup (tiers from Promote, dates from Windows), then
// prunes with Plan's rules at that instant, unforced and with no clock skew.
// It reports what is kept after the last run. schedule returns the first
// run strictly after its argument; the first run is
// schedule(from - 1ns), and the replay stops early if schedule does not
// move forward. Backup ids are the UTC start times, as the daemon names
// them. Each run costs time linear in the number of backups kept.
func Simulate(p Policy, schedule func(time.Time) time.Time, from, to time.Time) SimResult {
	res := SimResult{Counts: make(map[Tier]int, 4), Backups: []SimBackup{}}
	for _, t := range Tiers() {
		res.Counts[t] = 0
	}
	valid := p.Validate() == nil
	var kept []Backup
	var classes []string // storage class of each kept backup
	for t := schedule(from.Add(-time.Nanosecond)); !t.Before(from) && !t.After(to); {
		tiers := Promote(kept, t, p)
		lock, exp, class := Windows(tiers, t, p)
		kept = append(kept, Backup{ID: backupID(t), TakenAt: t.UTC(), Tiers: tiers, LockUntil: lock, ExpiresAt: exp})
		classes = append(classes, class)
		res.Runs++
		j := judge(kept, p, t, false, valid)
		if !valid || len(j.refused) > 0 {
			res.Refusals++
		} else {
			n := 0
			for i, b := range kept {
				if j.verdicts[i] != expired {
					kept[n], classes[n] = b, classes[i]
					n++
				}
			}
			clear(kept[n:])
			kept, classes = kept[:n], classes[:n]
		}
		next := schedule(t)
		if !next.After(t) {
			break
		}
		t = next
	}
	for i, b := range kept {
		for _, t := range b.Tiers {
			if e, ok := expiry(b.TakenAt, t, p); ok && to.Before(e) {
				res.Counts[t]++
			}
		}
		res.Backups = append(res.Backups, SimBackup{ID: b.ID, TakenAt: b.TakenAt,
			Tiers: slices.Clone(b.Tiers), LockUntil: b.LockUntil, ExpiresAt: b.ExpiresAt, StorageClass: classes[i]})
	}
	res.Total = len(res.Backups)
	return res
}

// backupID returns the id the daemon gives a backup that starts at t: its
// UTC start time.
func backupID(t time.Time) string { return t.UTC().Format("20060102T150405Z") }
