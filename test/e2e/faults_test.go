package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/test/faults"
)

// corrupt is what the error of a restore of an altered object says: age
// finds a changed chunk, the SHA-256 check any other change.
var corrupt = regexp.MustCompile(`truncated or altered|does not match`)

// hourlyShortWindows is shortWindows on an hourly schedule.
var hourlyShortWindows = strings.Replace(shortWindows, "@every 1m", "@every 1h", 1)

// TestFaults injects S3, network, Postgres and MinIO failures into backups
// and restores of one 40 MB database. A backup either completes, and then
// restores identically, or fails with exit 1 and a clear message, leaving
// nothing listed and no multipart upload behind. A restore either completes
// or fails the same way, leaving no database behind. The subtests share the
// database and run in order.
func TestFaults(t *testing.T) {
	start := time.Now()
	f := newFaultEnv(t)
	t.Logf("the big database is ready in %s", time.Since(start).Round(time.Millisecond))
	// Backups that expire a minute from now, for the clock-skew check at
	// the end: the other subtests fill the minute. An hourly schedule keeps
	// the newest of them fresh enough to allow a prune.
	skew := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	skew.noGlobals = true
	skew.config = skew.writeConfig(t, "short.yaml", hourlyShortWindows)
	for range 3 {
		skew.backup(t)
	}

	t.Run("backup", f.testBackupFaults)
	m := f.latest(t)
	t.Run("restore", func(t *testing.T) { f.testRestoreFaults(t, m) })
	t.Run("postgres", f.testPostgresDown)
	t.Run("minio killed mid-upload", f.testMinIOKilled)
	t.Run("minio down until the upload gives up", f.testMinIODown)
	t.Run("corrupted object", func(t *testing.T) { f.testCorruptedObject(t, m) })
	t.Run("output to a full device", func(t *testing.T) { f.testFullDevice(t, m) })
	t.Run("clock skew", func(t *testing.T) { f.testClockSkew(t, skew) })
}

// latest returns the newest backup of the big database, taking one if
// there is none.
func (f *faultEnv) latest(t *testing.T) *catalog.Manifest {
	t.Helper()
	ms := f.list(t, f.db)
	if len(ms) == 0 {
		ms = f.backup(t)
	}
	return ms[len(ms)-1]
}

// testBackupFaults: 500 and 503 answers, a reset in the middle of a part,
// an error inside the 200 answer to CompleteMultipartUpload and manifest
// reads cut short are retried, and the backup restores identically; so does
// a backup while the server's clock is 10 minutes ahead, whose prune is
// refused. When the server did carry out the complete that the client was
// told failed, or a manifest read has a flipped bit, the backup fails
// cleanly.
func (f *faultEnv) testBackupFaults(t *testing.T) {
	cases := []struct {
		name   string
		faults []faults.Fault
		// mayFail accepts a clean failure as well as a backup that
		// restores identically.
		mayFail bool
		says    string // what the run's log must say
	}{
		{name: "500 on part 2", faults: []faults.Fault{
			{Match: faults.UploadPart(dataSuffix, 2), Kind: faults.InternalError, Times: 2}}},
		{name: "503 SlowDown on create and parts", faults: []faults.Fault{
			{Match: faults.Match{Method: "POST", Key: dataSuffix, Query: "uploads"}, Kind: faults.SlowDown},
			{Match: faults.UploadPart(dataSuffix, 0), Kind: faults.SlowDown, Times: 2}}},
		{name: "reset in the middle of part 3", faults: []faults.Fault{
			{Match: faults.UploadPart(dataSuffix, 3), Kind: faults.ResetRequest, At: 3 << 20, Times: 2}}},
		{name: "error in a 200 to complete", faults: []faults.Fault{
			{Match: faults.CompleteUpload(dataSuffix), Kind: faults.ErrorIn200}}},
		{name: "error in a 200 to a complete carried out", mayFail: true, faults: []faults.Fault{
			{Match: faults.CompleteUpload(dataSuffix), Kind: faults.ErrorIn200, Forward: true}}},
		// The GETs of a backup are of the manifests already listed.
		{name: "manifest reads cut", faults: []faults.Fault{
			{Match: faults.GetObject(".manifest.json"), Kind: faults.TruncateBody, At: 100, Times: 2}}},
		{name: "manifest read with a flipped bit", mayFail: true, says: "checksum did not match", faults: []faults.Fault{
			{Match: faults.GetObject(".manifest.json"), Kind: faults.FlipBit, At: 200}}},
		{name: "server Date 10 minutes ahead", says: "clock_skew", faults: []faults.Fault{
			{Kind: faults.ShiftDate, Shift: 10 * time.Minute, Times: faults.Always}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			before, uploads, objects := f.listIn(t, f.proxied, f.db), f.uploadsLeft(t), f.objectsLeft(t)
			rules := f.arm(t, c.faults...)
			r := f.run(t, f.backupd, "--config", f.proxied, "--once")
			fired(t, f.proxy, rules...)
			f.proxy.Disarm()
			if line := lineWith(r.stderr, c.says); line == "" {
				t.Errorf("backupd did not say %q:\n%s", c.says, r.stderr)
			} else if c.says != "" {
				t.Logf("backupd said: %s", line)
			}
			if r.code != 0 {
				if !c.mayFail {
					t.Fatalf("backupd --once: exit %d\n%s", r.code, r.stderr)
				}
				errorLine(t, "backupd --once", r)
				f.nothingNew(t, f.proxied, before, uploads)
				t.Logf("objects under the database prefix: %d before, %d after", objects, f.objectsLeft(t))
				return
			}
			m := newBackup(t, before, f.listIn(t, f.proxied, f.db))
			t.Logf("backed up %s (%d bytes stored) in %s", m.ID, m.StoredBytes, time.Since(start).Round(time.Millisecond))
			f.restoresIdentically(t, f.config, m, f.db+"_r")
		})
	}
}

