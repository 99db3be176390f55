package crypto

import (
	"fmt"
	"io"
	"strconv"

	"github.com/klauspost/compress/zstd"
)

// Encoder and decoder settings, chosen by measurement on a 2-core AMD EPYC
// host (BenchmarkPipeline, TestPipelineMemory) with a 190 MB pg_dump -Fc -Z0
// archive of pgbench data and a text table, synthetic text and random bytes.
// Compress+Encrypt at the default level ran at 280-390 MB per CPU-second on the
// dump (ratio 12.8), 200-240 on the synthetic text (ratio 7.4) and 560-980 on
// random bytes, on one core: the stream encoder overlaps the caller's writes
// with compression but compresses one block at a time.
//
// Memory, as growth of the heap in use while streaming 200 MiB: 8 MiB at the
// default level, 11 MiB at "better", about 40 MiB at "best". The library's
// default 8 MiB window costs 20-23 MiB for a ratio better by 0.3% on the dump,
// so the window is bounded to 2 MiB. Job-based parallel compression
// (WithConcurrentBlocks) doubled throughput on two idle cores but held 70-140
// MiB with a 2 MiB window, or 17-42 MiB with 256-512 KiB windows at a ratio
// 5-13% worse; on a 2-core database host the second core belongs to pg_dump.
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
// Memory is bounded by the 2 MiB window: about 8 MiB at the default level,
// 40 MiB at "best", which is also far too slow (15-20 MB per CPU-second) to
// keep up with pg_dump. The output is readable by stock zstd -d.
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
		// Entropy-code literals even in blocks with no matches, as the zstd
		// CLI does: without it the fastest and default levels store text
		// with few repeats (base64, random identifiers) raw, a quarter
		// larger than zstd -3 makes it, and every stage after compression
		// (age, SHA-256, TLS, the upload) then carries the extra bytes.
		zstd.WithAllLitEntropyCompression(true),
	)
	if err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	return enc, nil
}

// Decompress returns a reader of the data decompressed from r, which may hold
// one or more zstd frames. It decodes in the caller's goroutine with the
// library's low-memory mode, which measured fastest here (about 1.9 GB per
// CPU-second on the dump behind Decrypt) and grew the resident set by 2.5 MiB
// alone, 8-18 MiB behind Decrypt (mostly garbage from age's per-chunk
// buffers). It refuses frames whose window exceeds 32 MiB. A frame whose checksum does not match
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
