package catalog

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// IDLayout is the time layout of a backup id: the UTC start of the snapshot.
const IDLayout = "20060102T150405Z"

// GlobalsDatabase is the pseudo-database under which the cluster's roles and
// tablespaces (pg_dumpall --globals-only) are kept.
const GlobalsDatabase = "_globals"

const (
	manifestSuffix = ".manifest.json"
	dumpSuffix     = ".dump.zst.age"
	globalsSuffix  = ".sql.zst.age"
)

// NewID returns the backup id for a snapshot started at t.
func NewID(t time.Time) string {
	return t.UTC().Format(IDLayout)
}

// ParseID returns the start time encoded in a backup id. Only the id that
// NewID gives for that time is accepted: no fractional seconds.
func ParseID(id string) (time.Time, error) {
	t, err := time.Parse(IDLayout, id)
	if err != nil || NewID(t) != id {
		return time.Time{}, fmt.Errorf("backup id %q is not of the form 20261121T060000Z", id)
	}
	return t, nil
}

// Layout places objects in the store. Keys are relative to the store's own
// prefix: <environment>/<cluster>/<database>/<id>.<suffix>.
type Layout struct {
	Environment string
	Cluster     string
}

// ClusterPrefix is the prefix that holds every database of the cluster.
func (l Layout) ClusterPrefix() string {
	return l.Environment + "/" + l.Cluster + "/"
}

// DatabasePrefix is the prefix that holds the backups of one database.
func (l Layout) DatabasePrefix(database string) string {
	return l.ClusterPrefix() + database + "/"
}

// DataKey is the key of a backup's data object.
func (l Layout) DataKey(database, id string) string {
	if database == GlobalsDatabase {
		return l.DatabasePrefix(database) + id + globalsSuffix
	}
	return l.DatabasePrefix(database) + id + dumpSuffix
}

// ManifestKey is the key of a backup's manifest.
func (l Layout) ManifestKey(database, id string) string {
	return l.DatabasePrefix(database) + id + manifestSuffix
}

// splitManifestKey returns the database and id named by a manifest key under
// the cluster prefix, and false for any other key.
func (l Layout) splitManifestKey(key string) (database, id string, ok bool) {
	rest, found := strings.CutPrefix(key, l.ClusterPrefix())
	if !found || !strings.HasSuffix(rest, manifestSuffix) {
		return "", "", false
	}
	database, file := path.Split(rest)
	database = strings.TrimSuffix(database, "/")
	if database == "" || strings.Contains(database, "/") {
		return "", "", false
	}
	id = strings.TrimSuffix(file, manifestSuffix)
	if _, err := ParseID(id); err != nil {
		return "", "", false
	}
	return database, id, true
}

// splitDataKey returns the database and id named by a data key under the
// cluster prefix, and false for any other key.
func (l Layout) splitDataKey(key string) (database, id string, ok bool) {
	rest, found := strings.CutPrefix(key, l.ClusterPrefix())
	if !found {
		return "", "", false
	}
	database, file := path.Split(rest)
	database = strings.TrimSuffix(database, "/")
	suffix := dumpSuffix
	if database == GlobalsDatabase {
		suffix = globalsSuffix
	}
	if database == "" || strings.Contains(database, "/") || !strings.HasSuffix(file, suffix) {
		return "", "", false
	}
	id = strings.TrimSuffix(file, suffix)
	if _, err := ParseID(id); err != nil {
		return "", "", false
	}
	return database, id, true
}
