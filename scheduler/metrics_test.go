package scheduler

import (
	"bytes"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/retention"
)

// designMetrics are the metrics of DESIGN.md section 9 with their labels.
var designMetrics = map[string][]string{
	"pgtier_backup_last_success_timestamp_seconds": {"cluster", "database", "tier"},
	"pgtier_backup_last_failure_timestamp_seconds": {"cluster", "database"},
	"pgtier_backup_runs_total":                     {"cluster", "database", "result"},
	"pgtier_backup_duration_seconds":               {"cluster", "database"},
	"pgtier_backup_size_bytes":                     {"cluster", "database", "kind"},
	"pgtier_backup_next_run_timestamp_seconds":     {"cluster"},
	"pgtier_tier_backups":                          {"cluster", "database", "tier"},
	"pgtier_tier_bytes":                            {"cluster", "database", "tier"},
	"pgtier_prune_deleted_total":                   {"cluster", "database", "tier"},
	"pgtier_prune_refused_total":                   {"cluster", "reason"},
	"pgtier_restore_access_total":                  {"result"},
	"pgtier_audit_chain_ok":                        nil,
	"pgtier_verify_last_success_timestamp_seconds": {"cluster", "database"},
	"pgtier_build_info":                            {"goversion", "version"},
}

var t0 = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

// manifest is a backup of database taken at taken, finished 90.5 s later.
func manifest(database string, taken time.Time, stored int64, tiers ...string) *catalog.Manifest {
	return &catalog.Manifest{
		ID: catalog.NewID(taken), Cluster: "main", Database: database,
		TakenAt: taken, FinishedAt: taken.Add(90500 * time.Millisecond),
		Tiers: tiers, RawBytes: 3 * stored, StoredBytes: stored,
	}
}

func newMetrics(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	return NewMetrics(reg, "1.2.3"), reg
}

// expose returns the text exposition of the named families of reg.
func expose(t *testing.T, reg prometheus.Gatherer, names ...string) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if slices.Contains(names, mf.GetName()) {
			if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
				t.Fatal(err)
			}
		}
	}
	return buf.String()
}

func compare(t *testing.T, reg prometheus.Gatherer, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestMetricsNamesAndLabels(t *testing.T) {
	m, reg := newMetrics(t)
	m.BackupDone("main", manifest("app", t0, 100, "base"), time.Minute)
	m.BackupFailed("main", "app", t0, time.Second)
	m.NextRun("main", t0.Add(6*time.Hour))
	m.Rebuild("main", map[string][]*catalog.Manifest{"app": {manifest("app", t0, 100, "base")}})
	m.Pruned("main", []retention.Decision{{Backup: retention.Backup{Database: "app", Tiers: []retention.Tier{retention.Base}}}})
	m.PruneRefused("main", []retention.Refusal{{Reason: retention.RefusedClockSkew}})
	m.Audit(audit.Report{OK: true})
	m.Verified("main", "app", t0)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, mf := range mfs {
		labels := map[string]bool{}
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		got[mf.GetName()] = slices.Sorted(maps.Keys(labels))
	}
	for name, want := range designMetrics {
		labels, ok := got[name]
		if !ok {
			t.Errorf("%s is not exported", name)
			continue
		}
		if !slices.Equal(labels, want) {
			t.Errorf("%s has labels %v, want %v", name, labels, want)
		}
	}
	for name := range got {
		if _, ok := designMetrics[name]; !ok {
			t.Errorf("%s is not in the design", name)
		}
	}
	types := map[string]dto.MetricType{}
	for _, mf := range mfs {
		types[mf.GetName()] = mf.GetType()
	}
	if types["pgtier_backup_duration_seconds"] != dto.MetricType_HISTOGRAM {
		t.Errorf("pgtier_backup_duration_seconds is a %v, want a histogram", types["pgtier_backup_duration_seconds"])
	}
	for _, name := range []string{"pgtier_backup_runs_total", "pgtier_prune_deleted_total", "pgtier_prune_refused_total"} {
		if types[name] != dto.MetricType_COUNTER {
			t.Errorf("%s is a %v, want a counter", name, types[name])
		}
	}
}

func TestMetricsBuildInfo(t *testing.T) {
	_, reg := newMetrics(t)
	compare(t, reg, `
# HELP pgtier_build_info Always 1; the labels name the pgtier version and the Go version that built it.
# TYPE pgtier_build_info gauge
pgtier_build_info{goversion="`+runtime.Version()+`",version="1.2.3"} 1
`, "pgtier_build_info")
	// Nothing else is exported before there is something to say.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 {
		t.Errorf("a new registry exports %d families, want only pgtier_build_info", len(mfs))
	}
}

