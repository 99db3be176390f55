package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pgtier/pgtier/cmd/internal/setup"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/scheduler"
)

// serve runs the daemon until ctx ends: metrics and health on the
// configured address, cycles on the schedule, SIGHUP reloading the config.
// A config or part that cannot be built stops it before anything starts.
func serve(ctx context.Context, path string, cfg *configs.Config, version string, logger *slog.Logger) error {
	store, err := setup.Store(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if err := setup.CheckPosture(ctx, cfg, store, logger); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := scheduler.NewMetrics(reg, version)
	plan, err := setup.DaemonPlan(ctx, cfg, store, metrics, version, logger)
	if err != nil {
		return err
	}
	plan.After(ctx) // metrics from the catalog before the first scrape

	srv, err := scheduler.Listen(cfg.Metrics.Listen, cfg.Metrics.WebConfigFile, reg, func() error { return nil }, logger)
	if err != nil {
		return setup.Usage(fmt.Errorf("metrics.listen: %w", err))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	d := &scheduler.Daemon{Logger: logger, Now: time.Now, Metrics: metrics,
		LockRetry: 15 * time.Second, LockWait: 10 * time.Minute, StopWait: 30 * time.Second}
	go reloads(ctx, d, path, version, metrics, logger)
	go watchdog(ctx, logger)
	go func() {
		if err := <-served; err != nil && ctx.Err() == nil {
			logger.Error("metrics server stopped; stopping", "error", err)
			cancel(err)
		}
	}()
	notify(logger, daemon.SdNotifyReady)
	logger.Info("backupd started", "version", version, "cluster", cfg.Cluster, "schedule", cfg.Schedule.Base,
		"next_run", plan.Schedule.Next(time.Now()), "metrics", cfg.Metrics.Listen)
	err = d.Run(ctx, plan)
	notify(logger, daemon.SdNotifyStopping)
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	logger.Info("backupd stopped")
	return err
}

// reloads rebuilds the plan on SIGHUP. A config that does not load or build
// is refused with a log line, and the daemon keeps running on the old one.
func reloads(ctx context.Context, d *scheduler.Daemon, path, version string, metrics *scheduler.Metrics, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		notify(logger, daemon.SdNotifyReloading)
		plan, err := reload(ctx, path, version, metrics, logger)
		if err != nil {
			logger.Error("reload refused; still running on the previous config", "error", err)
		} else {
			d.Reload(plan)
			logger.Info("config reloaded", "schedule", plan.Schedule.Next(time.Now()))
		}
		notify(logger, daemon.SdNotifyReady)
	}
}

func reload(ctx context.Context, path, version string, metrics *scheduler.Metrics, logger *slog.Logger) (*scheduler.Plan, error) {
	cfg, err := configs.Load(path)
	if err != nil {
		return nil, err
	}
	store, err := setup.Store(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := setup.CheckPosture(ctx, cfg, store, logger); err != nil {
		return nil, err
	}
	return setup.DaemonPlan(ctx, cfg, store, metrics, version, logger)
}

// watchdog pings systemd's watchdog at half its interval, when it is on.
func watchdog(ctx context.Context, logger *slog.Logger) {
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil || every <= 0 {
		return
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			notify(logger, daemon.SdNotifyWatchdog)
		}
	}
}

// notify tells systemd, when it listens, what the daemon is doing.
func notify(logger *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		logger.Warn("telling systemd", "state", state, "error", err)
	}
}
