package firmwaretools

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/wire"
)

//go:embed templates
var templates embed.FS

// Names inside a bundle.
const (
	ManifestFile = "MANIFEST"
	InfoFile     = "bundle.json"
	InstallFile  = "install.sh"
	UnitFile     = "fedgan-agent.service"
	AgentFile    = "bin/fedgan-agent"
	// ConfigPrefix holds the files that go to the config folder.
	ConfigPrefix = "etc/"
)

// Defaults of the on-board layout.
const (
	DefaultConfigDir   = "/etc/fedgan"
	DefaultBinDir      = "/usr/local/bin"
	DefaultUser        = "fedgan"
	DefaultMemoryLimit = "40MiB"
)

// BundleInfo is bundle.json: what the bundle is for and where it installs.
type BundleInfo struct {
	Device    string    `json:"device"`
	Community string    `json:"community"`
	Arch      string    `json:"arch"`
	Version   string    `json:"version"`
	Commit    string    `json:"commit"`
	ConfigDir string    `json:"config_dir"`
	BinDir    string    `json:"bin_dir"`
	User      string    `json:"user"`
	Created   time.Time `json:"created"`
}

// BundleOptions configure Bundle.
type BundleOptions struct {
	// Provisioned is Provision's output folder (devices/<id>/). Required.
	Provisioned string
	// Bin is Build's output folder (<arch>/fedgan-agent, SHA256SUMS).
	// Required.
	Bin string
	// Out receives fedgan-<id>-<arch>.tar.gz. Required.
	Out string
	// IDs are the devices to bundle; default every provisioned device.
	IDs []string
	// Arch is the architecture of devices Inventory does not list.
	Arch string
	// Inventory maps device ids to architectures (see ReadInventory);
	// it wins over Arch.
	Inventory map[string]string
	// ConfigDir, BinDir and User are the on-board layout; defaults
	// DefaultConfigDir, DefaultBinDir and DefaultUser.
	ConfigDir, BinDir, User string
	// MemoryLimit is the unit's GOMEMLIMIT; default DefaultMemoryLimit.
	MemoryLimit string
	// Now stamps the files; default time.Now.
	Now func() time.Time
}

// Bundled is one bundle written by Bundle.
type Bundled struct {
	Path string
	Info BundleInfo
	// Files lists the bundle's files (relative to its top folder).
	Files []string
}

// ReadInventory reads a YAML map of device id to architecture
// ("c1-d1: armv7"); every architecture must be known.
func ReadInventory(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	inv := map[string]string{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&inv); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: inventory %s: %w", ErrUsage, path, err)
	}
	for _, id := range sortedKeys(inv) {
		if _, err := ParseArch(inv[id]); err != nil {
			return nil, fmt.Errorf("inventory %s: device %s: %w", path, id, err)
		}
	}
	return inv, nil
}

// Bundle writes one tar.gz per device: the agent built for its
// architecture (checked against the build's SHA256SUMS), its provisioned
// configuration and credentials, a systemd unit, install.sh, bundle.json
// and a MANIFEST of every other file's SHA-256 (sha256sum format, checked
// by install.sh before it installs anything).
func Bundle(opts BundleOptions) ([]Bundled, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	devDir := filepath.Join(opts.Provisioned, "devices")
	ids, err := bundleIDs(opts, devDir)
	if err != nil {
		return nil, err
	}
	sums, err := readBuildSums(opts.Bin)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Out, 0o750); err != nil {
		return nil, err
	}
	var out []Bundled
	for _, id := range ids {
		name := opts.Arch
		if a, ok := opts.Inventory[id]; ok {
			name = a
		}
		if name == "" {
			return nil, fmt.Errorf("%w: device %s: no architecture (give --arch or list it in an inventory)", ErrArch, id)
		}
		arch, err := ParseArch(name)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", id, err)
		}
		version, commit := readBuildInfo(opts.Bin, arch)
		b, err := bundleOne(opts, filepath.Join(devDir, id), id, arch, sums, version, commit)
		if err != nil {
			return nil, err
		}
		out = append(out, *b)
	}
	return out, nil
}

