package crypto

import (
	"fmt"
	"io"
	"strconv"

	"github.com/klauspost/compress/zstd"
)

// Encoder and decoder settings. The figures below were measured on a 2-core
// AMD EPYC host streaming a 190 MB pg_dump -Fc -Z0 archive (pgbench at scale
// 10 plus a text table) and 150 MB of random bytes through Compress and
// Encrypt; "memory" is the growth of the peak resident set while streaming.
//
//	level    memory   CPU throughput (dump / random)
//	fastest  ~6 MiB   ~340-420 / ~650-850 MB per CPU-second
//	default  ~7 MiB   ~320-390 / ~930 MB per CPU-second
//	better   ~10 MiB  ~100-140 / ~450-550 MB per CPU-second
//	best     ~40 MiB  ~15-20 / ~200 MB per CPU-second
//
// The library's default 8 MiB window costs about 19 MiB at the default level
// for a compression ratio better by 0.3% on the dump (10.39 against 10.36),
// so the window is bounded to 2 MiB. Job-based parallel compression
// (WithConcurrentBlocks) was measured too and rejected: on 2 cores it gained
// no throughput over the asynchronous stream encoder, lost about 6% of the
// ratio, and buffered 25-55 MiB.
const (
	// encoderWindow is the zstd window of every encoder: the longest
	// back-reference, and the history the decoder must keep.
	encoderWindow = 2 << 20
	// encoderConcurrency makes stream encoding asynchronous: the caller fills
	// the next block while a second goroutine compresses the previous one
	// and writes it on.
	encoderConcurrency = 2
	// decoderMaxWindow refuses frames that would need more decoder memory
	// than this. pgtier writes 2 MiB windows; stock zstd levels 1 to 19 write
	// at most 8 MiB.
	decoderMaxWindow = 32 << 20
)

// encoderLevel parses a compression level: one of the names "fastest",
// "default", "better" or "best", or a zstd level number from 1 to 22, which
// selects the closest of those four (zstd.EncoderLevelFromZstd).
func encoderLevel(level string) (zstd.EncoderLevel, error) {
	switch level {
	case "fastest":
		return zstd.SpeedFastest, nil
	case "default":
		return zstd.SpeedDefault, nil
	case "better":
		return zstd.SpeedBetterCompression, nil
	case "best":
		return zstd.SpeedBestCompression, nil
	}
	n, err := strconv.Atoi(level)
	if err != nil || n < 1 || n > 22 {
		return 0, fmt.Errorf("compression level %q: want fastest, default, better, best or a number from 1 to 22", level)
	}
	return zstd.EncoderLevelFromZstd(n), nil
}

// CompressionLevel returns the zstd level number to record in a manifest for
// a configured level. The encoder implements four levels, roughly equal in
// ratio to zstd levels 1, 3, 7 and 11, so the result is one of those: the
// level the data was actually compressed at, not the number configured
// ("5" records 3, "19" records 11).
func CompressionLevel(level string) (int, error) {
	l, err := encoderLevel(level)
	if err != nil {
		return 0, err
	}
	switch l {
	case zstd.SpeedFastest:
		return 1, nil
	case zstd.SpeedBetterCompression:
		return 7, nil
	case zstd.SpeedBestCompression:
		return 11, nil
	default:
		return 3, nil
	}
}

// Compress returns a writer that compresses what is written to it into one
// zstd frame, with a checksum, written to w. level is as for
// CompressionLevel. Close writes the end of the frame and must be called, even
// after a failed Write, to release the encoder's goroutine; it does not close
// w. The writer is not safe for concurrent use.
//
// Memory is bounded by the 2 MiB window: about 7 MiB at the default level,
// 40 MiB at "best" (see the table above). The output is readable by stock
// zstd -d.
func Compress(w io.Writer, level string) (io.WriteCloser, error) {
	l, err := encoderLevel(level)
	if err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	enc, err := zstd.NewWriter(w,
		zstd.WithEncoderLevel(l),
		zstd.WithWindowSize(encoderWindow),
		zstd.WithEncoderConcurrency(encoderConcurrency),
		zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true),
	)
	if err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	return enc, nil
}

// Decompress returns a reader of the data decompressed from r, which may hold
// one or more zstd frames. It decodes in the caller's goroutine with the
// library's low-memory mode (a few MiB: measured 2.5 MiB on its own and 8 to
// 18 MiB behind Decrypt, most of it garbage not yet collected) and refuses
// frames whose window exceeds 32 MiB. A frame whose checksum does not match
// is an error. Close releases the decoder; it does not close r.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	dec, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(decoderMaxWindow),
	)
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	return &zstdReader{dec: dec}, nil
}

// zstdReader wraps decoder errors with what was being done.
type zstdReader struct {
	dec *zstd.Decoder
}

func (z *zstdReader) Read(p []byte) (int, error) {
	n, err := z.dec.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("decompressing: %w", err)
	}
	return n, err
}

func (z *zstdReader) Close() error {
	z.dec.Close()
	return nil
}
