package retention_test

import (
	"testing"
	"time"

	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/retention"
)

// configs.Duration is a Span: the caller passes the configured windows as
// they are.
var _ retention.Span = configs.Duration{}

// TestConfigsDurations runs the three-year simulation of the default
// policy with the durations as configs parses them, and gets the counts
// worked out by hand in TestSimulateThreeYears.
func TestConfigsDurations(t *testing.T) {
	parse := func(s string) configs.Duration {
		d, err := configs.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	p := retention.Policy{Location: time.UTC, Interval: 6 * time.Hour, Windows: map[retention.Tier]retention.Window{
		retention.Base:    {Min: parse("2d"), Max: parse("5d")},
		retention.Daily:   {Min: parse("7d"), Max: parse("365d")},
		retention.Weekly:  {Min: parse("4w"), Max: parse("52w")},
		retention.Monthly: {Min: parse("13mo"), Max: parse("36mo"), StorageClass: "GLACIER_IR"},
	}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	r := retention.Simulate(p, func(t time.Time) time.Time { return t.Truncate(6 * time.Hour).Add(6 * time.Hour) }, from, to)
	want := map[retention.Tier]int{retention.Base: 20, retention.Daily: 365, retention.Weekly: 52, retention.Monthly: 36}
	for tier, n := range want {
		if r.Counts[tier] != n {
			t.Errorf("%s keeps %d, want %d", tier, r.Counts[tier], n)
		}
	}
	if r.Total != 404 {
		t.Errorf("total %d, want 404", r.Total)
	}
	lock, exp, class := retention.Windows([]retention.Tier{retention.Base, retention.Monthly}, time.Date(2026, 1, 31, 6, 0, 0, 0, time.UTC), p)
	if !lock.Equal(time.Date(2027, 2, 28, 6, 0, 0, 0, time.UTC)) || !exp.Equal(time.Date(2029, 1, 31, 6, 0, 0, 0, time.UTC)) || class != "GLACIER_IR" {
		t.Errorf("windows %s %s %q", lock, exp, class)
	}
}
