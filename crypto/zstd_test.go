package crypto

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestCompressionLevel(t *testing.T) {
	for level, want := range map[string]int{
		"fastest": 1, "default": 3, "better": 7, "best": 11,
		"1": 1, "2": 1, "3": 3, "5": 3, "6": 7, "9": 7, "10": 11, "19": 11, "22": 11,
	} {
		got, err := CompressionLevel(level)
		if err != nil || got != want {
			t.Errorf("CompressionLevel(%q) = %d, %v; want %d", level, got, err, want)
		}
	}
	for _, level := range []string{"", "0", "23", "-1", "Default", "fast", "3.5", " 3"} {
		if _, err := CompressionLevel(level); err == nil || !strings.Contains(err.Error(), "want fastest, default, better, best") {
			t.Errorf("CompressionLevel(%q): err = %v, want a usage error", level, err)
		}
		if _, err := Compress(io.Discard, level); err == nil {
			t.Errorf("Compress(%q) succeeded", level)
		}
	}
}

func TestCompressRoundTrip(t *testing.T) {
	data := testData(1<<20+3, true)
	for _, level := range []string{"fastest", "default", "better", "best", "1", "22"} {
		var buf bytes.Buffer
		zw, err := Compress(&buf, level)
		if err != nil {
			t.Fatal(err)
		}
		// Many small writes, as from a pipe.
		for b := data; len(b) > 0; b = b[min(len(b), 4093):] {
			if _, err := zw.Write(b[:min(len(b), 4093)]); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if buf.Len() >= len(data)/2 {
			t.Errorf("level %s: %d bytes compressed to %d", level, len(data), buf.Len())
		}
		got := decompressAll(t, buf.Bytes())
		if !bytes.Equal(got, data) {
			t.Errorf("level %s: round trip changed the data", level)
		}
	}
}

func TestDecompressConcatenatedFrames(t *testing.T) {
	var buf bytes.Buffer
	for _, part := range []string{"first frame\n", "second frame\n"} {
		zw, err := Compress(&buf, "default")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(zw, part)
		zw.Close()
	}
	if got := decompressAll(t, buf.Bytes()); string(got) != "first frame\nsecond frame\n" {
		t.Errorf("got %q", got)
	}
}

func TestDecompressRefusesLargeWindow(t *testing.T) {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithWindowSize(64<<20), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(testData(1<<20, false))
	zw.Close()
	zr, err := Decompress(&buf)
	if err == nil {
		_, err = io.Copy(io.Discard, zr)
		zr.Close()
	}
	if err == nil {
		t.Fatal("a frame with a 64 MiB window was decoded")
	}
}

func TestDecompressDetectsCorruption(t *testing.T) {
	data := testData(256<<10, true)
	var buf bytes.Buffer
	zw, _ := Compress(&buf, "default")
	zw.Write(data)
	zw.Close()
	z := buf.Bytes()
	for _, bad := range [][]byte{z[:len(z)-1], z[:len(z)/2], append(bytes.Clone(z[:len(z)-2]), z[len(z)-2]^1, z[len(z)-1])} {
		zr, err := Decompress(bytes.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, zr); err == nil || !strings.HasPrefix(err.Error(), "decompressing: ") {
			t.Errorf("damaged frame of %d bytes: err = %v", len(bad), err)
		}
		zr.Close()
	}
}

func decompressAll(t *testing.T, z []byte) []byte {
	t.Helper()
	zr, err := Decompress(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
