package setup

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/retention"
	"github.com/pgtier/pgtier/scheduler"
)

// Schedule parses the base schedule in the config's time zone.
func Schedule(cfg *configs.Config) (cron.Schedule, error) {
	spec := cfg.Schedule.Base
	if loc := cfg.Location(); loc != nil && loc != time.UTC {
		spec = "CRON_TZ=" + loc.String() + " " + spec
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, Usagef("schedule.base: %v; write a cron expression such as \"0 */6 * * *\" or \"@every 6h\"", err)
	}
	return s, nil
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
