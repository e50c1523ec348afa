//go:build !linux

package loadtest

import "time"

// rssMiB is not measured off Linux.
func rssMiB(string) float64 { return 0 }

// cpuTime is not measured off Linux.
func cpuTime() time.Duration { return 0 }
