package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// tmpMarker is in the name of every Local temporary file, and may not be in
// a key.
const tmpMarker = ".pgtier-upload-"

// Local is a Store on a local directory: each key is a file under it. It
// has no versions (VersionID is always empty), no object lock (LockMode and
// LockUntil are ignored: nothing stops a delete, so file:// gives no
// immutability) and no storage classes.
//
// Put writes a temporary file "." + name + tmpMarker + random next to the
// target, fsyncs it, renames it into place and fsyncs the directory, so a
// crash leaves either the old object, the new one, or a temporary file;
// ListUploads reports those and AbortUpload removes them. With
// IfNoneMatch, the temporary file is hard-linked to the target instead of
// renamed: link(2) fails when the target exists, so of two concurrent puts
// exactly one wins. Safe for concurrent use, also across processes.
//
// A Local object's ETag is not a content hash: it is a digest of the file's
// device, inode, size and modification time, which Put sets from the clock
// to the nanosecond, so every put makes a new ETag, even of the same bytes,
// and reading it costs a stat, not a read of the file. Puts and deletes take
// an exclusive flock(2) on the key's directory while they move the file into
// place or remove it; a put with IfMatch compares the current file's ETag
// under that lock, so it is atomic with respect to every other put and
// delete in the directory. The guarantee holds between the processes of one
// host on a local file system; on a network file system, or between hosts,
// it does not.
type Local struct {
	root string
}

// NewLocal returns the store on dir, an absolute path to an existing
// directory. It does not create dir: a missing mount must not turn into
// backups on the root file system.
func NewLocal(dir string) (*Local, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("storage directory %q must be an absolute path", dir)
	}
	dir = filepath.Clean(dir)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("storage directory %s: %w (create it, owned by the backup user)", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("storage directory %s is not a directory", dir)
	}
	return &Local{root: dir}, nil
}

// String returns file:// and the directory.
func (l *Local) String() string { return "file://" + filepath.ToSlash(l.root) }

// path returns the file of key, after checking the key.
func (l *Local) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if strings.Contains(key, tmpMarker) {
		return "", fmt.Errorf("invalid object key %q: %q is reserved", key, tmpMarker)
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

func (l *Local) name(key string) string { return l.String() + "/" + key }

// Put writes r to a temporary file and moves it into place (see Local).
func (l *Local) Put(ctx context.Context, key string, r io.Reader, o PutOptions) (ObjectInfo, error) {
	p, err := l.path(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	if _, err := checkLock(o); err != nil {
		return ObjectInfo{}, fmt.Errorf("putting %s: %w", l.name(key), err)
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ObjectInfo{}, fmt.Errorf("putting %s: %w", l.name(key), err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+tmpMarker+"*")
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("putting %s: %w", l.name(key), err)
	}
	tmp := f.Name()
	_, err = l.write(ctx, f, r)
	var st fs.FileInfo
	if err == nil {
		// The temporary file becomes the object: rename keeps its inode
		// and times, so its stat is the object's.
		st, err = os.Stat(tmp)
	}
	if err == nil {
		err = l.place(tmp, p, o)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return ObjectInfo{}, fmt.Errorf("putting %s: %w", l.name(key), err)
	}
	return localInfo(key, st), nil
}

// write copies r into f, sets its modification time from the clock to the
// nanosecond (the ETag depends on it), syncs and closes f.
func (l *Local) write(ctx context.Context, f *os.File, r io.Reader) (int64, error) {
	n, err := io.CopyBuffer(fileWriter{f}, readerOnly{ctxReader{ctx, r}}, make([]byte, mib))
	if err != nil {
		_ = f.Close()
		var we writeError
		if errors.As(err, &we) {
			return n, we.err
		}
		return n, contextFirst(ctx, readerError{err})
	}
	now := time.Now()
	if err := os.Chtimes(f.Name(), now, now); err != nil {
		_ = f.Close()
		return n, err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return n, err
	}
	return n, f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// fileWriter tells write errors apart from read errors in io.Copy.
type fileWriter struct{ f *os.File }

func (w fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = writeError{err}
	}
	return n, err
}

type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }

// readerOnly hides WriterTo, so that io.CopyBuffer goes through Read and
// fileWriter.
type readerOnly struct{ io.Reader }

// Get opens the file; versionID must be empty.
func (l *Local) Get(ctx context.Context, key, versionID string) (io.ReadCloser, ObjectInfo, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	if versionID != "" {
		return nil, ObjectInfo{}, fmt.Errorf("getting version %s of %s: %w (file storage has no versions)", versionID, l.name(key), ErrNotFound)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("getting %s: %w", l.name(key), notFound(err))
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, ObjectInfo{}, fmt.Errorf("getting %s: %w", l.name(key), ErrNotFound)
	}
	return f, localInfo(key, st), nil
}

// Stat reads the file's size and time; versionID must be empty.
func (l *Local) Stat(ctx context.Context, key, versionID string) (ObjectInfo, error) {
	p, err := l.path(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	if versionID != "" {
		return ObjectInfo{}, fmt.Errorf("reading metadata of version %s of %s: %w (file storage has no versions)", versionID, l.name(key), ErrNotFound)
	}
	st, err := os.Stat(p)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("reading metadata of %s: %w", l.name(key), notFound(err))
	}
	if !st.Mode().IsRegular() {
		return ObjectInfo{}, fmt.Errorf("reading metadata of %s: %w", l.name(key), ErrNotFound)
	}
	return localInfo(key, st), nil
}

// notFound maps a missing file (or a file where a directory was expected)
// to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// List walks the directory; temporary files are not listed.
func (l *Local) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var infos []ObjectInfo
	err := l.walk(ctx, prefix, func(key string, st fs.FileInfo) {
		if !strings.Contains(key, tmpMarker) {
			infos = append(infos, localInfo(key, st))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", l.name(prefix), err)
	}
	slices.SortFunc(infos, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return infos, nil
}

// walk calls fn for every regular file whose key starts with prefix.
func (l *Local) walk(ctx context.Context, prefix string, fn func(key string, st fs.FileInfo)) error {
	start := l.root
	if i := strings.LastIndex(prefix, "/"); i > 0 {
		start = filepath.Join(l.root, filepath.FromSlash(filepath.Clean(prefix[:i])))
		if !strings.HasPrefix(start, l.root+string(filepath.Separator)) {
			return fmt.Errorf("invalid prefix %q", prefix)
		}
	}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if p != start && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		st, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		if err != nil {
			return err
		}
		fn(key, st)
		return nil
	})
	return err
}
