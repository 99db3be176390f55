package setup

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/storage"
)

// fakeStore is a store with a fixed posture.
type fakeStore struct {
	storage.Store
	p storage.Posture
}

func (f fakeStore) Posture(context.Context) storage.Posture { return f.p }
func (f fakeStore) String() string                          { return f.p.Store }

func postureOf(checks ...storage.Check) storage.Posture {
	return storage.Posture{Store: "s3://backups/pgtier", Checks: checks}
}

var (
	lockOK       = storage.Check{Name: storage.CheckObjectLock, Status: storage.StatusOK, Detail: "enabled"}
	lockFail     = storage.Check{Name: storage.CheckObjectLock, Status: storage.StatusFail, Detail: "object lock is not enabled"}
	lockUnknown  = storage.Check{Name: storage.CheckObjectLock, Status: storage.StatusUnknown, Detail: "access denied"}
	versionsOK   = storage.Check{Name: storage.CheckVersioning, Status: storage.StatusOK, Detail: "enabled"}
	versionsFail = storage.Check{Name: storage.CheckVersioning, Status: storage.StatusFail, Detail: "never enabled"}
	public       = storage.Check{Name: storage.CheckPolicyStatus, Status: storage.StatusFail, Detail: "the bucket policy lets anyone s3:GetObject"}
	noTLSOnly    = storage.Check{Name: storage.CheckTLSOnly, Status: storage.StatusWarn, Detail: "no bucket policy"}
)

func lockedConfig() *configs.Config {
	return &configs.Config{
		Storage:    configs.Storage{URL: "s3://backups/pgtier", ObjectLock: "compliance", RequireLockdown: true},
		Encryption: configs.Encryption{SigningKeyFile: "/etc/pgtier/signing.key"},
	}
}

func checkPosture(t *testing.T, cfg *configs.Config, store storage.Store) (string, error) {
	t.Helper()
	var log bytes.Buffer
	err := CheckPosture(context.Background(), cfg, store, slog.New(slog.NewTextHandler(&log, nil)))
	return log.String(), err
}

func TestCheckPostureLocked(t *testing.T) {
	log, err := checkPosture(t, lockedConfig(), fakeStore{p: postureOf(versionsOK, lockOK, noTLSOnly)})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "tls_only warn: no bucket policy") {
		t.Errorf("want one warning for tls_only, logged %q", log)
	}
}

func TestCheckPostureRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     storage.Posture
		wants []string
	}{
		{"no lock", postureOf(versionsFail, lockFail, noTLSOnly), []string{
			`storage: bucket "backups" has no object lock (versioning: never enabled; object lock: object lock is not enabled); create the bucket with object lock, or set storage.require_lockdown: false to accept deletable backups`}},
		{"unknown lock", postureOf(versionsOK, lockUnknown), []string{
			`bucket "backups" cannot be shown to have object lock (object lock: access denied)`, "s3:GetBucketObjectLockConfiguration"}},
		{"public", postureOf(versionsOK, lockOK, public), []string{
			`bucket "backups" is public (policy status: the bucket policy lets anyone s3:GetObject)`, "to accept a public bucket"}},
		{"public without lock", postureOf(versionsOK, lockFail, public), []string{
			`has no object lock and is public`, "create the bucket with object lock and remove", "deletable backups in a public bucket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, err := checkPosture(t, lockedConfig(), fakeStore{p: tc.p})
			if ExitCode(err) != ExitUsage {
				t.Fatalf("got %v, want a usage error", err)
			}
			msg := err.Error()
			for _, w := range tc.wants {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message has several lines: %q", msg)
			}
			if log != "" {
				t.Errorf("logged before refusing: %q", log)
			}
		})
	}
}

func TestCheckPostureOptOuts(t *testing.T) {
	cfg := lockedConfig()
	cfg.Storage.RequireLockdown = false
	cfg.Storage.ObjectLock = "off"
	cfg.Storage.AllowInsecureHTTP = true
	cfg.Encryption.SigningKeyFile = ""
	log, err := checkPosture(t, cfg, fakeStore{p: postureOf(versionsFail, lockFail)})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"storage.require_lockdown false", "storage.object_lock off", "storage.allow_insecure_http true",
		"encryption.signing_key_file not set", "versioning fail: never enabled", "object_lock fail: object lock is not enabled"} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
	if n := strings.Count(log, "level=WARN"); n != 6 {
		t.Errorf("%d warnings, want 6:\n%s", n, log)
	}
}

func TestCheckPostureFileStore(t *testing.T) {
	cfg := &configs.Config{Storage: configs.Storage{URL: "file:///var/lib/pgtier", ObjectLock: "off"},
		Encryption: configs.Encryption{SigningKeyFile: "/k"}}
	local, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log, err := checkPosture(t, cfg, local)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log, "bucket posture") || !strings.Contains(log, "storage.require_lockdown") || !strings.Contains(log, "storage.object_lock") {
		t.Errorf("want the opt-outs and no posture, logged:\n%s", log)
	}
}

func TestCheckPostureWithoutPosture(t *testing.T) {
	type plain struct{ storage.Store }
	_, err := checkPosture(t, lockedConfig(), plain{storage.NewMemory()})
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "cannot report its posture") {
		t.Errorf("got %v, want a refusal", err)
	}
}
