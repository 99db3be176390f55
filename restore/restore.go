package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/crypto"
	"github.com/pgtier/pgtier/snapshot"
)

// Source opens the data object a manifest names.
type Source interface {
	Open(ctx context.Context, m *catalog.Manifest) (io.ReadCloser, error)
}

// ErrTargetExists is returned when the target database already exists and
// the caller did not ask to restore into an existing database.
var ErrTargetExists = errors.New("target database exists")

// ErrGlobalsNeedFile is returned when the globals are restored into a
// database: they are SQL for psql, not an archive for pg_restore.
var ErrGlobalsNeedFile = errors.New("the globals are a SQL script: restore them with --output FILE, then psql -f FILE")

// Restorer reads backups back. Its fields are set once; it is safe for
// concurrent use when Progress is.
type Restorer struct {
	Source     Source
	Identities []age.Identity
	// IdentityFile and IdentityKeys (the identities' public keys) name the
	// identities in the message when none of them can decrypt a backup.
	IdentityFile string
	IdentityKeys []string
	Tools        snapshot.Tools
	// Progress, when set, is called with the object size before the first
	// byte and returns a function told of every stored byte read.
	Progress func(total int64) func(n int64)
	Logger   *slog.Logger
}

// stream is a backup opened for reading: plain yields the pg_dump archive,
// check verifies the stored bytes once plain is drained.
type stream struct {
	plain io.Reader
	check *checked
	close func()
}

// open fetches the object and reads the age header, so a wrong identity
// fails here, before anything is created.
func (r *Restorer) open(ctx context.Context, m *catalog.Manifest) (*stream, error) {
	body, err := r.Source.Open(ctx, m)
	if err != nil {
		return nil, err
	}
	var progress func(int64)
	if r.Progress != nil {
		progress = r.Progress(m.StoredBytes)
	}
	chk := newChecked(body, m.StoredBytes, m.SHA256, progress)
	dec, err := crypto.Decrypt(chk, r.Identities)
	if err != nil {
		body.Close()
		err = crypto.ExplainNoIdentity(err, r.IdentityFile, r.IdentityKeys, m.Encryption.Recipients)
		return nil, fmt.Errorf("decrypting backup %s of %s: %w", m.ID, m.Database, err)
	}
	zr, err := crypto.Decompress(dec)
	if err != nil {
		body.Close()
		return nil, fmt.Errorf("decompressing backup %s: %w", m.ID, err)
	}
	return &stream{plain: zr, check: chk, close: func() { zr.Close(); body.Close() }}, nil
}

// finish drains what the consumer left unread, so that age authenticates the
// last chunk and the SHA-256 of the whole object is checked.
func (s *stream) finish() error {
	if _, err := io.Copy(io.Discard, s.plain); err != nil {
		return err
	}
	return s.check.finish()
}

// Write streams the plaintext archive of m into w and returns its size. The
// caller must discard what was written when it returns an error.
func (r *Restorer) Write(ctx context.Context, m *catalog.Manifest, w io.Writer) (int64, error) {
	s, err := r.open(ctx, m)
	if err != nil {
		return 0, err
	}
	defer s.close()
	n, err := io.Copy(w, ctxReader{ctx, s.plain})
	if err != nil {
		return n, fmt.Errorf("restoring backup %s: %w", m.ID, err)
	}
	if err := s.finish(); err != nil {
		return n, fmt.Errorf("restoring backup %s: %w", m.ID, err)
	}
	return n, nil
}

// ToFile writes the plaintext archive of m to path: to a temporary file
// beside it, renamed into place only when the whole object checked out. A
// path that is not a regular file (a device, a pipe, "-" for stdout) is
// written directly.
func (r *Restorer) ToFile(ctx context.Context, m *catalog.Manifest, path string) (int64, error) {
	if path == "-" {
		return r.Write(ctx, m, os.Stdout)
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return 0, fmt.Errorf("opening output: %w", err)
		}
		n, err := r.Write(ctx, m, f)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing output: %w", cerr)
		}
		return n, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return 0, fmt.Errorf("creating output: %w", err)
	}
	n, err := r.Write(ctx, m, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return n, fmt.Errorf("writing %s: %w", path, err)
	}
	return n, nil
}

// DBOptions shape a restore into a database.
type DBOptions struct {
	// Maintenance is the database to connect to when creating or dropping
	// the target ("postgres" when empty).
	Maintenance string
	// IntoExisting restores into a database that already exists, in one
	// transaction; without it an existing target is refused.
	IntoExisting bool
	NoOwner      bool
	NoPrivileges bool
}

// ToDatabase restores m into target.Database, which it creates. On any
// failure, a database it created is dropped again.
func (r *Restorer) ToDatabase(ctx context.Context, m *catalog.Manifest, target snapshot.Conn, o DBOptions) (n int64, err error) {
	if m.Database == catalog.GlobalsDatabase {
		return 0, ErrGlobalsNeedFile
	}
	admin := target
	admin.Database = o.Maintenance
	if admin.Database == "" {
		admin.Database = "postgres"
	}
	exists, err := snapshot.DatabaseExists(ctx, admin, target.Database)
	if err != nil {
		return 0, err
	}
	if exists && !o.IntoExisting {
		return 0, fmt.Errorf("%w: %s; name a new database (it is created for the restore) or pass --into-existing", ErrTargetExists, target.Database)
	}
	s, err := r.open(ctx, m)
	if err != nil {
		return 0, err
	}
	defer s.close()
	if !exists {
		if err := snapshot.CreateDatabase(ctx, admin, target.Database); err != nil {
			return 0, err
		}
		defer func() {
			if err != nil {
				r.drop(admin, target.Database)
			}
		}()
	}
	plain := &countingReader{r: ctxReader{ctx, s.plain}}
	err = snapshot.Restore(ctx, r.Tools, target, plain, snapshot.RestoreOptions{
		NoOwner:           o.NoOwner,
		NoPrivileges:      o.NoPrivileges,
		SingleTransaction: exists,
	})
	if err == nil {
		err = s.finish()
	}
	if err != nil {
		return plain.n, fmt.Errorf("restoring backup %s into %s: %w", m.ID, target.Database, err)
	}
	return plain.n, nil
}

// drop removes a database the restore created; it runs even when the
// restore's context was cancelled.
func (r *Restorer) drop(admin snapshot.Conn, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := snapshot.DropDatabase(ctx, admin, name); err != nil {
		r.logger().Error("could not drop the database the failed restore created; drop it by hand", "database", name, "error", err)
		return
	}
	r.logger().Info("dropped the database the failed restore created", "database", name)
}

func (r *Restorer) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ctxReader stops a copy when its context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
