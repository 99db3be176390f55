package setup

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/storage"
)

// OptOut is a setting in effect that weakens pgtier's lock-down: Key is the
// config key, Detail one line on what it gives up.
type OptOut struct {
	Key    string
	Detail string
}

// OptOuts returns the opt-outs in effect in cfg, in a fixed order:
// storage.require_lockdown false, storage.object_lock off,
// storage.allow_insecure_http true, and no encryption.signing_key_file.
func OptOuts(cfg *configs.Config) []OptOut {
	var out []OptOut
	if !cfg.Storage.RequireLockdown {
		out = append(out, OptOut{"storage.require_lockdown", "false: backupd starts even when the bucket has no object lock or is public"})
	}
	if cfg.Storage.ObjectLock == "off" {
		out = append(out, OptOut{"storage.object_lock", "off: backups are written without a retain-until date and can be deleted at any time"})
	}
	if cfg.Storage.AllowInsecureHTTP {
		out = append(out, OptOut{"storage.allow_insecure_http", "true: a plain http:// endpoint is accepted, so requests may travel unencrypted"})
	}
	if cfg.Encryption.SigningKeyFile == "" {
		out = append(out, OptOut{"encryption.signing_key_file", "not set: manifests are not signed, so an altered manifest cannot be detected"})
	}
	return out
}

// poser is a store that can read its own posture (storage.S3, Local and
// Memory are).
type poser interface {
	Posture(ctx context.Context) storage.Posture
}

// CheckPosture is the lock-down check backupd makes at each start, right
// after opening the store and before writing anything to it.
//
// For an s3:// store it reads the bucket's posture. When the posture has
// blocking checks (no object lock, or a public bucket; see
// storage.Posture.Blocking) and cfg.Storage.RequireLockdown is set, it
// returns a one-line usage error naming the bucket, the problem and the two
// ways out, and logs nothing, so that this line is all the operator sees.
// Otherwise it logs each opt-out of OptOuts and each check that is not ok as
// a warning, one line each, and returns nil.
//
// A file:// store has no bucket settings: its posture is not read (the
// config already makes the operator opt out for it). A store that cannot
// report a posture counts as one without object lock.
func CheckPosture(ctx context.Context, cfg *configs.Config, store storage.Store, logger *slog.Logger) error {
	var p storage.Posture
	applicable := !strings.HasPrefix(cfg.Storage.URL, "file://")
	if applicable {
		p = ReadPosture(ctx, store)
		if err := Lockdown(cfg, p); err != nil {
			return err
		}
	}
	for _, o := range OptOuts(cfg) {
		logger.Warn("lock-down opt-out in effect: "+o.Key+" "+o.Detail, "key", o.Key)
	}
	for _, c := range p.Checks {
		if c.Status != storage.StatusOK {
			logger.Warn("bucket posture: "+c.Name+" "+c.Status+": "+c.Detail,
				"store", p.Store, "check", c.Name, "status", c.Status)
		}
	}
	return nil
}

// Lockdown is the refusal CheckPosture gives for posture p: a one-line usage
// error when p has blocking checks and cfg.Storage.RequireLockdown is set,
// else nil.
func Lockdown(cfg *configs.Config, p storage.Posture) error {
	if blocking := p.Blocking(); len(blocking) > 0 && cfg.Storage.RequireLockdown {
		return Usage(lockdownError(cfg.Storage.URL, blocking))
	}
	return nil
}

// ReadPosture reads the posture of store. A store that cannot report one gets
// an unknown object lock check, which blocks.
func ReadPosture(ctx context.Context, store storage.Store) storage.Posture {
	if ps, ok := store.(poser); ok {
		return ps.Posture(ctx)
	}
	return storage.Posture{Store: store.String(), Checks: []storage.Check{{
		Name: storage.CheckObjectLock, Status: storage.StatusUnknown,
		Detail: "this store cannot report its posture",
	}}}
}

// lockdownError is the one line that stops backupd on a bucket whose
// blocking checks are given: what is wrong, what was found, and the fix.
func lockdownError(storageURL string, blocking []storage.Check) error {
	bucket := storageURL
	if u, err := url.Parse(storageURL); err == nil && u.Host != "" {
		bucket = u.Host
	}
	var noLock, unknownLock, public bool
	found := make([]string, 0, len(blocking))
	for _, c := range blocking {
		switch {
		case c.Name == storage.CheckPolicyStatus:
			public = true
		case c.Status == storage.StatusUnknown:
			unknownLock = true
		default:
			noLock = true
		}
		found = append(found, strings.ReplaceAll(c.Name, "_", " ")+": "+c.Detail)
	}
	var problems, fixes []string
	accept := "deletable backups"
	switch {
	case noLock:
		problems = append(problems, "has no object lock")
		fixes = append(fixes, "create the bucket with object lock")
	case unknownLock:
		problems = append(problems, "cannot be shown to have object lock")
		fixes = append(fixes, "make sure backupd can reach the bucket and read its object lock configuration (s3:GetBucketObjectLockConfiguration)")
	}
	if public {
		problems = append(problems, "is public")
		fixes = append(fixes, "remove the bucket policy statements that allow anyone")
		accept = "a public bucket"
		if noLock || unknownLock {
			accept = "deletable backups in a public bucket"
		}
	}
	return fmt.Errorf("storage: bucket %q %s (%s); %s, or set storage.require_lockdown: false to accept %s",
		bucket, strings.Join(problems, " and "), strings.Join(found, "; "), strings.Join(fixes, " and "), accept)
}
