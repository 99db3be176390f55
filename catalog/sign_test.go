package catalog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/pgtier/pgtier/storage"
)

// testSigning signs with one ed25519 key and trusts only the keys given.
func testSigning(priv ed25519.PrivateKey, trusted ...ed25519.PublicKey) Signing {
	enc := base64.StdEncoding
	return Signing{
		Sign: func(data []byte) (string, string) {
			return enc.EncodeToString(priv.Public().(ed25519.PublicKey)), enc.EncodeToString(ed25519.Sign(priv, data))
		},
		Verify: func(pub string, data []byte, sig string) error {
			p, _ := enc.DecodeString(pub)
			s, _ := enc.DecodeString(sig)
			for _, k := range trusted {
				if bytes.Equal(k, p) {
					if ed25519.Verify(k, data, s) {
						return nil
					}
					return errors.New("bad signature")
				}
			}
			return errors.New("unknown key")
		},
	}
}

func TestSignedManifests(t *testing.T) {
	ctx := context.Background()
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, otherPriv, _ := ed25519.GenerateKey(nil)
	store := storage.NewMemory()
	t0 := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

	signed := New(store, testLayout, nil).WithSigning(testSigning(priv, pub))
	commit(t, signed, sample("app", t0))
	if _, err := signed.Get(ctx, "app", NewID(t0)); err != nil {
		t.Fatalf("a signed manifest does not verify: %v", err)
	}

	// Unsigned, signed by another key, and altered after signing.
	commit(t, New(store, testLayout, nil), sample("app", t0.Add(time.Hour)))
	commit(t, New(store, testLayout, nil).WithSigning(testSigning(otherPriv, otherPub)), sample("app", t0.Add(2*time.Hour)))
	m := sample("app", t0.Add(3*time.Hour))
	commit(t, signed, m)
	key := testLayout.ManifestKey("app", m.ID)
	body, _, _ := store.Get(ctx, key, "")
	var buf bytes.Buffer
	buf.ReadFrom(body)
	altered := bytes.Replace(buf.Bytes(), []byte(`"raw_bytes": 100`), []byte(`"raw_bytes": 101`), 1)
	if _, err := store.Put(ctx, key, bytes.NewReader(altered), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		at   time.Duration
		want string
	}{{time.Hour, "not signed"}, {2 * time.Hour, "unknown key"}, {3 * time.Hour, "bad signature"}} {
		_, err := signed.Get(ctx, "app", NewID(t0.Add(c.at)))
		if !errors.Is(err, ErrInvalidManifest) || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("Get of the backup at +%s = %v; want an invalid manifest, %s", c.at, err, c.want)
		}
	}
	got, err := signed.List(ctx, "app")
	if err != nil || len(got) != 1 || got[0].ID != NewID(t0) {
		t.Fatalf("List = %v, %v; want only the validly signed backup", ids(got), err)
	}
}
