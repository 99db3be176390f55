package setup

import (
	"testing"
	"time"

	"github.com/pgtier/pgtier/configs"
)

func TestScheduleEveryIsAligned(t *testing.T) {
	cfg := &configs.Config{Schedule: configs.Schedule{Base: "@every 6h"}}
	s, err := Schedule(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, want string }{
		{"2026-11-21T07:13:02Z", "2026-11-21T12:00:00Z"},
		{"2026-11-21T12:00:00Z", "2026-11-21T18:00:00Z"},
		{"2026-11-21T23:59:59Z", "2026-11-22T00:00:00Z"},
	} {
		from, _ := time.Parse(time.RFC3339, c.from)
		if got := s.Next(from).UTC().Format(time.RFC3339); got != c.want {
			t.Errorf("Next(%s) = %s, want %s", c.from, got, c.want)
		}
	}
}

func TestScheduleCronInZone(t *testing.T) {
	cfg := &configs.Config{Schedule: configs.Schedule{Base: "0 */6 * * *"}}
	s, err := Schedule(cfg)
	if err != nil {
		t.Fatal(err)
	}
	from, _ := time.Parse(time.RFC3339, "2026-11-21T07:13:02Z")
	if got := s.Next(from).UTC().Format(time.RFC3339); got != "2026-11-21T12:00:00Z" {
		t.Errorf("Next = %s", got)
	}
	if _, err := Schedule(&configs.Config{Schedule: configs.Schedule{Base: "61 * * * *"}}); ExitCode(err) != ExitUsage {
		t.Errorf("a bad schedule gives %v, want a usage error", err)
	}
}
