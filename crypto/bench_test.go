//go:build unix

package crypto

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
)

// BenchmarkPipeline measures Compress+Encrypt, the daemon's half of a backup,
// writing in 1 MiB pieces as from a pipe. Besides MB/s it reports MB per
// CPU-second of the whole process, which tells how much of a 2-core host the
// stage takes whatever else runs there. Set PGTIER_BENCH_DUMP to a file
// (for example the output of pg_dump -Fc -Z0) to measure real data as well.
//
//	go test -run XXX -bench Pipeline -benchtime 5x ./crypto
func BenchmarkPipeline(b *testing.B) {
	recipients := []age.Recipient{newX25519(b).Recipient()}
	for _, in := range benchInputs(b) {
		for _, level := range []string{"fastest", "default", "better"} {
			b.Run(in.name+"/"+level, func(b *testing.B) {
				b.SetBytes(int64(len(in.data)))
				var out countWriter
				cpu := cpuTime()
				for b.Loop() {
					out = countWriter{}
					enc, err := Encrypt(&out, recipients)
					if err != nil {
						b.Fatal(err)
					}
					zw, err := Compress(enc, level)
					if err != nil {
						b.Fatal(err)
					}
					for p := in.data; len(p) > 0; p = p[min(len(p), 1<<20):] {
						if _, err := zw.Write(p[:min(len(p), 1<<20)]); err != nil {
							b.Fatal(err)
						}
					}
					if err := zw.Close(); err != nil {
						b.Fatal(err)
					}
					if err := enc.Close(); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, len(in.data), cpuTime()-cpu)
				b.ReportMetric(float64(len(in.data))/float64(out.n), "ratio")
			})
		}
	}
}

// BenchmarkRestore measures Decrypt+Decompress, the reading half.
func BenchmarkRestore(b *testing.B) {
	id := newX25519(b)
	for _, in := range benchInputs(b) {
		ct := pipeline(b, in.data, "default", id.Recipient())
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			cpu := cpuTime()
			for b.Loop() {
				pr, err := Decrypt(bytes.NewReader(ct), []age.Identity{id})
				if err != nil {
					b.Fatal(err)
				}
				zr, err := Decompress(pr)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, zr); err != nil {
					b.Fatal(err)
				}
				zr.Close()
			}
			reportCPU(b, len(in.data), cpuTime()-cpu)
		})
	}
}

type benchInput struct {
	name string
	data []byte
}

func benchInputs(b *testing.B) []benchInput {
	inputs := []benchInput{
		{"incompressible", testData(32<<20, false)},
		{"compressible", testData(32<<20, true)},
	}
	if path := os.Getenv("PGTIER_BENCH_DUMP"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, benchInput{"dump", data})
	}
	return inputs
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports throughput per CPU-second over b.N runs of size bytes.
func reportCPU(b *testing.B, size int, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// TestPipelineMemory streams 200 MiB through Compress+Encrypt and checks that
// the heap in use grows by less than the budget of the design: the stream
// stages must stay small next to the upload's part buffers.
func TestPipelineMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200 MiB")
	}
	const total, budget = 200 << 20, 30 << 20
	recipients := []age.Recipient{newX25519(t).Recipient()}
	text := testData(8<<20, true)
	for _, tc := range []struct {
		name  string
		level string
		src   io.Reader
	}{
		{"random/default", "default", rand.NewChaCha8([32]byte{1})},
		{"random/better", "better", rand.NewChaCha8([32]byte{2})},
		{"text/default", "default", &repeatReader{data: text}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			enc, err := Encrypt(io.Discard, recipients)
			if err != nil {
				t.Fatal(err)
			}
			zw, err := Compress(enc, tc.level)
			if err != nil {
				t.Fatal(err)
			}
			var peak uint64
			buf := make([]byte, 1<<20)
			for n := 0; n < total; n += len(buf) {
				if _, err := io.ReadFull(tc.src, buf); err != nil {
					t.Fatal(err)
				}
				if _, err := zw.Write(buf); err != nil {
					t.Fatal(err)
				}
				if n%(8<<20) == 0 {
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					peak = max(peak, m.HeapInuse)
				}
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			grew := int64(peak) - int64(before.HeapInuse)
			t.Logf("heap in use grew by %.1f MiB while streaming 200 MiB", float64(grew)/(1<<20))
			if grew > budget {
				t.Errorf("heap grew by %d MiB, over the %d MiB budget", grew>>20, budget>>20)
			}
		})
	}
}

// repeatReader reads data over and over.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}
