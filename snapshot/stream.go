package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// stderrTail is how many bytes of a tool's stderr are kept for errors.
	stderrTail = 4 << 10
	// stderrLines is how many of the last stderr lines an error shows.
	stderrLines = 6
	// waitDelay bounds how long Wait waits for a killed tool's output pipes
	// to close.
	waitDelay = 5 * time.Second
)

// ErrStopped is wrapped by the error of a Stream that Close stopped before
// the tool finished.
var ErrStopped = errors.New("stopped before it finished")

// ToolError is the error of a pg_dump, pg_dumpall or pg_restore run that
// failed: Err is the exit status, the context's error or ErrStopped, and
// Stderr the tail of what the tool wrote to stderr (at most 4 KiB).
type ToolError struct {
	Tool     string
	Database string
	Err      error
	Stderr   string
	secret   string
}

// Error reads `running pg_dump on database "app": exit status 1: <last
// stderr lines>`, on one line and without the password.
func (e *ToolError) Error() string {
	s := "running " + e.Tool
	if e.Database != "" {
		s += fmt.Sprintf(" on database %q", e.Database)
	}
	s += fmt.Sprintf(": %v", e.Err)
	if tail := lastLines(e.Stderr, stderrLines); tail != "" {
		s += ": " + tail
	}
	return scrub(s, e.secret)
}

// Unwrap returns Err.
func (e *ToolError) Unwrap() error { return e.Err }

// ExitCode is the tool's exit code, or -1 when it did not exit normally.
func (e *ToolError) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// lastLines joins the last n non-empty lines of s with "; ".
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// tailBuffer is an io.Writer that keeps the last max bytes written to it.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	trunc bool
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.trunc = true
	}
	return len(p), nil
}

// String is the kept text; after truncation the partial first line is
// dropped.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := string(b.buf)
	if b.trunc {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return s
}

// Stream is a running pg_dump or pg_dumpall whose standard output is read
// through Read, straight from the pipe (no buffering in between).
//
// Read returns io.EOF only when the tool exited successfully; if it failed,
// the Read that reaches the end of its output returns the tool's error
// instead, so a consumer such as an upload fails rather than keeping a
// truncated dump. Wait returns that same result. Close kills the tool if it
// is still running and never blocks on an unread pipe. Read is not safe for
// concurrent use; Close and Wait may be called from any goroutine, any
// number of times. The caller must call Close.
type Stream struct {
	out     *os.File
	cmd     *exec.Cmd
	ctx     context.Context
	tail    *tailBuffer
	tool    string
	db      string
	secret  string
	done    chan struct{}
	err     error // set before done is closed
	stopped atomic.Bool
	once    sync.Once
}

// startStream starts path with args and the tool environment of c, and
// returns its stdout as a Stream. Cancelling ctx kills the tool.
func startStream(ctx context.Context, c Conn, tool, path string, args []string) (*Stream, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", tool, err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = c.toolEnv()
	cmd.Stdout = w
	tail := newTailBuffer(stderrTail)
	cmd.Stderr = tail
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("starting %s: %w", tool, err)
	}
	w.Close()
	s := &Stream{
		out: r, cmd: cmd, ctx: ctx, tail: tail,
		tool: tool, db: c.Database, secret: c.Password,
		done: make(chan struct{}),
	}
	go func() {
		s.err = s.result(cmd.Wait())
		close(s.done)
	}()
	return s, nil
}

// result turns the error of exec.Cmd.Wait into the Stream's error.
func (s *Stream) result(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case s.stopped.Load():
		err = fmt.Errorf("%w (%w)", ErrStopped, err)
	case s.ctx.Err() != nil:
		err = fmt.Errorf("%w (%w)", context.Cause(s.ctx), err)
	}
	return &ToolError{Tool: s.tool, Database: s.db, Err: err, Stderr: s.tail.String(), secret: s.secret}
}

// Read reads the tool's standard output.
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.out.Read(p)
	if err == io.EOF {
		if werr := s.Wait(); werr != nil {
			return n, werr
		}
	}
	if err != nil && s.stopped.Load() {
		return n, fmt.Errorf("reading %s output: %w", s.tool, ErrStopped)
	}
	return n, err
}

// Wait waits for the tool to exit and returns nil if it succeeded, or a
// *ToolError with the exit status and the tail of its stderr. Call it after
// reading to io.EOF or after Close: a tool whose output is not read blocks
// on the full pipe and Wait with it.
func (s *Stream) Wait() error {
	<-s.done
	return s.err
}

// Close kills the tool if it has not exited, releases the pipe and waits for
// the process to end. It returns nil; Wait reports how the tool ended
// (wrapping ErrStopped if Close killed it).
func (s *Stream) Close() error {
	s.once.Do(func() {
		select {
		case <-s.done:
		default:
			s.stopped.Store(true)
			_ = s.cmd.Process.Kill()
		}
		s.out.Close()
		<-s.done
	})
	return nil
}
