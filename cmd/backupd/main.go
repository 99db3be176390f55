// Command backupd is pgtier's daemon: it backs up the configured Postgres
// cluster into the configured bucket on the configured schedule, prunes
// after each cycle and serves metrics, until SIGTERM; SIGHUP reloads the
// config. With --once it runs one cycle and exits: 0 when every database was
// backed up, 1 when any failed, 2 on a usage or configuration error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/pgtier/pgtier/cmd/internal/setup"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/scheduler"
)

// version is set by the linker: -ldflags "-X main.version=v1.2.3".
var version string

// memoryLimit is the Go heap's soft limit unless GOMEMLIMIT sets another:
// a backup holds its part buffers (PartSize x (Concurrency+1), 40 MiB by
// default) and the compressor's window, and the limit makes the collector
// run before the heap doubles past them, so peak memory stays under 100 MiB
// whatever the database size.
const memoryLimit = 80 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("backupd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "/etc/pgtier/pgtier.yaml", "configuration file")
	once := fs.Bool("once", false, "run one backup cycle, then exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return setup.ExitOK
		}
		return setup.ExitUsage
	}
	if fs.NArg() > 0 {
		return setup.Report(stderr, setup.Usagef("unexpected argument %q; backupd takes only flags (see backupd -h)", fs.Arg(0)))
	}
	v := setup.Version(version)
	if *showVersion {
		fmt.Fprintln(stderr, "backupd", v)
		return setup.ExitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := setup.Logger(stderr, slog.LevelInfo)
	cfg, err := configs.Load(*configPath)
	if err != nil {
		return setup.Report(stderr, err)
	}
	if *once {
		return setup.Report(stderr, runOnce(ctx, cfg, v, logger))
	}
	return setup.Report(stderr, serve(ctx, *configPath, cfg, v, logger))
}

func runOnce(ctx context.Context, cfg *configs.Config, version string, logger *slog.Logger) error {
	store, err := setup.Store(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if err := setup.CheckPosture(ctx, cfg, store, logger); err != nil {
		return err
	}
	job, admin, err := setup.Job(ctx, cfg, store, version, logger, time.Now)
	if err != nil {
		return err
	}
	cycle := &scheduler.Cycle{
		Job:       job,
		Admin:     admin,
		Databases: cfg.Postgres.Databases,
		Globals:   cfg.Postgres.Globals,
		Logger:    logger,
	}
	backupErr := setup.Classify(cycle.Run(ctx, time.Time{}))
	pruner, err := setup.Pruner(cfg, job.Catalog, store, logger, time.Now)
	if err != nil {
		return errors.Join(backupErr, err)
	}
	plan, err := pruner.Plan(ctx, false)
	if err != nil {
		return errors.Join(backupErr, err)
	}
	_, err = pruner.Apply(ctx, plan)
	return errors.Join(backupErr, err)
}
