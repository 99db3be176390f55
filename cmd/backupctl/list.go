package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/cmd/internal/setup"
)

func (a *app) listCmd() *cobra.Command {
	var database, tier, source string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List backups, oldest first",
		Long: "List the backups of the configured cluster, oldest first.\n\n" +
			"--json prints a JSON array of manifests (the stored manifest format).\n" +
			"--source-environment lists another environment's backups of the cluster.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkSource(source); err != nil {
				return err
			}
			cfg, err := a.config()
			if err != nil {
				return err
			}
			store, err := setup.Store(cmd.Context(), cfg, a.logger)
			if err != nil {
				return err
			}
			cat := setup.Catalog(store, cfg, source, a.logger)
			dbs := []string{database}
			if database == "" {
				if dbs, err = cat.Databases(cmd.Context()); err != nil {
					return err
				}
			}
			all := []*catalog.Manifest{}
			for _, db := range dbs {
				ms, err := cat.List(cmd.Context(), db)
				if err != nil {
					return err
				}
				for _, m := range ms {
					if tier == "" || m.HasTier(tier) {
						all = append(all, m)
					}
				}
			}
			if asJSON {
				return writeJSON(a.stdout, all)
			}
			return writeTable(a.stdout, all)
		},
	}
	cmd.Flags().StringVar(&database, "database", "", "only this database (_globals for roles and tablespaces)")
	cmd.Flags().StringVar(&tier, "tier", "", "only backups in this tier (base, daily, weekly, monthly)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&source, "source-environment", "", "list this environment's backups (default: the config's)")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeTable(w io.Writer, ms []*catalog.Manifest) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATABASE\tID\tTIERS\tRAW\tSTORED\tLOCKED UNTIL\tEXPIRES")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Database, m.ID, strings.Join(m.Tiers, ","),
			humanBytes(m.RawBytes), humanBytes(m.StoredBytes), day(m.LockUntil), day(m.ExpiresAt))
	}
	return tw.Flush()
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return setup.Usagef("unexpected argument %q", args[0])
	}
	return nil
}
