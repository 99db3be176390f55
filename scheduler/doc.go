// Package scheduler is the daemon: it takes backups on a schedule, one
// database at a time, and reports what it did.
//
// A backup job (Job) streams pg_dump through zstd and age into a multipart
// upload and commits the manifest last; it never writes a temporary file and
// never lists a backup that failed. The package does not parse configuration
// and does not exit the process: the caller builds it from a typed config and
// decides the exit status.
package scheduler
