package firmwaretools

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// maxBundle bounds what OpenBundle reads (an agent is under 10 MB).
const maxBundle = 256 << 20

// OpenedBundle is a bundle read into memory and verified.
type OpenedBundle struct {
	// Path is where it was read from; Raw is the tar.gz itself.
	Path string
	Raw  []byte
	Info BundleInfo
	// Files maps each regular file (relative to the top folder) to its
	// contents; Modes to its permission bits.
	Files map[string][]byte
	Modes map[string]int64
}

// OpenBundle reads a bundle written by Bundle and checks it: bundle.json
// parses, and every file matches MANIFEST and is listed in it. A
// mismatch is a *ChecksumError wrapping ErrChecksum; a bundle that is not
// one wraps ErrBundle.
func OpenBundle(p string) (*OpenedBundle, error) {
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if len(raw) > maxBundle {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrBundle, p, maxBundle)
	}
	b := &OpenedBundle{Path: p, Raw: raw, Files: map[string][]byte{}, Modes: map[string]int64{}}
	top, err := b.readEntries()
	if err != nil {
		return nil, err
	}
	if err := b.checkManifest(top); err != nil {
		return nil, err
	}
	if err := b.readInfo(top); err != nil {
		return nil, err
	}
	return b, nil
}

// readEntries unpacks b.Raw into b.Files and b.Modes and returns the top
// folder, which every entry must be under.
func (b *OpenedBundle) readEntries() (top string, err error) {
	p := b.Path
	gz, err := gzip.NewReader(bytes.NewReader(b.Raw))
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrBundle, p, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return top, nil
		}
		if err != nil {
			return "", fmt.Errorf("%w: %s: %w", ErrBundle, p, err)
		}
		first, rest, _ := strings.Cut(h.Name, "/")
		if top == "" {
			top = first
		}
		if first != top || !strings.HasPrefix(top, "fedgan-") {
			return "", fmt.Errorf("%w: %s: entry %q outside the bundle's folder", ErrBundle, p, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return "", fmt.Errorf("%w: %s: %q is not a regular file", ErrBundle, p, h.Name)
		}
		if !localPath(rest) {
			return "", fmt.Errorf("%w: %s: bad entry name %q", ErrBundle, p, h.Name)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxBundle))
		if err != nil {
			return "", fmt.Errorf("%w: %s: %w", ErrBundle, p, err)
		}
		b.Files[rest], b.Modes[rest] = data, h.Mode&0o7777
	}
}

// checkManifest checks that every file matches MANIFEST and is listed in
// it, and that the files a bundle needs are there.
func (b *OpenedBundle) checkManifest(top string) error {
	p := b.Path
	man, ok := b.Files[ManifestFile]
	if !ok {
		return fmt.Errorf("%w: %s: no %s", ErrBundle, p, ManifestFile)
	}
	sums, err := ParseSums(bytes.NewReader(man), path.Join(top, ManifestFile))
	if err != nil {
		return err
	}
	listed := map[string]bool{ManifestFile: true}
	for _, s := range sums {
		listed[s.Path] = true
		data, ok := b.Files[s.Path]
		if !ok {
			return &ChecksumError{File: s.Path, Want: s.SHA256}
		}
		if got := SHA256(data); got != s.SHA256 {
			return &ChecksumError{File: s.Path, Want: s.SHA256, Got: got}
		}
	}
	for name := range b.Files {
		if !listed[name] {
			return fmt.Errorf("%w: %s: %s is not in the manifest", ErrChecksum, p, name)
		}
	}
	for _, need := range []string{InfoFile, InstallFile, AgentFile, ConfigPrefix + DeviceConfig} {
		if !listed[need] {
			return fmt.Errorf("%w: %s: no %s", ErrBundle, p, need)
		}
	}
	return nil
}

// readInfo parses bundle.json into b.Info and checks that it names a
// device, the one of the top folder, and a known architecture.
func (b *OpenedBundle) readInfo(top string) error {
	if err := json.Unmarshal(b.Files[InfoFile], &b.Info); err != nil {
		return fmt.Errorf("%w: %s: %s: %w", ErrBundle, b.Path, InfoFile, err)
	}
	if b.Info.Device == "" {
		return &DeviceError{}
	}
	if "fedgan-"+b.Info.Device != top {
		return fmt.Errorf("%w: %s: folder %s does not match device %s", ErrBundle, b.Path, top, b.Info.Device)
	}
	if _, err := ParseArch(b.Info.Arch); err != nil {
		return err
	}
	return nil
}

// Top is the bundle's top folder, fedgan-<device>.
func (b *OpenedBundle) Top() string { return "fedgan-" + b.Info.Device }
