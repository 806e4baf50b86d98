//go:build !unix

package bench

// processCPU: this platform's CPU time is not read; callers fall back to
// wall time.
func processCPU() (float64, bool) { return 0, false }
