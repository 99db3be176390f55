// Package catalog names the objects of a backup and keeps the commit protocol.
//
// A backup is a data object (a pg_dump custom archive, zstd-compressed and
// age-encrypted) and a manifest that describes it. The data object is written
// first; the manifest is written last, once, with a conditional put. A backup
// exists if and only if its manifest exists, so a backup that failed half-way
// leaves at most an orphan data object, which is never listed and which prune
// removes later.
//
// The catalog does not talk to Postgres, does not encrypt and does not decide
// retention: it only knows keys, manifests and the order of writes.
package catalog
