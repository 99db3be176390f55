package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"filippo.io/age"
	"golang.org/x/sync/errgroup"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/crypto"
	"github.com/pgtier/pgtier/retention"
	"github.com/pgtier/pgtier/snapshot"
	"github.com/pgtier/pgtier/storage"
)

// Keys are the public keys a backup is encrypted to.
type Keys struct {
	Recipients []age.Recipient
	Public     []string // the recipients as written, for the manifest
}

// Job takes backups of the databases of one Postgres cluster.
// Its fields are set once; Run may be called for several databases, one at
// a time or concurrently.
type Job struct {
	Catalog          *catalog.Catalog
	Tools            snapshot.Tools
	Conn             snapshot.Conn // Database is replaced by the one backed up
	Keys             Keys
	CompressionLevel string
	// Policy decides a new backup's tiers (from the backups already
	// listed), its lock and expiry dates and its storage class.
	Policy retention.Policy
	// LockMode is COMPLIANCE, GOVERNANCE, or "" for no object lock.
	LockMode string
	Host     string
	Version  string
	Logger   *slog.Logger
	Now      func() time.Time
}

// Result is what one backup did.
type Result struct {
	Manifest *catalog.Manifest
	Duration time.Duration
}

// ErrSlotTaken is returned when the database already has a backup taken at
// or after the scheduled slot: another daemon took it.
var ErrSlotTaken = errors.New("already backed up for this scheduled slot")

// Run backs up one database (catalog.GlobalsDatabase for the globals) and
// commits it. On error nothing is listed and no multipart upload is left.
// When slot is not zero and a backup taken at or after slot is already
// listed, Run takes none and returns ErrSlotTaken.
func (j *Job) Run(ctx context.Context, database string, slot time.Time) (Result, error) {
	existing, err := j.Catalog.List(ctx, database)
	if err != nil {
		return Result{}, err
	}
	if n := len(existing); n > 0 && !slot.IsZero() && !existing[n-1].TakenAt.Before(slot.Truncate(time.Second)) {
		return Result{Manifest: existing[n-1]}, ErrSlotTaken
	}
	start, err := j.start(ctx, existing)
	if err != nil {
		return Result{}, err
	}
	taken := start.UTC().Truncate(time.Second)
	conn := j.Conn
	if database != catalog.GlobalsDatabase {
		conn.Database = database
	}
	info, err := snapshot.Preflight(ctx, conn)
	if err != nil {
		return Result{}, err
	}
	m := &catalog.Manifest{
		Format:           catalog.Format,
		ID:               catalog.NewID(taken),
		Environment:      j.Catalog.Layout().Environment,
		Cluster:          j.Catalog.Layout().Cluster,
		Database:         database,
		Method:           catalog.MethodPgDump,
		ServerVersion:    info.Version,
		SystemIdentifier: info.SystemID,
		DumpVersion:      j.Tools.Version,
		TakenAt:          taken,
		Encryption:       catalog.Encryption{Algorithm: "age", Recipients: j.Keys.Public},
		Host:             j.Host,
		PgtierVersion:    j.Version,
	}
	if m.Compression.Level, err = crypto.CompressionLevel(j.CompressionLevel); err != nil {
		return Result{}, err
	}
	m.Compression.Algorithm = "zstd"
	var open func(context.Context) (*snapshot.Stream, error)
	if database == catalog.GlobalsDatabase {
		m.Method = catalog.MethodPgDumpAll
		open = func(ctx context.Context) (*snapshot.Stream, error) { return snapshot.DumpGlobals(ctx, j.Tools, conn) }
	} else {
		counts, err := snapshot.TableCounts(ctx, conn)
		if err != nil {
			return Result{}, err
		}
		for _, c := range counts {
			m.Tables = append(m.Tables, catalog.TableCount{Schema: c.Schema, Table: c.Table, Rows: c.Rows, Exact: c.Exact})
		}
		open = func(ctx context.Context) (*snapshot.Stream, error) { return snapshot.Dump(ctx, j.Tools, conn) }
	}
	tiers := retention.Promote(Backups(existing), taken, j.Policy)
	for _, t := range tiers {
		m.Tiers = append(m.Tiers, string(t))
	}
	m.LockUntil, m.ExpiresAt, m.Object.StorageClass = retention.Windows(tiers, taken, j.Policy)
	m.LockMode = j.LockMode

	put := storage.PutOptions{
		SizeHint:     info.DatabaseSize,
		LockMode:     m.LockMode,
		LockUntil:    m.LockUntil,
		StorageClass: m.Object.StorageClass,
		ContentType:  "application/octet-stream",
	}
	if m.LockMode == "" {
		put.LockUntil = time.Time{}
	}
	if err := j.stream(ctx, m, open, put); err != nil {
		return Result{}, fmt.Errorf("backing up %s: %w", database, err)
	}
	m.FinishedAt = j.Now().UTC()
	if err := j.Catalog.Commit(ctx, m); err != nil {
		return Result{}, fmt.Errorf("backing up %s: %w", database, err)
	}
	return Result{Manifest: m, Duration: j.Now().Sub(start)}, nil
}

