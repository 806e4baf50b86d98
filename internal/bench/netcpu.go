package bench

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/devnet/cluster"
)

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ,
// 100 on every Linux build that matters).
const clockTicks = 100

// procCPU is the CPU time (user + system, every thread) process pid has
// used so far, from /proc/<pid>/stat; ok false when it cannot be read
// (not Linux, the process is gone).
func procCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields counted from after its closing parenthesis.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * time.Second / clockTicks, true
}

// nodeCPU is one node's CPU counter at one moment.
type nodeCPU struct {
	pid int
	cpu time.Duration
	ok  bool
}

// nodesCPU reads every node's CPU counter.
func nodesCPU(c *cluster.Cluster) []nodeCPU {
	out := make([]nodeCPU, len(c.Nodes))
	for i, n := range c.Nodes {
		pid := n.Pid()
		cpu, ok := procCPU(pid)
		out[i] = nodeCPU{pid: pid, cpu: cpu, ok: ok}
	}
	return out
}

// printNodesCPU prints the CPU each node used per block committed
// between two readings (the steady window): the followers' is the whole
// cost of following (gossip, validation, insertion, indexes), the figure
// that decides propagation on a machine whose cores are shared, where
// the wall-clock stages mostly measure the wait for a core. A node
// restarted in between (another pid) is left out.
func printNodesCPU(out io.Writer, c *cluster.Cluster, leader int, from, to []nodeCPU, commits map[common.Hash]commitEvent, start, end time.Time) {
	blocks := 0
	for _, cm := range commits {
		if !cm.At.Before(start) && cm.At.Before(end) {
			blocks++
		}
	}
	if blocks == 0 || len(from) != len(c.Nodes) || len(to) != len(c.Nodes) {
		return
	}
	var parts []string
	var folSum time.Duration
	fols := 0
	for i, n := range c.Nodes {
		if !from[i].ok || !to[i].ok || from[i].pid != to[i].pid {
			continue
		}
		per := (to[i].cpu - from[i].cpu) / time.Duration(blocks)
		role := n.Name
		if i == leader {
			role += " (leader)"
		}
		parts = append(parts, fmt.Sprintf("%s %.1f", role, ms(per)))
		if !n.Sequencer {
			folSum += per
			fols++
		}
	}
	if fols > 0 {
		fmt.Fprintf(out, "CPU per committed block over the steady window (%d blocks, /proc, 10 ms ticks), ms: followers' mean %.1f; %s; machine load average %s\n",
			blocks, ms(folSum/time.Duration(fols)), strings.Join(parts, ", "), loadAvg())
	}
}
