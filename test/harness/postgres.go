package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is the shared throwaway cluster of a test binary: trust
// authentication on loopback, superuser User. fsync is off: a killed server
// keeps every committed transaction, a crashed machine would not.
// Its methods are safe for concurrent use; a test that stops or kills the
// server affects every test that runs at the same time.
type Postgres struct {
	Host      string // always 127.0.0.1
	Port      int
	User      string // superuser, "postgres"
	BinDir    string // directory of initdb, postgres, pg_dump, pg_restore, psql
	DataDir   string
	SocketDir string // unix socket directory, inside the harness temp dir

	mu      sync.Mutex
	proc    *proc
	cred    *syscall.Credential // nil unless the tests run as root
	dir     string
	logPath string
}

// PG returns the shared cluster, starting it on first use and again if an
// earlier test left it stopped. It skips or fails t when PostgreSQL is not
// installed.
func PG(t testing.TB) *Postgres {
	t.Helper()
	s := current
	s.mu.Lock()
	if s.pg == nil && s.pgErr == nil {
		s.pg, s.pgErr = s.startPostgres()
	}
	pg, err := s.pg, s.pgErr
	s.mu.Unlock()
	check(t, err)
	if err := pg.Start(); err != nil {
		t.Fatalf("harness: %v", err)
	}
	return pg
}

// pgBinDir finds the PostgreSQL server binaries: $PGTIER_PG_BIN, else the
// newest /usr/lib/postgresql/*/bin, else initdb's directory in PATH.
func pgBinDir() (string, error) {
	if dir := os.Getenv("PGTIER_PG_BIN"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("PGTIER_PG_BIN=%s: %w", dir, err)
		}
		return dir, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool { return pgMajor(found[i]) > pgMajor(found[j]) })
	if len(found) > 0 {
		return filepath.Dir(found[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", &notFoundError{what: "PostgreSQL server (initdb; set PGTIER_PG_BIN)"}
}

// pgMajor reads N from /usr/lib/postgresql/N/bin/initdb.
func pgMajor(initdb string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(initdb))), 64)
	return v
}

// pgCredential returns the credential to run the server as: the postgres OS
// user when the tests run as root (the server refuses to run as root).
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a postgres OS user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parsing uid of postgres: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parsing gid of postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// startPostgres makes and starts the cluster. The caller holds s.mu.
func (s *suite) startPostgres() (*Postgres, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	root, err := s.tempDir()
	if err != nil {
		return nil, err
	}
	cred, err := pgCredential()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "pg")
	p := &Postgres{
		Host: "127.0.0.1", User: "postgres", BinDir: bin,
		DataDir: filepath.Join(dir, "data"), SocketDir: filepath.Join(dir, "sock"),
		cred: cred, dir: dir, logPath: filepath.Join(dir, "postgres.log"),
	}
	for _, d := range []string{dir, p.SocketDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("making %s: %w", d, err)
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("giving %s to postgres: %w", d, err)
			}
		}
	}
	start := time.Now()
	initdb := exec.Command(filepath.Join(bin, "initdb"),
		"-D", p.DataDir, "-U", p.User, "-A", "trust", "-E", "UTF8", "--locale=C",
		"--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = childEnv("LC_ALL=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := p.Start(); err != nil {
		return nil, err
	}
	logf("postgres %s ready on %s:%d in %v", bin, p.Host, p.Port, time.Since(start).Round(time.Millisecond))
	return p, nil
}

// Start starts the server if it is not running and waits until it accepts
// connections. The first start picks a free port; later starts reuse it.
func (p *Postgres) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil && !p.proc.exited() {
		return nil
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if p.Port == 0 || attempt > 0 {
			if p.Port, err = freePort(); err != nil {
				return err
			}
		}
		if err = p.startOnce(); err == nil {
			return nil
		}
		if !strings.Contains(err.Error(), "could not bind") && !strings.Contains(err.Error(), "could not create any TCP") {
			return err
		}
	}
	return err
}

// startOnce runs the postmaster on p.Port and waits for it. The caller holds p.mu.
func (p *Postgres) startOnce() error {
	args := []string{
		"-D", p.DataDir, "-p", strconv.Itoa(p.Port), "-k", p.SocketDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=100", "-c", "shared_buffers=64MB",
		"-c", "log_min_messages=warning", "-c", "log_min_error_statement=panic",
	}
	pr, err := startProc(filepath.Join(p.BinDir, "postgres"), args, childEnv("LC_ALL=C"), p.dir, p.logPath, p.cred)
	if err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	p.proc = pr
	deadline := time.Now().Add(60 * time.Second)
	for {
		if pr.exited() {
			return fmt.Errorf("postgres exited: %w: %s", pr.exitErr(), tail(p.logPath, 2000))
		}
		if p.ping() == nil {
			return nil
		}
		if time.Now().After(deadline) {
			_ = pr.kill()
			return fmt.Errorf("postgres not ready after 60s: %s", tail(p.logPath, 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ping connects to the postgres database once.
func (p *Postgres) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("connecting to postgres: %w", err)
	}
	return c.Close(ctx)
}

// Stop shuts the server down (fast mode: sessions are ended, no crash
// recovery on the next Start). Stopping a stopped server does nothing.
func (p *Postgres) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return nil
	}
	if err := p.proc.stop(syscall.SIGINT, 30*time.Second); err != nil {
		return fmt.Errorf("stopping postgres: %w", err)
	}
	return nil
}

// Kill ends the postmaster and every backend at once with SIGKILL, as a
// crash would; the next Start runs crash recovery. Safe to call from any
// goroutine, for example while a dump is running.
func (p *Postgres) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return nil
	}
	if err := p.proc.kill(); err != nil {
		return fmt.Errorf("killing postgres: %w", err)
	}
	return nil
}

// Running reports whether the server process is alive.
func (p *Postgres) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc != nil && !p.proc.exited()
}

// Log returns the end of the server log, for failure messages.
func (p *Postgres) Log() string { return tail(p.logPath, 8000) }
