package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/pgtier/pgtier/catalog"
)

// handmadeScript is the hand-made pipeline, run by bash with pipefail.
// $1 pg_dump, $2 DSN, $3 age recipient, $4 s3:// URL, $5 endpoint, $6 CA.
const handmadeScript = `set -o pipefail
"$1" --format=custom --compress=0 --no-password -d "$2" | zstd -T0 -q -c | age -r "$3" |
  aws s3 cp - "$4" --endpoint-url "$5" --ca-bundle "$6" --only-show-errors`

// handTarget is where the hand-made pipeline uploads.
type handTarget struct {
	bucket string
	locked bool
	why    string // why not the locked bucket, when not
}

// handmadeTarget checks the tools of the hand-made pipeline and picks its
// bucket: a locked one when the aws CLI can upload into it (the lock asks
// for a checksum on every part), else an unlocked one.
func (e *env) handmadeTarget(b *testing.B) handTarget {
	b.Helper()
	for _, t := range []string{"zstd", "age", "aws", "bash"} {
		if _, err := exec.LookPath(t); err != nil {
			b.Fatalf("%s not found: run bench/setup.sh (and test/install.sh)", t)
		}
	}
	locked := e.s3.Bucket(b, true)
	probe := `set -o pipefail; head -c 9437184 /dev/zero | aws s3 cp - "$1" --endpoint-url "$2" --ca-bundle "$3" --only-show-errors`
	cmd := e.command(b, "bash", "-c", probe, "bash", "s3://"+locked+"/probe", e.s3.Endpoint, e.s3.CAFile)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return handTarget{bucket: locked, locked: true}
	}
	why := firstLine(string(out))
	fmt.Printf("aws s3 cp into a bucket with object lock failed (%s); the hand-made pipeline uploads to a bucket without object lock\n", why)
	return handTarget{bucket: e.s3.Bucket(b, false), why: why}
}

// size returns pg_database_size of the benchmark database.
func (e *env) size(b *testing.B) int64 {
	b.Helper()
	return dbSize(b.Context(), b, e.pg.Conn(b, e.db))
}

// bareDump times pg_dump -Fc -Z0 into /dev/null: the floor.
func (e *env) bareDump(b *testing.B) run {
	b.Helper()
	return measure(b, "pg_dump -f /dev/null", e.command(b, e.tool("pg_dump"),
		"--format=custom", "--compress=0", "--no-password", "--no-sync", "-f", os.DevNull, "-d", e.pg.DSN(e.db)))
}

// handmade times pg_dump | zstd -T0 | age | aws s3 cp -.
func (e *env) handmade(b *testing.B, h handTarget) run {
	b.Helper()
	return measure(b, "hand-made pipeline", e.command(b, "bash", "-c", handmadeScript, "bash",
		e.tool("pg_dump"), e.pg.DSN(e.db), e.recipient, "s3://"+h.bucket+"/"+handmadeKey,
		e.s3.Endpoint, e.s3.CAFile))
}

// handmadeKey is the hand-made pipeline's object.
const handmadeKey = "handmade.dump.zst.age"

// runBackupd times backupd --config F --once.
func (e *env) runBackupd(b *testing.B) run {
	b.Helper()
	return measure(b, "backupd --once", e.command(b, e.backupd, "--config", e.config, "--once"))
}

// stored is what each upload left in the bucket.
type stored struct {
	handmade        int64
	backupdRaw      int64
	backupdStored   int64
	backupdID       string
	compressionLvl  int
	compressionAlgo string
}

// storedSizes reads the hand-made object's size and the newest manifest.
func (e *env) storedSizes(b *testing.B, h handTarget) stored {
	b.Helper()
	var s stored
	head, err := e.s3.Client(b).HeadObject(b.Context(), &s3.HeadObjectInput{
		Bucket: aws.String(h.bucket), Key: aws.String(handmadeKey)})
	if err != nil {
		b.Fatalf("stat %s: %v", handmadeKey, err)
	}
	s.handmade = aws.ToInt64(head.ContentLength)
	cmd := e.command(b, e.backupctl, "--config", e.config, "list", "--database", e.db, "--json")
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("backupctl list: %v", err)
	}
	var ms []*catalog.Manifest
	if err := json.Unmarshal(out, &ms); err != nil || len(ms) == 0 {
		b.Fatalf("backupctl list --json printed %q: %v", tailOf(string(out), 500), err)
	}
	newest := ms[0]
	for _, m := range ms {
		if m.TakenAt.After(newest.TakenAt) {
			newest = m
		}
	}
	s.backupdRaw, s.backupdStored, s.backupdID = newest.RawBytes, newest.StoredBytes, newest.ID
	s.compressionAlgo, s.compressionLvl = newest.Compression.Algorithm, newest.Compression.Level
	return s
}

// pgRestore dumps to a local file (timed, for reference) and times
// pg_restore from it into a new database, with the flags backupctl passes.
// The file and the database are removed afterwards.
func (e *env) pgRestore(b *testing.B) (dump, restore run) {
	b.Helper()
	file := filepath.Join(e.dir, "local.dump")
	defer os.Remove(file)
	dump = measure(b, "pg_dump -f FILE", e.command(b, e.tool("pg_dump"),
		"--format=custom", "--compress=0", "--no-password", "-f", file, "-d", e.pg.DSN(e.db)))
	const target = "bench_restore_pg_restore"
	e.dropDB(b, target)
	defer e.dropDB(b, target)
	e.exec(b, "postgres", "CREATE DATABASE "+pgx.Identifier{target}.Sanitize())
	restore = measure(b, "pg_restore FILE", e.command(b, e.tool("pg_restore"),
		"--format=custom", "--no-password", "--exit-on-error", "-d", e.pg.DSN(target), file))
	e.checkRestored(b, target)
	return dump, restore
}

// restore times backupctl restore of the newest backup into a new database,
// which is dropped afterwards.
func (e *env) restore(b *testing.B) run {
	b.Helper()
	const target = "bench_restore_backupctl"
	e.dropDB(b, target)
	defer e.dropDB(b, target)
	r := measure(b, "backupctl restore", e.command(b, e.backupctl, "--config", e.config,
		"restore", "--latest", "--database", e.db, "--to", e.pg.DSN(target),
		"--reason", "bench", "--identity", e.identity))
	e.checkRestored(b, target)
	return r
}

// checkRestored fails b unless db has as many random rows as the source.
func (e *env) checkRestored(b *testing.B, db string) {
	b.Helper()
	const q = "SELECT count(*) FROM bench_random"
	var want, got int64
	if err := e.pg.Conn(b, e.db).QueryRow(b.Context(), q).Scan(&want); err != nil {
		b.Fatalf("%s on %s: %v", q, e.db, err)
	}
	c := e.pg.Conn(b, db)
	err := c.QueryRow(b.Context(), q).Scan(&got)
	_ = c.Close(b.Context())
	if err != nil || got != want {
		b.Fatalf("restored %s: bench_random has %d rows, want %d (%v)", db, got, want, err)
	}
}

// dropDB drops database name if it exists.
func (e *env) dropDB(b *testing.B, name string) {
	b.Helper()
	e.exec(b, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// exec runs sql on db without the harness's per-statement time limit.
func (e *env) exec(b *testing.B, db, sql string) {
	b.Helper()
	c := e.pg.Conn(b, db)
	defer c.Close(b.Context())
	mustExec(b.Context(), b, c, sql)
}

// firstLine returns the first non-empty line of s.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "no output"
}
