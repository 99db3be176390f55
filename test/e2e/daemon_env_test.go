package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemon is a running backupd, its log collected as it goes.
type daemon struct {
	cmd    *exec.Cmd
	listen string
	mu     sync.Mutex
	log    bytes.Buffer
	done   chan struct{}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// daemonConfig writes a config with the given schedule, metrics on a free
// loopback port, and extra YAML.
func (e *env) daemonConfig(t *testing.T, name, schedule, extra string) (path, listen string) {
	t.Helper()
	listen = freeAddr(t)
	return e.writeConfig(t, name, fmt.Sprintf("schedule:\n  base: %q\nmetrics:\n  listen: %s\n%s", schedule, listen, extra)), listen
}

// startDaemon runs backupd --config path until the test ends.
func (e *env) startDaemon(t *testing.T, path, listen string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(e.backupd, "--config", path), listen: listen, done: make(chan struct{})}
	d.cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+e.s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+e.s3.SecretKey)
	d.cmd.Env = append(d.cmd.Env, e.extraEnv...)
	out, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d.done)
		s := bufio.NewScanner(out)
		for s.Scan() {
			d.mu.Lock()
			d.log.Write(s.Bytes())
			d.log.WriteByte('\n')
			d.mu.Unlock()
		}
		_ = d.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("backupd log:\n%s", d.logText())
		}
	})
	d.waitLog(t, "backupd started", 30*time.Second)
	return d
}

func (d *daemon) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// waitLog waits until the log holds n lines containing s.
func (d *daemon) waitLogN(t *testing.T, s string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for strings.Count(d.logText(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("backupd did not log %q %d times within %s", s, n, limit)
		}
		select {
		case <-d.done:
			t.Fatalf("backupd exited (%v) before logging %q", d.cmd.ProcessState, s)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (d *daemon) waitLog(t *testing.T, s string, limit time.Duration) { d.waitLogN(t, s, 1, limit) }

// stop sends sig and waits for the exit status, failing t after limit.
func (d *daemon) stop(t *testing.T, sig syscall.Signal, limit time.Duration) int {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		t.Fatalf("backupd did not exit within %s of %v", limit, sig)
		return -1
	}
}

// scrape fetches a path from the daemon's metrics server.
func (d *daemon) scrape(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + d.listen + path)
	if err != nil {
		t.Fatalf("scraping %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// samples returns the samples of metric name in an exposition whose labels
// include every given label (`database="x"`), keyed by their label set.
func samples(exposition, name string, labels ...string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(exposition, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if ok && err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
