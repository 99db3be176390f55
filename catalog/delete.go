package catalog

import (
	"context"
	"fmt"
)

// Deleter is what deleting backups needs of a store.
type Deleter interface {
	// Delete removes the current version of key (on a versioned bucket it
	// adds a delete marker); deleting a missing key is not an error. A
	// version still under object lock fails with storage.ErrLocked.
	Delete(ctx context.Context, key string) error
}

// Delete removes a backup in the order that never lists a backup without its
// data: the manifest first, so the backup stops existing, then the data
// object. A failure between the two leaves an orphan, which a later prune
// removes.
func (c *Catalog) Delete(ctx context.Context, d Deleter, m *Manifest) error {
	key := c.layout.ManifestKey(m.Database, m.ID)
	if err := d.Delete(ctx, key); err != nil {
		return fmt.Errorf("deleting manifest %s: %w", key, err)
	}
	if err := d.Delete(ctx, m.Object.Key); err != nil {
		return fmt.Errorf("deleting data %s (its manifest is gone; prune removes it later): %w", m.Object.Key, err)
	}
	return nil
}

// DeleteOrphan removes a data object that no manifest commits.
func (c *Catalog) DeleteOrphan(ctx context.Context, d Deleter, o Orphan) error {
	if err := d.Delete(ctx, o.Key); err != nil {
		return fmt.Errorf("deleting orphan %s: %w", o.Key, err)
	}
	return nil
}