// check fills the defaults and checks the options that need no files.
func (o *BundleOptions) check() error {
	if o.Provisioned == "" || o.Bin == "" || o.Out == "" {
		return fmt.Errorf("%w: bundle needs the provision folder, the build folder and an output folder", ErrUsage)
	}
	if o.ConfigDir == "" {
		o.ConfigDir = DefaultConfigDir
	}
	if o.BinDir == "" {
		o.BinDir = DefaultBinDir
	}
	if o.User == "" {
		o.User = DefaultUser
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for _, s := range []string{o.ConfigDir, o.BinDir} {
		if !path.IsAbs(s) || strings.ContainsAny(s, " '\"$`\\\n") {
			return fmt.Errorf("%w: on-board folder %q must be absolute, without spaces or quotes", ErrUsage, s)
		}
	}
	if err := wire.ValidID(o.User); err != nil || strings.ContainsAny(o.MemoryLimit, " '\"$`\\\n") {
		return fmt.Errorf("%w: bad user %q or memory limit %q", ErrUsage, o.User, o.MemoryLimit)
	}
	return nil
}

// bundleIDs returns the devices to bundle (opts.IDs, or every device
// provisioned in devDir), after checking that they and the inventory's
// are provisioned.
func bundleIDs(opts BundleOptions, devDir string) ([]string, error) {
	provisioned, err := listDirs(devDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s holds no provisioned devices: %w", ErrUsage, opts.Provisioned, err)
	}
	ids := opts.IDs
	if len(ids) == 0 {
		ids = provisioned
	}
	for _, id := range ids {
		if id == "" {
			return nil, &DeviceError{}
		}
		if !slices.Contains(provisioned, id) {
			return nil, &DeviceError{ID: id, Where: "the provisioned devices of " + opts.Provisioned, Known: provisioned}
		}
	}
	for _, id := range sortedKeys(opts.Inventory) {
		if !slices.Contains(provisioned, id) {
			return nil, fmt.Errorf("inventory: %w", &DeviceError{ID: id, Where: "the provisioned devices of " + opts.Provisioned, Known: provisioned})
		}
	}
	return ids, nil
}

type bundleFile struct {
	Src, Dst string // Src inside the bundle; Dst relative to the config folder
	Mode     string // octal, for install.sh
	Secret   bool
	mode     int64
	data     []byte
}

// bundleOne writes device id's bundle from its provisioned folder dir.
func bundleOne(opts BundleOptions, dir, id string, arch Arch, sums map[string]string, version, commit string) (*Bundled, error) {
	agent, err := readAgent(opts.Bin, id, arch, sums)
	if err != nil {
		return nil, err
	}
	cfgBytes, err := os.ReadFile(filepath.Join(dir, DeviceConfig))
	if err != nil {
		return nil, fmt.Errorf("%w: device %s is not fully provisioned: %w", ErrBundle, id, err)
	}
	files, stale, err := readDeviceFiles(dir)
	if err != nil {
		return nil, err
	}
	info := BundleInfo{Device: id, Community: communityOf(cfgBytes, id), Arch: arch.Name, Version: version, Commit: commit,
		ConfigDir: opts.ConfigDir, BinDir: opts.BinDir, User: opts.User, Created: opts.Now().UTC().Truncate(time.Second)}
	all, err := bundleContents(info, opts.MemoryLimit, agent, files, stale)
	if err != nil {
		return nil, err
	}
	res := &Bundled{Info: info}
	tgz, err := tarGz("fedgan-"+id, all, info.Created)
	if err != nil {
		return nil, err
	}
	for _, f := range all {
		res.Files = append(res.Files, f.Src)
	}
	res.Path = filepath.Join(opts.Out, fmt.Sprintf("fedgan-%s-%s.tar.gz", id, arch.Name))
	// The bundle holds the device's secrets: 0600 like them.
	if err := atomicfile.Write(res.Path, tgz, 0o600); err != nil {
		return nil, err
	}
	return res, nil
}

// readAgent reads the agent built for arch in bin and checks it against
// the build's sums.
func readAgent(bin, id string, arch Arch, sums map[string]string) ([]byte, error) {
	agentRel := path.Join(arch.Name, Agent)
	agent, err := os.ReadFile(filepath.Join(bin, filepath.FromSlash(agentRel)))
	if err != nil {
		return nil, fmt.Errorf("%w: device %s: no %s agent in %s (run build for it): %w", ErrArch, id, arch.Name, bin, err)
	}
	want, ok := sums[agentRel]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not listed in %s", ErrChecksum, agentRel, filepath.Join(bin, SumsFile))
	}
	if got := SHA256(agent); got != want {
		return nil, &ChecksumError{File: filepath.Join(bin, filepath.FromSlash(agentRel)), Want: want, Got: got}
	}
	return agent, nil
}

