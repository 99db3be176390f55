package restore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

func TestCheckedReader(t *testing.T) {
	data := bytes.Repeat([]byte("backup bytes "), 1000)
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])
	flipped := append([]byte(nil), data...)
	flipped[500] ^= 1
	cases := []struct {
		name string
		body []byte
		size int64
		sha  string
		ok   bool
	}{
		{"intact", data, int64(len(data)), good, true},
		{"truncated", data[:len(data)-1], int64(len(data)), good, false},
		{"longer than recorded", append(append([]byte(nil), data...), 'x'), int64(len(data)), good, false},
		{"a flipped bit", flipped, int64(len(data)), good, false},
	}
	for _, c := range cases {
		var progress int64
		r := newChecked(bytes.NewReader(c.body), c.size, c.sha, func(n int64) { progress += n })
		_, err := io.Copy(io.Discard, r)
		if c.ok != (err == nil) || (!c.ok && !errors.Is(err, ErrCorrupt)) {
			t.Errorf("%s: reading gave %v", c.name, err)
		}
		if c.ok && progress != c.size {
			t.Errorf("%s: progress saw %d bytes, want %d", c.name, progress, c.size)
		}
	}
}

func TestCheckedFinishReadsTheRest(t *testing.T) {
	data := []byte("0123456789")
	sum := sha256.Sum256(data)
	r := newChecked(bytes.NewReader(data), int64(len(data)), hex.EncodeToString(sum[:]), nil)
	if _, err := r.Read(make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if err := r.finish(); err != nil {
		t.Fatalf("finish after a partial read: %v", err)
	}
	bad := newChecked(bytes.NewReader(data), int64(len(data)), hex.EncodeToString(make([]byte, 32)), nil)
	if err := bad.finish(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("finish of a mismatching object: %v, want ErrCorrupt", err)
	}
}
