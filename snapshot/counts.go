package snapshot

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

const (
	// exactRowLimit: a table whose planner estimate is below this many rows
	// is counted exactly (if it is also small on disk).
	exactRowLimit = 100000
	// exactSizeLimit: a table larger than this on disk is never scanned to
	// count it, whatever its estimate says.
	exactSizeLimit = 64 << 20
)

// TableCount is the number of rows of one table when the counts were taken.
type TableCount struct {
	Schema string
	Table  string
	// Rows is the row count: exact when Exact, else the planner's estimate
	// (pg_class.reltuples), or -1 when a large table was never analyzed.
	Rows  int64
	Exact bool
}

// TableCounts lists the row counts of the user tables of c.Database, sorted
// by schema and table, for later comparison with a restored copy.
//
// It covers ordinary tables and the leaf partitions of partitioned tables
// (the data lives in the leaves; partitioned parents are skipped), including
// unlogged tables, in every schema except pg_catalog, information_schema and
// the toast schemas. Temporary tables, views, materialized views and foreign
// tables are skipped. A table with an estimate under 100000 rows and at most
// 64 MiB on disk is counted with count(*); others get the estimate. All
// counts come from one read-only repeatable-read transaction, so they are
// consistent with each other but not with a dump taken at another moment.
// It reads every counted table, so the role needs SELECT on them (as pg_dump
// does).
func TableCounts(ctx context.Context, c Conn) ([]TableCount, error) {
	conn, err := connect(ctx, c)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, c.redact(fmt.Errorf("counting rows in %s: %w", c.Database, err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // read-only: nothing to keep

	rows, err := tx.Query(ctx, `SELECT n.nspname, c.relname, c.reltuples::bigint,
			c.reltuples < $1::real AND pg_relation_size(c.oid) <= $2::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND c.relpersistence <> 't'
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg\_toast%'
		ORDER BY n.nspname, c.relname`, exactRowLimit, exactSizeLimit)
	if err != nil {
		return nil, c.redact(fmt.Errorf("listing tables in %s: %w", c.Database, err))
	}
	var out []TableCount
	var exact []int
	for rows.Next() {
		var t TableCount
		var small bool
		if err := rows.Scan(&t.Schema, &t.Table, &t.Rows, &small); err != nil {
			rows.Close()
			return nil, fmt.Errorf("listing tables in %s: %w", c.Database, err)
		}
		if t.Rows < 0 {
			t.Rows = -1
		}
		if small {
			exact = append(exact, len(out))
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, c.redact(fmt.Errorf("listing tables in %s: %w", c.Database, err))
	}

	for _, i := range exact {
		t := &out[i]
		sql := "SELECT count(*) FROM " + pgx.Identifier{t.Schema, t.Table}.Sanitize()
		if err := tx.QueryRow(ctx, sql).Scan(&t.Rows); err != nil {
			return nil, c.redact(fmt.Errorf("counting rows of %s.%s in %s: %w", t.Schema, t.Table, c.Database, err))
		}
		t.Exact = true
	}
	return out, nil
}
