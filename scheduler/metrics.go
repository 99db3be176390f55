package scheduler

import (
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgtier/pgtier/audit"
	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/retention"
)

// Result label values of pgtier_backup_runs_total.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
)

// Kind label values of pgtier_backup_size_bytes.
const (
	KindRaw    = "raw"    // the pg_dump archive, before compression
	KindStored = "stored" // the object in the bucket, compressed and encrypted
)

// Metrics holds the daemon's Prometheus metrics, the contract of DESIGN.md
// section 9 that the alert rules in configs/prometheus rely on. Its methods
// are safe for concurrent use.
//
// Series appear when there is something to say: a database's last-success
// series appear with its first backup (Rebuild or BackupDone), the audit
// series with the first Audit. Counters of a database or cluster start at
// zero when it is first seen, so that increase() sees their first step.
// Nothing here is persisted: timestamps of backups come back from the catalog
// with Rebuild, counters start again at zero after a restart.
type Metrics struct {
	mu sync.Mutex // orders Rebuild against the other updates of the same series

	lastSuccess *prometheus.GaugeVec     // cluster, database, tier
	lastFailure *prometheus.GaugeVec     // cluster, database
	runs        *prometheus.CounterVec   // cluster, database, result
	duration    *prometheus.HistogramVec // cluster, database
	size        *prometheus.GaugeVec     // cluster, database, kind
	nextRun     *prometheus.GaugeVec     // cluster
	tierBackups *prometheus.GaugeVec     // cluster, database, tier
	tierBytes   *prometheus.GaugeVec     // cluster, database, tier
	pruned      *prometheus.CounterVec   // cluster, database, tier
	refused     *prometheus.CounterVec   // cluster, reason
	access      *prometheus.GaugeVec     // result
	chainOK     *prometheus.GaugeVec     // no labels: absent until the first Audit
	verified    *prometheus.GaugeVec     // cluster, database
}

// NewMetrics creates the metrics and registers them with reg, which is
// never the global registry in tests; it panics if a metric of the same name
// is already registered there (a programming error). pgtier_build_info is
// set to 1 with version and the Go version the binary was built with.
func NewMetrics(reg prometheus.Registerer, version string) *Metrics {
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pgtier_" + name, Help: help}, labels)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgtier_" + name, Help: help}, labels)
	}
	m := &Metrics{
		lastSuccess: gauge("backup_last_success_timestamp_seconds",
			"Finish time of the newest complete backup holding the tier, from the catalog.", "cluster", "database", "tier"),
		lastFailure: gauge("backup_last_failure_timestamp_seconds",
			"Time of the newest failed backup run since the daemon started.", "cluster", "database"),
		runs: counter("backup_runs_total",
			"Backup runs by result.", "cluster", "database", "result"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pgtier_backup_duration_seconds",
			Help: "Duration of backup runs, successful or not.",
			// From a second (an empty database, the globals) to 16 hours.
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 16 * 3600},
		}, []string{"cluster", "database"}),
		size: gauge("backup_size_bytes",
			"Size of the newest backup: raw (the pg_dump archive) and stored (compressed and encrypted).", "cluster", "database", "kind"),
		nextRun: gauge("backup_next_run_timestamp_seconds",
			"Time of the next scheduled backup run.", "cluster"),
		tierBackups: gauge("tier_backups",
			"Number of complete backups holding the tier.", "cluster", "database", "tier"),
		tierBytes: gauge("tier_bytes",
			"Stored bytes of the complete backups holding the tier (a backup in several tiers counts in each).", "cluster", "database", "tier"),
		pruned: counter("prune_deleted_total",
			"Backups deleted by prune, counted once in each tier the backup held.", "cluster", "database", "tier"),
		refused: counter("prune_refused_total",
			"Prune plans refused by a safety rule, by reason.", "cluster", "reason"),
		// A gauge although the name ends in _total: it is the audit log's
		// count as last read, and "incomplete" falls when an access ends.
		access: gauge("restore_access_total",
			"Accesses to backup contents recorded in the audit log, by result (success, failure, incomplete), as last read.", "result"),
		chainOK: gauge("audit_chain_ok",
			"1 when the audit log's hash chain verified at the last read, 0 when it did not."),
		verified: gauge("verify_last_success_timestamp_seconds",
			"Time of the newest successful restore test (verify) of the database.", "cluster", "database"),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "pgtier_build_info",
		Help:        "Always 1; the labels name the pgtier version and the Go version that built it.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	reg.MustRegister(m.lastSuccess, m.lastFailure, m.runs, m.duration, m.size, m.nextRun,
		m.tierBackups, m.tierBytes, m.pruned, m.refused, m.access, m.chainOK, m.verified, buildInfo)
	return m
}