// testRestoreFaults: 500 and 503 answers to the GET of the data object are
// retried; a body cut short or reset is resumed where it broke. A body cut
// every time, or one with a flipped bit, fails the restore with exit 1 and
// drops the database it created.
func (f *faultEnv) testRestoreFaults(t *testing.T, m *catalog.Manifest) {
	get := faults.GetObject(m.Object.Key)
	cases := []struct {
		name  string
		fault faults.Fault
		file  bool           // restore --output rather than into a database
		fails *regexp.Regexp // the failure expected, nil for success
	}{
		{name: "500", fault: faults.Fault{Match: get, Kind: faults.InternalError, Times: 2}},
		{name: "503 SlowDown", fault: faults.Fault{Match: get, Kind: faults.SlowDown, Times: 2}, file: true},
		{name: "body cut 3 times", fault: faults.Fault{Match: get, Kind: faults.TruncateBody, At: 5 << 20, Times: 3}},
		{name: "body reset", fault: faults.Fault{Match: get, Kind: faults.ResetResponse, At: 7 << 20}, file: true},
		{name: "body cut every time", fault: faults.Fault{Match: get, Kind: faults.TruncateBody, At: 5 << 20, Times: faults.Always},
			fails: regexp.MustCompile(`resumed 5 times`)},
		{name: "flipped bit", fault: faults.Fault{Match: get, Kind: faults.FlipBit, At: 20 << 20}, fails: corrupt},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rules := f.arm(t, c.fault)
			switch {
			case c.fails != nil:
				target := f.db + "_f" + string(rune('0'+i))
				r := f.restoreTo(t, f.proxied, m, target)
				fired(t, f.proxy, rules...)
				if line := errorLine(t, "restore", r); !c.fails.MatchString(line) {
					t.Errorf("the error does not say %q", c.fails)
				}
				if f.dbExists(t, target) {
					t.Fatal("the failed restore left its database behind")
				}
			case c.file:
				f.restoresToFile(t, f.proxied, m)
				fired(t, f.proxy, rules...)
			default:
				f.restoresIdentically(t, f.proxied, m, f.db+"_r")
				fired(t, f.proxy, rules...)
			}
		})
	}
}

// testPostgresDown: Postgres killed, or shut down, while pg_dump has
// written 8 MiB fails the backup with exit 1 naming pg_dump, and leaves no
// backup, object or upload; once Postgres is back the next run succeeds.
func (f *faultEnv) testPostgresDown(t *testing.T) {
	for _, c := range []struct {
		name string
		stop func() error
	}{{"killed mid-dump", f.pg.Kill}, {"stopped mid-dump", f.pg.Stop}} {
		t.Run(c.name, func(t *testing.T) {
			before, uploads, objects := f.list(t, f.db), f.uploadsLeft(t), f.objectsLeft(t)
			port := f.pg.Port
			cmd, out := f.command(t, f.backupd, "--config", f.config, "--once")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			dumping := waitChildWrote(t, cmd.Process.Pid, "pg_dump", 8<<20, 2*time.Minute)
			if dumping {
				if err := c.stop(); err != nil {
					t.Fatal(err)
				}
			}
			_ = cmd.Wait()
			if err := f.pg.Start(); err != nil || f.pg.Port != port {
				t.Fatalf("restarting postgres: %v (port %d, was %d)", err, f.pg.Port, port)
			}
			if !dumping {
				t.Fatalf("pg_dump was not seen writing 8 MiB:\n%s", out)
			}
			r := result{stderr: out.String(), code: cmd.ProcessState.ExitCode()}
			if line := errorLine(t, "backupd --once", r); !strings.Contains(line, "pg_dump") {
				t.Errorf("the error does not name pg_dump")
			}
			f.nothingNew(t, f.config, before, uploads)
			if n := f.objectsLeft(t); n != objects {
				t.Fatalf("%d objects under the database prefix, %d before", n, objects)
			}
			m := newBackup(t, before, f.backup(t))
			f.restoresToFile(t, f.config, m)
		})
	}
}

