package retention

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// keepReason explains why a backup that is not to be deleted is kept.
func keepReason(b Backup, v verdict, newest []Tier, p Policy) string {
	loc := p.loc()
	switch v {
	case keepLocked:
		return "kept: locked until " + when(b.LockUntil, loc)
	case keepNewest:
		return "kept: newest " + joinAnd(tierNames(newest)) + " backup"
	case keepNoExpiry:
		return "kept: its manifest records no expiry date"
	}
	var by []Tier
	for _, t := range sortTiers(b.Tiers) {
		if e, ok := expiry(b.TakenAt, t, p); ok && e.Equal(b.ExpiresAt) {
			by = append(by, t)
		}
	}
	if len(by) == 0 {
		return fmt.Sprintf("kept until %s, the expiry its manifest records (tiers %s)",
			when(b.ExpiresAt, loc), joinAnd(tierNames(sortTiers(b.Tiers))))
	}
	return "kept by " + joinAnd(tierNames(by)) + " until " + when(b.ExpiresAt, loc)
}

// expiredReason explains why a backup may be deleted: the tiers it was in,
// each with the end of its window. When the policy no longer gives the
// expiry recorded in the manifest, it names the recorded date instead.
func expiredReason(b Backup, p Policy) string {
	loc := p.loc()
	tiers := sortTiers(b.Tiers)
	parts := make([]string, 0, len(tiers))
	var last time.Time
	for _, t := range tiers {
		e, ok := expiry(b.TakenAt, t, p)
		if !ok {
			last = time.Time{}
			break
		}
		if e.After(last) {
			last = e
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", t, when(e, loc)))
	}
	if len(parts) == len(tiers) && len(tiers) > 0 && last.Equal(b.ExpiresAt) {
		return "expired from " + joinAnd(parts)
	}
	return fmt.Sprintf("expired on %s, the expiry its manifest records (tiers %s)",
		when(b.ExpiresAt, loc), joinAnd(tierNames(tiers)))
}

// sortTiers returns a copy of tiers in tier order, unknown tiers last.
func sortTiers(tiers []Tier) []Tier {
	out := slices.Clone(tiers)
	slices.SortStableFunc(out, func(a, b Tier) int {
		ra, rb := a.rank(), b.rank()
		if ra < 0 {
			ra = len(Tiers())
		}
		if rb < 0 {
			rb = len(Tiers())
		}
		return ra - rb
	})
	return slices.Compact(out)
}

func tierNames(tiers []Tier) []string {
	out := make([]string, len(tiers))
	for i, t := range tiers {
		out[i] = string(t)
	}
	return out
}

// joinAnd joins words as "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	switch len(words) {
	case 0:
		return "no tier"
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

func joinComma(words []string) string { return strings.Join(words, ", ") }

// when formats an instant for a reason in the policy's zone: a date alone
// at midnight, else the date, time and zone.
func when(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if h, m, s := t.Clock(); h == 0 && m == 0 && s == 0 && t.Nanosecond() == 0 {
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02 15:04 MST")
}

// human formats a duration in days, hours, minutes and seconds ("3d6h",
// "7m30s"), dropping zero parts and anything below a second.
func human(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.size
		}
	}
	return b.String()
}
