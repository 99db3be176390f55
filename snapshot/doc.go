// Package snapshot talks to PostgreSQL for pgtier: it checks the server
// (version, system identifier, recovery state, size), lists the databases to
// back up, finds a pg_dump, pg_dumpall and pg_restore that can handle the
// server, runs them as byte streams, and creates or drops restore targets.
//
// It knows nothing of storage, encryption or scheduling: a dump is an
// io.Reader of a pg_dump custom archive and a restore consumes one. SQL goes
// through pgx; the tools run as child processes that get their connection
// settings only from Conn (never from the daemon's own PG* environment) and
// never write to temporary files.
//
// Passwords never appear in errors or in Conn.String. Errors from the tools
// carry the exit status and the last lines the tool wrote to stderr; those
// lines may quote SQL or, for a failed COPY, a value of the row that failed.
package snapshot
