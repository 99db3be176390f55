package setup

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/scheduler"
	"github.com/pgtier/pgtier/storage"
)

// leaseTTL is how long a daemon's hold on a cluster lasts without renewal:
// a daemon that dies holding it delays the other by at most this.
const leaseTTL = 2 * time.Minute

// DaemonPlan builds everything one configuration gives the daemon. It fails,
// with nothing started, when any part cannot be built: the daemon then
// refuses to start, or keeps its old plan on reload.
func DaemonPlan(ctx context.Context, cfg *configs.Config, store storage.Store, metrics *scheduler.Metrics, version string, logger *slog.Logger) (*scheduler.Plan, error) {
	sched, err := Schedule(cfg)
	if err != nil {
		return nil, err
	}
	job, admin, err := Job(ctx, cfg, store, version, logger, time.Now)
	if err != nil {
		return nil, err
	}
	pruner, err := Pruner(cfg, job.Catalog, store, logger, time.Now)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	lease := scheduler.NewLease(store, scheduler.LeaseKey(cfg.Environment, cfg.Cluster),
		fmt.Sprintf("%s/%d", host, os.Getpid()), leaseTTL, time.Now, logger)
	cluster := cfg.Cluster
	cycle := &scheduler.Cycle{
		Job:       job,
		Admin:     admin,
		Databases: cfg.Postgres.Databases,
		Globals:   cfg.Postgres.Globals,
		Logger:    logger,
		Observe: func(db string, res scheduler.Result, err error) {
			if err != nil {
				metrics.BackupFailed(cluster, db, time.Now(), res.Duration)
				return
			}
			metrics.BackupDone(cluster, res.Manifest, res.Duration)
		},
	}
	// One log for the plan's lifetime: it remembers the newest record it
	// verified, and the next verify checks that record is unchanged.
	auditLog, err := AuditLog(ctx, cfg, store, logger)
	if err != nil {
		return nil, err
	}
	return &scheduler.Plan{
		Cluster:  cluster,
		Schedule: sched,
		Interval: pruner.Policy.Interval,
		Jitter:   cfg.Schedule.Jitter,
		CatchUp:  cfg.Schedule.CatchUp,
		Cycle:    cycle,
		Pruner:   pruner,
		Lock:     lease,
		After: func(ctx context.Context) {
			RebuildMetrics(ctx, job.Catalog, cluster, metrics, logger)
			AuditMetrics(ctx, auditLog, cluster, metrics, logger)
		},
	}, nil
}

// RebuildMetrics sets the catalog's metrics (last success per tier, backups
// and bytes per tier) from what the bucket holds, so that a restart neither
// fakes a gap nor hides one.
func RebuildMetrics(ctx context.Context, cat *catalog.Catalog, cluster string, metrics *scheduler.Metrics, logger *slog.Logger) {
	dbs, err := cat.Databases(ctx)
	if err != nil {
		logger.Error("rebuilding metrics from the catalog", "error", err)
		return
	}
	all := map[string][]*catalog.Manifest{}
	for _, db := range dbs {
		ms, err := cat.List(ctx, db)
		if err != nil {
			logger.Error("rebuilding metrics from the catalog", "database", db, "error", err)
			return
		}
		all[db] = ms
	}
	metrics.Rebuild(cluster, all)
}
