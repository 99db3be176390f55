package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/retention"
	"github.com/pgtier/pgtier/storage"
)

// leftoverAge is how old an orphan data object or an incomplete multipart
// upload must be before prune removes it: old enough that no backup still
// running can own it.
const leftoverAge = 24 * time.Hour

// PruneStore is what pruning needs of the store besides the catalog.
type PruneStore interface {
	catalog.Deleter
	// ListUploads returns the incomplete multipart uploads under prefix.
	// (MinIO matches the prefix as a whole key and so finds none; it expires
	// stale uploads itself.)
	ListUploads(ctx context.Context, prefix string) ([]storage.Upload, error)
	// AbortUpload removes an incomplete upload and its parts.
	AbortUpload(ctx context.Context, u storage.Upload) error
}

// serverClock is implemented by stores that can read the server's clock.
type serverClock interface {
	ServerTime(ctx context.Context) (time.Time, error)
}

// Pruner plans and applies retention for one cluster.
type Pruner struct {
	Catalog *catalog.Catalog
	Store   PruneStore
	Policy  retention.Policy
	Logger  *slog.Logger
	Now     func() time.Time
}

// PrunePlan is what a prune would do, with a reason for each backup.
type PrunePlan struct {
	Now        time.Time
	ServerTime time.Time // zero when the store has no clock to read
	retention.Result
	Orphans []catalog.Orphan
	Uploads []storage.Upload
	// manifests finds the manifest of each planned backup, for Apply.
	manifests map[string]*catalog.Manifest
}

func planKey(db, id string) string { return db + "/" + id }

// Plan lists every backup of the cluster and decides, without deleting
// anything, what a prune at now would remove.
func (p *Pruner) Plan(ctx context.Context, force bool) (*PrunePlan, error) {
	plan := &PrunePlan{Now: p.Now().UTC(), manifests: map[string]*catalog.Manifest{}}
	if sc, ok := p.Store.(serverClock); ok {
		t, err := sc.ServerTime(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the storage server's clock: %w", err)
		}
		plan.ServerTime = t
	}
	dbs, err := p.Catalog.Databases(ctx)
	if err != nil {
		return nil, err
	}
	var all []*catalog.Manifest
	for _, db := range dbs {
		ms, err := p.Catalog.List(ctx, db)
		if err != nil {
			return nil, err
		}
		all = append(all, ms...)
	}
	for _, m := range all {
		plan.manifests[planKey(m.Database, m.ID)] = m
	}
	plan.Result = retention.Plan(Backups(all), p.Policy, plan.Now, retention.Options{Force: force, ServerTime: plan.ServerTime})
	orphans, err := p.Catalog.Orphans(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range orphans {
		if plan.Now.Sub(o.LastModified) >= leftoverAge {
			plan.Orphans = append(plan.Orphans, o)
		}
	}
	uploads, err := p.Store.ListUploads(ctx, p.Catalog.Layout().ClusterPrefix())
	if err != nil {
		return nil, err
	}
	for _, u := range uploads {
		if plan.Now.Sub(u.Initiated) >= leftoverAge {
			plan.Uploads = append(plan.Uploads, u)
		}
	}
	return plan, nil
}

// PruneResult counts what Apply removed.
type PruneResult struct {
	Deleted []retention.Decision
	Orphans int
	Uploads int
}

// Apply carries out a plan: each backup's manifest first, then its data;
// then orphans and incomplete uploads. It logs every refusal and every
// deletion with its reason, goes on after a failed deletion, and returns an
// error naming every failure.
func (p *Pruner) Apply(ctx context.Context, plan *PrunePlan) (PruneResult, error) {
	var res PruneResult
	var errs []error
	for _, r := range plan.Refused {
		p.Logger.Warn("prune refused", "reason", r.Reason, "database", r.Database, "message", r.Message)
	}
	for _, d := range plan.Delete {
		m := plan.manifests[planKey(d.Backup.Database, d.Backup.ID)]
		if err := p.Catalog.Delete(ctx, p.Store, m); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Deleted = append(res.Deleted, d)
		p.Logger.Info("pruned backup", "database", m.Database, "id", m.ID, "tiers", m.Tiers, "reason", d.Reason)
	}
	for _, o := range plan.Orphans {
		if err := p.Catalog.DeleteOrphan(ctx, p.Store, o); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Orphans++
		p.Logger.Info("removed orphan data object", "key", o.Key, "modified", o.LastModified)
	}
	for _, u := range plan.Uploads {
		if err := p.Store.AbortUpload(ctx, u); err != nil {
			errs = append(errs, fmt.Errorf("aborting upload %s: %w", u.Key, err))
			continue
		}
		res.Uploads++
		p.Logger.Info("aborted incomplete upload", "key", u.Key, "initiated", u.Initiated)
	}
	return res, errors.Join(errs...)
}