// seconds is t as a Prometheus timestamp: seconds since the epoch, with the
// fraction.
func seconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// finished is when a backup became complete; TakenAt for a manifest that
// does not record it.
func finished(m *catalog.Manifest) time.Time {
	if m.FinishedAt.IsZero() {
		return m.TakenAt
	}
	return m.FinishedAt
}

// newer orders manifests as the catalog does: by TakenAt, then by ID.
func newer(a, b *catalog.Manifest) bool {
	if !a.TakenAt.Equal(b.TakenAt) {
		return a.TakenAt.After(b.TakenAt)
	}
	return a.ID > b.ID
}

// seen makes a database's run counters exist at zero.
func (m *Metrics) seen(cluster, database string) {
	m.runs.WithLabelValues(cluster, database, ResultSuccess).Add(0)
	m.runs.WithLabelValues(cluster, database, ResultFailure).Add(0)
}

// BackupDone records a committed backup that took d: one successful run,
// its duration, its sizes, and its finish time as the last success of each
// of its tiers. It does not change pgtier_tier_*, which come from the
// catalog (Rebuild).
func (m *Metrics) BackupDone(cluster string, b *catalog.Manifest, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen(cluster, b.Database)
	m.runs.WithLabelValues(cluster, b.Database, ResultSuccess).Inc()
	m.duration.WithLabelValues(cluster, b.Database).Observe(d.Seconds())
	m.setSize(cluster, b)
	for _, t := range b.Tiers {
		m.lastSuccess.WithLabelValues(cluster, b.Database, t).Set(seconds(finished(b)))
	}
}

func (m *Metrics) setSize(cluster string, b *catalog.Manifest) {
	m.size.WithLabelValues(cluster, b.Database, KindRaw).Set(float64(b.RawBytes))
	m.size.WithLabelValues(cluster, b.Database, KindStored).Set(float64(b.StoredBytes))
}

// BackupFailed records a backup run of database that failed at at after d.
func (m *Metrics) BackupFailed(cluster, database string, at time.Time, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen(cluster, database)
	m.runs.WithLabelValues(cluster, database, ResultFailure).Inc()
	m.duration.WithLabelValues(cluster, database).Observe(d.Seconds())
	m.lastFailure.WithLabelValues(cluster, database).Set(seconds(at))
}

// NextRun records when the cluster's next scheduled run is due; a zero t
// (no next run) removes the series.
func (m *Metrics) NextRun(cluster string, t time.Time) {
	if t.IsZero() {
		m.nextRun.DeleteLabelValues(cluster)
		return
	}
	m.nextRun.WithLabelValues(cluster).Set(seconds(t))
}

// Pruned counts backups that prune deleted, once in each tier each held.
func (m *Metrics) Pruned(cluster string, deleted []retention.Decision) {
	for _, d := range deleted {
		for _, t := range d.Backup.Tiers {
			m.pruned.WithLabelValues(cluster, d.Backup.Database, string(t)).Inc()
		}
	}
}

// PruneRefused counts the refusals of one prune plan, one per refusal.
func (m *Metrics) PruneRefused(cluster string, refusals []retention.Refusal) {
	for _, r := range refusals {
		m.refused.WithLabelValues(cluster, r.Reason).Inc()
	}
}

