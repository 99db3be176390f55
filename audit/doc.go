// Package audit is the append-only log of access to backup contents: every
// restore, download and verify writes a begin record before it reads a byte
// of a backup, and an end record with the outcome and byte count when it
// ends.
//
// # Layout
//
// Records are JSON objects, one per object, at
//
//	<environment>/audit/<20-digit zero-padded sequence>.json
//
// relative to the store's prefix (see Key). Sequences start at 1 and have no
// gaps. Each record holds the SHA-256 (hex) of the exact stored bytes of the
// record before it in prev_sha256; record 1 holds "". A record is written
// once, with a conditional put (If-None-Match: *), so two writers can never
// both own a sequence number: one wins, the other re-reads the head and
// appends on top. With Options.LockMode the records are also written with an
// object-lock retention.
//
// # No record, no access
//
// Log.Append returns an error whenever it cannot tell that the record was
// written; callers must then refuse to read the backup. (A put that failed
// in transit may still have landed: such a begin record stays without an
// end and counts as incomplete.) Errors of the store wrap
// ErrUnavailable; a record that fails validation (missing fields, something
// that looks like a password) wraps ErrInvalidRecord and is never written.
//
// # What the chain proves and what it does not
//
// Log.Verify reads every record and checks numbering, hashes, strict
// decoding and that each end record closes an earlier begin record of the
// same backup. Altering a record's bytes breaks the hash its successor holds,
// and Verify names the first bad sequence. The newest record has no
// successor: an alteration of it, or the removal of the newest records (a
// delete marker on a versioned bucket), cannot be seen in the chain alone.
// A Log remembers the newest record it wrote or verified and Verify checks
// that it is still there with the same bytes, which covers a long-running
// reader such as the daemon. Beyond that the bucket keeps the evidence: with
// versioning and object lock an overwrite only adds a new current version
// and the original stays, locked; a bucket policy that requires conditional
// writes (s3:if-none-match) on the audit prefix refuses the overwrite, and
// one that grants no delete refuses the delete marker.
//
// The package does not decide who may restore, does not redact (callers pass
// redacted targets and errors; Append refuses what still looks like a
// secret) and does not export metrics: Summarize gives the daemon the
// numbers.
package audit
