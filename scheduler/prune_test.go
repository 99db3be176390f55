package scheduler

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/retention"
	"github.com/pgtier/pgtier/storage"
)

// days is a retention.Span of whole days.
type days int

func (d days) AddTo(t time.Time) time.Time { return t.AddDate(0, 0, int(d)) }
func (d days) String() string              { return time.Duration(int(d) * 24 * int(time.Hour)).String() }

func testPolicy() retention.Policy {
	w := retention.Window{Min: days(1), Max: days(2)}
	return retention.Policy{
		Windows:  map[retention.Tier]retention.Window{retention.Base: w, retention.Daily: w, retention.Weekly: w, retention.Monthly: w},
		Interval: 6 * time.Hour,
	}
}

// commitAt commits a backup of app taken at t with the tiers Promote gives.
func commitAt(t *testing.T, cat *catalog.Catalog, store *storage.Memory, taken time.Time) *catalog.Manifest {
	t.Helper()
	ctx := context.Background()
	existing, err := cat.List(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	p := testPolicy()
	tiers := retention.Promote(Backups(existing), taken, p)
	id := catalog.NewID(taken)
	info, err := cat.PutData(ctx, "app", id, strings.NewReader("data"), storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := &catalog.Manifest{Format: catalog.Format, ID: id, Environment: "prod", Cluster: "main", Database: "app",
		TakenAt: taken, FinishedAt: taken, StoredBytes: 4, SHA256: strings.Repeat("0", 64),
		Object: catalog.Object{Key: cat.Layout().DataKey("app", id), VersionID: info.VersionID}}
	for _, tier := range tiers {
		m.Tiers = append(m.Tiers, string(tier))
	}
	m.LockUntil, m.ExpiresAt, _ = retention.Windows(tiers, taken, p)
	if err := cat.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPrunePlanAndApply(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	now := t0
	store := storage.NewMemory()
	store.SetClock(func() time.Time { return now })
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	cat := catalog.New(store, catalog.Layout{Environment: "prod", Cluster: "main"}, logger)
	var ms []*catalog.Manifest
	for i := range 12 { // every 6 hours for three days
		now = t0.Add(time.Duration(i) * 6 * time.Hour)
		ms = append(ms, commitAt(t, cat, store, now))
	}
	// An orphan from a crashed backup a day and a half ago, and a fresh one
	// that a running backup may still own.
	now = t0.Add(36 * time.Hour)
	if _, err := cat.PutData(ctx, "app", "20261121T130000Z", strings.NewReader("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(3 * 24 * time.Hour)
	if _, err := cat.PutData(ctx, "app", "20261123T010000Z", strings.NewReader("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	p := &Pruner{Catalog: cat, Store: store, Policy: testPolicy(), Logger: logger, Now: func() time.Time { return now }}
	plan, err := p.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	// Expired at now, 2026-11-23 00:00 (taken + 2d <= now): the four backups
	// of the 20th and the first of the 21st. The 20th's first is kept: it is
	// the newest weekly (20 to 22 are one ISO week) and monthly. The 21st's
	// first is a daily, but not the newest daily.
	if len(plan.Delete) != 4 || len(plan.Keep) != 8 || len(plan.Refused) != 0 {
		t.Fatalf("plan deletes %d, keeps %d, refuses %v; want 4, 8, none", len(plan.Delete), len(plan.Keep), plan.Refused)
	}
	if len(plan.Orphans) != 1 || plan.Orphans[0].ID != "20261121T130000Z" {
		t.Fatalf("orphans planned: %+v; want only the one older than a day", plan.Orphans)
	}
	if got, _ := cat.List(ctx, "app"); len(got) != 12 {
		t.Fatalf("Plan deleted something: %d backups left", len(got))
	}

	res, err := p.Apply(ctx, plan)
	if err != nil || len(res.Deleted) != 4 || res.Orphans != 1 {
		t.Fatalf("Apply = %+v, %v", res, err)
	}
	left, _ := cat.List(ctx, "app")
	if len(left) != 8 || left[0].ID != ms[0].ID || left[1].ID != ms[5].ID {
		t.Fatalf("after Apply: %d backups, %s, %s, ...; want 8: %s, then from %s", len(left), left[0].ID, left[1].ID, ms[0].ID, ms[5].ID)
	}
	orphans, _ := cat.Orphans(ctx)
	if len(orphans) != 1 || orphans[0].ID != "20261123T010000Z" {
		t.Fatalf("orphans left: %+v; want only the fresh one", orphans)
	}
	if !strings.Contains(logs.String(), "expired from base") {
		t.Fatalf("deletions were not logged with their reason:\n%s", logs.String())
	}
}

func TestPruneRefusalIsLogged(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	now := t0
	store := storage.NewMemory()
	store.SetClock(func() time.Time { return now })
	var logs bytes.Buffer
	cat := catalog.New(store, catalog.Layout{Environment: "prod", Cluster: "main"}, nil)
	for i := range 8 {
		now = t0.Add(time.Duration(i) * 6 * time.Hour)
		commitAt(t, cat, store, now)
	}
	now = now.Add(5 * 24 * time.Hour) // no backup for five days: backups are failing
	p := &Pruner{Catalog: cat, Store: store, Policy: testPolicy(), Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }}
	plan, err := p.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	stale := false
	for _, r := range plan.Refused {
		stale = stale || r.Reason == retention.RefusedStaleBase
	}
	if len(plan.Delete) != 0 || !stale {
		t.Fatalf("plan deletes %d, refuses %+v; want nothing deleted and stale_base", len(plan.Delete), plan.Refused)
	}
	if _, err := p.Apply(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "prune refused") || !strings.Contains(logs.String(), "stale_base") {
		t.Fatalf("refusal not logged:\n%s", logs.String())
	}
	if got, _ := cat.List(ctx, "app"); len(got) != 8 {
		t.Fatalf("a refused prune deleted backups: %d left", len(got))
	}
}
