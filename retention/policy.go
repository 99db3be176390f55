package retention

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Tier names a retention tier. The four tiers are ordered base < daily <
// weekly < monthly; that order breaks ties wherever one tier must be chosen.
type Tier string

// The tiers, in order.
const (
	Base    Tier = "base"
	Daily   Tier = "daily"
	Weekly  Tier = "weekly"
	Monthly Tier = "monthly"
)

// Tiers returns the four tiers in order. The slice is new on every call.
func Tiers() []Tier { return []Tier{Base, Daily, Weekly, Monthly} }

// Valid reports whether t is one of the four tiers.
func (t Tier) Valid() bool { return t.rank() >= 0 }

// rank is t's position in Tiers, or -1 for an unknown tier.
func (t Tier) rank() int { return slices.Index(Tiers(), t) }

// Span is a calendar duration. AddTo returns t plus the span, computed on t's
// calendar in t's location (so "1mo" from January 31st is the end of
// February, and "7d" keeps the wall-clock time across daylight-saving
// changes); String returns its spelling for messages. configs.Duration is a
// Span.
type Span interface {
	AddTo(t time.Time) time.Time
	String() string
}

// Window is one tier's retention: a backup in the tier is locked (cannot be
// deleted) until taken+Min and is kept until taken+Max. StorageClass is the
// S3 storage class for backups whose longest-kept tier this is; "" means the
// bucket's default.
type Window struct {
	Min, Max     Span
	StorageClass string
}

// Policy is a retention policy: a Window for each of the four tiers, the
// time zone whose calendar decides promotion (nil means UTC), and the
// schedule's interval (the longest gap between two scheduled backups), which
// decides when backups count as failing. A Policy is read, never modified.
type Policy struct {
	Windows  map[Tier]Window
	Location *time.Location
	Interval time.Duration
}

// loc returns the policy's time zone, UTC when unset.
func (p Policy) loc() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// Validate reports the first problem that makes p unusable: a tier missing or
// unknown, a span missing or not positive, a min that is longer than its max
// (measured from 2000-01-01 in the policy's zone), or an interval that is not
// positive. Promote, Windows and Plan assume a valid policy; Plan refuses to
// delete anything under an invalid one.
func (p Policy) Validate() error {
	for t := range p.Windows {
		if !t.Valid() {
			return fmt.Errorf("checking retention policy: unknown tier %q (tiers are base, daily, weekly, monthly)", t)
		}
	}
	ref := time.Date(2000, 1, 1, 0, 0, 0, 0, p.loc())
	for _, t := range Tiers() {
		w, ok := p.Windows[t]
		if !ok {
			return fmt.Errorf("checking retention policy: tier %s has no window", t)
		}
		if w.Min == nil || w.Max == nil {
			return fmt.Errorf("checking retention policy: tier %s needs both min and max", t)
		}
		lock, expire := w.Min.AddTo(ref), w.Max.AddTo(ref)
		switch {
		case !lock.After(ref):
			return fmt.Errorf("checking retention policy: tier %s: min %s is not positive", t, w.Min)
		case !expire.After(ref):
			return fmt.Errorf("checking retention policy: tier %s: max %s is not positive", t, w.Max)
		case lock.After(expire):
			return fmt.Errorf("checking retention policy: tier %s: min %s is longer than max %s", t, w.Min, w.Max)
		}
	}
	if p.Interval <= 0 {
		return errors.New("checking retention policy: the schedule interval must be positive")
	}
	return nil
}

// Windows returns the dates for a backup taken at taken and holding tiers:
// lockUntil is the latest taken+Min over its tiers, expiresAt the latest
// taken+Max, and storageClass is the class of the tier whose Max gives
// expiresAt (on a tie, the later tier in base < daily < weekly < monthly
// order). Spans are added in the policy's zone; the dates are returned in
// UTC. Tiers without a window in p are ignored; with none left the dates are
// zero and the class is "".
func Windows(tiers []Tier, taken time.Time, p Policy) (lockUntil, expiresAt time.Time, storageClass string) {
	local := taken.In(p.loc())
	for _, t := range Tiers() { // in order, so that a later tier wins a tie
		w, ok := p.Windows[t]
		if !ok || w.Min == nil || w.Max == nil || !slices.Contains(tiers, t) {
			continue
		}
		if l := w.Min.AddTo(local); l.After(lockUntil) {
			lockUntil = l
		}
		if e := w.Max.AddTo(local); !e.Before(expiresAt) {
			expiresAt, storageClass = e, w.StorageClass
		}
	}
	if !lockUntil.IsZero() {
		lockUntil = lockUntil.UTC()
	}
	if !expiresAt.IsZero() {
		expiresAt = expiresAt.UTC()
	}
	return lockUntil, expiresAt, storageClass
}

// expiry returns taken+Max of tier t under p, and false when p has no window
// for t.
func expiry(taken time.Time, t Tier, p Policy) (time.Time, bool) {
	w, ok := p.Windows[t]
	if !ok || w.Max == nil {
		return time.Time{}, false
	}
	return w.Max.AddTo(taken.In(p.loc())).UTC(), true
}
