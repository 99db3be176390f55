// Package restore reads a backup back: it checks the object against its
// manifest as the bytes flow, decrypts and decompresses it, and feeds
// pg_restore or a file.
//
// A restore into a database goes into a new database that this package
// creates, and drops again on any failure, so an operator never finds a
// half-restored database. Restoring over an existing database is possible
// only when asked for, in one transaction.
//
// The package does not choose which backup to restore and does not audit:
// its caller does both before calling it.
package restore
