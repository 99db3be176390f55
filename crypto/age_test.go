package crypto

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"filippo.io/age"
)

func TestRoundTrip(t *testing.T) {
	x1, x2 := newX25519(t), newX25519(t)
	h1, h2 := newHybrid(t), newHybrid(t)
	tests := []struct {
		name       string
		recipients []age.Recipient
		identities []age.Identity // each alone must decrypt
	}{
		{"x25519", []age.Recipient{x1.Recipient()}, []age.Identity{x1}},
		{"x25519, two recipients", []age.Recipient{x1.Recipient(), x2.Recipient()}, []age.Identity{x1, x2}},
		{"hybrid", []age.Recipient{h1.Recipient()}, []age.Identity{h1}},
		{"hybrid, two recipients", []age.Recipient{h1.Recipient(), h2.Recipient()}, []age.Identity{h1, h2}},
	}
	// Sizes around age's 64 KiB chunks and zstd's 128 KiB blocks.
	sizes := []int{0, 1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 128 << 10, 3<<20 + 17}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range sizes {
				data := testData(n, n%2 == 0)
				ct := pipeline(t, data, "default", tc.recipients...)
				for _, id := range tc.identities {
					got, err := unpipeline(ct, id)
					if err != nil {
						t.Fatalf("size %d: %v", n, err)
					}
					if !bytes.Equal(got, data) {
						t.Fatalf("size %d: got %d bytes back, not the %d written", n, len(got), len(data))
					}
				}
			}
		})
	}
}

func TestDecryptTriesEveryIdentity(t *testing.T) {
	mine, other := newX25519(t), newHybrid(t)
	ct := pipeline(t, []byte("rows"), "fastest", mine.Recipient())
	got, err := unpipeline(ct, other, mine)
	if err != nil || string(got) != "rows" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestWrongIdentity(t *testing.T) {
	x, h := newX25519(t), newHybrid(t)
	for _, tc := range []struct {
		name string
		to   age.Recipient
		with age.Identity
	}{
		{"x25519", newX25519(t).Recipient(), x},
		{"hybrid", newHybrid(t).Recipient(), h},
		{"x25519 identity, hybrid file", newHybrid(t).Recipient(), x},
		{"hybrid identity, x25519 file", newX25519(t).Recipient(), h},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := pipeline(t, []byte("secret rows"), "default", tc.to)
			_, err := Decrypt(bytes.NewReader(ct), []age.Identity{tc.with})
			if !IsNoIdentity(err) {
				t.Fatalf("err = %v, want a no-identity error", err)
			}
			var nim *age.NoIdentityMatchError
			if !errors.As(err, &nim) {
				t.Errorf("errors.As(%v, *age.NoIdentityMatchError) = false", err)
			}
			if errors.Is(err, ErrCorrupt) {
				t.Errorf("wrong identity reported as corrupt data: %v", err)
			}
		})
	}
}

func TestExplainNoIdentity(t *testing.T) {
	pq := newHybrid(t).Recipient().String()
	ct := pipeline(t, []byte("x"), "default", newX25519(t).Recipient())
	me := newX25519(t)
	_, err := Decrypt(bytes.NewReader(ct), []age.Identity{me})
	err = ExplainNoIdentity(err, "/home/op/key.txt", []string{me.Recipient().String()},
		[]string{"age1aaa", pq})
	want := "none of the identities in /home/op/key.txt (" + me.Recipient().String() +
		") can decrypt this backup; it was encrypted to: age1aaa, " + pq[:16] + "..." + pq[len(pq)-8:]
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message\n%s\ndoes not start with\n%s", err, want)
	}
	if !IsNoIdentity(err) {
		t.Error("explained error lost IsNoIdentity")
	}
	checkMessage(t, err)

	other := errors.New("disk on fire")
	if got := ExplainNoIdentity(other, "k", nil, nil); got != other {
		t.Errorf("ExplainNoIdentity changed an unrelated error: %v", got)
	}
}

