package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/crypto"
	"github.com/pgtier/pgtier/snapshot"
)

// Names of a drill's checks, in the order they are reported. The manifest's
// signature is checked by the catalog before a drill starts; its caller
// reports that check.
const (
	CheckObject    = "object"     // the stored bytes: size and SHA-256 as in the manifest
	CheckDecrypt   = "decrypt"    // age authenticated every chunk; zstd decompressed the whole stream
	CheckArchive   = "archive"    // pg_restore --list read the table of contents; every counted table has its data
	CheckRestore   = "restore"    // pg_restore into the throwaway database succeeded
	CheckRowCounts = "row_counts" // every restored table's count(*) against the manifest
	CheckAmcheck   = "pg_amcheck" // pg_amcheck on the throwaway database
	CheckDrop      = "drop"       // the throwaway database was dropped
)

// Results of a check.
const (
	ResultPass    = "pass"
	ResultFail    = "fail"
	ResultSkipped = "skipped"
)

// Check is the result of one step of a drill; Detail says what was seen,
// or why the step failed or was skipped.
type Check struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	Detail string `json:"detail"`
}

// DrillOptions shape a restore drill.
type DrillOptions struct {
	// Into, when set, names a throwaway database: it must not exist; the
	// drill creates it, restores into it (without owners and privileges, so
	// that none of the source's roles are needed), compares row counts,
	// runs pg_amcheck and drops it again, whatever happened.
	Into *snapshot.Conn
	// Maintenance is the database to connect to when creating and dropping
	// Into ("postgres" when empty).
	Maintenance string
}

// DrillReport is what a drill found. A check that could not run because an
// earlier one failed is not listed.
type DrillReport struct {
	Checks  []Check           `json:"checks"`
	Archive *Archive          `json:"archive,omitempty"`
	Tables  []TableComparison `json:"tables,omitempty"`
	// Bytes is the number of stored bytes read.
	Bytes int64 `json:"bytes"`
}

// Failure returns the first failed check, or nil when none failed.
func (d *DrillReport) Failure() *Check {
	for i := range d.Checks {
		if d.Checks[i].Result == ResultFail {
			return &d.Checks[i]
		}
	}
	return nil
}

func (d *DrillReport) add(c Check) { d.Checks = append(d.Checks, c) }

// Drill reads backup m back as a restore would and checks it: the stored
// bytes against the manifest's size and SHA-256, age's authentication of
// every chunk, and the archive's table of contents against the tables the
// manifest counted; with o.Into it also restores into a throwaway database,
// compares every table's row count with the manifest (exact counts must be
// equal; estimates within EstimateSlackPercent or EstimateSlackRows; tables
// without an estimate are not compared), runs pg_amcheck, and drops the
// database. r.Tools must hold pg_restore (and the server's tools with
// o.Into).
//
// The whole object is read even after a failure, so that a damaged object
// is named as such rather than by the step it broke. A failed check is
// reported in the DrillReport, not as an error. The error is for a drill
// that could not run as asked: the globals with o.Into, an Into database
// that exists, identities that cannot decrypt the backup (these before
// anything is created; the report is then nil), pg_restore that cannot be
// started, or a cancelled ctx (the report then holds the checks done).
func (r *Restorer) Drill(ctx context.Context, m *catalog.Manifest, o DrillOptions) (*DrillReport, error) {
	globals := m.Database == catalog.GlobalsDatabase
	var admin snapshot.Conn
	if o.Into != nil {
		if globals {
			return nil, ErrGlobalsNeedFile
		}
		admin = *o.Into
		admin.Database = o.Maintenance
		if admin.Database == "" {
			admin.Database = "postgres"
		}
		exists, err := snapshot.DatabaseExists(ctx, admin, o.Into.Database)
		if err != nil {
			return nil, err
		}
		if exists {
			return nil, fmt.Errorf("%w: %s; the drill restores into a new database it creates and drops", ErrTargetExists, o.Into.Database)
		}
	}
	d := &DrillReport{}
	body, err := r.Source.Open(ctx, m)
	if err != nil {
		d.add(Check{Name: CheckObject, Result: ResultFail, Detail: err.Error()})
		return d, nil
	}
	defer body.Close()
	var progress func(int64)
	if r.Progress != nil {
		progress = r.Progress(m.StoredBytes)
	}
	chk := newChecked(body, m.StoredBytes, m.SHA256, progress)
	dec, err := crypto.Decrypt(chk, r.Identities)
	if crypto.IsNoIdentity(err) {
		err = crypto.ExplainNoIdentity(err, r.IdentityFile, r.IdentityKeys, m.Encryption.Recipients)
		return nil, fmt.Errorf("decrypting backup %s of %s: %w", m.ID, m.Database, err)
	}
	var plain *errReader
	if err == nil {
		var zr io.ReadCloser
		if zr, err = crypto.Decompress(dec); err == nil {
			defer zr.Close()
			plain = &errReader{r: zr}
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			r.finishObject(d, chk, err)
		}
		return d, ctx.Err()
	}

	if globals {
		_, _ = io.Copy(io.Discard, ctxReader{ctx, plain})
		if ctx.Err() != nil {
			return d, ctx.Err()
		}
		r.finishObject(d, chk, plain.err)
		if d.Failure() == nil {
			d.add(Check{Name: CheckArchive, Result: ResultSkipped, Detail: "the globals are a SQL script, not an archive"})
		}
		return d, ctx.Err()
	}
	return d, r.drillArchive(ctx, m, o, admin, d, chk, plain)
}

