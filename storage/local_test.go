package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgtier/pgtier/storage"
)

func TestLocalUploads(t *testing.T) {
	dir := t.TempDir()
	s, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Put(ctx, "db/obj", strings.NewReader("done"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// What a put that died leaves behind.
	tmp := filepath.Join(dir, "db", ".obj.pgtier-upload-123")
	if err := os.WriteFile(tmp, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	ups, err := s.ListUploads(ctx, "db/")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].Key != "db/obj" || ups[0].UploadID != "db/.obj.pgtier-upload-123" || ups[0].Initiated.IsZero() {
		t.Fatalf("ListUploads = %+v", ups)
	}
	if ups, _ := s.ListUploads(ctx, "other/"); len(ups) != 0 {
		t.Fatalf("ListUploads(other/) = %+v", ups)
	}
	infos, err := s.List(ctx, "")
	if err != nil || len(infos) != 1 || infos[0].Key != "db/obj" {
		t.Fatalf("List = %+v, %v (temporary files must not be listed)", infos, err)
	}
	for _, bad := range []storage.Upload{
		{Key: "db/obj", UploadID: "db/obj"},
		{Key: "../x", UploadID: "../.x.pgtier-upload-1"},
		{Key: "db/other", UploadID: "db/.obj.pgtier-upload-123"},
	} {
		if err := s.AbortUpload(ctx, bad); err == nil {
			t.Errorf("AbortUpload(%+v) accepted", bad)
		}
	}
	if err := s.AbortUpload(ctx, ups[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file still there: %v", err)
	}
	if err := s.AbortUpload(ctx, ups[0]); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("aborting again: %v, want ErrNotFound", err)
	}
	if _, err := s.Put(ctx, "db/x.pgtier-upload-1", strings.NewReader("x"), storage.PutOptions{}); err == nil {
		t.Fatal("a key with the temporary marker was accepted")
	}
}

func TestLocalNoVersions(t *testing.T) {
	s, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Put(ctx, "k", strings.NewReader("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "k", "v1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get of a version: %v", err)
	}
	if err := s.DeleteVersion(ctx, "k", "v1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteVersion of a version: %v", err)
	}
	if err := s.DeleteVersion(ctx, "k", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "k", ""); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("after DeleteVersion: %v", err)
	}
	// A directory is not an object.
	if _, err := s.Put(ctx, "d/k", strings.NewReader("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "d", ""); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat of a directory: %v", err)
	}
	if _, _, err := s.Get(ctx, "d", ""); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get of a directory: %v", err)
	}
}
