package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one run of a server process. It leads its own process group, so
// a Ctrl-C meant for the tests does not reach it first, and it gets SIGKILL
// if the test binary dies without stopping it.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status, set before done closes
}

// startProc starts path with args in dir, appending its output to logPath.
// A non-nil cred runs it as that user.
func startProc(path string, args, env []string, dir, logPath string, cred *syscall.Credential) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: cred,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the process and waits up to grace for it to exit, then
// kills its whole group.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) error {
	if p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signaling pid %d: %w", p.cmd.Process.Pid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	return p.kill()
}

// kill ends the process and all its descendants with SIGKILL, as a crash
// would, and waits until none of them runs. Descendants are found by parent
// pid, since servers such as postgres put each child in its own session.
func (p *proc) kill() error {
	pid := p.cmd.Process.Pid
	// A stopped process forks no more children while they are collected.
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	pids := append(descendants(pid), pid)
	for _, id := range pids {
		if err := syscall.Kill(id, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("killing pid %d: %w", id, err)
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	deadline := time.After(30 * time.Second)
	select {
	case <-p.done:
	case <-deadline:
		return fmt.Errorf("process %d did not exit after SIGKILL", pid)
	}
	for _, id := range pids {
		for running(id) {
			select {
			case <-deadline:
				return fmt.Errorf("pid %d still running after SIGKILL", id)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return nil
}

// stat is what kill needs from /proc/PID/stat.
type stat struct {
	pid, ppid int
	state     string
}

// readStat parses /proc/PID/stat: "pid (comm) state ppid ...", where comm
// may hold spaces and parentheses.
func readStat(path string) (stat, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return stat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	j := bytes.IndexByte(b, ' ')
	if i < 0 || j < 0 {
		return stat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return stat{}, false
	}
	pid, err1 := strconv.Atoi(string(b[:j]))
	ppid, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return stat{}, false
	}
	return stat{pid: pid, ppid: ppid, state: f[0]}, true
}

// descendants returns the pids of every live descendant of pid.
func descendants(pid int) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	children := map[int][]int{}
	for _, path := range paths {
		if st, ok := readStat(path); ok {
			children[st.ppid] = append(children[st.ppid], st.pid)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, c := range children[next] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// running reports whether pid is a live process; zombies, which hold no
// memory or shared memory any more, do not count.
func running(pid int) bool {
	st, ok := readStat("/proc/" + strconv.Itoa(pid) + "/stat")
	return ok && st.state != "Z" && st.state != "X"
}

// childEnv is the environment for server processes: the test's environment
// without variables that would steer them (PG*, MINIO_*), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "MINIO_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// exitErr is the exit status of an exited process, never nil.
func (p *proc) exitErr() error {
	if p.err == nil {
		return errors.New("exit status 0")
	}
	return p.err
}
