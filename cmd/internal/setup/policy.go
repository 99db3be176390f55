package setup

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/retention"
	"github.com/pgtier/pgtier/scheduler"
)

// Schedule parses the base schedule in the config's time zone. "@every D"
// runs at whole multiples of D since the Unix epoch (every 6h: 00:00, 06:00,
// ... UTC), not D after the daemon started, so that two daemons of one
// cluster share their slots and the second skips what the first took.
func Schedule(cfg *configs.Config) (cron.Schedule, error) {
	spec := cfg.Schedule.Base
	if loc := cfg.Location(); loc != nil && loc != time.UTC {
		spec = "CRON_TZ=" + loc.String() + " " + spec
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, Usagef("schedule.base: %v; write a cron expression such as \"0 */6 * * *\" or \"@every 6h\"", err)
	}
	if every, ok := s.(cron.ConstantDelaySchedule); ok {
		return alignedEvery(every.Delay), nil
	}
	return s, nil
}

// alignedEvery runs at whole multiples of a duration since the Unix epoch.
type alignedEvery time.Duration

func (a alignedEvery) Next(t time.Time) time.Time {
	d := time.Duration(a)
	return t.Truncate(d).Add(d)
}

// Policy is the retention policy of the config: the tiers' windows, the
// calendar of promotion, and the schedule's interval.
func Policy(cfg *configs.Config, now time.Time) (retention.Policy, error) {
	sched, err := Schedule(cfg)
	if err != nil {
		return retention.Policy{}, err
	}
	window := func(t configs.Tier) retention.Window {
		return retention.Window{Min: t.Min, Max: t.Max, StorageClass: t.StorageClass}
	}
	p := retention.Policy{
		Windows: map[retention.Tier]retention.Window{
			retention.Base:    window(cfg.Tiers.Base),
			retention.Daily:   window(cfg.Tiers.Daily),
			retention.Weekly:  window(cfg.Tiers.Weekly),
			retention.Monthly: window(cfg.Tiers.Monthly),
		},
		Location: cfg.Location(),
		Interval: scheduler.Interval(sched, now),
	}
	if err := p.Validate(); err != nil {
		return retention.Policy{}, Usage(fmt.Errorf("tiers: %w", err))
	}
	return p, nil
}
