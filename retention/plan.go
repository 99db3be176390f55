package retention

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// MaxClockSkew is the largest difference between the local clock and the
// storage server's clock under which Plan still deletes anything.
const MaxClockSkew = 5 * time.Minute

// Refusal reasons: stable codes, fit for a metric label.
const (
	RefusedStaleBase = "stale_base" // the newest base backup is too old, or there is none
	RefusedClockSkew = "clock_skew" // local and server clocks disagree
	RefusedTooMany   = "too_many"   // the plan deletes more than half of a database's backups
	RefusedBadPolicy = "bad_policy" // the policy does not validate
)

// Options adjusts one Plan.
type Options struct {
	// Force allows a plan that deletes more than half of a database's
	// backups. It overrides no other refusal.
	Force bool
	// ServerTime is the storage server's clock (its Date header) as seen at
	// now; zero means unknown, and the clock check is skipped.
	ServerTime time.Time
}

// Decision is one backup kept or deleted, with a sentence that says why:
// "kept by monthly until 2029-03-01", "kept: locked until 2026-11-23",
// "kept: newest daily backup", "expired from base (2026-11-26 06:00 UTC)
// and daily (2027-11-21 06:00 UTC)".
type Decision struct {
	Backup Backup
	Reason string
}

// Refusal says why a plan deletes nothing: Reason is one of the Refused*
// codes, Database the database it concerns ("" for all of them), Message one
// line for the operator.
type Refusal struct {
	Reason   string
	Database string
	Message  string
}

// Result is a retention plan: every backup passed to Plan appears exactly
// once, in Keep or in Delete, ordered by database, then by TakenAt, then by
// ID. Refused lists the safety rules that stopped deletions; a refused
// database has nothing in Delete.
type Result struct {
	Keep    []Decision
	Delete  []Decision
	Refused []Refusal
}

// Plan decides which of backups to keep and which to delete at now.
// backups are complete backups of one or several databases; the slice is
// not modified.
//
// A backup is deleted when now is at or after both its recorded ExpiresAt
// and its recorded LockUntil (the manifest is the contract; the policy is
// used only to explain), unless a safety rule keeps it:
//
//  1. the newest backup of each tier of a database is kept, however old;
//  2. a database whose newest base backup is older than twice p.Interval at
//     now, or that has no base backup, deletes nothing (backups are failing),
//     and neither does a plan given no backups at all (stale_base);
//  3. nothing is deleted when o.ServerTime is known and differs from now by
//     more than MaxClockSkew (clock_skew);
//  4. a database whose plan would delete more than half of its backups
//     deletes nothing unless o.Force (too_many).
//
// Rules 2 to 4 are refusals, reported in Result.Refused; the backups they
// save are kept with the refusal in their reason. Nothing is deleted under a
// policy that does not validate (bad_policy). Plan takes time linear in the
// number of backups, plus sorting them.
func Plan(backups []Backup, p Policy, now time.Time, o Options) Result {
	var res Result
	global := globalRefusals(p, now, o)
	if len(backups) == 0 {
		global = append(global, Refusal{Reason: RefusedStaleBase,
			Message: "there are no backups at all: nothing is deleted until a backup succeeds"})
	}
	res.Refused = append(res.Refused, global...)
	sorted := slices.Clone(backups)
	slices.SortStableFunc(sorted, func(a, b Backup) int {
		return cmp.Or(cmp.Compare(a.Database, b.Database), a.TakenAt.Compare(b.TakenAt), cmp.Compare(a.ID, b.ID))
	})
	checkStale := p.Validate() == nil
	for start := 0; start < len(sorted); {
		end := start + 1
		for end < len(sorted) && sorted[end].Database == sorted[start].Database {
			end++
		}
		group := sorted[start:end]
		j := judge(group, p, now, o.Force, checkStale)
		res.Refused = append(res.Refused, j.refused...)
		refused := codes(global, j.refused)
		for i, b := range group {
			switch {
			case j.verdicts[i] == expired && refused == "":
				res.Delete = append(res.Delete, Decision{b, expiredReason(b, p)})
			case j.verdicts[i] == expired:
				res.Keep = append(res.Keep, Decision{b, "kept: prune refused (" + refused + "); otherwise " + expiredReason(b, p)})
			default:
				res.Keep = append(res.Keep, Decision{b, keepReason(b, j.verdicts[i], j.newestOf(i, b), p)})
			}
		}
		start = end
	}
	return res
}

