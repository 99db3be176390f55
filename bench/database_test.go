package bench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgtier/pgtier/test/harness"
)

const (
	// pgbenchScaleBytes is roughly the disk used by one pgbench scale unit
	// (100,000 pgbench_accounts rows with their index).
	pgbenchScaleBytes = 15 << 20
	// randomBatch is the most rows of random text inserted per statement
	// (about 110 MiB).
	randomBatch = 100_000
)

// parseSize reads a size such as 512MB, 2GB or 8GB. Units are 1024-based,
// as pg_size_pretty prints them.
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, unit := range []struct {
		suffix string
		mult   int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"G", 1 << 30}, {"M", 1 << 20}} {
		if strings.HasSuffix(u, unit.suffix) {
			u, mult = strings.TrimSuffix(u, unit.suffix), unit.mult
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(u), 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("parsing size %q: want a number followed by MB or GB, e.g. 2GB", s)
	}
	return int64(n * float64(mult)), nil
}

// dbName is the benchmark database's name for a target size.
func dbName(target int64) string { return fmt.Sprintf("bench_%dmb", target>>20) }

// buildDatabase makes the benchmark database for target bytes, or reuses
// it when its marker table says it was built for that size: half pgbench
// tables (pgbench -i, server-side generation), half random base64 text,
// which zstd cannot shrink much. It returns the database's name.
func buildDatabase(b *testing.B, pg *harness.Postgres, target int64) string {
	b.Helper()
	ctx := b.Context()
	name := dbName(target)
	admin := pg.Conn(b, "postgres")
	if builtFor(ctx, b, pg, admin, name) == target {
		fmt.Printf("reusing database %s, built for %s\n", name, mib(target))
		return name
	}
	ident := pgx.Identifier{name}.Sanitize()
	mustExec(ctx, b, admin, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	mustExec(ctx, b, admin, "CREATE DATABASE "+ident)
	start := time.Now()

	scale := max(1, int((target/2+pgbenchScaleBytes/2)/pgbenchScaleBytes))
	cmd := exec.CommandContext(ctx, filepath.Join(pg.BinDir, "pgbench"),
		"-i", "-s", strconv.Itoa(scale), "-I", "dtGvp",
		"-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-U", pg.User, name)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i -s %d: %v\n%s", scale, err, tailOf(string(out), 4000))
	}
	fmt.Printf("built pgbench tables at scale %d in %v\n", scale, time.Since(start).Round(time.Second))

	c := pg.Conn(b, name)
	mustExec(ctx, b, c, "CREATE EXTENSION IF NOT EXISTS pgcrypto")
	mustExec(ctx, b, c, "CREATE TABLE bench_random (id bigserial PRIMARY KEY, payload text NOT NULL)")
	perRow := int64(1100) // refined after the first batch
	for {
		size := dbSize(ctx, b, c)
		if size >= target {
			break
		}
		rows := min(int64(randomBatch), (target-size+perRow-1)/perRow)
		before := size
		mustExec(ctx, b, c, fmt.Sprintf(
			"INSERT INTO bench_random (payload) SELECT encode(gen_random_bytes(768), 'base64') FROM generate_series(1, %d)", rows))
		if grown := dbSize(ctx, b, c) - before; grown > 0 {
			perRow = max(1, grown/rows)
		}
	}
	mustExec(ctx, b, c, "VACUUM (FREEZE, ANALYZE) bench_random")
	mustExec(ctx, b, c, "CREATE TABLE bench_marker (target_bytes bigint NOT NULL, built_at timestamptz NOT NULL DEFAULT now())")
	mustExec(ctx, b, c, fmt.Sprintf("INSERT INTO bench_marker (target_bytes) VALUES (%d)", target))
	mustExec(ctx, b, admin, "CHECKPOINT")
	fmt.Printf("built database %s (%s) in %v\n", name, mib(dbSize(ctx, b, c)), time.Since(start).Round(time.Second))
	return name
}

// builtFor returns the size database name was built for, or 0 when it does
// not exist or its build did not finish.
func builtFor(ctx context.Context, b *testing.B, pg *harness.Postgres, admin *pgx.Conn, name string) int64 {
	b.Helper()
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		b.Fatalf("looking for database %s: %v", name, err)
	}
	if n == 0 {
		return 0
	}
	c := pg.Conn(b, name)
	var target int64
	err := c.QueryRow(ctx, "SELECT coalesce((SELECT max(target_bytes) FROM bench_marker), 0) WHERE to_regclass('bench_marker') IS NOT NULL").Scan(&target)
	if err != nil {
		return 0 // no marker table: an unfinished build
	}
	return target
}

// dbSize returns pg_database_size of c's database.
func dbSize(ctx context.Context, b *testing.B, c *pgx.Conn) int64 {
	b.Helper()
	var n int64
	if err := c.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n); err != nil {
		b.Fatalf("reading the database size: %v", err)
	}
	return n
}

// mustExec runs sql on c, failing b on error.
func mustExec(ctx context.Context, b *testing.B, c *pgx.Conn, sql string) {
	b.Helper()
	if _, err := c.Exec(ctx, sql); err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
}
