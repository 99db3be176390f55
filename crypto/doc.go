// Package crypto holds the stream transforms and key handling of a pgtier
// backup: zstd compression and age encryption to public keys, and the reverse
// for restores.
//
// A backup object is a plain stack of standard formats, written as
//
//	Encrypt(Compress(dump)) = age(zstd(pg_dump -Fc -Z0))
//
// so an operator holding an identity can recover it with stock tools:
//
//	age -d -i key.txt X.dump.zst.age | zstd -d | pg_restore -d target
//
// Each transform wraps an io.Writer and returns an io.WriteCloser whose Close
// flushes what is buffered and never closes the wrapped writer; stacked
// writers are closed innermost first. Readers work the other way round.
//
// Key files are parsed here: recipients files (public keys, the only keys the
// daemon may hold) and identity files (an operator's secret keys). Their
// errors are one line naming the file, the line and the fix, and never echo
// secret key material.
//
// Manifests are signed here too, with ed25519: the daemon holds a signing
// key, backupctl the verify keys (several, for rotation); see Sign and
// Verify.
//
// The package does not read configuration or talk to storage; it holds no
// state between calls.
package crypto
