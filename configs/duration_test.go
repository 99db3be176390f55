package configs

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Duration
		wantErr string
	}{
		{in: "2d", want: Duration{days: 2}},
		{in: "12h", want: Duration{hours: 12}},
		{in: "4w", want: Duration{weeks: 4}},
		{in: "13mo", want: Duration{months: 13}},
		{in: "3y", want: Duration{years: 3}},
		{in: "1y6mo", want: Duration{years: 1, months: 6}},
		{in: "1y2mo3w4d5h", want: Duration{1, 2, 3, 4, 5, 0}},
		{in: "90min", want: Duration{minutes: 90}},
		{in: "1h30min", want: Duration{hours: 1, minutes: 30}},
		{in: "1min1h", wantErr: "out of order"},
		{in: "200y", want: Duration{years: 200}},
		{in: "", wantErr: "empty"},
		{in: "0d", wantErr: "0d is zero"},
		{in: "5", wantErr: "has no unit"},
		{in: "d", wantErr: "expected a number"},
		{in: "-1d", wantErr: "expected a number"},
		{in: "5m", wantErr: "ambiguous"},
		{in: "5s", wantErr: `unknown unit "s"`},
		{in: "5D", wantErr: `unknown unit "D"`},
		{in: "2d1w", wantErr: "out of order"},
		{in: "1d1d", wantErr: "out of order"},
		{in: "07d", wantErr: "leading zero"},
		{in: "1.5d", wantErr: `unknown unit "."`},
		{in: " 2d", wantErr: "expected a number"},
		{in: "201y", wantErr: "longer than 200 years"},
		{in: "199y13mo", wantErr: "longer than 200 years"},
		{in: "99999999999999999999d", wantErr: "longer than 200 years"},
	} {
		got, err := ParseDuration(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseDuration(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
			continue
		}
		if got.String() != tc.in {
			t.Errorf("ParseDuration(%q).String() = %q", tc.in, got.String())
		}
	}
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestAddTo(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		d    string
		from time.Time
		want time.Time
	}{
		{"1mo", date("2026-01-31T06:00:00Z"), date("2026-02-28T06:00:00Z")},
		{"1mo", date("2024-01-31T06:00:00Z"), date("2024-02-29T06:00:00Z")},
		{"1mo", date("2026-03-31T06:00:00Z"), date("2026-04-30T06:00:00Z")},
		{"1mo", date("2026-12-15T00:00:00Z"), date("2027-01-15T00:00:00Z")},
		{"1y", date("2024-02-29T12:00:00Z"), date("2025-02-28T12:00:00Z")},
		{"13mo", date("2026-01-31T00:00:00Z"), date("2027-02-28T00:00:00Z")},
		{"36mo", date("2026-11-21T06:00:00Z"), date("2029-11-21T06:00:00Z")},
		{"1y6mo", date("2026-08-31T00:00:00Z"), date("2028-02-29T00:00:00Z")},
		{"2d", date("2026-11-21T06:00:00Z"), date("2026-11-23T06:00:00Z")},
		{"52w", date("2026-01-01T00:00:00Z"), date("2026-12-31T00:00:00Z")},
		{"12h", date("2026-11-21T18:00:00Z"), date("2026-11-22T06:00:00Z")},
		{"1mo1d", date("2026-01-31T00:00:00Z"), date("2026-03-01T00:00:00Z")},
		{"2min", date("2026-11-21T23:59:00Z"), date("2026-11-22T00:01:00Z")},
		{"1h30min", date("2026-11-21T06:00:00Z"), date("2026-11-21T07:30:00Z")},
		// Days keep the wall clock across a DST change; hours are elapsed time.
		{"1d", time.Date(2026, 3, 28, 12, 0, 0, 0, berlin), time.Date(2026, 3, 29, 12, 0, 0, 0, berlin)},
		{"24h", time.Date(2026, 3, 28, 12, 0, 0, 0, berlin), time.Date(2026, 3, 29, 13, 0, 0, 0, berlin)},
	} {
		d, err := ParseDuration(tc.d)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.AddTo(tc.from); !got.Equal(tc.want) || got.Location() != tc.from.Location() {
			t.Errorf("%s.AddTo(%s) = %s; want %s", tc.d, tc.from, got, tc.want)
		}
	}
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
		// never reports whether a is never longer than b, from any start.
		never bool
	}{
		{"2d", "5d", -1, true},
		{"1w", "7d", 0, true},
		{"1mo", "31d", 0, true},
		{"1mo", "28d", 1, false},
		{"30d", "1mo", -1, false},
		{"28d", "1mo", -1, true},
		{"1y", "12mo", 0, true},
		{"1y", "366d", 0, true},
		{"365d", "1y", -1, true},
		{"13mo", "36mo", -1, true},
		{"4w", "52w", -1, true},
		{"48h", "2d", 0, true},
	} {
		a, _ := ParseDuration(tc.a)
		b, _ := ParseDuration(tc.b)
		if got := a.Compare(b); got != tc.want {
			t.Errorf("%s.Compare(%s) = %d; want %d", tc.a, tc.b, got, tc.want)
		}
		if got := a.Less(b); got != (tc.want < 0) {
			t.Errorf("%s.Less(%s) = %v", tc.a, tc.b, got)
		}
		if got, _ := a.NeverLonger(b); got != tc.never {
			t.Errorf("%s.NeverLonger(%s) = %v; want %v", tc.a, tc.b, got, tc.never)
		}
	}
}

func TestDurationText(t *testing.T) {
	var zero Duration
	if !zero.IsZero() || zero.String() != "0" {
		t.Errorf("zero Duration: IsZero %v, String %q", zero.IsZero(), zero.String())
	}
	d, _ := ParseDuration("1y6mo")
	b, err := d.MarshalText()
	if err != nil || string(b) != "1y6mo" {
		t.Fatalf("MarshalText = %q, %v", b, err)
	}
	var back Duration
	if err := back.UnmarshalText(b); err != nil || back != d {
		t.Fatalf("UnmarshalText(%q) = %v, %v", b, back, err)
	}
	if err := back.UnmarshalText([]byte("5x")); err == nil {
		t.Fatal("UnmarshalText(5x) succeeded")
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"2d", "36mo", "1y6mo", "12h", "52w", "1y2mo3w4d5h", "5m", "0d", "07d", "200y", ""} {
		f.Add(s)
	}
	from := time.Date(2026, 1, 31, 6, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if d.IsZero() {
			t.Fatalf("ParseDuration(%q) returned the zero value", s)
		}
		if d.String() != s {
			t.Fatalf("ParseDuration(%q).String() = %q", s, d.String())
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("round trip of %q: %v, %v", s, back, err)
		}
		if ok, _ := d.NeverLonger(d); !ok || d.Compare(d) != 0 {
			t.Fatalf("%q is longer than itself", s)
		}
		if end := d.AddTo(from); !end.After(from) || end.After(from.AddDate(maxSpan, 1, 0)) {
			t.Fatalf("%q.AddTo(%s) = %s", s, from, end)
		}
	})
}