func TestMetricsBackupDone(t *testing.T) {
	m, reg := newMetrics(t)
	b := manifest("app", t0, 1000, "base", "daily")
	m.BackupDone("main", b, 90*time.Second)

	compare(t, reg, `
# HELP pgtier_backup_last_success_timestamp_seconds Finish time of the newest complete backup holding the tier, from the catalog.
# TYPE pgtier_backup_last_success_timestamp_seconds gauge
pgtier_backup_last_success_timestamp_seconds{cluster="main",database="app",tier="base"} 1.7952408905e+09
pgtier_backup_last_success_timestamp_seconds{cluster="main",database="app",tier="daily"} 1.7952408905e+09
# HELP pgtier_backup_runs_total Backup runs by result.
# TYPE pgtier_backup_runs_total counter
pgtier_backup_runs_total{cluster="main",database="app",result="failure"} 0
pgtier_backup_runs_total{cluster="main",database="app",result="success"} 1
# HELP pgtier_backup_size_bytes Size of the newest backup: raw (the pg_dump archive) and stored (compressed and encrypted).
# TYPE pgtier_backup_size_bytes gauge
pgtier_backup_size_bytes{cluster="main",database="app",kind="raw"} 3000
pgtier_backup_size_bytes{cluster="main",database="app",kind="stored"} 1000
`, "pgtier_backup_last_success_timestamp_seconds", "pgtier_backup_runs_total", "pgtier_backup_size_bytes")

	if got := testutil.ToFloat64(m.lastSuccess.WithLabelValues("main", "app", "base")); got != seconds(b.FinishedAt) {
		t.Errorf("last success %v, want the finish time %v", got, seconds(b.FinishedAt))
	}
	count, sum := histogram(t, reg, "pgtier_backup_duration_seconds")
	if count != 1 || sum != 90 {
		t.Errorf("duration histogram has %d observations summing to %v, want 1 of 90", count, sum)
	}
	if n := testutil.CollectAndCount(m.tierBackups); n != 0 {
		t.Errorf("BackupDone set %d tier_backups series; they come from Rebuild", n)
	}
}

// histogram returns the sample count and sum of the one series of name.
func histogram(t *testing.T, reg prometheus.Gatherer, name string) (uint64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatalf("%s not exported", name)
	return 0, 0
}

func TestMetricsBackupFailed(t *testing.T) {
	m, reg := newMetrics(t)
	m.BackupFailed("main", "app", t0, 2*time.Second)
	m.BackupFailed("main", "app", t0.Add(time.Hour), 3*time.Second)
	compare(t, reg, `
# HELP pgtier_backup_last_failure_timestamp_seconds Time of the newest failed backup run since the daemon started.
# TYPE pgtier_backup_last_failure_timestamp_seconds gauge
pgtier_backup_last_failure_timestamp_seconds{cluster="main",database="app"} 1.7952444e+09
# HELP pgtier_backup_runs_total Backup runs by result.
# TYPE pgtier_backup_runs_total counter
pgtier_backup_runs_total{cluster="main",database="app",result="failure"} 2
pgtier_backup_runs_total{cluster="main",database="app",result="success"} 0
`, "pgtier_backup_last_failure_timestamp_seconds", "pgtier_backup_runs_total")
	if count, sum := histogram(t, reg, "pgtier_backup_duration_seconds"); count != 2 || sum != 5 {
		t.Errorf("duration histogram has %d observations summing to %v, want 2 of 5", count, sum)
	}
	if n := testutil.CollectAndCount(m.lastSuccess); n != 0 {
		t.Errorf("a failure set %d last-success series", n)
	}
}

