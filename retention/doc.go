// Package retention decides which backups are kept and which are deleted.
//
// It is a pure calculation: it does no I/O, reads no clock and keeps no
// state. The caller passes the backups it listed, the policy it loaded and the
// current time, and gets back decisions that each carry a human reason.
// Applying a plan (deleting manifests, then data) is the caller's job, and so
// is converting the configuration into a Policy: the package imports nothing
// else of pgtier.
//
// Tiers are base, daily, weekly and monthly. Every backup is base; Promote
// adds the other tiers when a backup starts, by calendar day, ISO week and
// calendar month in the policy's time zone. Windows turns a backup's tiers
// into its lock date, expiry date and storage class. Plan prunes, under four
// safety rules that can refuse a plan as a whole. Simulate replays a
// schedule to show what a policy keeps.
package retention