// testMinIOKilled: MinIO killed while parts are in flight and restarted two
// seconds later. The SDK retries the parts against the restarted server:
// the backup either completes and restores, or fails cleanly; the next run
// succeeds.
func (f *faultEnv) testMinIOKilled(t *testing.T) {
	before, uploads := f.list(t, f.db), f.uploadsLeft(t)
	endpoint := f.s3.Endpoint
	cmd, out := f.command(t, f.backupd, "--config", f.config, "--once")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.restartMinIOAtEnd(t)
	uploading := waitChildWrote(t, cmd.Process.Pid, "pg_dump", uploadUnderway, 2*time.Minute)
	if uploading {
		if err := f.s3.Kill(); err != nil {
			t.Fatal(err)
		}
		t.Log("killed MinIO")
		time.Sleep(2 * time.Second)
	}
	if err := f.s3.Restart(); err != nil || f.s3.Endpoint != endpoint {
		t.Fatalf("restarting MinIO: %v (endpoint %s, was %s)", err, f.s3.Endpoint, endpoint)
	}
	err := cmd.Wait()
	if !uploading {
		t.Fatalf("pg_dump was not seen writing 32 MiB:\n%s", out)
	}
	after := f.list(t, f.db)
	if err != nil {
		errorLine(t, "backupd --once", result{stderr: out.String(), code: cmd.ProcessState.ExitCode()})
		f.nothingNew(t, f.config, before, uploads)
		after = f.backup(t)
	} else {
		t.Log("the backup survived the kill: its requests were retried against the restarted server")
	}
	m := newBackup(t, before, after)
	f.restoresIdentically(t, f.config, m, f.db+"_r")
	if n := f.uploadsLeft(t); n > uploads {
		t.Fatalf("%d multipart uploads left on MinIO's disk", n-uploads)
	}
}

