package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Memory of the stack's processes, from /proc (Linux).
//
// serve, worker and Temporal are one process each: their figure is VmRSS. Postgres is a postmaster
// and a process per connection sharing its buffers, so its figure is the sum of the proportional
// set size (Pss) over the postmaster and its children, which counts shared pages once.

// processMemoryKB reads each named process's memory in kB.
func processMemoryKB(pids map[string]int) (map[string]int64, error) {
	mem := map[string]int64{}
	for name, pid := range pids {
		var kb int64
		var err error
		if name == "postgres" {
			kb, err = treePSSKB(pid)
		} else {
			kb, err = statusFieldKB(pid, "VmRSS")
		}
		if err != nil {
			return nil, fmt.Errorf("memory of %s (pid %d): %w", name, pid, err)
		}
		mem[name] = kb
	}
	return mem, nil
}

// statusFieldKB reads a "Name:   123 kB" line of /proc/<pid>/status.
func statusFieldKB(pid int, field string) (int64, error) {
	return procFieldKB(filepath.Join("/proc", strconv.Itoa(pid), "status"), field)
}

// treePSSKB sums Pss over pid and its children.
func treePSSKB(pid int) (int64, error) {
	children, err := childrenOf(pid)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, p := range append([]int{pid}, children...) {
		kb, err := procFieldKB(filepath.Join("/proc", strconv.Itoa(p), "smaps_rollup"), "Pss")
		if err != nil {
			if p != pid && os.IsNotExist(err) {
				continue // a backend that ended meanwhile
			}
			return 0, err
		}
		total += kb
	}
	return total, nil
}

func procFieldKB(path, field string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			break
		}
		return strconv.ParseInt(fields[0], 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no %s", path, field)
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var children []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if parentOf(child) == pid {
			children = append(children, child)
		}
	}
	return children, nil
}

// parentOf reads the parent pid from /proc/<pid>/stat; 0 when the process is gone.
func parentOf(pid int) int {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: the fields after it are fixed.
	end := strings.LastIndexByte(string(raw), ')')
	if end < 0 {
		return 0
	}
	fields := strings.Fields(string(raw)[end+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// processName is the command name of /proc/<pid>/comm.
func processName(pid int) string {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
}
