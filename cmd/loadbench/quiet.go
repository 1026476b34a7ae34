package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Every timed run starts once the machine has done the work that the steps before it set off:
// Temporal's transfer, timer and visibility tasks after workflows were started, signalled or
// terminated, Postgres's writes after a load. Such leftovers take the same CPUs as the run and
// land on whichever of a figure and its baseline comes next.
const (
	quietWindow  = 250 * time.Millisecond
	quietBusy    = 0.15 // the share of the machine's CPU below which a window is quiet
	quietWindows = 2    // quiet windows in a row
)

// parseCPUTimes reads the busy and total jiffies of the machine from the "cpu" line of
// /proc/stat: total is every field, busy all but idle and iowait.
func parseCPUTimes(procStat string) (busy, total uint64, err error) {
	line, _, _ := strings.Cut(procStat, "\n")
	fields := strings.Fields(line)
	if len(fields) < 6 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	for i, field := range fields[1:] {
		v, err := strconv.ParseUint(field, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: field %d of the cpu line: %w", i+1, err)
		}
		total += v
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return busy, total, nil
}

func cpuTimes() (busy, total uint64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseCPUTimes(string(data))
}

// waitQuiet returns once the machine's CPU was less than quietBusy busy for quietWindows windows
// in a row, or after within; quiet says which.
func waitQuiet(ctx context.Context, within time.Duration) (waited time.Duration, quiet bool, err error) {
	start := time.Now()
	busy0, total0, err := cpuTimes()
	if err != nil {
		return 0, false, err
	}
	calm := 0
	for calm < quietWindows {
		if time.Since(start) >= within {
			return time.Since(start), false, nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), false, ctx.Err()
		case <-time.After(quietWindow):
		}
		busy, total, err := cpuTimes()
		if err != nil {
			return time.Since(start), false, err
		}
		if total > total0 && float64(busy-busy0)/float64(total-total0) < quietBusy {
			calm++
		} else {
			calm = 0
		}
		busy0, total0 = busy, total
	}
	return time.Since(start), true, nil
}

// quiet waits for the machine to be quiet before the run named what, for at most -quiet-within.
// A wait that could not be had is said, not fatal: the run measures as it would have without it,
// and a cancelled context fails the run's first call.
func (b *bench) quiet(ctx context.Context, what string) {
	if b.cfg.quietWithin <= 0 {
		return
	}
	waited, quiet, err := waitQuiet(ctx, b.cfg.quietWithin)
	switch {
	case err != nil:
		b.logf("   no quiet wait before %s: %v", what, err)
	case !quiet:
		b.logf("   the machine was still busy after %s; measuring %s anyway", waited.Round(time.Millisecond), what)
	}
}