// readDeviceFiles reads the files a device's provisioning may make from
// its folder dir; stale lists those it does not hold, which install.sh
// removes from the board.
func readDeviceFiles(dir string) (files []bundleFile, stale []string, err error) {
	for _, rel := range []string{DeviceConfig, DevicePassword, DeviceCA, DeviceCert, DeviceKey} {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) {
			stale = append(stale, rel)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		secret := rel == DevicePassword || rel == DeviceKey
		f := bundleFile{Src: ConfigPrefix + rel, Dst: rel, Mode: "0644", mode: 0o644, data: b}
		if secret {
			f.Mode, f.mode, f.Secret = "0600", 0o600, true
		}
		files = append(files, f)
	}
	return files, stale, nil
}

// bundleContents returns every file of the bundle: the MANIFEST first,
// then bundle.json, install.sh, the systemd unit, the agent and the
// device's files.
func bundleContents(info BundleInfo, memoryLimit string, agent []byte, files []bundleFile, stale []string) ([]bundleFile, error) {
	vars := map[string]any{
		"Device": info.Device, "Community": info.Community, "Arch": info.Arch, "Version": info.Version,
		"ConfigDir": info.ConfigDir, "BinDir": info.BinDir, "User": info.User, "MemoryLimit": memoryLimit,
		"Config": DeviceConfig, "Files": files, "Stale": stale,
	}
	install, err := render("templates/install.sh.tmpl", vars)
	if err != nil {
		return nil, err
	}
	unit, err := render("templates/fedgan-agent.service.tmpl", vars)
	if err != nil {
		return nil, err
	}
	infoJSON, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	all := append([]bundleFile{
		{Src: InfoFile, mode: 0o644, data: append(infoJSON, '\n')},
		{Src: InstallFile, mode: 0o755, data: install},
		{Src: UnitFile, mode: 0o644, data: unit},
		{Src: AgentFile, mode: 0o755, data: agent},
	}, files...)
	var manifest []Sum
	for _, f := range all {
		manifest = append(manifest, Sum{SHA256: SHA256(f.data), Path: f.Src})
	}
	return append([]bundleFile{{Src: ManifestFile, mode: 0o644, data: FormatSums(manifest)}}, all...), nil
}

// tarGz packs files under the folder top, with their folders, every entry
// dated mtime.
func tarGz(top string, files []bundleFile, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.Src); d != "."; d = path.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: top + "/" + d + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
					return nil, err
				}
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: top + "/" + f.Src, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func render(name string, vars any) ([]byte, error) {
	t, err := template.ParseFS(templates, name)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, vars); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// communityOf finds the device's community in its slice.
func communityOf(slice []byte, id string) string {
	var s struct {
		Communities []struct {
			ID      string `yaml:"id"`
			Devices []struct {
				ID string `yaml:"id"`
			} `yaml:"devices"`
		} `yaml:"communities"`
	}
	if yaml.Unmarshal(slice, &s) != nil {
		return ""
	}
	for _, c := range s.Communities {
		for _, d := range c.Devices {
			if d.ID == id {
				return c.ID
			}
		}
	}
	return ""
}

func listDirs(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s is empty", dir)
	}
	return out, nil
}

func readBuildSums(dir string) (map[string]string, error) {
	p := filepath.Join(dir, SumsFile)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w (run build first)", ErrUsage, p, err)
	}
	defer f.Close()
	list, err := ParseSums(f, p)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, s := range list {
		m[s.Path] = s.SHA256
	}
	return m, nil
}
