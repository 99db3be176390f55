package bench

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/pgtier/pgtier/crypto"
	"github.com/pgtier/pgtier/test/harness"
)

// sizeFlag is the benchmark's one setting; the testing package reads flags
// into package variables, so this one lives here too.
var sizeFlag = flag.String("size", "2GB", "size of the database to build and back up, e.g. 512MB, 2GB, 8GB (1024-based)")

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// env is everything one benchmark run works with.
type env struct {
	pg                  *harness.Postgres
	s3                  *harness.MinIO
	backupd, backupctl  string
	dir, db             string
	bucket              string // locked, for backupd
	identity, recipient string // identity file, public key
	config              string
}

// BenchmarkBackup builds (or reuses) a database of -size and, once per
// iteration, times the bare dump, the hand-made pipeline, backupd --once
// and the two restores, then prints a table and the ratios against the
// targets of DESIGN.md section 13. Run it with -benchtime 1x: one
// iteration takes minutes.
func BenchmarkBackup(b *testing.B) {
	target, err := parseSize(*sizeFlag)
	if err != nil {
		b.Fatal(err)
	}
	e := &env{pg: harness.PG(b), s3: harness.S3(b), dir: b.TempDir()}
	e.backupd, e.backupctl = harness.BuildBinaries(b)
	e.db = buildDatabase(b, e.pg, target)
	e.bucket = e.s3.Bucket(b, true)
	e.keys(b)
	e.config = e.write(b, "config.yaml", e.configYAML())
	hand := e.handmadeTarget(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var r results
		r.target = target
		r.size = e.size(b)
		r.dump = e.bareDump(b)
		r.handmade = e.handmade(b, hand)
		r.backupd = e.runBackupd(b)
		r.stored = e.storedSizes(b, hand)
		r.localDump, r.pgRestore = e.pgRestore(b)
		r.restore = e.restore(b)
		r.hand = hand
		r.print(os.Stdout)
		r.report(b)
	}
}

// keys makes the age key pair of the run.
func (e *env) keys(b *testing.B) {
	b.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	e.identity = e.write(b, "identity.txt", "# bench\n"+id.String()+"\n")
	e.recipient = id.Recipient().String()
	e.write(b, "recipients.txt", "# bench\n"+e.recipient+"\n")
	if _, err := crypto.WriteKeyPair(e.signingKey(), e.verifyKey()); err != nil {
		b.Fatal(err)
	}
}

// signingKey and verifyKey are the manifest-signing pair keys writes.
func (e *env) signingKey() string { return filepath.Join(e.dir, "signing.key") }
func (e *env) verifyKey() string  { return filepath.Join(e.dir, "signing.pub") }

// configYAML is backupd's and backupctl's config: the benchmark database,
// the locked bucket, defaults for everything else (zstd "default", object
// lock compliance, globals on).
func (e *env) configYAML() string {
	return fmt.Sprintf(`environment: bench
cluster: main
postgres:
  host: %s
  port: %d
  user: %s
  sslmode: disable
  databases: [%q]
  bin_dir: %s
encryption:
  recipients_file: %s
  signing_key_file: %s
  verify_key_file: %s
storage:
  url: s3://%s/pgtier
  endpoint: %s
  region: %s
  ca_file: %s
`, e.pg.Host, e.pg.Port, e.pg.User, e.db, e.pg.BinDir, filepath.Join(e.dir, "recipients.txt"), e.signingKey(), e.verifyKey(),
		e.bucket, e.s3.Endpoint, e.s3.Region, e.s3.CAFile)
}

func (e *env) write(b *testing.B, name, content string) string {
	b.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// command returns cmd for bin with the S3 credentials in the standard AWS
// environment variables, bound to the benchmark's context.
func (e *env) command(b *testing.B, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(b.Context(), bin, args...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+e.s3.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+e.s3.SecretKey,
		"AWS_REGION="+e.s3.Region,
		"AWS_DEFAULT_REGION="+e.s3.Region,
		"PGTIER_IDENTITY=",
	)
	return cmd
}

// tool is the path of a PostgreSQL client program of the harness's server.
func (e *env) tool(name string) string { return filepath.Join(e.pg.BinDir, name) }
