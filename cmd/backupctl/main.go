// Command backupctl is the operator's tool for pgtier: it lists, shows and
// restores backups. Exit status: 0 success, 1 the operation failed, 2 a
// usage or configuration error.
package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pgtier/pgtier/cmd/internal/setup"
	"github.com/pgtier/pgtier/configs"
)

// version is set by the linker: -ldflags "-X main.version=v1.2.3".
var version string

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// app carries what every subcommand needs: the global flags and streams.
type app struct {
	configPath string
	stdout     io.Writer
	stderr     io.Writer
	logger     *slog.Logger
	version    string
}

// config loads the config and checks that manifests can be verified.
func (a *app) config() (*configs.Config, error) {
	cfg, err := configs.Load(a.configPath)
	if err != nil {
		return nil, err
	}
	if err := setup.CheckVerifyKeys(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdout: stdout, stderr: stderr, version: setup.Version(version)}
	a.logger = setup.Logger(stderr, slog.LevelWarn)
	root := &cobra.Command{
		Use:           "backupctl",
		Short:         "List, show and restore pgtier backups",
		Version:       a.version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "/etc/pgtier/pgtier.yaml", "configuration file")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return setup.Usage(err) })
	root.AddCommand(a.listCmd(), a.showCmd(), a.restoreCmd(), a.pruneCmd(), a.retentionCmd(), a.keygenCmd(), a.auditCmd(), a.checkCmd())
	root.AddCommand(a.verifyCmd())
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && isCobraUsage(err) {
		err = setup.Usage(err)
	}
	return setup.Report(stderr, err)
}

// isCobraUsage reports errors cobra raises for unknown commands and wrong
// argument counts, which are the operator's to fix.
func isCobraUsage(err error) bool {
	var ue *setup.UsageError
	if errors.As(err, &ue) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
