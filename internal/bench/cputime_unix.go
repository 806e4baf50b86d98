//go:build unix

package bench

import "syscall"

// processCPU is the CPU time (user + system) this process has used, all
// threads together (the GC's workers included), and whether the
// platform reports it.
func processCPU() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6, true
}
