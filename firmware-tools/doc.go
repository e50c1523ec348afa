// Package firmwaretools gets a device agent from this repository onto an
// ARM board (Raspberry Pi class: armv6, armv7, arm64), with its identity
// and credentials, and proves that it runs there. The fedgan-fw command
// (cmd/fedgan-fw) is its command line; every step is also a function.
//
// # The four steps
//
// Build cross-compiles fedgan-agent (and, with Full, the fedgan binary
// that holds the edge and cloud roles) for linux/arm GOARM=6 and 7,
// linux/arm64 and linux/amd64 with CGO off, -trimpath and -s -w, the
// version and commit stamped into internal/buildinfo (what
// `fedgan-agent --version` prints). It writes <arch>/fedgan-agent,
// <arch>/VERSION and a SHA256SUMS file that `sha256sum -c` checks.
//
// Provision reads the deployment's topology file and gives each device
// (or the ones named) its identity under OUT/devices/<id>/:
//
//   - password: 130 random bits (crypto/rand), whose bcrypt hash is set
//     in the file named by its edge's edge.credentials (created or merged;
//     a user is never listed twice; re-provisioning rotates the password);
//   - tls/device.pem and tls/device.key: a client certificate whose
//     CommonName is the device id (the broker requires CN == client id),
//     ECDSA P-256, signed by the project CA (given, or created with
//     crypto/x509 in OUT/ca/);
//   - tls/ca.pem: the CA that verifies the edge's server certificate;
//   - topology.yaml: the device's own slice of the topology, which
//     config.Load accepts and which gives the device the same model, seed
//     streams and data partition as the whole file (see below).
//
// Which credentials a device gets follows its edge (Credentials): a
// password when the edge has a credentials file, a certificate when it
// has a mutual-TLS listener. Keys, passwords and credential files are
// written 0600 and their folders 0700, never weaker. Provision also
// creates what the gateway side lacks: an edge's server certificate and
// client CA when its edge.tls files do not exist yet, and, with Bridges,
// every edge's bridge password file and its hash in cloud.credentials.
//
// Bundle packs one tar.gz per device: the agent for its architecture
// (an Arch for all, or an inventory file mapping ids to architectures;
// the topology has no architecture key), checked against the build's
// SHA256SUMS; its provisioned files; a systemd unit (runs as the
// unprivileged user fedgan, Restart=on-failure, reads
// /etc/fedgan/topology.yaml, GOMEMLIMIT set, sandboxed); install.sh; and
// bundle.json. MANIFEST lists every other file's SHA-256 in sha256sum
// format; install.sh checks it before it installs anything and refuses a
// bundle that does not match.
//
// Flash pushes a bundle over SSH (golang.org/x/crypto/ssh): the host key
// must be in known_hosts (InsecureIgnoreHostKey is an explicit option,
// never the default), the board's `uname -m` must fit the bundle, the
// upload's SHA-256 is checked on the board, install.sh installs it
// (optionally under a prefix, for staging and tests), the service command
// (default: systemctl daemon-reload, enable, restart; configurable where
// there is no systemd) starts it, and Flash waits until the device's
// retained presence topic says online, watching the edge broker as its
// monitor or anonymously. Only a message published after the service
// command counts, so a stale retained "online" never passes for the new
// agent; a device that goes offline and does not come back fails with
// ErrOffline, silence with ErrTimeout.
//
// # On the board
//
//	/usr/local/bin/fedgan-agent              0755
//	/etc/fedgan/                             0750 root:fedgan
//	/etc/fedgan/topology.yaml                0644
//	/etc/fedgan/password, tls/device.key     0600 fedgan:fedgan
//	/etc/fedgan/tls/ca.pem, tls/device.pem   0644
//	/etc/systemd/system/fedgan-agent.service 0644
//
// The slice's credential paths are relative to the slice, so the same
// file works in /etc/fedgan, under an install prefix and in the provision
// folder. Its data settings are kept verbatim by default: which rows a
// device holds depends on them, and a device must compute the partition
// the simulator computed. Data files are never bundled (real data never
// leaves a device, docs/DESIGN.md §1.3); ProvisionOptions.DataDir rewrites
// data paths into a folder of the board instead. In the label-related
// scenario the slice keeps every community (their number sets the
// discriminator's input width), each reduced to its id, domain, data,
// edge address and device ids. The slice never holds the gateway's
// secrets: no bridge, no monitor hash, no other device's credentials.
//
// # Errors
//
// Each failure a person must act on has its sentinel, wrapped by a typed
// error that carries the details: ErrNoDevice (*DeviceError: a missing or
// unknown device id), ErrArch (*ArchError: an unknown architecture, or a
// board that cannot run the bundle), ErrUnreachable, ErrHostKey and
// ErrAuth (*HostError: no route to the board's SSH port, an unknown or
// changed host key, every key refused), ErrChecksum (*ChecksumError: a
// binary, bundle file or upload whose SHA-256 is not the listed one),
// ErrRemote (*RemoteError), ErrOffline and ErrTimeout (*PresenceError).
//
// # Proof that it runs on ARM
//
// The tests cross-compile the agents and run them: TestBuild checks every
// architecture's ELF machine, static linking, stripping and --version
// (under qemu-user-static for the ARM ones, emulating the CPUs of the
// oldest boards: ARM1176 for armv6, Cortex-A7 for armv7, Cortex-A53 for
// arm64); TestAgentOnQemu runs the arm64 and armv7 agents under
// qemu-aarch64-static and qemu-arm-static, each with the slice and
// password provisioned for it, against a real edge and cloud on loopback,
// until each has answered at least 20 batches of the Gaussian scenario;
// TestFlash and TestCLI flash a bundle through Debian's sshd on a
// loopback port into a throwaway prefix and wait for the device to
// report online. They skip, saying why, when qemu or sshd is missing.
//
// # Budgets
//
// BenchmarkBudget measures the budgets:
//
//	go test ./firmware-tools -run '^$' -bench Budget -benchtime 1x
//
// the stripped agent's size per architecture (arm64: 7.0 MB, budget
// 10 MB); the peak resident set of an agent training on a 12,000-image
// MNIST shard with the discriminator 784→512→256→1 at batch 64 (budget
// 64 MB), natively and under qemu, with and without the unit's GOMEMLIMIT
// (DefaultMemoryLimit); and the CPU an idle agent (connected, waiting for
// a batch) uses. Under qemu-user the process is the emulator, whose
// translation buffer and heap are not the agent's: the benchmark reports
// the guest's share (its mappings, sampled from /proc/PID/smaps) and the
// whole process's VmHWM apart. On the 2-core development machine: peak
// RSS 57 MiB natively, 55 MiB (arm64) and 55 MiB (armv7) for the guest
// under qemu (86 MiB for the whole emulator); with GOMEMLIMIT=40MiB 43,
// 42 and 44 MiB; idle CPU 0 natively (below the 2 ms/s resolution of a
// 5 s window) and 2 ms/s for the emulated arm64 agent. A child's rusage Maxrss is not used: Go
// starts children with vfork, and Linux carries the parent's high-water
// mark across the exec.
package firmwaretools