// drillArchive feeds the archive to pg_restore --list and, with o.Into, to
// a restore at the same time, then judges the checks.
func (r *Restorer) drillArchive(ctx context.Context, m *catalog.Manifest, o DrillOptions, admin snapshot.Conn,
	d *DrillReport, chk *checked, plain *errReader) error {
	list, err := startLister(ctx, r.Tools)
	if err != nil {
		return err
	}
	stream := io.TeeReader(ctxReader{ctx, plain}, list)
	var restoreErr error
	created := false
	if o.Into != nil {
		if restoreErr = snapshot.CreateDatabase(ctx, admin, o.Into.Database); restoreErr == nil {
			created = true
			restoreErr = snapshot.Restore(ctx, r.Tools, *o.Into, stream, snapshot.RestoreOptions{NoOwner: true, NoPrivileges: true})
		}
	}
	// Read what the consumer left, so that age authenticates the last
	// chunk and the listing sees its input end. After a cancellation the
	// restore may still be reading; the stream is left to it.
	if ctx.Err() == nil {
		_, _ = io.Copy(io.Discard, stream)
	}
	listing, listErr := list.wait()
	if ctx.Err() != nil {
		if created {
			d.add(r.dropThrowaway(admin, o.Into.Database))
		}
		return ctx.Err()
	}

	streamOK := r.finishObject(d, chk, plain.err)
	if streamOK {
		if listErr != nil {
			d.add(Check{Name: CheckArchive, Result: ResultFail, Detail: "reading the table of contents: " + listErr.Error()})
		} else {
			d.Archive = &Archive{Entries: listing.entries, TableData: len(listing.data)}
			d.add(compareArchive(m.Tables, listing))
		}
	}
	if o.Into != nil && streamOK {
		if restoreErr != nil {
			d.add(Check{Name: CheckRestore, Result: ResultFail, Detail: restoreErr.Error()})
		} else {
			d.add(Check{Name: CheckRestore, Result: ResultPass, Detail: "pg_restore --no-owner --no-privileges into " + o.Into.Database})
			r.checkRestored(ctx, m, *o.Into, d)
		}
	}
	if created {
		d.add(r.dropThrowaway(admin, o.Into.Database))
	}
	return ctx.Err()
}

// checkRestored compares row counts and runs pg_amcheck in the restored
// database.
func (r *Restorer) checkRestored(ctx context.Context, m *catalog.Manifest, into snapshot.Conn, d *DrillReport) {
	counts, err := countRows(ctx, into)
	if err != nil {
		d.add(Check{Name: CheckRowCounts, Result: ResultFail, Detail: err.Error()})
		return
	}
	var c Check
	d.Tables, c = compareCounts(m.Tables, counts)
	d.add(c)
	d.add(amcheck(ctx, r.Tools, into))
}

// finishObject reads the rest of the stored object and adds the object
// check and, when the object matched, the decrypt check failed by
// streamErr (an error of decryption or decompression). It reports whether
// both passed.
func (r *Restorer) finishObject(d *DrillReport, chk *checked, streamErr error) bool {
	objErr := chk.finish()
	d.Bytes = chk.n
	if objErr != nil {
		detail := objErr.Error()
		if !errors.Is(objErr, ErrCorrupt) {
			detail = "reading the stored object: " + detail
		}
		d.add(Check{Name: CheckObject, Result: ResultFail, Detail: detail})
		return false
	}
	d.add(Check{Name: CheckObject, Result: ResultPass, Detail: fmt.Sprintf("%d bytes, sha256 %s as in the manifest", chk.n, chk.want)})
	if streamErr != nil {
		d.add(Check{Name: CheckDecrypt, Result: ResultFail, Detail: "decrypting and decompressing the object: " + streamErr.Error()})
		return false
	}
	d.add(Check{Name: CheckDecrypt, Result: ResultPass, Detail: "age authenticated every chunk; the zstd stream decompressed to its end"})
	return true
}

// dropThrowaway drops the drill's database; it runs even when the drill's
// context was cancelled.
func (r *Restorer) dropThrowaway(admin snapshot.Conn, name string) Check {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := snapshot.DropDatabase(ctx, admin, name); err != nil {
		r.logger().Error("could not drop the drill's database; drop it by hand", "database", name, "error", err)
		return Check{Name: CheckDrop, Result: ResultFail, Detail: err.Error() + "; drop it by hand"}
	}
	return Check{Name: CheckDrop, Result: ResultPass, Detail: "dropped " + name}
}

// errReader remembers the first error, other than io.EOF, of the reader it
// wraps.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}
