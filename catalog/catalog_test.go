package catalog

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgtier/pgtier/storage"
)

var testLayout = Layout{Environment: "production", Cluster: "main"}

func sample(db string, taken time.Time) *Manifest {
	id := NewID(taken)
	return &Manifest{
		Format: Format, ID: id, Environment: "production", Cluster: "main", Database: db,
		Method: MethodPgDump, TakenAt: taken, FinishedAt: taken.Add(time.Minute),
		Tiers: []string{"base"}, LockMode: "COMPLIANCE", LockUntil: taken.Add(48 * time.Hour),
		ExpiresAt: taken.Add(120 * time.Hour), RawBytes: 100, StoredBytes: 5,
		SHA256: strings.Repeat("ab", 32),
		Object: Object{Key: testLayout.DataKey(db, id), VersionID: "v1"},
	}
}

func commit(t *testing.T, c *Catalog, m *Manifest) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.PutData(ctx, m.Database, m.ID, strings.NewReader("data"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
}

func TestCommitListGet(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory()
	c := New(store, testLayout, nil)
	t0 := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	commit(t, c, sample("app", t0.Add(6*time.Hour)))
	commit(t, c, sample("app", t0))
	commit(t, c, sample("billing", t0))

	got, err := c.List(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "20261121T060000Z" || got[1].ID != "20261121T120000Z" {
		t.Fatalf("List(app) = %v, want the two app backups oldest first", ids(got))
	}
	dbs, err := c.Databases(ctx)
	if err != nil || strings.Join(dbs, ",") != "app,billing" {
		t.Fatalf("Databases = %v, %v; want app,billing", dbs, err)
	}
	m, err := c.Get(ctx, "billing", "20261121T060000Z")
	if err != nil || m.Database != "billing" {
		t.Fatalf("Get = %v, %v", m, err)
	}
	if _, err := c.Get(ctx, "billing", "20261121T120000Z"); !errors.Is(err, ErrNoBackup) {
		t.Fatalf("Get of a missing backup: %v, want ErrNoBackup", err)
	}
}

func TestCommitIsOnce(t *testing.T) {
	c := New(storage.NewMemory(), testLayout, nil)
	m := sample("app", time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC))
	commit(t, c, m)
	if err := c.Commit(context.Background(), m); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second Commit = %v, want ErrExists", err)
	}
}

func TestCommitRefusesIncompleteManifest(t *testing.T) {
	c := New(storage.NewMemory(), testLayout, nil)
	m := sample("app", time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC))
	m.SHA256 = ""
	if err := c.Commit(context.Background(), m); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("Commit without sha256 = %v, want a refusal naming sha256", err)
	}
}

