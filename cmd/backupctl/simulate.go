package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgtier/pgtier/cmd/internal/setup"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/retention"
)

func (a *app) retentionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Explore the retention policy",
		Args:  noArgs,
	}
	var from, to string
	var asJSON bool
	sim := &cobra.Command{
		Use:   "simulate --from TIME --to TIME [--json]",
		Short: "Show what the configured schedule and policy keep at --to",
		Long: "Replay the configured schedule and policy from --from to --to as if every\n" +
			"scheduled backup succeeded and prune ran after each one, and show what is kept\n" +
			"at --to. Times are RFC 3339 or dates (2026-01-01, midnight in the config's zone).\n\n" +
			"--json prints {counts: {tier: n}, total, backups: [{id, taken_at, tiers,\n" +
			"lock_until, expires_at}], runs, refusals}; counts[tier] is how many backups\n" +
			"that tier still keeps at --to.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := configs.Load(a.configPath) // reads no manifest: no keys needed
			if err != nil {
				return err
			}
			start, err := parseTime("--from", from, cfg.Location())
			if err != nil {
				return err
			}
			end, err := parseTime("--to", to, cfg.Location())
			if err != nil {
				return err
			}
			if !end.After(start) {
				return setup.Usagef("--to must be after --from")
			}
			if end.Sub(start) > 50*366*24*time.Hour {
				return setup.Usagef("--from and --to are more than 50 years apart; simulate a shorter span")
			}
			sched, err := setup.Schedule(cfg)
			if err != nil {
				return err
			}
			policy, err := setup.Policy(cfg, start)
			if err != nil {
				return err
			}
			res := retention.Simulate(policy, sched.Next, start, end)
			if asJSON {
				return writeJSON(a.stdout, res)
			}
			return writeSimulation(a.stdout, res, end)
		},
	}
	sim.Flags().StringVar(&from, "from", "", "start of the simulated span (required)")
	sim.Flags().StringVar(&to, "to", "", "end of the simulated span (required)")
	sim.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(sim)
	return cmd
}

func parseTime(flag, s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, setup.Usagef("%s is required", flag)
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, setup.Usagef("%s %q is not a time like 2026-11-21T06:00:00Z or a date like 2026-11-21", flag, s)
}

func writeSimulation(w io.Writer, res retention.SimResult, end time.Time) error {
	fmt.Fprintf(w, "%d scheduled backups simulated; kept at %s: %d\n\n", res.Runs, end.UTC().Format(time.RFC3339), res.Total)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIER\tKEPT")
	for _, t := range retention.Tiers() {
		fmt.Fprintf(tw, "%s\t%d\n", t, res.Counts[t])
	}
	fmt.Fprintln(tw, "\t")
	fmt.Fprintln(tw, "ID\tTIERS\tLOCKED UNTIL\tEXPIRES")
	for _, b := range res.Backups {
		tiers := make([]string, len(b.Tiers))
		for i, t := range b.Tiers {
			tiers[i] = string(t)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.ID, strings.Join(tiers, ","), day(b.LockUntil), day(b.ExpiresAt))
	}
	return tw.Flush()
}
