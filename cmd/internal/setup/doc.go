// Package setup builds pgtier's parts from a loaded configuration, for the
// two commands. It holds the wiring both need (logger, store, Postgres
// connection, keys) and the mapping from errors to exit statuses; it holds no
// logic of its own.
package setup