func TestMetricsNextRun(t *testing.T) {
	m, _ := newMetrics(t)
	next := t0.Add(6*time.Hour + 250*time.Millisecond)
	m.NextRun("main", next)
	if got := testutil.ToFloat64(m.nextRun.WithLabelValues("main")); got != 1795262400.25 {
		t.Errorf("next run %v, want %v", got, 1795262400.25)
	}
	m.NextRun("main", time.Time{})
	if n := testutil.CollectAndCount(m.nextRun); n != 0 {
		t.Errorf("no next run left %d series", n)
	}
}

func TestMetricsPrune(t *testing.T) {
	m, reg := newMetrics(t)
	tiers := func(ts ...retention.Tier) retention.Backup { return retention.Backup{Database: "app", Tiers: ts} }
	m.Pruned("main", []retention.Decision{
		{Backup: tiers(retention.Base)},
		{Backup: tiers(retention.Base, retention.Daily)},
	})
	m.PruneRefused("main", []retention.Refusal{
		{Reason: retention.RefusedTooMany, Database: "app"},
		{Reason: retention.RefusedTooMany, Database: "crm"},
		{Reason: retention.RefusedStaleBase},
	})
	m.PruneRefused("main", nil)
	compare(t, reg, `
# HELP pgtier_prune_deleted_total Backups deleted by prune, counted once in each tier the backup held.
# TYPE pgtier_prune_deleted_total counter
pgtier_prune_deleted_total{cluster="main",database="app",tier="base"} 2
pgtier_prune_deleted_total{cluster="main",database="app",tier="daily"} 1
# HELP pgtier_prune_refused_total Prune plans refused by a safety rule, by reason.
# TYPE pgtier_prune_refused_total counter
pgtier_prune_refused_total{cluster="main",reason="stale_base"} 1
pgtier_prune_refused_total{cluster="main",reason="too_many"} 2
`, "pgtier_prune_deleted_total", "pgtier_prune_refused_total")
}

func TestMetricsAudit(t *testing.T) {
	m, reg := newMetrics(t)
	m.Audit(audit.Report{OK: true, Summary: audit.Summary{Success: 2, Failure: 1, Incomplete: 1}})
	want := func(ok, success, failure, incomplete int) string {
		return `
# HELP pgtier_audit_chain_ok 1 when the audit log's hash chain verified at the last read, 0 when it did not.
# TYPE pgtier_audit_chain_ok gauge
pgtier_audit_chain_ok ` + strconv.Itoa(ok) + `
# HELP pgtier_restore_access_total Accesses to backup contents recorded in the audit log, by result (success, failure, incomplete), as last read.
# TYPE pgtier_restore_access_total gauge
pgtier_restore_access_total{result="failure"} ` + strconv.Itoa(failure) + `
pgtier_restore_access_total{result="incomplete"} ` + strconv.Itoa(incomplete) + `
pgtier_restore_access_total{result="success"} ` + strconv.Itoa(success) + `
`
	}
	compare(t, reg, want(1, 2, 1, 1), "pgtier_audit_chain_ok", "pgtier_restore_access_total")
	// The running access ended: incomplete falls, which a gauge may do.
	m.Audit(audit.Report{OK: true, Summary: audit.Summary{Success: 3, Failure: 1}})
	compare(t, reg, want(1, 3, 1, 0), "pgtier_audit_chain_ok", "pgtier_restore_access_total")
	m.Audit(audit.Report{OK: false, FirstBad: 2, Summary: audit.Summary{Success: 3, Failure: 1}})
	compare(t, reg, want(0, 3, 1, 0), "pgtier_audit_chain_ok", "pgtier_restore_access_total")
}