// testMinIODown: MinIO killed while parts are in flight and kept down until
// the parts have used up their retries. The backup fails with exit 1; the
// abort of the upload, retried until MinIO is back, leaves no upload behind.
// The next run succeeds. It waits out the retries, about two minutes, so
// -short skips it.
func (f *faultEnv) testMinIODown(t *testing.T) {
	if testing.Short() {
		t.Skip("waits about two minutes for the retries to run out")
	}
	before, uploads := f.list(t, f.db), f.uploadsLeft(t)
	seen := len(f.proxy.Requests())
	cmd, out := f.command(t, f.backupd, "--config", f.proxied, "--once")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.restartMinIOAtEnd(t)
	if !waitChildWrote(t, cmd.Process.Pid, "pg_dump", uploadUnderway, 2*time.Minute) {
		t.Fatalf("pg_dump was not seen writing 32 MiB:\n%s", out)
	}
	if err := f.s3.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	aborting := func() bool {
		for _, r := range f.proxy.Requests()[seen:] {
			if strings.HasPrefix(r, "DELETE ") && strings.Contains(r, dataSuffix+"?uploadId=") {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(4 * time.Minute); !aborting(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("backupd did not try to abort the upload while MinIO was down:\n%s", out)
		}
	}
	t.Logf("MinIO was down for %s before backupd gave up the parts", time.Since(killed).Round(time.Second))
	if err := f.s3.Start(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	line := errorLine(t, "backupd --once", result{stderr: out.String(), code: cmd.ProcessState.ExitCode()})
	if strings.Contains(line, "aborting upload") {
		t.Errorf("the abort failed although MinIO came back")
	}
	f.nothingNew(t, f.config, before, uploads)
	newBackup(t, before, f.backup(t))
}

// testCorruptedObject: a new version with one byte changed uploaded over the
// data object does not affect a restore, which reads the version the
// manifest names. Where the changed object is the one served (a bucket
// without versioning), restore fails with exit 1 and a message saying the
// object does not match, and leaves no database or file behind.
func (f *faultEnv) testCorruptedObject(t *testing.T, m *catalog.Manifest) {
	f.overwrite(t, f.bucket, m.Object.Key, int(m.StoredBytes/2))
	f.restoresIdentically(t, f.config, m, f.db+"_r")

	locked := f.bucket
	f.bucket = f.s3.Bucket(t, false)
	plain := f.writeConfig(t, "unversioned.yaml", "  require_lockdown: false\n  object_lock: off\n")
	bucket := f.bucket
	f.bucket = locked
	ms := f.listIn(t, plain, f.db)
	f.mustRun(t, f.backupd, "--config", plain, "--once")
	u := newBackup(t, ms, f.listIn(t, plain, f.db))
	f.overwrite(t, bucket, u.Object.Key, int(u.StoredBytes/2))

	target := f.db + "_corrupt"
	if line := errorLine(t, "restore", f.restoreTo(t, plain, u, target)); !corrupt.MatchString(line) {
		t.Errorf("the error does not say the object was altered")
	}
	if f.dbExists(t, target) {
		t.Fatal("the failed restore left its database behind")
	}
	file := filepath.Join(f.dir, "corrupt.dump")
	r := f.run(t, f.backupctl, "--config", plain, "restore", u.ID, "--database", f.db, "--output", file,
		"--reason", "fault test", "--identity", f.identity)
	if line := errorLine(t, "restore --output", r); !corrupt.MatchString(line) {
		t.Errorf("the error does not say the object was altered")
	}
	if left, _ := filepath.Glob(filepath.Join(f.dir, "*corrupt.dump*")); len(left) != 0 {
		t.Fatalf("the failed restore left %v", left)
	}
}

// testFullDevice: restore --output /dev/full fails with exit 1 and one line
// naming the device.
func (f *faultEnv) testFullDevice(t *testing.T, m *catalog.Manifest) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	r := f.run(t, f.backupctl, "--config", f.config, "restore", m.ID, "--database", f.db, "--output", "/dev/full",
		"--reason", "fault test", "--identity", f.identity)
	line := oneLine(t, r.stderr)
	if r.code != 1 || !strings.Contains(line, "/dev/full") || !strings.Contains(line, "no space left on device") {
		t.Fatalf("exit %d, %q; want 1 and a line naming /dev/full and the lack of space", r.code, line)
	}
	t.Logf("backupctl said: %s", line)
}

// testClockSkew: with the storage server's Date 10 minutes ahead, prune
// --apply reports the clock_skew refusal, exits 1 and deletes nothing,
// although the same prune without the skew would delete a backup.
func (f *faultEnv) testClockSkew(t *testing.T, e *env) {
	ms := e.list(t, e.db)
	if len(ms) != 3 {
		t.Fatalf("want 3 backups, got %d", len(ms))
	}
	time.Sleep(time.Until(ms[2].ExpiresAt.Add(2 * time.Second)))
	r := e.mustRun(t, e.backupctl, "--config", e.config, "prune")
	if !strings.Contains(r.stdout, "would delete 1 of 3 backups") {
		t.Fatalf("without skew, the dry run printed:\n%s\nwant one deletion", r.stdout)
	}
	skewed := e.routed(t, e.writeConfig(t, "skewed.yaml", hourlyShortWindows), f.proxy)
	rules := f.arm(t, faults.Fault{Kind: faults.ShiftDate, Shift: 10 * time.Minute, Times: faults.Always})
	r = e.run(t, e.backupctl, "--config", skewed, "prune", "--apply")
	fired(t, f.proxy, rules...)
	if !strings.Contains(r.stdout, "refused (clock_skew)") || !strings.Contains(r.stdout, "deleted 0 of 3 backups") {
		t.Fatalf("prune --apply with the server 10 minutes ahead printed:\n%s", r.stdout)
	}
	if line := errorLine(t, "prune --apply", r); !strings.Contains(line, "clocks") {
		t.Errorf("the error does not name the clocks")
	}
	if got := e.list(t, e.db); len(got) != 3 {
		t.Fatalf("%d backups listed after the refused prune, want 3", len(got))
	}
}

// uploadUnderway is how much pg_dump has written when the tests take the
// multipart upload to be under way: its bytea is hex text, which zstd halves,
// so 32 MiB of dump fill more than the first 8 MiB part.
const uploadUnderway = 32 << 20

// restartMinIOAtEnd starts MinIO again when a test that kills it ends with
// it down, so a failure does not spill into the tests after it.
func (f *faultEnv) restartMinIOAtEnd(t *testing.T) {
	t.Cleanup(func() {
		if !f.s3.Running() {
			if err := f.s3.Start(); err != nil {
				t.Errorf("starting MinIO again: %v", err)
			}
		}
	})
}
