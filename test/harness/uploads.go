package harness

import (
	"os"
	"path/filepath"
	"testing"
)

// IncompleteUploads counts the multipart uploads MinIO holds on disk that
// were neither completed nor aborted, in every bucket. It reads MinIO's data
// directory because MinIO's ListMultipartUploads matches only an exact key,
// so a listing by prefix cannot find leftovers.
func (m *MinIO) IncompleteUploads(t testing.TB) int {
	t.Helper()
	// .minio.sys/multipart/<hash of bucket and key>/<upload id>/
	root := filepath.Join(m.dataDir, ".minio.sys", "multipart")
	objects, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatalf("harness: reading %s: %v", root, err)
	}
	n := 0
	for _, o := range objects {
		uploads, err := os.ReadDir(filepath.Join(root, o.Name()))
		if err != nil {
			continue // removed while we looked
		}
		for _, u := range uploads {
			if u.IsDir() {
				n++
			}
		}
	}
	return n
}