func TestMetricsVerifiedFromAudit(t *testing.T) {
	m, _ := newMetrics(t)
	end := func(db, action, outcome string, at time.Time) audit.Record {
		return audit.Record{Kind: audit.KindEnd, Action: action, Outcome: outcome, Cluster: "main", Database: db, Time: at}
	}
	cross := end("app", audit.ActionVerify, audit.OutcomeSuccess, t0.Add(5*time.Hour))
	cross.CrossEnvironment = true
	other := end("app", audit.ActionVerify, audit.OutcomeSuccess, t0.Add(6*time.Hour))
	other.Cluster = "other"
	m.VerifiedFromAudit("main", []audit.Record{
		end("app", audit.ActionVerify, audit.OutcomeSuccess, t0.Add(2*time.Hour)),
		end("app", audit.ActionVerify, audit.OutcomeSuccess, t0),
		end("app", audit.ActionVerify, audit.OutcomeFailure, t0.Add(3*time.Hour)),
		end("app", audit.ActionRestore, audit.OutcomeSuccess, t0.Add(4*time.Hour)),
		{Kind: audit.KindBegin, Action: audit.ActionVerify, Cluster: "main", Database: "crm", Time: t0},
		cross, other,
	})
	if got, want := testutil.ToFloat64(m.verified.WithLabelValues("main", "app")), seconds(t0.Add(2*time.Hour)); got != want {
		t.Errorf("verify last success %v, want %v", got, want)
	}
	if n := testutil.CollectAndCount(m.verified); n != 1 {
		t.Errorf("%d verify series, want only main/app", n)
	}
}

// history is three days of 6-hourly backups of app, with the tiers
// promotion gives them, and two of crm.
func history() map[string][]*catalog.Manifest {
	var app []*catalog.Manifest
	for i := range 12 {
		taken := t0.Add(time.Duration(i) * 6 * time.Hour)
		tiers := []string{"base"}
		if i%4 == 0 {
			tiers = append(tiers, "daily")
		}
		if i == 0 {
			tiers = append(tiers, "weekly", "monthly")
		}
		app = append(app, manifest("app", taken, int64(100+i), tiers...))
	}
	return map[string][]*catalog.Manifest{
		"app": app,
		"crm": {manifest("crm", t0, 10, "base", "daily", "weekly", "monthly"), manifest("crm", t0.Add(6*time.Hour), 20, "base")},
	}
}

var rebuilt = []string{
	"pgtier_backup_last_success_timestamp_seconds", "pgtier_backup_size_bytes",
	"pgtier_tier_backups", "pgtier_tier_bytes",
}

func TestMetricsRebuild(t *testing.T) {
	m, reg := newMetrics(t)
	m.Rebuild("main", history())
	// Backup sizes are 100+i for app's twelfth backup; daily holds 0, 4, 8.
	compare(t, reg, `
# HELP pgtier_tier_backups Number of complete backups holding the tier.
# TYPE pgtier_tier_backups gauge
pgtier_tier_backups{cluster="main",database="app",tier="base"} 12
pgtier_tier_backups{cluster="main",database="app",tier="daily"} 3
pgtier_tier_backups{cluster="main",database="app",tier="monthly"} 1
pgtier_tier_backups{cluster="main",database="app",tier="weekly"} 1
pgtier_tier_backups{cluster="main",database="crm",tier="base"} 2
pgtier_tier_backups{cluster="main",database="crm",tier="daily"} 1
pgtier_tier_backups{cluster="main",database="crm",tier="monthly"} 1
pgtier_tier_backups{cluster="main",database="crm",tier="weekly"} 1
# HELP pgtier_tier_bytes Stored bytes of the complete backups holding the tier (a backup in several tiers counts in each).
# TYPE pgtier_tier_bytes gauge
pgtier_tier_bytes{cluster="main",database="app",tier="base"} 1266
pgtier_tier_bytes{cluster="main",database="app",tier="daily"} 312
pgtier_tier_bytes{cluster="main",database="app",tier="monthly"} 100
pgtier_tier_bytes{cluster="main",database="app",tier="weekly"} 100
pgtier_tier_bytes{cluster="main",database="crm",tier="base"} 30
pgtier_tier_bytes{cluster="main",database="crm",tier="daily"} 10
pgtier_tier_bytes{cluster="main",database="crm",tier="monthly"} 10
pgtier_tier_bytes{cluster="main",database="crm",tier="weekly"} 10
# HELP pgtier_backup_size_bytes Size of the newest backup: raw (the pg_dump archive) and stored (compressed and encrypted).
# TYPE pgtier_backup_size_bytes gauge
pgtier_backup_size_bytes{cluster="main",database="app",kind="raw"} 333
pgtier_backup_size_bytes{cluster="main",database="app",kind="stored"} 111
pgtier_backup_size_bytes{cluster="main",database="crm",kind="raw"} 60
pgtier_backup_size_bytes{cluster="main",database="crm",kind="stored"} 20
`, "pgtier_tier_backups", "pgtier_tier_bytes", "pgtier_backup_size_bytes")

	h := history()["app"]
	for tier, b := range map[string]*catalog.Manifest{"base": h[11], "daily": h[8], "weekly": h[0], "monthly": h[0]} {
		if got := testutil.ToFloat64(m.lastSuccess.WithLabelValues("main", "app", tier)); got != seconds(b.FinishedAt) {
			t.Errorf("last %s success %v, want the finish of %s (%v)", tier, got, b.ID, seconds(b.FinishedAt))
		}
	}
	// Counters a rule may take increase() of start at zero.
	if got := testutil.ToFloat64(m.refused.WithLabelValues("main", retention.RefusedClockSkew)); got != 0 {
		t.Errorf("refused counter %v before any refusal", got)
	}
	if n := testutil.CollectAndCount(m.pruned); n != 8 {
		t.Errorf("%d prune_deleted series after Rebuild, want 2 databases x 4 tiers", n)
	}
}

