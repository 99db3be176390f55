package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// RestoreOptions are the pg_restore switches Restore exposes. It always adds
// --exit-on-error: the first failed statement fails the restore.
type RestoreOptions struct {
	// NoOwner skips ALTER ... OWNER (--no-owner): objects belong to the
	// restoring role. Needed when the dump's roles do not exist.
	NoOwner bool
	// NoPrivileges skips GRANT and REVOKE (--no-privileges).
	NoPrivileges bool
	// SingleTransaction restores in one transaction (--single-transaction):
	// all or nothing, but one long transaction.
	SingleTransaction bool
}

// Restore runs pg_restore, reading a custom-format archive from r, into the
// existing database c.Database:
//
//	pg_restore --format=custom --no-password --exit-on-error --dbname=... [options]
//
// It reads r to its end even when pg_restore needs no more, so that a
// reader that verifies the stream (a checksum, an authenticated decryption)
// gets to report at the end; an error from r fails the restore (and kills
// pg_restore if it is still running). It returns after pg_restore has
// exited and reading r has stopped, or when ctx is done (pg_restore is then
// killed; r may still be in a Read the caller must unblock). A failed
// pg_restore yields a *ToolError with the tail of its stderr. The target
// database may hold part of the archive after a failure; the caller drops
// it.
func Restore(ctx context.Context, t Tools, c Conn, r io.Reader, o RestoreOptions) error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("starting pg_restore: %w", err)
	}
	if t.PgRestore == "" {
		return fmt.Errorf("starting pg_restore on database %q: no pg_restore (use FindTools)", c.Database)
	}
	args := []string{"--format=custom", "--no-password", "--exit-on-error", dbnameArg(c.Database)}
	if o.NoOwner {
		args = append(args, "--no-owner")
	}
	if o.NoPrivileges {
		args = append(args, "--no-privileges")
	}
	if o.SingleTransaction {
		args = append(args, "--single-transaction")
	}
	return runWithInput(ctx, c, "pg_restore", t.PgRestore, args, r, nil)
}

// ListArchive runs pg_restore --list on the custom-format archive read from
// r and returns the number of entries in its table of contents. It checks
// that r starts with a readable archive, not that its data is intact. Like
// Restore it reads r to its end, so a verifying reader reports any damage
// as ListArchive's error. It connects to no database.
func ListArchive(ctx context.Context, t Tools, r io.Reader) (int, error) {
	if t.PgRestore == "" {
		return 0, errors.New("starting pg_restore --list: no pg_restore (use FindTools)")
	}
	var lc lineCounter
	err := runWithInput(ctx, Conn{}, "pg_restore --list", t.PgRestore, []string{"--list", "--format=custom"}, r, &lc)
	if err != nil {
		return 0, err
	}
	return lc.entries, nil
}

// lineCounter counts the lines that are not comments (";") in a
// pg_restore --list output.
type lineCounter struct {
	entries int
	inLine  bool
}

func (lc *lineCounter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !lc.inLine {
			lc.inLine = true
			if p[0] != ';' && p[0] != '\n' {
				lc.entries++
			}
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		lc.inLine = false
		p = p[i+1:]
	}
	return n, nil
}

// readTracker remembers the error of the reader it wraps.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// runWithInput runs the tool with r on its stdin and stdout going to out
// (nil: discarded), and reads r to its end after a successful run.
func runWithInput(ctx context.Context, c Conn, tool, path string, args []string, r io.Reader, out io.Writer) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("starting %s: %w", tool, err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	if c.Host != "" {
		cmd.Env = c.toolEnv()
	} else {
		cmd.Env = withoutPG(os.Environ())
	}
	cmd.Stdin = pr
	cmd.Stdout = out
	tail := newTailBuffer(stderrTail)
	cmd.Stderr = tail
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return fmt.Errorf("starting %s: %w", tool, err)
	}
	pr.Close()

	in := &readTracker{r: r}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(pw, in)
		if in.err != nil {
			// Kill before closing the pipe, so that pg_restore never
			// takes a damaged stream's early end for the archive's end.
			_ = cmd.Process.Kill()
		}
		pw.Close()
		copied <- err
	}()

	waitErr := cmd.Wait()
	var copyErr error
	select {
	case copyErr = <-copied:
	case <-ctx.Done():
		return &ToolError{Tool: tool, Database: c.Database, Err: context.Cause(ctx), Stderr: tail.String(), secret: c.Password}
	}
	if in.err != nil {
		return fmt.Errorf("reading the archive for %s: %w", tool, in.err)
	}
	if waitErr != nil {
		if ctx.Err() != nil {
			waitErr = fmt.Errorf("%w (%w)", context.Cause(ctx), waitErr)
		}
		return &ToolError{Tool: tool, Database: c.Database, Err: waitErr, Stderr: tail.String(), secret: c.Password}
	}
	if copyErr != nil && !errors.Is(copyErr, syscall.EPIPE) {
		return fmt.Errorf("feeding the archive to %s: %w", tool, copyErr)
	}
	if copyErr != nil {
		// The tool needed no more input; read the rest so that a
		// verifying reader sees every byte.
		if _, err := io.Copy(io.Discard, in); err != nil {
			return fmt.Errorf("reading the archive for %s: %w", tool, err)
		}
	}
	return nil
}
