package firmwaretools

import "strings"

// Arch is a target a device agent is built for: Linux on one CPU family.
type Arch struct {
	// Name is how the command line, file layouts and bundles name it:
	// armv6, armv7, arm64 or amd64.
	Name string
	// GOARCH and GOARM are the Go toolchain's settings (GOARM is "" except
	// for 32-bit ARM).
	GOARCH, GOARM string
	// Qemu is the Debian qemu-user-static binary that runs it on another
	// CPU, and QemuCPU the CPU it emulates: that of the oldest Raspberry
	// Pi of the class, so that an instruction the board lacks fails.
	Qemu, QemuCPU string
	// Uname lists the `uname -m` answers of the boards that run it.
	Uname []string
}

// archTable is the supported targets. Raspberry Pi 1 and Zero are armv6;
// Pi 2 and 32-bit Raspberry Pi OS on later boards armv7; 64-bit
// Raspberry Pi OS arm64.
func archTable() []Arch {
	return []Arch{
		{Name: "armv6", GOARCH: "arm", GOARM: "6", Qemu: "qemu-arm-static", QemuCPU: "arm1176", Uname: []string{"armv6l", "armv7l", "armv8l"}},
		{Name: "armv7", GOARCH: "arm", GOARM: "7", Qemu: "qemu-arm-static", QemuCPU: "cortex-a7", Uname: []string{"armv7l", "armv8l"}},
		{Name: "arm64", GOARCH: "arm64", Qemu: "qemu-aarch64-static", QemuCPU: "cortex-a53", Uname: []string{"aarch64", "arm64"}},
		{Name: "amd64", GOARCH: "amd64", Qemu: "qemu-x86_64-static", Uname: []string{"x86_64", "amd64"}},
	}
}

// Arches returns every supported architecture, in a fixed order. The
// caller owns the slice.
func Arches() []Arch { return archTable() }

// ArchNames lists the names ParseArch accepts without aliases.
func ArchNames() []string {
	var n []string
	for _, a := range archTable() {
		n = append(n, a.Name)
	}
	return n
}

// archAliases maps `uname -m` style names to ours.
func archAlias(s string) string {
	switch s {
	case "armv6l":
		return "armv6"
	case "armv7l", "armhf":
		return "armv7"
	case "aarch64":
		return "arm64"
	case "x86_64":
		return "amd64"
	}
	return s
}

// ParseArch returns the architecture called name (case-insensitive; the
// `uname -m` names armv6l, armv7l, aarch64 and x86_64 are accepted too).
// An unknown name is an *ArchError wrapping ErrArch.
func ParseArch(name string) (Arch, error) {
	n := archAlias(strings.ToLower(strings.TrimSpace(name)))
	for _, a := range archTable() {
		if a.Name == n {
			return a, nil
		}
	}
	return Arch{}, &ArchError{Arch: name}
}

// ParseArches parses a comma-separated list; "all" or "" is every
// architecture.
func ParseArches(list string) ([]Arch, error) {
	if list == "" || list == "all" {
		return Arches(), nil
	}
	var out []Arch
	seen := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		a, err := ParseArch(s)
		if err != nil {
			return nil, err
		}
		if !seen[a.Name] {
			seen[a.Name] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// RunsOn reports whether a board whose `uname -m` is machine runs a.
func (a Arch) RunsOn(machine string) bool {
	for _, u := range a.Uname {
		if u == machine {
			return true
		}
	}
	return false
}

// QemuCommand returns the qemu-user command line that runs binary with
// args on this machine's CPU.
func (a Arch) QemuCommand(binary string, args ...string) []string {
	cmd := []string{a.Qemu}
	if a.QemuCPU != "" {
		cmd = append(cmd, "-cpu", a.QemuCPU)
	}
	return append(append(cmd, binary), args...)
}

// String is a's name.
func (a Arch) String() string { return a.Name }