// start returns the start time of a new backup: now, or, when a listed
// backup already has this second (ids are whole seconds), the next free
// second, waited for. Two backups never share an id, so a second backup can
// never overwrite the data of the first.
func (j *Job) start(ctx context.Context, existing []*catalog.Manifest) (time.Time, error) {
	now := j.Now()
	if len(existing) == 0 {
		return now, nil
	}
	free := existing[len(existing)-1].TakenAt.Add(time.Second)
	if !now.Before(free) {
		return now, nil
	}
	select {
	case <-time.After(free.Sub(now)):
		return free, nil
	case <-ctx.Done():
		return time.Time{}, context.Cause(ctx)
	}
}

// stream runs dump | zstd | age | upload as one errgroup: the producer ends
// the pipe with the dump's error, so the upload is aborted when the dump
// fails, and the dump is killed when the upload fails.
func (j *Job) stream(ctx context.Context, m *catalog.Manifest, open func(context.Context) (*snapshot.Stream, error), put storage.PutOptions) error {
	g, gctx := errgroup.WithContext(ctx)
	dump, err := open(gctx)
	if err != nil {
		return err
	}
	defer dump.Close()
	pr, pw := io.Pipe()
	sum := sha256.New()
	stored := &counter{}
	raw := &counter{}
	g.Go(func() error {
		err := encode(io.MultiWriter(pw, sum, stored), io.TeeReader(dump, raw), j.Keys.Recipients, j.CompressionLevel)
		if err != nil {
			dump.Close() // the reader stopped: end pg_dump rather than wait on a full pipe
		}
		if werr := dump.Wait(); werr != nil {
			err = werr
		}
		pw.CloseWithError(err)
		return err
	})
	g.Go(func() error {
		info, err := j.Catalog.PutData(gctx, m.Database, m.ID, pr, put)
		pr.CloseWithError(errUploadStopped)
		if err != nil {
			return err
		}
		m.Object.Key = j.Catalog.Layout().DataKey(m.Database, m.ID)
		m.Object.VersionID = info.VersionID
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	m.RawBytes, m.StoredBytes = raw.n, stored.n
	m.SHA256 = hex.EncodeToString(sum.Sum(nil))
	return nil
}

var errUploadStopped = errors.New("upload stopped")

// encode copies src into dst through zstd and age, and flushes both.
func encode(dst io.Writer, src io.Reader, recipients []age.Recipient, level string) error {
	enc, err := crypto.Encrypt(dst, recipients)
	if err != nil {
		return err
	}
	zw, err := crypto.Compress(enc, level)
	if err != nil {
		return err
	}
	if _, err := io.Copy(zw, src); err != nil {
		zw.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return enc.Close()
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