func TestDataWithoutManifestIsOrphanNotBackup(t *testing.T) {
	ctx := context.Background()
	c := New(storage.NewMemory(), testLayout, nil)
	t0 := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	if _, err := c.PutData(ctx, "app", NewID(t0), strings.NewReader("half"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	commit(t, c, sample("app", t0.Add(time.Hour)))
	got, err := c.List(ctx, "app")
	if err != nil || len(got) != 1 {
		t.Fatalf("List = %v, %v; want only the committed backup", ids(got), err)
	}
	orphans, err := c.Orphans(ctx)
	if err != nil || len(orphans) != 1 || orphans[0].ID != NewID(t0) {
		t.Fatalf("Orphans = %+v, %v; want the uncommitted data object", orphans, err)
	}
}

func TestListSkipsInvalidManifest(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory()
	c := New(store, testLayout, nil)
	t0 := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	commit(t, c, sample("app", t0))
	bad := testLayout.ManifestKey("app", NewID(t0.Add(time.Hour)))
	if _, err := store.Put(ctx, bad, bytes.NewReader([]byte(`{"format":1}`)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// A manifest copied under another database's key describes another backup.
	moved := sample("app", t0.Add(2*time.Hour))
	data, _ := moved.Encode()
	if _, err := store.Put(ctx, testLayout.ManifestKey("billing", moved.ID), bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := c.List(ctx, "app")
	if err != nil || len(got) != 1 || got[0].ID != NewID(t0) {
		t.Fatalf("List(app) = %v, %v; want only the valid backup", ids(got), err)
	}
	if got, err := c.List(ctx, "billing"); err != nil || len(got) != 0 {
		t.Fatalf("List(billing) = %v, %v; want none", ids(got), err)
	}
}

func TestLatest(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	all := []*Manifest{sample("app", t0), sample("app", t0.Add(6*time.Hour)), sample("app", t0.Add(12*time.Hour))}
	cases := []struct {
		at   time.Time
		want string
	}{
		{time.Time{}, "20261121T180000Z"},
		{t0.Add(7 * time.Hour), "20261121T120000Z"},
		{t0.Add(6 * time.Hour), "20261121T120000Z"},
		{t0, "20261121T060000Z"},
	}
	for _, c := range cases {
		m, err := Latest(all, c.at)
		if err != nil || m.ID != c.want {
			t.Errorf("Latest(at %v) = %v, %v; want %s", c.at, m, err, c.want)
		}
	}
	if _, err := Latest(all, t0.Add(-time.Second)); !errors.Is(err, ErrNoBackup) {
		t.Errorf("Latest before the first = %v, want ErrNoBackup", err)
	}
	if _, err := Latest(nil, time.Time{}); !errors.Is(err, ErrNoBackup) {
		t.Errorf("Latest of none = %v, want ErrNoBackup", err)
	}
}

func TestKeys(t *testing.T) {
	l := Layout{Environment: "staging", Cluster: "db1"}
	if got := l.DataKey("app", "20261121T060000Z"); got != "staging/db1/app/20261121T060000Z.dump.zst.age" {
		t.Errorf("DataKey = %s", got)
	}
	if got := l.DataKey(GlobalsDatabase, "20261121T060000Z"); got != "staging/db1/_globals/20261121T060000Z.sql.zst.age" {
		t.Errorf("globals DataKey = %s", got)
	}
	if db, id, ok := l.splitManifestKey("staging/db1/app/20261121T060000Z.manifest.json"); !ok || db != "app" || id != "20261121T060000Z" {
		t.Errorf("splitManifestKey = %s %s %v", db, id, ok)
	}
	for _, k := range []string{"staging/db1/app/x.manifest.json", "staging/db2/app/20261121T060000Z.manifest.json", "staging/db1/a/b/20261121T060000Z.manifest.json"} {
		if _, _, ok := l.splitManifestKey(k); ok {
			t.Errorf("splitManifestKey(%s) accepted a foreign key", k)
		}
	}
}

func ids(ms []*Manifest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestDeleteManifestFirst(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory()
	c := New(store, testLayout, nil)
	t0 := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	m := sample("app", t0)
	m.LockMode = ""
	commit(t, c, m)
	failing := &failSecond{Memory: store}
	if err := c.Delete(ctx, failing, m); err == nil {
		t.Fatal("Delete succeeded although the data delete failed")
	}
	if got, _ := c.List(ctx, "app"); len(got) != 0 {
		t.Fatalf("the backup is still listed after its manifest was deleted: %v", ids(got))
	}
	orphans, err := c.Orphans(ctx)
	if err != nil || len(orphans) != 1 {
		t.Fatalf("Orphans = %v, %v; want the data left behind", orphans, err)
	}
	if err := c.DeleteOrphan(ctx, store, orphans[0]); err != nil {
		t.Fatal(err)
	}
	if orphans, _ := c.Orphans(ctx); len(orphans) != 0 {
		t.Fatalf("orphan still there: %v", orphans)
	}
}

// failSecond deletes once, then fails.
type failSecond struct {
	*storage.Memory
	n int
}

func (f *failSecond) Delete(ctx context.Context, key string) error {
	f.n++
	if f.n > 1 {
		return errors.New("injected failure")
	}
	return f.Memory.Delete(ctx, key)
}
