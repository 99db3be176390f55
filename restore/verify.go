package restore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// ErrCorrupt marks a stored object that does not match its manifest.
var ErrCorrupt = errors.New("backup object does not match its manifest")

// checked reads a stored object and fails, instead of ending, when the bytes
// read differ from the manifest's size or SHA-256.
type checked struct {
	r        io.Reader
	sum      hash.Hash
	n, size  int64
	want     string
	progress func(int64)
}

func newChecked(r io.Reader, size int64, sha string, progress func(int64)) *checked {
	return &checked{r: r, sum: sha256.New(), size: size, want: sha, progress: progress}
}

func (c *checked) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.sum.Write(p[:n])
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(int64(n))
	}
	if c.n > c.size {
		return n, fmt.Errorf("%w: more than the %d bytes recorded", ErrCorrupt, c.size)
	}
	if errors.Is(err, io.EOF) {
		if verr := c.verify(); verr != nil {
			return n, verr
		}
	}
	return n, err
}

func (c *checked) verify() error {
	if c.n != c.size {
		return fmt.Errorf("%w: read %d bytes, the manifest records %d", ErrCorrupt, c.n, c.size)
	}
	if got := hex.EncodeToString(c.sum.Sum(nil)); got != c.want {
		return fmt.Errorf("%w: sha256 %s, the manifest records %s", ErrCorrupt, got, c.want)
	}
	return nil
}

// finish reads what is left of the object and reports whether it matched.
func (c *checked) finish() error {
	if _, err := io.Copy(io.Discard, c); err != nil {
		return err
	}
	return c.verify()
}
