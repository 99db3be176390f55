package configs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a calendar span such as "36mo", "2d", "12h" or "1y6mo": a sum of
// whole years (y), calendar months (mo), weeks (w), days (d), hours (h) and
// minutes (min; for restore drills and tests with short windows).
// The zero value is "no duration"; ParseDuration never returns it.
//
// Durations are comparable with == only for identical spelling ("1w" != "7d");
// use Compare to order them. A Duration is immutable and safe to copy and to
// use from several goroutines.
type Duration struct {
	years, months, weeks, days, hours, minutes int
}

// unit is one component of a Duration, in the only order ParseDuration accepts.
type unit struct {
	name string
	max  int // bounds every component to at most 200 years
	get  func(*Duration) *int
}

func units() []unit {
	return []unit{
		{"y", 200, func(d *Duration) *int { return &d.years }},
		{"mo", 200 * 12, func(d *Duration) *int { return &d.months }},
		{"w", 200 * 53, func(d *Duration) *int { return &d.weeks }},
		{"d", 200 * 366, func(d *Duration) *int { return &d.days }},
		{"h", 200 * 366 * 24, func(d *Duration) *int { return &d.hours }},
		{"min", 200 * 366 * 24 * 60, func(d *Duration) *int { return &d.minutes }},
	}
}

// maxSpan is the longest Duration ParseDuration accepts.
const maxSpan = 200 // years

// ParseDuration parses a calendar span: one or more "<number><unit>" parts with
// units y, mo, w, d, h, min, each at most once and in that order ("1y6mo",
// "2w3d", "1h30min"). Numbers are positive decimals without leading zeros. "m"
// is refused as ambiguous (months are "mo", minutes "min"), as are zero spans
// and spans longer than 200 years. For every s it accepts,
// ParseDuration(s).String() == s.
func ParseDuration(s string) (Duration, error) {
	var d Duration
	if s == "" {
		return d, fmt.Errorf("parsing duration \"\": empty")
	}
	us := units()
	next := 0 // index of the smallest unit still allowed
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return Duration{}, fmt.Errorf("parsing duration %q: expected a number at %q", s, rest)
		}
		num := rest[:i]
		rest = rest[i:]
		j := 0
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		name := rest[:j]
		rest = rest[j:]
		if name == "" {
			return Duration{}, fmt.Errorf("parsing duration %q: %s has no unit", s, num)
		}
		k := -1
		for idx, u := range us {
			if u.name == name {
				k = idx
			}
		}
		switch {
		case name == "m":
			return Duration{}, fmt.Errorf("parsing duration %q: unit \"m\" is ambiguous: write \"mo\" for months or \"min\" for minutes", s)
		case k < 0:
			return Duration{}, fmt.Errorf("parsing duration %q: unknown unit %q", s, name)
		case k < next:
			return Duration{}, fmt.Errorf("parsing duration %q: unit %q repeated or out of order (write y, mo, w, d, h, min in that order)", s, name)
		}
		next = k + 1
		if len(num) > 1 && num[0] == '0' {
			return Duration{}, fmt.Errorf("parsing duration %q: leading zero in %q", s, num)
		}
		n, err := strconv.Atoi(num)
		if err != nil || n > us[k].max {
			return Duration{}, fmt.Errorf("parsing duration %q: %s%s is longer than %d years", s, num, name, maxSpan)
		}
		if n == 0 {
			return Duration{}, fmt.Errorf("parsing duration %q: %s%s is zero (durations are positive)", s, num, name)
		}
		*us[k].get(&d) = n
	}
	if ref := reference(); d.AddTo(ref).After(ref.AddDate(maxSpan, 0, 0)) {
		return Duration{}, fmt.Errorf("parsing duration %q: longer than %d years", s, maxSpan)
	}
	return d, nil
}

// String returns the canonical spelling ("1y6mo", "52w"); "0" for the zero value.
func (d Duration) String() string {
	if d.IsZero() {
		return "0"
	}
	var b strings.Builder
	for _, u := range units() {
		if n := *u.get(&d); n != 0 {
			b.WriteString(strconv.Itoa(n))
			b.WriteString(u.name)
		}
	}
	return b.String()
}

// IsZero reports whether d is the zero value (unset).
func (d Duration) IsZero() bool { return d == Duration{} }

// AddTo returns t plus d, computed on t's calendar in t's location:
// first years and months, then weeks and days, then hours.
//
// Months are calendar months and clamp to the end of a shorter month, as an
// operator expects: 2026-01-31 + 1mo = 2026-02-28, 2024-02-29 + 1y =
// 2025-02-28 (time.AddDate would normalise these to March 3rd and March 1st).
// Weeks and days keep the wall-clock time across daylight-saving changes
// (time.AddDate); hours and minutes are elapsed time (time.Add).
func (d Duration) AddTo(t time.Time) time.Time {
	if m := d.years*12 + d.months; m != 0 {
		t = addMonths(t, m)
	}
	if days := d.weeks*7 + d.days; days != 0 {
		t = t.AddDate(0, 0, days)
	}
	return t.Add(time.Duration(d.hours)*time.Hour + time.Duration(d.minutes)*time.Minute)
}

// addMonths adds n calendar months to t, clamping the day of month.
func addMonths(t time.Time, n int) time.Time {
	y, m, day := t.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if day > last {
		day = last
	}
	hh, mm, ss := t.Clock()
	return time.Date(first.Year(), first.Month(), day, hh, mm, ss, t.Nanosecond(), t.Location())
}

// reference is the instant from which Compare measures durations:
// the first moment of 2000, a leap year, in UTC.
func reference() time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }

// Compare returns -1, 0 or +1 as d is shorter than, as long as, or longer than
// o, measured by adding both to 2000-01-01T00:00:00Z. Calendar spans have no
// fixed length ("1mo" is 28 to 31 days), so the result is for that start only:
// there "1mo" equals "31d" and "1y" equals "366d".
func (d Duration) Compare(o Duration) int {
	ref := reference()
	return d.AddTo(ref).Compare(o.AddTo(ref))
}

// Less reports whether d.Compare(o) < 0.
func (d Duration) Less(o Duration) bool { return d.Compare(o) < 0 }

// NeverLonger reports whether d is no longer than o from every start day of a
// four-year leap cycle (2000 to 2003, UTC), so that for example "30d" is never
// longer than "1mo" fails (from January 31st, 1mo is 28 days). It returns the
// first start at which d is longer than o.
func (d Duration) NeverLonger(o Duration) (bool, time.Time) {
	start := reference()
	if d.years+d.months+o.years+o.months == 0 {
		// Without months, lengths in UTC do not depend on the start.
		return !d.AddTo(start).After(o.AddTo(start)), start
	}
	end := start.AddDate(4, 0, 0)
	for t := start; t.Before(end); t = t.AddDate(0, 0, 1) {
		if d.AddTo(t).After(o.AddTo(t)) {
			return false, t
		}
	}
	return true, time.Time{}
}

// MarshalText returns the canonical spelling, or nothing for the zero value.
func (d Duration) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return []byte{}, nil
	}
	return []byte(d.String()), nil
}

// UnmarshalText parses text with ParseDuration; empty text gives the zero value.
func (d *Duration) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*d = Duration{}
		return nil
	}
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
