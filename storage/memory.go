package storage

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is a working Store in memory, for tests of the code above the
// store. It behaves as a versioned bucket with object lock: every Put adds a
// version, Delete adds a delete marker, DeleteVersion removes a version and
// fails with ErrLocked before its LockUntil (in either mode: there is no
// governance bypass). Put reads the whole input before the object appears,
// so it has no incomplete uploads. Safe for concurrent use.
type Memory struct {
	mu     sync.Mutex
	now    func() time.Time
	keys   map[string][]*memVersion // oldest first
	nextID int
}

type memVersion struct {
	info   ObjectInfo
	data   []byte
	marker bool // a delete marker
}

// NewMemory returns an empty store on the system clock.
func NewMemory() *Memory {
	return &Memory{now: time.Now, keys: map[string][]*memVersion{}}
}

// SetClock makes the store read the time (for LastModified and lock checks)
// from now.
func (m *Memory) SetClock(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

// String returns "memory://".
func (m *Memory) String() string { return "memory://" }

// Put reads r whole, then adds a version.
func (m *Memory) Put(ctx context.Context, key string, r io.Reader, o PutOptions) (ObjectInfo, error) {
	if err := CheckKey(key); err != nil {
		return ObjectInfo{}, err
	}
	mode, err := checkLock(o)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("putting %s: %w", key, err)
	}
	data, err := io.ReadAll(ctxReader{ctx, r})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("putting %s: %w", key, contextFirst(ctx, readerError{err}))
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fmt.Errorf("putting %s: %w", key, err)
	}
	sum := md5.Sum(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	if o.IfNoneMatch && m.current(key) != nil {
		return ObjectInfo{}, fmt.Errorf("putting %s: %w", key, ErrExists)
	}
	if o.IfMatch != "" {
		if cur := m.current(key); cur == nil || !sameETag(cur.info.ETag, o.IfMatch) {
			return ObjectInfo{}, fmt.Errorf("putting %s if its ETag is %s: %w", key, o.IfMatch, ErrPrecondition)
		}
	}
	m.nextID++
	v := &memVersion{data: data, info: ObjectInfo{
		Key:          key,
		Size:         int64(len(data)),
		VersionID:    fmt.Sprintf("v%08d", m.nextID),
		LastModified: m.now(),
		LockMode:     mode,
		StorageClass: storageClass(o.StorageClass),
		ETag:         `"` + hex.EncodeToString(sum[:]) + `"`,
	}}
	if mode != "" {
		v.info.LockUntil = o.LockUntil
	}
	m.keys[key] = append(m.keys[key], v)
	return v.info, nil
}

// current returns the key's current version, nil when there is none or it
// is a delete marker. m.mu is held.
func (m *Memory) current(key string) *memVersion {
	vs := m.keys[key]
	if len(vs) == 0 || vs[len(vs)-1].marker {
		return nil
	}
	return vs[len(vs)-1]
}

// version finds a version ("" for the current one). m.mu is held.
func (m *Memory) version(key, versionID string) (*memVersion, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if versionID == "" {
		if v := m.current(key); v != nil {
			return v, nil
		}
	} else {
		for _, v := range m.keys[key] {
			if v.info.VersionID == versionID && !v.marker {
				return v, nil
			}
		}
	}
	return nil, fmt.Errorf("%s version %q: %w", key, versionID, ErrNotFound)
}

// Get returns a reader over the version's bytes.
func (m *Memory) Get(ctx context.Context, key, versionID string) (io.ReadCloser, ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.version(key, versionID)
	if err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("getting %w", err)
	}
	return io.NopCloser(bytes.NewReader(v.data)), v.info, nil
}

// Stat returns the version's info.
func (m *Memory) Stat(ctx context.Context, key, versionID string) (ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.version(key, versionID)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("reading metadata of %w", err)
	}
	return v.info, nil
}

// List returns the current objects under prefix, without version ids or
// lock fields, as S3's listing does.
func (m *Memory) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var infos []ObjectInfo
	for k := range m.keys {
		if v := m.current(k); v != nil && strings.HasPrefix(k, prefix) {
			i := v.info
			i.VersionID, i.LockMode, i.LockUntil = "", "", time.Time{}
			infos = append(infos, i)
		}
	}
	slices.SortFunc(infos, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return infos, nil
}

// Delete adds a delete marker when the key has a current object.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current(key) == nil {
		return nil
	}
	m.nextID++
	m.keys[key] = append(m.keys[key], &memVersion{marker: true, info: ObjectInfo{
		Key: key, VersionID: fmt.Sprintf("v%08d", m.nextID), LastModified: m.now(),
	}})
	return nil
}

// DeleteVersion removes a version or delete marker; ErrLocked before the
// version's LockUntil.
func (m *Memory) DeleteVersion(ctx context.Context, key, versionID string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	vs := m.keys[key]
	i := slices.IndexFunc(vs, func(v *memVersion) bool { return v.info.VersionID == versionID })
	if versionID == "" || i < 0 {
		return fmt.Errorf("deleting version %q of %s: %w", versionID, key, ErrNotFound)
	}
	if v := vs[i]; v.info.LockMode != "" && m.now().Before(v.info.LockUntil) {
		return fmt.Errorf("deleting version %s of %s: %w until %s", versionID, key, ErrLocked, v.info.LockUntil.UTC().Format(time.RFC3339))
	}
	vs = slices.Delete(vs, i, i+1)
	if len(vs) == 0 {
		delete(m.keys, key)
	} else {
		m.keys[key] = vs
	}
	return nil
}

// Version is one version of a key, or a delete marker.
type Version struct {
	ObjectInfo
	DeleteMarker bool
}

// Versions returns every version and delete marker of key, oldest first,
// for tests that check what a delete left behind.
func (m *Memory) Versions(key string) []Version {
	m.mu.Lock()
	defer m.mu.Unlock()
	var vs []Version
	for _, v := range m.keys[key] {
		vs = append(vs, Version{ObjectInfo: v.info, DeleteMarker: v.marker})
	}
	return vs
}

// ListUploads returns nothing: a Memory put has no partial state.
func (m *Memory) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	return nil, nil
}

// AbortUpload always fails with ErrNotFound.
func (m *Memory) AbortUpload(ctx context.Context, u Upload) error {
	return fmt.Errorf("aborting upload %s of %s: %w", u.UploadID, u.Key, ErrNotFound)
}

// ServerTime returns the store's clock (see SetClock).
func (m *Memory) ServerTime(ctx context.Context) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now(), nil
}
