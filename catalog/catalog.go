package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgtier/pgtier/storage"
)

// Store is what the catalog needs of an object store.
type Store interface {
	// Put streams r to key; on any error no object is left behind.
	Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.ObjectInfo, error)
	// Get opens one version of an object (the current one when versionID is
	// empty); storage.ErrNotFound when there is none.
	Get(ctx context.Context, key, versionID string) (io.ReadCloser, storage.ObjectInfo, error)
	// List returns every object under prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]storage.ObjectInfo, error)
}

// ErrNoBackup is returned when no backup matches a request.
var ErrNoBackup = errors.New("no such backup")

// maxManifestBytes bounds what is read of one manifest.
const maxManifestBytes = 4 << 20

// Catalog reads and writes the backups of one cluster in one environment.
// It is safe for concurrent use.
type Catalog struct {
	store   Store
	layout  Layout
	logger  *slog.Logger
	signing Signing
}

// New returns the catalog of cluster in environment, kept in store.
func New(store Store, layout Layout, logger *slog.Logger) *Catalog {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Catalog{store: store, layout: layout, logger: logger}
}

// WithSigning returns a catalog that signs the manifests it commits and
// checks the signature of every manifest it reads: a manifest that is
// unsigned, altered or signed by an untrusted key is not a backup (List
// leaves it out with a warning, Get refuses it).
func (c *Catalog) WithSigning(s Signing) *Catalog {
	out := *c
	out.signing = s
	return &out
}

// Layout returns where the catalog keeps its objects.
func (c *Catalog) Layout() Layout { return c.layout }

// PutData streams a backup's data object. It is step 2 of the commit
// protocol: until Commit writes the manifest, the object is not a backup.
func (c *Catalog) PutData(ctx context.Context, database, id string, r io.Reader, o storage.PutOptions) (storage.ObjectInfo, error) {
	key := c.layout.DataKey(database, id)
	info, err := c.store.Put(ctx, key, r, o)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("uploading %s: %w", key, err)
	}
	return info, nil
}

// Commit writes the manifest, once: the backup exists from now on. It fails
// with storage.ErrExists when a manifest with that id is already there.
func (c *Catalog) Commit(ctx context.Context, m *Manifest) error {
	if err := m.check(); err != nil {
		return fmt.Errorf("refusing to commit backup %s: %w", m.ID, err)
	}
	if err := c.signing.sign(m); err != nil {
		return err
	}
	data, err := m.Encode()
	if err != nil {
		return err
	}
	key := c.layout.ManifestKey(m.Database, m.ID)
	o := storage.PutOptions{
		SizeHint:    int64(len(data)),
		ContentType: "application/json",
		IfNoneMatch: true,
		LockMode:    m.LockMode,
		LockUntil:   m.LockUntil,
	}
	if _, err := c.store.Put(ctx, key, bytes.NewReader(data), o); err != nil {
		return fmt.Errorf("writing manifest %s: %w", key, err)
	}
	return nil
}

// Get reads the manifest of one backup; ErrNoBackup when there is none.
func (c *Catalog) Get(ctx context.Context, database, id string) (*Manifest, error) {
	if _, err := ParseID(id); err != nil {
		return nil, err
	}
	key := c.layout.ManifestKey(database, id)
	m, err := c.read(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s of database %s in %s", ErrNoBackup, id, database, c.layout.ClusterPrefix())
	}
	return m, err
}

func (c *Catalog) read(ctx context.Context, key string) (*Manifest, error) {
	body, _, err := c.store.Get(ctx, key, "")
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxManifestBytes))
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", key, err)
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	if want := c.layout.ManifestKey(m.Database, m.ID); want != key || m.Environment != c.layout.Environment || m.Cluster != c.layout.Cluster {
		return nil, fmt.Errorf("manifest %s: %w: it describes %s", key, ErrInvalidManifest, want)
	}
	if err := c.signing.verify(m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	return m, nil
}

// List returns the backups of one database, oldest first. A manifest that
// cannot be read or decoded is logged and left out: it is not a backup.
func (c *Catalog) List(ctx context.Context, database string) ([]*Manifest, error) {
	objects, err := c.store.List(ctx, c.layout.DatabasePrefix(database))
	if err != nil {
		return nil, fmt.Errorf("listing backups of %s: %w", database, err)
	}
	var keys []string
	for _, o := range objects {
		if _, _, ok := c.layout.splitManifestKey(o.Key); ok {
			keys = append(keys, o.Key)
		}
	}
	out := make([]*Manifest, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, key := range keys {
		g.Go(func() error {
			m, err := c.read(gctx, key)
			if errors.Is(err, ErrInvalidManifest) {
				c.logger.Warn("skipping a manifest that is not a valid backup", "key", key, "error", err)
				return nil
			}
			out[i] = m
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out = slices.DeleteFunc(out, func(m *Manifest) bool { return m == nil })
	slices.SortFunc(out, func(a, b *Manifest) int { return a.TakenAt.Compare(b.TakenAt) })
	return out, nil
}

// Databases returns the databases that have objects in the cluster, sorted.
func (c *Catalog) Databases(ctx context.Context) ([]string, error) {
	objects, err := c.store.List(ctx, c.layout.ClusterPrefix())
	if err != nil {
		return nil, fmt.Errorf("listing databases: %w", err)
	}
	var out []string
	for _, o := range objects {
		if db, _, ok := c.layout.splitManifestKey(o.Key); ok && !slices.Contains(out, db) {
			out = append(out, db)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Orphan is a data object that has no manifest.
type Orphan struct {
	Database, ID string
	storage.ObjectInfo
}

// Orphans returns the data objects of the cluster that no manifest commits.
func (c *Catalog) Orphans(ctx context.Context) ([]Orphan, error) {
	objects, err := c.store.List(ctx, c.layout.ClusterPrefix())
	if err != nil {
		return nil, fmt.Errorf("listing orphans: %w", err)
	}
	manifests := map[string]bool{}
	for _, o := range objects {
		if strings.HasSuffix(o.Key, manifestSuffix) {
			manifests[o.Key] = true
		}
	}
	var out []Orphan
	for _, o := range objects {
		db, id, ok := c.layout.splitDataKey(o.Key)
		if ok && !manifests[c.layout.ManifestKey(db, id)] {
			out = append(out, Orphan{Database: db, ID: id, ObjectInfo: o})
		}
	}
	return out, nil
}

// Open streams a backup's data object, exactly the version the manifest names.
func (c *Catalog) Open(ctx context.Context, m *Manifest) (io.ReadCloser, error) {
	body, _, err := c.store.Get(ctx, m.Object.Key, m.Object.VersionID)
	if err != nil {
		return nil, fmt.Errorf("opening backup %s of %s: %w", m.ID, m.Database, err)
	}
	return body, nil
}

// Latest returns the newest backup of database, or the newest taken at or
// before at when at is not zero.
func Latest(backups []*Manifest, at time.Time) (*Manifest, error) {
	for i := len(backups) - 1; i >= 0; i-- {
		if at.IsZero() || !backups[i].TakenAt.After(at) {
			return backups[i], nil
		}
	}
	if at.IsZero() {
		return nil, fmt.Errorf("%w: the database has no backups yet", ErrNoBackup)
	}
	return nil, fmt.Errorf("%w: none taken at or before %s", ErrNoBackup, at.UTC().Format(time.RFC3339))
}