// globalRefusals returns the refusals that concern every database.
func globalRefusals(p Policy, now time.Time, o Options) []Refusal {
	var out []Refusal
	if err := p.Validate(); err != nil {
		out = append(out, Refusal{Reason: RefusedBadPolicy,
			Message: fmt.Sprintf("the retention policy is not usable, nothing is deleted: %v", err)})
	}
	if !o.ServerTime.IsZero() {
		skew := now.Sub(o.ServerTime).Abs()
		if skew > MaxClockSkew {
			out = append(out, Refusal{Reason: RefusedClockSkew,
				Message: fmt.Sprintf("the local clock and the storage server's differ by %s (more than %s): nothing is deleted until the clocks agree (check NTP)",
					human(skew), human(MaxClockSkew))})
		}
	}
	return out
}

// codes joins the reason codes of refusals, "" when there are none.
func codes(lists ...[]Refusal) string {
	var out []string
	for _, l := range lists {
		for _, r := range l {
			out = append(out, r.Reason)
		}
	}
	return joinComma(out)
}

// verdict is a decision about one backup before its reason is written.
type verdict uint8

const (
	keepTier     verdict = iota // before its expiry
	keepLocked                  // expired, but before its lock date
	keepNewest                  // expired, but the newest of one of its tiers
	keepNoExpiry                // no expiry recorded
	expired                     // to be deleted unless the plan is refused
)

// judged is one database's plan without reasons.
type judged struct {
	verdicts []verdict
	newest   map[Tier]int // index of the newest backup of each tier
	refused  []Refusal
}

// newestOf returns the tiers of which backup i is the newest.
func (j judged) newestOf(i int, b Backup) []Tier {
	var out []Tier
	for _, t := range b.Tiers {
		if j.newest[t] == i && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return sortTiers(out)
}

// judge decides the backups of one database, sorted oldest first, and
// applies the per-database refusals (stale base, too many deletions).
func judge(bs []Backup, p Policy, now time.Time, force, checkStale bool) judged {
	j := judged{verdicts: make([]verdict, len(bs)), newest: make(map[Tier]int, 4)}
	for i, b := range bs {
		for _, t := range b.Tiers {
			j.newest[t] = i
		}
	}
	n := 0 // backups to delete
	for i, b := range bs {
		switch {
		case b.ExpiresAt.IsZero():
			j.verdicts[i] = keepNoExpiry
		case now.Before(b.ExpiresAt):
			j.verdicts[i] = keepTier
		case now.Before(b.LockUntil):
			j.verdicts[i] = keepLocked
		case j.isNewest(i, b):
			j.verdicts[i] = keepNewest
		default:
			j.verdicts[i] = expired
			n++
		}
	}
	db := bs[0].Database
	if checkStale {
		if r, ok := stale(bs, j.newest, p, now); ok {
			j.refused = append(j.refused, r)
		}
	}
	if 2*n > len(bs) && !force {
		j.refused = append(j.refused, Refusal{Reason: RefusedTooMany, Database: db,
			Message: fmt.Sprintf("%s: the plan deletes %d of %d backups, more than half: nothing is deleted unless forced (check the policy first)",
				dbName(db), n, len(bs))})
	}
	return j
}

func (j judged) isNewest(i int, b Backup) bool {
	for _, t := range b.Tiers {
		if j.newest[t] == i {
			return true
		}
	}
	return false
}

// stale returns a refusal when the database's newest base backup is older
// than twice the schedule interval at now, or when it has none.
func stale(bs []Backup, newest map[Tier]int, p Policy, now time.Time) (Refusal, bool) {
	db := bs[0].Database
	i, ok := newest[Base]
	if !ok {
		return Refusal{Reason: RefusedStaleBase, Database: db,
			Message: fmt.Sprintf("%s has no base backup: nothing is deleted until a backup succeeds", dbName(db))}, true
	}
	age := now.Sub(bs[i].TakenAt)
	if age <= 2*p.Interval {
		return Refusal{}, false
	}
	return Refusal{Reason: RefusedStaleBase, Database: db,
		Message: fmt.Sprintf("%s: the newest base backup %s was taken %s ago, more than twice the schedule interval of %s: backups are failing, nothing is deleted",
			dbName(db), bs[i].ID, human(age), human(p.Interval))}, true
}

// dbName names a database in messages.
func dbName(db string) string {
	if db == "" {
		return "the database"
	}
	return "database " + db
}
