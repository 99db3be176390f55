package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgtier/pgtier/test/harness"
)

// idleSpan is how long BenchmarkIdleDaemon watches the daemon.
const idleSpan = time.Minute

// BenchmarkIdleDaemon starts backupd on a schedule that does not come round
// during the run, after its start-up work (posture, catalog, metrics), and
// reports its resident memory and the CPU it uses over a minute of idling.
// Run it with -benchtime 1x.
func BenchmarkIdleDaemon(b *testing.B) {
	e := &env{pg: harness.PG(b), s3: harness.S3(b), dir: b.TempDir(), db: "postgres"}
	e.backupd, e.backupctl = harness.BuildBinaries(b)
	e.bucket = e.s3.Bucket(b, true)
	e.keys(b)
	signing, verify := e.signingKey(), e.verifyKey()
	listen := freeAddr(b)
	cfg := e.write(b, "idle.yaml", fmt.Sprintf(`environment: bench
cluster: idle
postgres: {host: %s, port: %d, user: %s, sslmode: disable, databases: [postgres], bin_dir: %s}
schedule: {base: "0 0 1 1 *", catch_up: false}
encryption: {recipients_file: %s, signing_key_file: %s, verify_key_file: %s}
storage: {url: "s3://%s/pgtier", endpoint: %q, region: %s, ca_file: %s}
metrics: {listen: %q}
`, e.pg.Host, e.pg.Port, e.pg.User, e.pg.BinDir, filepath.Join(e.dir, "recipients.txt"), signing, verify,
		e.bucket, e.s3.Endpoint, e.s3.Region, e.s3.CAFile, listen))
	b.ResetTimer()
	for range b.N {
		cmd := e.command(b, e.backupd, "--config", cfg)
		out, err := cmd.StderrPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		pid := cmd.Process.Pid
		started := make(chan struct{})
		go func() {
			s := bufio.NewScanner(out)
			for s.Scan() {
				if strings.Contains(s.Text(), "backupd started") {
					close(started)
				}
			}
		}()
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			b.Fatal("backupd did not start within 30s")
		}
		time.Sleep(2 * time.Second) // start-up work done
		cpu0, rss0 := procCPU(b, pid), procRSS(b, pid)
		peak := rss0
		end := time.Now().Add(idleSpan)
		for time.Now().Before(end) {
			time.Sleep(time.Second)
			peak = max(peak, procRSS(b, pid))
		}
		cpu1, rss1 := procCPU(b, pid), procRSS(b, pid)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		used := cpu1 - cpu0
		fmt.Printf("idle backupd over %s: RSS %s at the start, %s at the end, %s at most; CPU %.2fs (%.2f%% of one core)\n",
			idleSpan, mib(rss0), mib(rss1), mib(peak), used.Seconds(), 100*used.Seconds()/idleSpan.Seconds())
		b.ReportMetric(float64(rss1)/(1<<20), "idle-RSS-MiB")
		b.ReportMetric(100*used.Seconds()/idleSpan.Seconds(), "idle-CPU-%")
	}
}

// procRSS is the resident set of pid, from /proc/PID/status.
func procRSS(b *testing.B, pid int) int64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		b.Fatalf("backupd is gone: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// procCPU is the user and system CPU time pid has used, from /proc/PID/stat.
func procCPU(b *testing.B, pid int) time.Duration {
	st, ok := readStat(pid)
	if !ok {
		b.Fatal("backupd is gone")
	}
	return time.Duration(st.ticks) * time.Second / clockTicks
}
