package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgtier/pgtier/cmd/internal/setup"
	"github.com/pgtier/pgtier/retention"
	"github.com/pgtier/pgtier/scheduler"
)

// prunedBackup is one backup in `prune --json`.
type prunedBackup struct {
	Database  string    `json:"database"`
	ID        string    `json:"id"`
	Tiers     []string  `json:"tiers"`
	TakenAt   time.Time `json:"taken_at"`
	LockUntil time.Time `json:"lock_until"`
	ExpiresAt time.Time `json:"expires_at"`
	Action    string    `json:"action"` // keep or delete
	Reason    string    `json:"reason"`
}

// pruneOutput is the stable shape of `prune --json`.
type pruneOutput struct {
	Now        time.Time           `json:"now"`
	ServerTime *time.Time          `json:"server_time,omitempty"`
	Applied    bool                `json:"applied"`
	Backups    []prunedBackup      `json:"backups"`
	Refused    []retention.Refusal `json:"refused"`
	Orphans    []string            `json:"orphans"`
	Uploads    []string            `json:"uploads"`
}

func (a *app) pruneCmd() *cobra.Command {
	var apply, force, asJSON bool
	cmd := &cobra.Command{
		Use:   "prune [--apply] [--force] [--json]",
		Short: "Show, and with --apply carry out, the retention plan",
		Long: "Show what retention keeps and deletes, each with its reason. Nothing is deleted\n" +
			"without --apply. --force allows a plan that deletes more than half of a\n" +
			"database's backups; it overrides no other safety rule. With --apply, the exit\n" +
			"status is 1 when a safety rule refused part of the plan.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			store, err := setup.Store(cmd.Context(), cfg, a.logger)
			if err != nil {
				return err
			}
			pruner, err := setup.Pruner(cfg, setup.Catalog(store, cfg, "", a.logger), store, a.logger, time.Now)
			if err != nil {
				return err
			}
			plan, err := pruner.Plan(cmd.Context(), force)
			if err != nil {
				return err
			}
			out := describePlan(plan)
			var applyErr error
			if apply {
				out.Applied = true
				_, applyErr = pruner.Apply(cmd.Context(), plan)
			}
			if asJSON {
				if err := writeJSON(a.stdout, out); err != nil {
					return err
				}
			} else if err := writePlan(a.stdout, out); err != nil {
				return err
			}
			if applyErr != nil {
				return applyErr
			}
			if apply && len(plan.Refused) > 0 {
				more := ""
				if n := len(plan.Refused) - 1; n > 0 {
					more = fmt.Sprintf(" (and %d more refusals, listed above)", n)
				}
				return fmt.Errorf("prune refused (%s): %s%s", plan.Refused[0].Reason, plan.Refused[0].Message, more)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&apply, "apply", false, "delete what the plan deletes")
	cmd.Flags().BoolVar(&force, "force", false, "allow deleting more than half of a database's backups")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func describePlan(plan *scheduler.PrunePlan) pruneOutput {
	out := pruneOutput{Now: plan.Now, Refused: plan.Refused, Backups: []prunedBackup{}, Orphans: []string{}, Uploads: []string{}}
	if out.Refused == nil {
		out.Refused = []retention.Refusal{}
	}
	if !plan.ServerTime.IsZero() {
		out.ServerTime = &plan.ServerTime
	}
	add := func(ds []retention.Decision, action string) {
		for _, d := range ds {
			b := prunedBackup{Database: d.Backup.Database, ID: d.Backup.ID, TakenAt: d.Backup.TakenAt,
				LockUntil: d.Backup.LockUntil, ExpiresAt: d.Backup.ExpiresAt, Action: action, Reason: d.Reason}
			for _, t := range d.Backup.Tiers {
				b.Tiers = append(b.Tiers, string(t))
			}
			out.Backups = append(out.Backups, b)
		}
	}
	add(plan.Keep, "keep")
	add(plan.Delete, "delete")
	for _, o := range plan.Orphans {
		out.Orphans = append(out.Orphans, o.Key)
	}
	for _, u := range plan.Uploads {
		out.Uploads = append(out.Uploads, u.Key)
	}
	return out
}

func writePlan(w io.Writer, out pruneOutput) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATABASE\tID\tTIERS\tACTION\tREASON")
	deletes := 0
	for _, b := range out.Backups {
		if b.Action == "delete" {
			deletes++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Database, b.ID, strings.Join(b.Tiers, ","), b.Action, b.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range out.Refused {
		fmt.Fprintf(w, "refused (%s): %s\n", r.Reason, r.Message)
	}
	for _, k := range out.Orphans {
		fmt.Fprintf(w, "orphan data object, no manifest, older than a day: %s\n", k)
	}
	for _, k := range out.Uploads {
		fmt.Fprintf(w, "incomplete upload older than a day: %s\n", k)
	}
	verb := "would delete"
	if out.Applied {
		verb = "deleted"
	}
	_, err := fmt.Fprintf(w, "%s %d of %d backups, %d orphans, %d incomplete uploads\n",
		verb, deletes, len(out.Backups), len(out.Orphans), len(out.Uploads))
	return err
}