func TestTruncated(t *testing.T) {
	id := newX25519(t)
	data := testData(300<<10, false)
	ct := pipeline(t, data, "default", id.Recipient())
	header := bytes.Index(ct, []byte("\n--- ")) + 1
	cuts := map[string]int{
		"empty":                0,
		"inside header":        header / 2,
		"after header":         bytes.IndexByte(ct[header:], '\n') + header + 1,
		"inside first chunk":   header + 1000,
		"at a chunk boundary":  len(ct) - (len(ct)-header-16-1)%(64<<10+16) - 1,
		"last byte missing":    len(ct) - 1,
		"half the tag missing": len(ct) - 8,
	}
	for name, n := range cuts {
		t.Run(name, func(t *testing.T) {
			got, err := unpipeline(ct[:n], id)
			if err == nil {
				t.Fatalf("cut at %d of %d: no error, %d bytes read", n, len(ct), len(got))
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("cut at %d: err = %v, want ErrCorrupt", n, err)
			}
			checkMessage(t, err)
		})
	}
}

func TestFlippedBit(t *testing.T) {
	id := newHybrid(t)
	data := testData(200<<10, true)
	ct := pipeline(t, data, "default", id.Recipient())
	header := bytes.Index(ct, []byte("\n--- ")) + 1
	for _, at := range []int{0, 30, header + 10, header + 60, header + 200, len(ct) / 2, len(ct) - 1} {
		bad := bytes.Clone(ct)
		bad[at] ^= 0x10
		got, err := unpipeline(bad, id)
		if err == nil {
			t.Errorf("bit flipped at %d of %d: no error, %d bytes read", at, len(ct), len(got))
			continue
		}
		checkMessage(t, err)
		if at > header && !errors.Is(err, ErrCorrupt) {
			t.Errorf("bit flipped at %d: err = %v, want ErrCorrupt", at, err)
		}
	}
}

func TestTrailingData(t *testing.T) {
	id := newX25519(t)
	ct := pipeline(t, []byte("rows"), "default", id.Recipient())
	_, err := unpipeline(append(ct, 0), id)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func TestSourceErrorIsNotCorrupt(t *testing.T) {
	id := newX25519(t)
	ct := pipeline(t, testData(1<<20, false), "default", id.Recipient())
	boom := errors.New("connection reset")
	for _, n := range []int{10, 100 << 10} {
		src := io.MultiReader(bytes.NewReader(ct[:n]), iotest.ErrReader(boom))
		pr, err := Decrypt(src, []age.Identity{id})
		if err == nil {
			_, err = io.Copy(io.Discard, pr)
		}
		if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
			t.Errorf("failing source after %d bytes: err = %v, want the source error, not ErrCorrupt", n, err)
		}
	}
}

func TestEncryptRefuses(t *testing.T) {
	var out bytes.Buffer
	if _, err := Encrypt(&out, nil); err == nil {
		t.Error("Encrypt with no recipients succeeded")
	}
	mixed := []age.Recipient{newX25519(t).Recipient(), newHybrid(t).Recipient()}
	if _, err := Encrypt(&out, mixed); !errors.Is(err, ErrMixedRecipients) {
		t.Errorf("Encrypt to mixed recipients: err = %v, want ErrMixedRecipients", err)
	}
	if out.Len() != 0 {
		t.Errorf("a refused Encrypt wrote %d bytes", out.Len())
	}
	if _, err := Decrypt(strings.NewReader("x"), nil); err == nil {
		t.Error("Decrypt with no identities succeeded")
	}
}

func TestEncryptDoesNotCloseWriter(t *testing.T) {
	w := &closeRecorder{}
	enc, err := Encrypt(w, []age.Recipient{newX25519(t).Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	zw, err := Compress(enc, "default")
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if w.closed {
		t.Error("closing the stack closed the destination")
	}
}

type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestNotAnAgeFile(t *testing.T) {
	rows := "PGDMP\x01\x0e\x00 1\talice@example.com\tcard 4111111111111111\n"
	_, err := Decrypt(strings.NewReader(rows), []age.Identity{newX25519(t)})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if strings.Contains(err.Error(), "alice") || strings.Contains(err.Error(), "PGDMP") {
		t.Errorf("error quotes the input: %v", err)
	}
}
