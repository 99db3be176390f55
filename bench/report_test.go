package bench

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// Targets of DESIGN.md section 13.
const (
	maxDumpRatio    = 1.25      // backupd / bare dump, at most
	maxHandRatio    = 1.0       // backupd / hand-made pipeline, below
	maxBackupdRSS   = 100 << 20 // backupd's own peak RSS, below
	maxRestoreRatio = 1.2       // backupctl restore / pg_restore, at most
)

// maxForeign is the share of the machine that other work may take during a
// step before the step is reported as disturbed.
const maxForeign = 0.10

// results is one iteration's measurements.
type results struct {
	target, size       int64
	dump, handmade     run
	backupd            run
	localDump          run
	pgRestore, restore run
	stored             stored
	hand               handTarget
}

// ratio is one target and how the run did against it.
type ratio struct {
	name, value, target string
	pass                bool
}

func (r *results) ratios() []ratio {
	dump := r.backupd.wall.Seconds() / r.dump.wall.Seconds()
	hand := r.backupd.wall.Seconds() / r.handmade.wall.Seconds()
	rest := r.restore.wall.Seconds() / r.pgRestore.wall.Seconds()
	return []ratio{
		{"backupd / bare dump (wall)", fmt.Sprintf("%.2f", dump), fmt.Sprintf("<= %.2f", maxDumpRatio), dump <= maxDumpRatio},
		{"backupd / hand-made (wall)", fmt.Sprintf("%.2f", hand), fmt.Sprintf("< %.2f", maxHandRatio), hand < maxHandRatio},
		{"backupd peak RSS (VmHWM)", mib(r.backupd.root), "< " + mib(maxBackupdRSS), r.backupd.root < maxBackupdRSS},
		{"restore / pg_restore (wall)", fmt.Sprintf("%.2f", rest), fmt.Sprintf("<= %.2f", maxRestoreRatio), rest <= maxRestoreRatio},
	}
}

// print writes the table and the ratios.
func (r *results) print(out io.Writer) {
	fmt.Fprintf(out, "\npgtier benchmark: %d CPUs, -size %s, pg_database_size %s (%d bytes)\n",
		runtime.NumCPU(), mib(r.target), mib(r.size), r.size)
	w := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "step\twall\tpeak RSS\tdetail")
	row := func(x run, peak, detail string) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", x.name, secs(x.wall), peak, detail)
	}
	row(r.dump, mib(r.dump.rusage), "pg_dump -Fc -Z0 --no-sync -f /dev/null")
	row(r.handmade, mib(r.handmade.rusage),
		fmt.Sprintf("max over its processes (wait4 of bash); each: %s; sum %s", r.handmade.procList("bash"), mib(r.handmade.sumPeaks())))
	row(r.backupd, mib(r.backupd.root),
		fmt.Sprintf("backupd itself (VmHWM); children: %s", r.backupd.procList("backupd")))
	row(r.localDump, mib(r.localDump.rusage), "reference only: the file pg_restore reads")
	row(r.pgRestore, mib(r.pgRestore.rusage), "pg_restore --exit-on-error -d NEW1 FILE")
	row(r.restore, mib(r.restore.root),
		fmt.Sprintf("backupctl itself (VmHWM); children: %s", r.restore.procList("backupctl")))
	_ = w.Flush()

	fmt.Fprintln(out, "\nwhere the CPU went (every process on the machine, sampled every 50ms; * = outside the measured command):")
	w = tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "step\tCPU\tof all cores\tother work\tby process")
	var disturbed []string
	for _, x := range []run{r.dump, r.handmade, r.backupd, r.localDump, r.pgRestore, r.restore} {
		capacity := x.wall.Seconds() * float64(runtime.NumCPU())
		busy, foreign := x.cpuTotal()/capacity, x.foreignCPU()/capacity
		fmt.Fprintf(w, "%s\t%.1fs\t%.0f%%\t%.0f%%\t%s\n", x.name, x.cpuTotal(), 100*busy, 100*foreign, x.cpuList())
		if foreign > maxForeign {
			disturbed = append(disturbed, x.name)
		}
	}
	_ = w.Flush()
	if len(disturbed) > 0 {
		fmt.Fprintf(out, "DISTURBED: other work took more than %.0f%% of the machine during: %s; those times are not trustworthy\n",
			100*maxForeign, strings.Join(disturbed, ", "))
	}

	lock := "with object lock"
	if !r.hand.locked {
		lock = "WITHOUT object lock: " + r.hand.why
	}
	fmt.Fprintf(out, "stored: hand-made %s (bucket %s); backupd %s of %s raw dump (%s level %d, locked bucket)\n",
		mib(r.stored.handmade), lock, mib(r.stored.backupdStored), mib(r.stored.backupdRaw),
		r.stored.compressionAlgo, r.stored.compressionLvl)

	w = tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "target\tvalue\tgoal\tresult")
	for _, x := range r.ratios() {
		res := "MISS"
		if x.pass {
			res = "PASS"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", x.name, x.value, x.target, res)
	}
	_ = w.Flush()
	fmt.Fprintln(out)
}

// report hands the figures to the testing package's benchmark line.
func (r *results) report(b *testing.B) {
	b.ReportMetric(float64(r.size)/(1<<20), "db-MiB")
	b.ReportMetric(r.dump.wall.Seconds(), "dump-s")
	b.ReportMetric(r.handmade.wall.Seconds(), "handmade-s")
	b.ReportMetric(r.backupd.wall.Seconds(), "backupd-s")
	b.ReportMetric(r.pgRestore.wall.Seconds(), "pg_restore-s")
	b.ReportMetric(r.restore.wall.Seconds(), "restore-s")
	b.ReportMetric(r.backupd.wall.Seconds()/r.dump.wall.Seconds(), "backupd/dump")
	b.ReportMetric(r.backupd.wall.Seconds()/r.handmade.wall.Seconds(), "backupd/handmade")
	b.ReportMetric(r.restore.wall.Seconds()/r.pgRestore.wall.Seconds(), "restore/pg_restore")
	b.ReportMetric(float64(r.backupd.root)/(1<<20), "backupd-MiB")
	b.ReportMetric(float64(r.handmade.rusage)/(1<<20), "handmade-MiB")
	b.ReportMetric(float64(r.restore.root)/(1<<20), "backupctl-MiB")
}

// secs formats a duration in seconds.
func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
