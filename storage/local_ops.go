package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Delete removes the file, under its directory's lock (see Local). A
// missing key is not an error. Empty directories are left in place.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	unlock, err := lockDir(filepath.Dir(p))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil // no directory, no file
	}
	if err != nil {
		return fmt.Errorf("deleting %s: %w", l.name(key), err)
	}
	defer unlock()
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting %s: %w", l.name(key), err)
	}
	return nil
}

// DeleteVersion with an empty versionID deletes the file, since a Local
// object's only version has no id; any other id is ErrNotFound.
func (l *Local) DeleteVersion(ctx context.Context, key, versionID string) error {
	if versionID != "" {
		if _, err := l.path(key); err != nil {
			return err
		}
		return fmt.Errorf("deleting version %s of %s: %w (file storage has no versions)", versionID, l.name(key), ErrNotFound)
	}
	return l.Delete(ctx, key)
}

// ListUploads returns the temporary files of puts that have not finished,
// whether they are still running or died. UploadID is the temporary file's
// path relative to the directory.
func (l *Local) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	var ups []Upload
	err := l.walk(ctx, "", func(rel string, st fs.FileInfo) {
		key, ok := uploadKey(rel)
		if ok && strings.HasPrefix(key, prefix) {
			ups = append(ups, Upload{Key: key, UploadID: rel, Initiated: st.ModTime()})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing incomplete uploads in %s: %w", l.name(prefix), err)
	}
	slices.SortFunc(ups, func(a, b Upload) int { return strings.Compare(a.UploadID, b.UploadID) })
	return ups, nil
}

// uploadKey returns the key a temporary file was meant for.
func uploadKey(rel string) (string, bool) {
	dir, base := path.Split(rel)
	name, _, ok := strings.Cut(base, tmpMarker)
	if !ok || !strings.HasPrefix(name, ".") || len(name) < 2 {
		return "", false
	}
	return dir + name[1:], true
}

// AbortUpload removes the temporary file u.UploadID; ErrNotFound when it is
// gone.
func (l *Local) AbortUpload(ctx context.Context, u Upload) error {
	key, ok := uploadKey(u.UploadID)
	if !ok || key != u.Key || CheckKey(u.UploadID) != nil {
		return fmt.Errorf("aborting upload %q of %s: not an upload of this store", u.UploadID, l.name(u.Key))
	}
	if err := os.Remove(filepath.Join(l.root, filepath.FromSlash(u.UploadID))); err != nil {
		return fmt.Errorf("aborting upload %q of %s: %w", u.UploadID, l.name(u.Key), notFound(err))
	}
	return nil
}

// ServerTime returns the local clock: the directory has no other.
func (l *Local) ServerTime(ctx context.Context) (time.Time, error) { return time.Now(), nil }
