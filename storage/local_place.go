package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// localInfo is the ObjectInfo of the file of key.
func localInfo(key string, st fs.FileInfo) ObjectInfo {
	return ObjectInfo{Key: key, Size: st.Size(), LastModified: st.ModTime(), ETag: localETag(st)}
}

// localETag is the ETag of a file: a digest of its device, inode, size and
// modification time (see Local).
func localETag(st fs.FileInfo) string {
	h := sha256.New()
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		fmt.Fprintf(h, "%d %d ", sys.Dev, sys.Ino)
	}
	fmt.Fprintf(h, "%d %d", st.Size(), st.ModTime().UnixNano())
	return `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

// place moves the finished temporary file to p, under the directory's lock,
// if o's condition holds, and syncs the directory.
func (l *Local) place(tmp, p string, o PutOptions) error {
	dir := filepath.Dir(p)
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	switch {
	case o.IfNoneMatch:
		if err := os.Link(tmp, p); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return ErrExists
			}
			return err
		}
		if err := os.Remove(tmp); err != nil {
			return err
		}
		return syncDir(dir)
	case o.IfMatch != "":
		st, err := os.Stat(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err != nil || !st.Mode().IsRegular() || !sameETag(localETag(st), o.IfMatch) {
			return fmt.Errorf("current object's ETag is not %s: %w", o.IfMatch, ErrPrecondition)
		}
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	return syncDir(dir)
}

// lockDir takes an exclusive flock(2) on dir and returns its release.
func lockDir(dir string) (func(), error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() { _ = d.Close() }, nil // closing releases the lock
}
