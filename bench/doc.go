// Package bench measures pgtier against the tools it wraps, on a database of
// a chosen size in the test harness's PostgreSQL and MinIO: a bare pg_dump,
// a hand-made pg_dump | zstd | age | aws s3 cp pipeline, backupd --once,
// and pg_restore from a local file against backupctl restore. It holds only
// a benchmark (bench_test.go); README.md says how to run it and what it
// prints. Nothing here is part of pgtier's programs.
package bench
