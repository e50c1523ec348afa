//go:build linux

package nn_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time used by the process so far (all threads,
// OpenBLAS's included).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
