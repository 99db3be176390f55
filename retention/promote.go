package retention

import (
	"slices"
	"time"
)

// Backup is one complete backup as its manifest records it. Only complete
// backups (those whose manifest exists) are ever passed to this package.
type Backup struct {
	ID        string
	Database  string
	TakenAt   time.Time
	Tiers     []Tier
	LockUntil time.Time // recorded lock date: never deleted before it
	ExpiresAt time.Time // recorded expiry date: deleted from then on
}

// Has reports whether b holds tier t.
func (b Backup) Has(t Tier) bool { return slices.Contains(b.Tiers, t) }

// period identifies the calendar day, ISO week and month of an instant in a
// time zone.
type period struct {
	year, yday       int
	isoYear, isoWeek int
	month            time.Month
}

func periodOf(t time.Time, loc *time.Location) period {
	t = t.In(loc)
	var p period
	p.year, p.month = t.Year(), t.Month()
	p.yday = t.YearDay()
	p.isoYear, p.isoWeek = t.ISOWeek()
	return p
}

// maxPeriod bounds how far apart two instants in the same calendar month can
// be: 31 days plus a day for any change of UTC offset.
const maxPeriod = 32 * 24 * time.Hour

// Promote returns the tiers of a backup that starts at taken, given the
// complete backups that already exist for the same database. It is always
// base; it is also daily unless an existing backup holds daily for the same
// calendar day, weekly unless one holds weekly for the same ISO week, and
// monthly unless one holds monthly for the same calendar month. Days, weeks
// and months are those of the policy's time zone, so a day is a calendar
// day even when daylight saving makes it 23 or 25 hours long. The result is
// in tier order; existing is not modified.
func Promote(existing []Backup, taken time.Time, p Policy) []Tier {
	loc := p.loc()
	now := periodOf(taken, loc)
	day, week, month := false, false, false // already held in this period
	for _, b := range existing {
		if day && week && month {
			break
		}
		hasDay, hasWeek, hasMonth := b.Has(Daily), b.Has(Weekly), b.Has(Monthly)
		if !hasDay && !hasWeek && !hasMonth {
			continue
		}
		if d := b.TakenAt.Sub(taken); d > maxPeriod || d < -maxPeriod {
			continue
		}
		then := periodOf(b.TakenAt, loc)
		day = day || hasDay && then.year == now.year && then.yday == now.yday
		week = week || hasWeek && then.isoYear == now.isoYear && then.isoWeek == now.isoWeek
		month = month || hasMonth && then.year == now.year && then.month == now.month
	}
	tiers := []Tier{Base}
	if !day {
		tiers = append(tiers, Daily)
	}
	if !week {
		tiers = append(tiers, Weekly)
	}
	if !month {
		tiers = append(tiers, Monthly)
	}
	return tiers
}