// Audit exports an audit log verification: pgtier_audit_chain_ok from
// rep.OK and pgtier_restore_access_total{result} from rep.Summary.
//
// pgtier_restore_access_total is a gauge, although its name (fixed by the
// design) ends in _total and `promtool check metrics` says so: the values are
// the log's counts as read, not events this process counted, and the
// incomplete count falls when a running access writes its end record. A
// counter must never fall. PromQL ignores the type, so increase() over it
// still shows new accesses; a fall reads as a counter reset.
//
// A verification that could not read the log (Log.Verify's error) says
// nothing about the chain: do not call Audit for it, and the last values stay.
func (m *Metrics) Audit(rep audit.Report) {
	for result, n := range rep.Summary.ByResult() {
		m.access.WithLabelValues(result).Set(float64(n))
	}
	ok := 0.0
	if rep.OK {
		ok = 1
	}
	m.chainOK.WithLabelValues().Set(ok)
}

// Verified records a successful restore test of database that ended at at.
func (m *Metrics) Verified(cluster, database string, at time.Time) {
	m.verified.WithLabelValues(cluster, database).Set(seconds(at))
}

// VerifiedFromAudit sets pgtier_verify_last_success_timestamp_seconds of
// cluster from the audit log's records, in any order: the time of the newest
// successful verify end record of each database, counting only backups of
// the log's own environment. Databases with no such record are left alone.
func (m *Metrics) VerifiedFromAudit(cluster string, records []audit.Record) {
	newest := map[string]time.Time{}
	for _, r := range records {
		if r.Kind == audit.KindEnd && r.Action == audit.ActionVerify && r.Outcome == audit.OutcomeSuccess &&
			r.Cluster == cluster && !r.CrossEnvironment && r.Time.After(newest[r.Database]) {
			newest[r.Database] = r.Time
		}
	}
	for database, at := range newest {
		m.Verified(cluster, database, at)
	}
}

// Rebuild sets, from the catalog listing of cluster (backups by database),
// everything the catalog knows: the last success of each tier (the finish
// time of the newest backup holding it), pgtier_tier_backups and
// pgtier_tier_bytes, and the sizes of the newest backup. Databases missing
// from backups are left alone; a tier of a listed database with no backup
// loses its last-success series and counts zero. Rebuilding from the same
// listing gives the same values, whatever came before, so a restart neither
// fakes a gap nor hides one. Call it at start and after each cycle and prune,
// not while a backup of the same cluster is being recorded.
func (m *Metrics) Rebuild(cluster string, backups map[string][]*catalog.Manifest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// The counters start at zero so that the first refusal is seen by
	// increase().
	for _, reason := range []string{retention.RefusedStaleBase, retention.RefusedClockSkew, retention.RefusedTooMany, retention.RefusedBadPolicy} {
		m.refused.WithLabelValues(cluster, reason).Add(0)
	}
	for database, ms := range backups {
		m.seen(cluster, database)
		var newest *catalog.Manifest
		for _, b := range ms {
			if newest == nil || newer(b, newest) {
				newest = b
			}
		}
		if newest != nil {
			m.setSize(cluster, newest)
		}
		for _, tier := range retention.Tiers() {
			t := string(tier)
			m.pruned.WithLabelValues(cluster, database, t).Add(0)
			var count, bytes float64
			var last *catalog.Manifest
			for _, b := range ms {
				if !slices.Contains(b.Tiers, t) {
					continue
				}
				count++
				bytes += float64(b.StoredBytes)
				if last == nil || newer(b, last) {
					last = b
				}
			}
			m.tierBackups.WithLabelValues(cluster, database, t).Set(count)
			m.tierBytes.WithLabelValues(cluster, database, t).Set(bytes)
			if last == nil {
				m.lastSuccess.DeleteLabelValues(cluster, database, t)
			} else {
				m.lastSuccess.WithLabelValues(cluster, database, t).Set(seconds(finished(last)))
			}
		}
	}
}
