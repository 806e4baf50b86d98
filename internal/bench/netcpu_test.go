package bench

import (
	"crypto/sha256"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestProcCPU: procCPU reads this process's CPU time from /proc as
// getrusage counts it (within the 10 ms ticks and what ran in between),
// and refuses pids it cannot read.
func TestProcCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc: not Linux")
	}
	sum := sha256.Sum256(nil)
	for range 200_000 { // some CPU, so the counters are not zero
		sum = sha256.Sum256(sum[:])
	}
	var before, after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		t.Fatal(err)
	}
	got, ok := procCPU(os.Getpid())
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		t.Fatal(err)
	}
	lo := time.Duration(before.Utime.Nano()+before.Stime.Nano()) - 2*time.Second/clockTicks
	hi := time.Duration(after.Utime.Nano()+after.Stime.Nano()) + 2*time.Second/clockTicks
	if !ok || got <= 0 || got < lo || got > hi {
		t.Fatalf("procCPU = %v, %v; getrusage says %v to %v", got, ok, lo, hi)
	}
	for _, pid := range []int{0, -1, 1 << 30} {
		if d, ok := procCPU(pid); ok {
			t.Errorf("procCPU(%d) = %v, ok; want not ok", pid, d)
		}
	}
}
