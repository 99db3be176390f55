package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// shortWindows locks every tier for one minute and expires it then, on a
// one-minute schedule: prune may delete a backup a minute after it is taken.
const shortWindows = `schedule:
  base: "@every 1m"
tiers:
  base: {min: 1min, max: 1min}
  daily: {min: 1min, max: 1min}
  weekly: {min: 1min, max: 1min}
  monthly: {min: 1min, max: 1min}
`

// TestLockThenPrune: a backup's version cannot be deleted before
// lock_until. After expires_at, the dry run only explains, prune --apply
// removes the expired backup (manifest first, then data) and keeps the newest
// of each tier, and backupd --once prunes after backing up.
func TestLockThenPrune(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	e.noGlobals = true
	e.config = e.writeConfig(t, "short.yaml", shortWindows)
	e.backup(t)
	e.backup(t)
	ms := e.backup(t)
	if len(ms) != 3 {
		t.Fatalf("want 3 backups, got %d", len(ms))
	}
	a, b, c := ms[0], ms[1], ms[2]
	if got := strings.Join(a.Tiers, ","); got != "base,daily,weekly,monthly" {
		t.Fatalf("first backup's tiers = %s, want all four", got)
	}
	if got := strings.Join(b.Tiers, ","); got != "base" {
		t.Fatalf("second backup of the day has tiers %s, want base only", got)
	}
	if want := b.TakenAt.Add(time.Minute); !b.LockUntil.Equal(want) || !b.ExpiresAt.Equal(want) {
		t.Fatalf("lock_until %v, expires_at %v; want both %v", b.LockUntil, b.ExpiresAt, want)
	}
	client := e.s3.Client(t)
	ctx := context.Background()
	bucket, key, version := aws.String(e.bucket), aws.String("pgtier/"+b.Object.Key), aws.String(b.Object.VersionID)
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: key, VersionId: version}); err == nil {
		t.Fatal("deleting the version before lock_until succeeded")
	}

	time.Sleep(time.Until(c.ExpiresAt.Add(2 * time.Second)))
	r := e.mustRun(t, e.backupctl, "--config", e.config, "prune")
	if !strings.Contains(r.stdout, "would delete 1 of 3 backups") || !strings.Contains(r.stdout, "expired from base") {
		t.Fatalf("dry run printed:\n%s\nwant one deletion explained", r.stdout)
	}
	if got := e.list(t, e.db); len(got) != 3 {
		t.Fatalf("the dry run deleted backups: %d left", len(got))
	}

	r = e.mustRun(t, e.backupctl, "--config", e.config, "prune", "--apply", "--json")
	var out struct {
		Applied bool `json:"applied"`
		Backups []struct {
			ID, Action, Reason string
		} `json:"backups"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("prune --json: %v\n%s", err, r.stdout)
	}
	actions := map[string]string{}
	for _, d := range out.Backups {
		actions[d.ID] = d.Action
		if d.Reason == "" {
			t.Errorf("backup %s has no reason", d.ID)
		}
	}
	if !out.Applied || actions[a.ID] != "keep" || actions[b.ID] != "delete" || actions[c.ID] != "keep" {
		t.Fatalf("prune --apply planned %+v; want %s deleted, the newest daily and newest base kept", out.Backups, b.ID)
	}
	if got := e.list(t, e.db); len(got) != 2 || got[0].ID != a.ID || got[1].ID != c.ID {
		t.Fatalf("after prune, listed %v; want %s and %s", manifestIDs(got), a.ID, c.ID)
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: key}); err == nil {
		t.Fatal("the pruned backup's data object is still current")
	}
	// Its version outlived the lock, so (with version rights) it can go now.
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: key, VersionId: version}); err != nil {
		t.Fatalf("deleting the version after lock_until: %v", err)
	}

	// backupd --once prunes after backing up: c has expired and is no longer
	// the newest base backup.
	d := e.backup(t)
	if len(d) != 2 || d[0].ID != a.ID || d[1].ID == c.ID {
		t.Fatalf("after backupd --once, listed %v; want %s and the new backup", manifestIDs(d), a.ID)
	}
}

// TestBadPolicy: a policy that cannot work gets exit 2 and one line naming
// the key, before anything is written.
func TestBadPolicy(t *testing.T) {
	e := newEnv(t, "CREATE TABLE t AS SELECT 1 AS x;")
	cases := []struct{ name, extra, want string }{
		{"min over max", "tiers:\n  daily: {min: 30d, max: 7d}\n", "tiers.daily"},
		{"unknown tier", "tiers:\n  hourly: {min: 1h, max: 2h}\n", "tiers.hourly"},
		{"zero duration", "tiers:\n  base: {min: 0d, max: 5d}\n", "tiers.base.min"},
		{"negative duration", "tiers:\n  base: {min: -1d, max: 5d}\n", "tiers.base.min"},
		{"storage class the bucket rejects", "tiers:\n  monthly: {min: 13mo, max: 36mo, storage_class: GLACIER_IR}\n", "storage_class"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := e.writeConfig(t, strings.ReplaceAll(c.name, " ", "_")+".yaml", c.extra)
			r := e.run(t, e.backupd, "--config", cfg, "--once")
			line := oneLine(t, lastLine(r.stderr))
			if r.code != 2 || !strings.Contains(line, c.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and a line naming %q", r.code, r.stderr, c.want)
			}
		})
	}
	if got := e.list(t, e.db); len(got) != 0 {
		t.Fatalf("a refused policy left %d backups listed", len(got))
	}
}

// lastLine returns the last line of s: the error line, after any log lines.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
