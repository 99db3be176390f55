package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgtier/pgtier/cmd/internal/setup"
)

func (a *app) showCmd() *cobra.Command {
	var database, source string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID --database D",
		Short: "Show one backup's manifest",
		Long: "Show one backup's manifest. --json prints the manifest as stored.\n" +
			"--source-environment shows a backup of another environment.",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return setup.Usagef("show takes one backup id, like 20261121T060000Z (see backupctl list)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if database == "" {
				return setup.Usagef("--database is required")
			}
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
			m, err := setup.Catalog(store, cfg, source, a.logger).Get(cmd.Context(), database, args[0])
			if err != nil {
				return setup.Classify(err)
			}
			if asJSON {
				return writeJSON(a.stdout, m)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
			row("id", m.ID)
			row("database", m.Database)
			row("environment / cluster", m.Environment+" / "+m.Cluster)
			row("tiers", strings.Join(m.Tiers, ","))
			row("taken / finished", m.TakenAt.Format("2006-01-02 15:04:05Z")+" / "+m.FinishedAt.UTC().Format("15:04:05Z"))
			row("locked until", day(m.LockUntil)+" ("+m.LockMode+")")
			row("expires", day(m.ExpiresAt))
			row("server / dump", m.ServerVersion+" / "+m.DumpVersion)
			row("raw / stored", humanBytes(m.RawBytes)+" / "+humanBytes(m.StoredBytes))
			row("sha256", m.SHA256)
			row("object", m.Object.Key+" version "+m.Object.VersionID)
			row("recipients", m.Encryption.Recipients)
			row("tables", len(m.Tables))
			row("host / pgtier", m.Host+" / "+m.PgtierVersion)
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&database, "database", "", "the database the backup belongs to")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the manifest as JSON")
	cmd.Flags().StringVar(&source, "source-environment", "", "the environment the backup belongs to (default: the config's)")
	return cmd
}
