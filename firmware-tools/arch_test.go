package firmwaretools

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseArch(t *testing.T) {
	for _, tc := range []struct {
		in, name, goarch, goarm string
	}{
		{"armv6", "armv6", "arm", "6"},
		{"armv6l", "armv6", "arm", "6"},
		{"armv7", "armv7", "arm", "7"},
		{"ARMv7L", "armv7", "arm", "7"},
		{"armhf", "armv7", "arm", "7"},
		{"arm64", "arm64", "arm64", ""},
		{"aarch64", "arm64", "arm64", ""},
		{"amd64", "amd64", "amd64", ""},
		{" x86_64 ", "amd64", "amd64", ""},
	} {
		a, err := ParseArch(tc.in)
		if err != nil {
			t.Errorf("ParseArch(%q): %v", tc.in, err)
			continue
		}
		if a.Name != tc.name || a.GOARCH != tc.goarch || a.GOARM != tc.goarm {
			t.Errorf("ParseArch(%q) = %s GOARCH=%s GOARM=%s, want %s GOARCH=%s GOARM=%s", tc.in, a.Name, a.GOARCH, a.GOARM, tc.name, tc.goarch, tc.goarm)
		}
	}
	for _, bad := range []string{"", "arm", "mips", "riscv64", "armv5"} {
		_, err := ParseArch(bad)
		var ae *ArchError
		if !errors.Is(err, ErrArch) || !errors.As(err, &ae) || ae.Arch != bad {
			t.Errorf("ParseArch(%q): got %v, want an *ArchError for it", bad, err)
		}
		if err != nil && !strings.Contains(err.Error(), "armv6, armv7, arm64, amd64") {
			t.Errorf("ParseArch(%q): %q does not list the known architectures", bad, err)
		}
	}
}

func TestParseArches(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{"armv6", "armv7", "arm64", "amd64"}},
		{"all", []string{"armv6", "armv7", "arm64", "amd64"}},
		{"arm64,armv7,aarch64", []string{"arm64", "armv7"}},
	} {
		as, err := ParseArches(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range as {
			got = append(got, a.Name)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseArches(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if _, err := ParseArches("arm64,ppc"); !errors.Is(err, ErrArch) {
		t.Errorf("ParseArches(arm64,ppc): got %v, want ErrArch", err)
	}
}

func TestRunsOn(t *testing.T) {
	for _, tc := range []struct {
		arch, machine string
		want          bool
	}{
		{"armv6", "armv6l", true},
		{"armv6", "armv7l", true}, // ARMv7 runs ARMv6 code
		{"armv7", "armv6l", false},
		{"armv7", "armv7l", true},
		{"arm64", "aarch64", true},
		{"arm64", "armv7l", false}, // a 32-bit OS on a 64-bit Pi
		{"armv7", "aarch64", false},
		{"amd64", "x86_64", true},
		{"amd64", "aarch64", false},
	} {
		a, _ := ParseArch(tc.arch)
		if got := a.RunsOn(tc.machine); got != tc.want {
			t.Errorf("%s.RunsOn(%s) = %v, want %v", tc.arch, tc.machine, got, tc.want)
		}
	}
}
