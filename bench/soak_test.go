package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/pgtier/pgtier/test/faults"
	"github.com/pgtier/pgtier/test/harness"
)

var soakCycles = flag.Int("cycles", 300, "backup cycles BenchmarkSoak runs")

// soakFaults are the faults the soak draws from, one at a time.
var soakFaults = []faults.Fault{
	{Match: faults.UploadPart("", 0), Kind: faults.InternalError},
	{Match: faults.Match{Method: "PUT"}, Kind: faults.SlowDown},
	{Match: faults.Match{Method: "PUT"}, Kind: faults.ResetRequest, At: 1024},
	{Match: faults.CompleteUpload(""), Kind: faults.ErrorIn200},
	{Match: faults.Match{Method: "GET"}, Kind: faults.InternalError},
	{Match: faults.Match{Method: "GET"}, Kind: faults.ResetResponse, At: 100},
	{Match: faults.Match{Method: "HEAD"}, Kind: faults.SlowDown},
}

// BenchmarkSoak runs the daemon on a one-second schedule, through a proxy
// that injects a random fault every few cycles, for -cycles cycles. Then
// every listed backup must restore to the source's exact content, prune must
// leave no orphan and no upload, and the daemon's memory at the end must be
// within 10% of its memory after the first ten cycles. Run it with
// -benchtime 1x.
func BenchmarkSoak(b *testing.B) {
	e := &env{pg: harness.PG(b), s3: harness.S3(b), dir: b.TempDir()}
	e.backupd, e.backupctl = harness.BuildBinaries(b)
	e.db = "soak"
	admin, err := pgx.Connect(context.Background(), e.pg.DSN("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close(context.Background())
	_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS soak WITH (FORCE)")
	mustExec(context.Background(), b, admin, "CREATE DATABASE soak")
	db, err := pgx.Connect(context.Background(), e.pg.DSN("soak"))
	if err != nil {
		b.Fatal(err)
	}
	mustExec(context.Background(), b, db, `CREATE TABLE t AS SELECT g, md5(g::text) AS h FROM generate_series(1, 20000) g`)
	db.Close(context.Background())
	e.bucket = e.s3.Bucket(b, true)
	e.keys(b)
	proxy, err := faults.Start(e.s3.Endpoint, e.s3.HTTPClient().Transport)
	if err != nil {
		b.Fatal(err)
	}
	defer proxy.Close()
	cfg := e.soakConfig(b, proxy.URL)

	b.ResetTimer()
	for range b.N {
		e.soak(b, cfg, proxy)
	}
}

func (e *env) soakConfig(b *testing.B, endpoint string) string {
	signing, verify := e.signingKey(), e.verifyKey()
	return e.write(b, "soak.yaml", fmt.Sprintf(`environment: bench
cluster: soak
postgres: {host: %s, port: %d, user: %s, sslmode: disable, databases: [soak], globals: false, bin_dir: %s}
schedule: {base: "@every 1s", catch_up: false}
tiers:
  base: {min: 1min, max: 2min}
  daily: {min: 1min, max: 2min}
  weekly: {min: 1min, max: 2min}
  monthly: {min: 1min, max: 2min}
encryption: {recipients_file: %s, signing_key_file: %s, verify_key_file: %s}
storage: {url: "s3://%s/pgtier", endpoint: %q, region: %s, allow_insecure_http: true}
metrics: {listen: %q}
`, e.pg.Host, e.pg.Port, e.pg.User, e.pg.BinDir, filepath.Join(e.dir, "recipients.txt"), signing, verify,
		e.bucket, endpoint, e.s3.Region, freeAddr(b)))
}

func (e *env) soak(b *testing.B, cfg string, proxy *faults.Proxy) {
	cmd := e.command(b, e.backupd, "--config", cfg)
	out, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	done, failed := 0, 0
	var lastErr string
	go func() {
		s := bufio.NewScanner(out)
		s.Buffer(make([]byte, 1<<20), 1<<20)
		for s.Scan() {
			line := s.Text()
			mu.Lock()
			switch {
			case strings.Contains(line, `"backup done"`):
				done++
			case strings.Contains(line, `"backup failed"`):
				failed++
				lastErr = line
			}
			mu.Unlock()
		}
	}()
	cycles := func() int { mu.Lock(); defer mu.Unlock(); return done + failed }
	pid := cmd.Process.Pid
	start := time.Now()
	var rss10 int64
	armed := 0
	for cycles() < *soakCycles {
		if time.Since(start) > time.Duration(*soakCycles)*3*time.Second {
			b.Fatalf("only %d cycles in %s", cycles(), time.Since(start))
		}
		if rss10 == 0 && cycles() >= 10 {
			rss10 = procRSS(b, pid)
		}
		if rand.IntN(3) == 0 { // #nosec G404 -- test load, not a secret
			f := soakFaults[rand.IntN(len(soakFaults))] // #nosec G404
			proxy.Arm(f)
			armed++
		}
		time.Sleep(time.Second)
	}
	rssEnd := procRSS(b, pid)
	proxy.Disarm()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	elapsed := time.Since(start)
	mu.Lock()
	fmt.Printf("soak: %d cycles in %s: %d backups done, %d failed under %d armed faults (last failure: %.200s)\n",
		done+failed, elapsed.Round(time.Second), done, failed, armed, lastErr)
	mu.Unlock()
	growth := float64(rssEnd-rss10) / float64(rss10)
	fmt.Printf("soak: daemon RSS %s after 10 cycles, %s at the end (%+.1f%%; target within 10%%)\n", mib(rss10), mib(rssEnd), 100*growth)
	b.ReportMetric(100*growth, "RSS-growth-%")
	if growth > 0.10 {
		b.Errorf("the daemon's memory grew %.1f%% over the soak", 100*growth)
	}
	e.soakCheck(b, cfg)
}

// soakCheck restores every listed backup to SQL and compares it with the
// source, and checks that prune leaves no orphan and MinIO no upload.
func (e *env) soakCheck(b *testing.B, cfg string) {
	want := e.plainSQL(b, exec.Command(e.tool("pg_dump"), "--no-password", e.pg.DSN(e.db)))
	list := e.command(b, e.backupctl, "--config", cfg, "list", "--database", e.db, "--json")
	raw, err := list.Output()
	if err != nil {
		b.Fatalf("list: %v", err)
	}
	var ms []struct{ ID string }
	if err := json.Unmarshal(raw, &ms); err != nil || len(ms) == 0 {
		b.Fatalf("list printed %d backups (%v)", len(ms), err)
	}
	for _, m := range ms {
		file := filepath.Join(e.dir, m.ID+".dump")
		restore := e.command(b, e.backupctl, "--config", cfg, "restore", m.ID, "--database", e.db,
			"--output", file, "--reason", "soak check", "--identity", e.identity)
		if out, err := restore.CombinedOutput(); err != nil {
			b.Fatalf("restoring %s: %v\n%s", m.ID, err, out)
		}
		if got := e.plainSQL(b, exec.Command(e.tool("pg_restore"), "-f", "-", file)); got != want {
			b.Fatalf("backup %s does not restore to the source's content", m.ID)
		}
		os.Remove(file)
	}
	prune := e.command(b, e.backupctl, "--config", cfg, "prune", "--json")
	raw, err = prune.Output()
	if err != nil {
		b.Fatalf("prune: %v", err)
	}
	var plan struct{ Orphans, Uploads []string }
	if err := json.Unmarshal(raw, &plan); err != nil {
		b.Fatal(err)
	}
	orphans := e.orphans(b)
	uploads := e.s3.IncompleteUploads(b)
	fmt.Printf("soak: %d listed backups all restore identically; %d data objects without a manifest, %d incomplete uploads\n",
		len(ms), orphans, uploads)
	if orphans != 0 || uploads != 0 || len(plan.Orphans) != 0 {
		b.Errorf("the soak left %d orphans and %d incomplete uploads", orphans, uploads)
	}
}

// orphans counts current data objects that have no manifest.
func (e *env) orphans(b *testing.B) int {
	keys := map[string]bool{}
	client := e.s3.Client(b)
	var token *string
	for {
		out, err := client.ListObjectsV2(context.Background(), listInput(e.bucket, token))
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out.Contents {
			keys[*o.Key] = true
		}
		if out.NextContinuationToken == nil {
			break
		}
		token = out.NextContinuationToken
	}
	n := 0
	for k := range keys {
		if base, ok := strings.CutSuffix(k, ".dump.zst.age"); ok && !keys[base+".manifest.json"] {
			n++
		}
	}
	return n
}

// plainSQL runs a command that prints SQL and drops comments and the
// per-run \restrict lines, for comparing content.
func (e *env) plainSQL(b *testing.B, cmd *exec.Cmd) string {
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s: %v", cmd.Path, err)
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "--") && !strings.HasPrefix(line, `\restrict `) && !strings.HasPrefix(line, `\unrestrict `) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func listInput(bucket string, token *string) *s3.ListObjectsV2Input {
	return &s3.ListObjectsV2Input{Bucket: aws.String(bucket), ContinuationToken: token}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
