package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pollEvery is how often the memory of a measured process tree is sampled.
const pollEvery = 50 * time.Millisecond

// run is one measured command: its wall time and memory.
type run struct {
	name   string
	wall   time.Duration
	rusage int64              // wait4's ru_maxrss in bytes: max over the process and its reaped descendants
	root   int64              // VmHWM of the started process itself, in bytes (sampled)
	procs  map[string]int64   // peak VmHWM per command name over the process tree (sampled)
	cpu    map[string]float64 // CPU seconds per command name, machine-wide, during the run (sampled)
}

// measure starts cmd, samples the VmHWM of its process tree every pollEvery
// until it exits, and fails b unless it exits 0.
func measure(b *testing.B, name string, cmd *exec.Cmd) run {
	b.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // stdout goes to /dev/null
	w := newWatcher()
	w.poll()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("%s: starting: %v", name, err)
	}
	w.root = cmd.Process.Pid
	done := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		t := time.NewTicker(pollEvery)
		defer t.Stop()
		for {
			w.poll()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	<-polled
	if err != nil {
		b.Fatalf("%s: %v\nstderr: %s", name, err, tailOf(stderr.String(), 4000))
	}
	w.poll()
	r := run{name: name, wall: wall, procs: map[string]int64{}, cpu: w.cpuByName()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rusage = ru.Maxrss * 1024 // KiB on Linux
	}
	for pid, p := range w.peaks {
		if pid == w.root {
			r.root = p.hwm
		}
		r.procs[p.name] = max(r.procs[p.name], p.hwm)
	}
	return r
}

// procList formats the per-command peaks, largest first, skipping the
// names in skip.
func (r run) procList(skip ...string) string {
	names := make([]string, 0, len(r.procs))
	for n := range r.procs {
		if !contains(skip, n) {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return r.procs[names[i]] > r.procs[names[j]] })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + mib(r.procs[n])
	}
	return strings.Join(parts, ", ")
}

// sumPeaks is the sum of the per-process peaks: an upper bound on the tree's
// memory at any one moment.
func (r run) sumPeaks() int64 {
	var s int64
	for _, v := range r.procs {
		s += v
	}
	return s
}

// peak is the highest VmHWM seen for one process.
type peak struct {
	name string
	hwm  int64
}

// ticks is the CPU time (user+system, in clock ticks) of one process: at
// the first sample that saw it, and at the latest.
type ticks struct {
	name        string
	first, last int64
	born        bool // started after the first sample: counts from zero
}

// watcher samples the peak resident memory of a process and its
// descendants, and the CPU time of every process on the machine.
type watcher struct {
	root    int
	peaks   map[int]peak
	cpu     map[int]*ticks
	sampled bool
}

func newWatcher() *watcher { return &watcher{peaks: map[int]peak{}, cpu: map[int]*ticks{}} }

// poll reads every process's CPU time once, and VmHWM of root and its
// descendants once root is set.
func (w *watcher) poll() {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := readStat(pid)
		if !ok {
			continue
		}
		children[st.ppid] = append(children[st.ppid], pid)
		if t := w.cpu[pid]; t != nil {
			t.last = st.ticks
		} else {
			w.cpu[pid] = &ticks{name: st.name, first: st.ticks, last: st.ticks, born: w.sampled}
		}
	}
	w.sampled = true
	if w.root == 0 {
		return
	}
	queue := []int{w.root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		queue = append(queue, children[pid]...)
		name, hwm, ok := status(pid)
		if !ok {
			continue
		}
		if p := w.peaks[pid]; hwm > p.hwm || p.name == "" {
			w.peaks[pid] = peak{name: name, hwm: max(hwm, p.hwm)}
		}
	}
}

// cpuByName returns the CPU seconds used since the first sample, summed
// per command name. Names of processes outside the measured tree (the
// servers, and whatever else runs on the machine) end in "*".
func (w *watcher) cpuByName() map[string]float64 {
	out := map[string]float64{}
	for pid, t := range w.cpu {
		name := t.name
		if _, mine := w.peaks[pid]; !mine {
			name += "*"
		}
		used := t.last - t.first
		if t.born {
			used = t.last
		}
		if used > 0 {
			out[name] += float64(used) / clockTicks
		}
	}
	return out
}

// clockTicks is USER_HZ, the unit of CPU times in /proc/PID/stat: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// stat is what poll needs from /proc/PID/stat.
type stat struct {
	name  string
	ppid  int
	ticks int64 // utime + stime
}

// readStat parses /proc/PID/stat.
func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return stat{}, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return stat{}, false
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return stat{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return stat{}, false
	}
	return stat{name: string(b[open+1 : end]), ppid: ppid, ticks: utime + stime}, true
}

// status reads Name and VmHWM (in bytes) from /proc/PID/status. A zombie
// has no VmHWM line and reports ok false.
func status(pid int) (name string, hwm int64, ok bool) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return "", 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		switch {
		case strings.HasPrefix(line, "Name:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "Name:"))
		case strings.HasPrefix(line, "VmHWM:"):
			f := strings.Fields(strings.TrimPrefix(line, "VmHWM:"))
			if len(f) > 0 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return name, kb * 1024, true
				}
			}
		}
	}
	return name, 0, false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// mib formats bytes as MiB.
func mib(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB" }

// tailOf returns the last n bytes of s.
func tailOf(s string, n int) string {
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}

// cpuTotal is the CPU seconds used on the machine during the run.
func (r run) cpuTotal() float64 {
	var s float64
	for _, v := range r.cpu {
		s += v
	}
	return s
}

// foreignCPU is the CPU seconds of processes that are neither the measured
// command's nor a server's (postgres, minio): other work on the machine.
func (r run) foreignCPU() float64 {
	var s float64
	for n, v := range r.cpu {
		if strings.HasSuffix(n, "*") && n != "postgres*" && n != "minio*" {
			s += v
		}
	}
	return s
}

// cpuList formats the CPU seconds per command name, largest first; names
// under a tenth of the total are summed as "other".
func (r run) cpuList() string {
	total := r.cpuTotal()
	names := make([]string, 0, len(r.cpu))
	var other float64
	for n, v := range r.cpu {
		if v >= total/10 {
			names = append(names, n)
		} else {
			other += v
		}
	}
	sort.Slice(names, func(i, j int) bool { return r.cpu[names[i]] > r.cpu[names[j]] })
	parts := make([]string, 0, len(names)+1)
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.1fs", n, r.cpu[n]))
	}
	if other > 0 {
		parts = append(parts, fmt.Sprintf("other %.1fs", other))
	}
	return strings.Join(parts, ", ")
}
