package restore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/snapshot"
)

// Row-count tolerance for tables the manifest counted by estimate: the
// restored count may differ from the planner's estimate by this many rows,
// or by this percentage of the estimate, whichever is larger.
const (
	EstimateSlackRows    = 1000
	EstimateSlackPercent = 10
)

// Results of one table's comparison.
const (
	TableMatch    = "match"            // an exact count, equal
	TableWithin   = "within tolerance" // an estimate, close enough
	TableMismatch = "mismatch"         // differs: the drill fails
	TableMissing  = "missing"          // counted in the manifest, absent from the restore: the drill fails
	TableNoCount  = "skipped"          // the manifest has no estimate (-1): not compared
	TableUnlisted = "not in manifest"  // restored, but not counted at backup time: not compared
)

// restoredAbsent is TableComparison.Restored of a missing table.
const restoredAbsent = -1

// TableComparison is one table's row count in the manifest and in the
// restored copy.
type TableComparison struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	// Manifest is the count at backup time, exact when Exact, else the
	// planner's estimate (-1: none); -1 also for a table not in the manifest.
	Manifest int64 `json:"manifest_rows"`
	Exact    bool  `json:"exact"`
	// Restored is count(*) of the restored table, -1 when it is missing.
	Restored int64  `json:"restored_rows"`
	Result   string `json:"result"`
}

// withinEstimate reports whether a restored count is close enough to an
// estimate.
func withinEstimate(estimate, restored int64) bool {
	diff := restored - estimate
	if diff < 0 {
		diff = -diff
	}
	return diff <= EstimateSlackRows || diff*100 <= estimate*EstimateSlackPercent
}

// compareCounts compares the manifest's counts with the exact counts of the
// restored tables. It returns one comparison per table of either side,
// manifest order first, and the check: it fails on any mismatch or missing
// table.
func compareCounts(manifest []catalog.TableCount, restored map[tableKey]int64) ([]TableComparison, Check) {
	var out []TableComparison
	seen := make(map[tableKey]bool, len(manifest))
	var exact, within, skipped, unlisted int
	var bad []string
	for _, m := range manifest {
		k := tableKey{m.Schema, m.Table}
		seen[k] = true
		c := TableComparison{Schema: m.Schema, Table: m.Table, Manifest: m.Rows, Exact: m.Exact, Restored: restoredAbsent}
		n, ok := restored[k]
		if ok {
			c.Restored = n
		}
		switch {
		case !ok:
			c.Result = TableMissing
		case m.Exact && n == m.Rows:
			c.Result = TableMatch
			exact++
		case m.Exact:
			c.Result = TableMismatch
		case m.Rows < 0:
			c.Result = TableNoCount
			skipped++
		case withinEstimate(m.Rows, n):
			c.Result = TableWithin
			within++
		default:
			c.Result = TableMismatch
		}
		if c.Result == TableMissing || c.Result == TableMismatch {
			bad = append(bad, describe(c))
		}
		out = append(out, c)
	}
	for _, k := range sortedKeys(restored) {
		if !seen[k] {
			out = append(out, TableComparison{Schema: k.schema, Table: k.table, Manifest: -1, Restored: restored[k], Result: TableUnlisted})
			unlisted++
		}
	}
	detail := fmt.Sprintf("%d tables: %d exact counts equal, %d estimates within %d%% or %d rows, %d without an estimate, %d not in the manifest",
		len(out), exact, within, EstimateSlackPercent, EstimateSlackRows, skipped, unlisted)
	if len(bad) > 0 {
		return out, Check{Name: CheckRowCounts, Result: ResultFail,
			Detail: fmt.Sprintf("%d tables differ from the manifest: %s (%s)", len(bad), someNames(bad), detail)}
	}
	return out, Check{Name: CheckRowCounts, Result: ResultPass, Detail: detail}
}

// describe names a failed comparison for a message.
func describe(c TableComparison) string {
	name := c.Schema + "." + c.Table
	if c.Result == TableMissing {
		return name + " is missing"
	}
	kind := "exactly"
	if !c.Exact {
		kind = "by estimate"
	}
	return fmt.Sprintf("%s has %d rows, the manifest counted %d %s", name, c.Restored, c.Manifest, kind)
}

// tableKey names a table without quoting, so that any name is one key.
type tableKey struct{ schema, table string }

func sortedKeys(m map[tableKey]int64) []tableKey {
	return slices.SortedFunc(maps.Keys(m), func(a, b tableKey) int {
		return cmp.Or(strings.Compare(a.schema, b.schema), strings.Compare(a.table, b.table))
	})
}

// countRows counts, with count(*), the rows of every table of the kind
// snapshot.TableCounts lists (ordinary tables and leaf partitions, outside
// the system schemas) in c.Database.
func countRows(ctx context.Context, c snapshot.Conn) (map[tableKey]int64, error) {
	conn, err := snapshot.Connect(ctx, c)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND c.relpersistence <> 't'
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg\_toast%'`)
	if err != nil {
		return nil, c.Redact(fmt.Errorf("listing the restored tables in %s: %w", c.Database, err))
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tableKey, error) {
		var k tableKey
		err := r.Scan(&k.schema, &k.table)
		return k, err
	})
	if err != nil {
		return nil, c.Redact(fmt.Errorf("listing the restored tables in %s: %w", c.Database, err))
	}
	out := make(map[tableKey]int64, len(keys))
	for _, k := range keys {
		var n int64
		sql := "SELECT count(*) FROM " + pgx.Identifier{k.schema, k.table}.Sanitize()
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			return nil, c.Redact(fmt.Errorf("counting the rows of %s.%s in %s: %w", k.schema, k.table, c.Database, err))
		}
		out[k] = n
	}
	return out, nil
}