// A restart rebuilds from the catalog exactly what the daemon had recorded
// backup by backup, and rebuilding again changes nothing.
func TestMetricsRebuildMatchesRecorded(t *testing.T) {
	before, regBefore := newMetrics(t)
	hist := history()
	for _, db := range []string{"app", "crm"} {
		for _, b := range hist[db] {
			before.BackupDone("main", b, time.Minute)
		}
	}
	before.Rebuild("main", hist) // after the last cycle
	want := expose(t, regBefore, rebuilt...)

	after, regAfter := newMetrics(t)
	after.Rebuild("main", history())
	if got := expose(t, regAfter, rebuilt...); got != want {
		t.Errorf("after a restart:\n%s\nbefore:\n%s", got, want)
	}
	after.Rebuild("main", history())
	if got := expose(t, regAfter, rebuilt...); got != want {
		t.Errorf("after a second Rebuild:\n%s\nwant:\n%s", got, want)
	}

	// Without the Rebuild after the cycle, the recorded last successes
	// already equal the rebuilt ones.
	recorded, reg := newMetrics(t)
	for _, b := range hist["app"] {
		recorded.BackupDone("main", b, time.Minute)
	}
	names := []string{"pgtier_backup_last_success_timestamp_seconds", "pgtier_backup_size_bytes"}
	rebuiltApp, reg2 := newMetrics(t)
	rebuiltApp.Rebuild("main", map[string][]*catalog.Manifest{"app": hist["app"]})
	if got, want := expose(t, reg, names...), expose(t, reg2, names...); got != want {
		t.Errorf("recorded:\n%s\nrebuilt:\n%s", got, want)
	}
}

func TestMetricsRebuildAfterPrune(t *testing.T) {
	m, reg := newMetrics(t)
	m.Rebuild("main", history())
	// Every crm backup but the base-only one is gone; app is not listed and
	// keeps its values.
	crm := history()["crm"][1:]
	m.Rebuild("main", map[string][]*catalog.Manifest{"crm": crm})
	if got := testutil.ToFloat64(m.tierBackups.WithLabelValues("main", "crm", "monthly")); got != 0 {
		t.Errorf("crm monthly backups %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.tierBackups.WithLabelValues("main", "app", "base")); got != 12 {
		t.Errorf("app base backups %v, want 12 (app was not listed)", got)
	}
	out := expose(t, reg, "pgtier_backup_last_success_timestamp_seconds")
	if strings.Contains(out, `database="crm",tier="daily"`) {
		t.Errorf("a tier with no backup keeps a last success:\n%s", out)
	}
	if !strings.Contains(out, `database="crm",tier="base"`) {
		t.Errorf("crm's base last success is gone:\n%s", out)
	}
}
