package firmwaretools

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBuild writes a build folder whose "agents" are small scripts, with
// their SHA256SUMS and VERSION, for tests that do not run the agent.
func fakeBuild(t *testing.T, arches ...string) string {
	t.Helper()
	dir := t.TempDir()
	var sums []Sum
	for _, a := range arches {
		p := filepath.Join(dir, a, Agent)
		body := []byte("#!/bin/sh\necho fake " + a + " agent\n")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, body, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, a, VersionFile), []byte(testVersion+" "+testCommit+"\n"), 0o644)
		sums = append(sums, Sum{SHA256: SHA256(body), Path: a + "/" + Agent})
	}
	if err := os.WriteFile(filepath.Join(dir, SumsFile), FormatSums(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tarEntries lists a bundle's entries: name → (mode, contents).
func tarEntries(t *testing.T, path string) map[string]*tar.Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

func TestBundle(t *testing.T) {
	f := newFixture(t, false)
	prov, _ := provisionFixture(t, f, CredAuto)
	bin := fakeBuild(t, "armv7", "arm64")
	out := filepath.Join(f.Dir, "bundles")
	bs, err := Bundle(BundleOptions{Provisioned: prov, Bin: bin, Out: out, Arch: "arm64", Inventory: map[string]string{"d2": "armv7"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(bs), 2; got != want {
		t.Fatalf("%d bundles, want %d", got, want)
	}
	for _, b := range bs {
		wantArch := map[string]string{"d1": "arm64", "d2": "armv7"}[b.Info.Device]
		if b.Info.Arch != wantArch {
			t.Errorf("%s: arch %s, want %s", b.Info.Device, b.Info.Arch, wantArch)
		}
		if got, want := filepath.Base(b.Path), "fedgan-"+b.Info.Device+"-"+wantArch+".tar.gz"; got != want {
			t.Errorf("bundle named %s, want %s", got, want)
		}
		if got := mode(t, b.Path); got != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (it holds secrets)", b.Path, got)
		}
		if b.Info.Version != testVersion || b.Info.Commit != testCommit {
			t.Errorf("%s: version %s (%s), want %s (%s)", b.Info.Device, b.Info.Version, b.Info.Commit, testVersion, testCommit)
		}
		top := "fedgan-" + b.Info.Device + "/"
		ents := tarEntries(t, b.Path)
		for name, want := range map[string]int64{
			ManifestFile: 0o644, InfoFile: 0o644, InstallFile: 0o755, UnitFile: 0o644, AgentFile: 0o755,
			"etc/" + DeviceConfig: 0o644, "etc/" + DevicePassword: 0o600,
		} {
			h, ok := ents[top+name]
			if !ok {
				t.Errorf("%s: no %s", b.Info.Device, name)
				continue
			}
			if h.Mode != want {
				t.Errorf("%s: %s mode %o, want %o", b.Info.Device, name, h.Mode, want)
			}
		}
		ob, err := OpenBundle(b.Path)
		if err != nil {
			t.Fatal(err)
		}
		man, err := ParseSums(bytes.NewReader(ob.Files[ManifestFile]), "manifest")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(man), len(ob.Files)-1; got != want {
			t.Errorf("manifest lists %d files, want every file but itself: %d", got, want)
		}
		agent, _ := os.ReadFile(filepath.Join(bin, wantArch, Agent))
		if !bytes.Equal(ob.Files[AgentFile], agent) {
			t.Errorf("%s: bundled agent is not the %s build", b.Info.Device, wantArch)
		}
		unit := string(ob.Files[UnitFile])
		for _, want := range []string{
			"Restart=on-failure", "User=fedgan", "Group=fedgan", "NoNewPrivileges=yes",
			"ExecStart=/usr/local/bin/fedgan-agent -c /etc/fedgan/topology.yaml --id " + b.Info.Device,
			"Environment=GOMEMLIMIT=" + DefaultMemoryLimit, "WantedBy=multi-user.target",
		} {
			if !strings.Contains(unit, want) {
				t.Errorf("%s: unit lacks %q:\n%s", b.Info.Device, want, unit)
			}
		}
	}
}

func TestBundleErrors(t *testing.T) {
	f := newFixture(t, false)
	prov, _ := provisionFixture(t, f, CredAuto)
	bin := fakeBuild(t, "arm64")
	tampered := fakeBuild(t, "arm64")
	os.WriteFile(filepath.Join(tampered, "arm64", Agent), []byte("#!/bin/sh\necho evil\n"), 0o755)
	for _, tc := range []struct {
		name string
		opts BundleOptions
		want error
		msg  string
	}{
		{"unknown architecture", BundleOptions{Arch: "mips"}, ErrArch, `unknown architecture "mips"`},
		{"no architecture", BundleOptions{}, ErrArch, "no architecture"},
		{"architecture not built", BundleOptions{Arch: "armv6"}, ErrArch, "no armv6 agent"},
		{"inventory architecture", BundleOptions{Inventory: map[string]string{"d1": "sparc"}, Arch: "arm64"}, ErrArch, `"sparc"`},
		{"unknown device", BundleOptions{Arch: "arm64", IDs: []string{"d7"}}, ErrNoDevice, `device "d7"`},
		{"missing device id", BundleOptions{Arch: "arm64", IDs: []string{""}}, ErrNoDevice, "device id missing"},
		{"inventory device", BundleOptions{Arch: "arm64", Inventory: map[string]string{"d8": "arm64"}}, ErrNoDevice, `device "d8"`},
		{"agent checksum", BundleOptions{Arch: "arm64", Bin: tampered}, ErrChecksum, "checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Provisioned, tc.opts.Out = prov, t.TempDir()
			if tc.opts.Bin == "" {
				tc.opts.Bin = bin
			}
			_, err := Bundle(tc.opts)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
	inv := filepath.Join(t.TempDir(), "boards.yaml")
	os.WriteFile(inv, []byte("d1: armv7l\nd2: aarch64\n"), 0o644)
	m, err := ReadInventory(inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["d1"] != "armv7l" {
		t.Errorf("inventory %v, want d1: armv7l, d2: aarch64", m)
	}
	os.WriteFile(inv, []byte("d1: riscv64\n"), 0o644)
	if _, err := ReadInventory(inv); !errors.Is(err, ErrArch) {
		t.Errorf("inventory with riscv64: got %v, want ErrArch", err)
	}
}

// rewriteBundle copies the bundle at src to a new file, passing every
// file through edit (which may change its contents) and appending extra.
func rewriteBundle(t *testing.T, src string, edit func(name string, data []byte) []byte, extra map[string][]byte) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	gz, _ := gzip.NewReader(in)
	tr := tar.NewReader(gz)
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gw)
	top := ""
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if top == "" {
			top, _, _ = strings.Cut(h.Name, "/")
		}
		if h.Typeflag == tar.TypeReg {
			data = edit(strings.TrimPrefix(h.Name, top+"/"), data)
			h.Size = int64(len(data))
		}
		tw.WriteHeader(h)
		tw.Write(data)
	}
	for name, data := range extra {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: top + "/" + name, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	tw.Close()
	gw.Close()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestOpenBundleChecksums(t *testing.T) {
	f := newFixture(t, false)
	prov, _ := provisionFixture(t, f, CredAuto)
	bs, err := Bundle(BundleOptions{Provisioned: prov, Bin: fakeBuild(t, "arm64"), Out: t.TempDir(), Arch: "arm64", IDs: []string{"d1"}})
	if err != nil {
		t.Fatal(err)
	}
	src := bs[0].Path
	keep := func(_ string, d []byte) []byte { return d }
	for _, tc := range []struct {
		name  string
		path  string
		want  error
		file  string // the *ChecksumError's file, if one
		extra string
	}{
		{name: "changed config", path: rewriteBundle(t, src, func(n string, d []byte) []byte {
			if n == "etc/"+DeviceConfig {
				return append(d, "# changed\n"...)
			}
			return d
		}, nil), want: ErrChecksum, file: "etc/" + DeviceConfig},
		{name: "changed agent", path: rewriteBundle(t, src, func(n string, d []byte) []byte {
			if n == AgentFile {
				d = bytes.Clone(d)
				d[len(d)-2] ^= 1
			}
			return d
		}, nil), want: ErrChecksum, file: AgentFile},
		{name: "file not in the manifest", path: rewriteBundle(t, src, keep, map[string][]byte{"etc/extra": []byte("x")}), want: ErrChecksum},
		{name: "file missing", path: rewriteBundle(t, src, func(n string, d []byte) []byte {
			if n == ManifestFile {
				return append(d, []byte(strings.Repeat("0", 64)+"  etc/gone\n")...)
			}
			return d
		}, nil), want: ErrChecksum, file: "etc/gone"},
		{name: "path leaves the folder", path: rewriteBundle(t, src, keep, map[string][]byte{"../escape": []byte("x")}), want: ErrBundle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenBundle(tc.path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var ce *ChecksumError
			if tc.file != "" && (!errors.As(err, &ce) || ce.File != tc.file) {
				t.Errorf("got %v, want a *ChecksumError for %s", err, tc.file)
			}
		})
	}
	if _, err := OpenBundle(src); err != nil {
		t.Errorf("the untouched bundle: %v", err)
	}
}

// install.sh installs under a prefix with the right modes, and refuses a
// bundle whose files do not match its manifest.
func TestInstallScript(t *testing.T) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("sha256sum (coreutils) not installed")
	}
	f := newFixture(t, false)
	prov, _ := provisionFixture(t, f, CredAuto)
	bs, err := Bundle(BundleOptions{Provisioned: prov, Bin: fakeBuild(t, "amd64"), Out: t.TempDir(), Arch: "amd64", IDs: []string{"d1"}})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", bs[0].Path, "-C", work).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	dir := filepath.Join(work, "fedgan-d1")
	prefix := filepath.Join(t.TempDir(), "root")
	out, err := exec.Command("sh", filepath.Join(dir, InstallFile), "--prefix", prefix).CombinedOutput()
	if err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	ob, err := OpenBundle(bs[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		installed, bundled string
		mode               os.FileMode
	}{
		{"usr/local/bin/fedgan-agent", AgentFile, 0o755},
		{"etc/fedgan/topology.yaml", "etc/" + DeviceConfig, 0o644},
		{"etc/fedgan/password", "etc/" + DevicePassword, 0o600},
		{"etc/systemd/system/fedgan-agent.service", UnitFile, 0o644},
		{"etc/fedgan", "", 0o750},
	} {
		p := filepath.Join(prefix, tc.installed)
		if got := mode(t, p); got != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.installed, got, tc.mode)
		}
		if tc.bundled == "" {
			continue
		}
		if got, _ := FileSHA256(p); got != SHA256(ob.Files[tc.bundled]) {
			t.Errorf("%s: sha256 %s, want the bundle's %s", tc.installed, got, SHA256(ob.Files[tc.bundled]))
		}
	}

	// A changed file: nothing is installed, and the reason is given.
	os.WriteFile(filepath.Join(dir, "etc", DeviceConfig), []byte("name: evil\n"), 0o644)
	prefix2 := filepath.Join(t.TempDir(), "root")
	out, err = exec.Command("sh", filepath.Join(dir, InstallFile), "--prefix", prefix2).CombinedOutput()
	if err == nil {
		t.Fatalf("install.sh accepted a changed file:\n%s", out)
	}
	if !strings.Contains(string(out), "checksum mismatch") || !strings.Contains(string(out), "etc/topology.yaml") {
		t.Errorf("install.sh output does not name the mismatch:\n%s", out)
	}
	if _, err := os.Stat(prefix2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("install.sh wrote %s after a checksum mismatch", prefix2)
	}
}
