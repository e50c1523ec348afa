package firmwaretools

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/fedgan/fedgan/internal/atomicfile"
)

// BuildInfoPkg is the package whose Version and Commit the linker stamps.
const BuildInfoPkg = "github.com/fedgan/fedgan/internal/buildinfo"

// Commands that Build knows: the device agent and the full binary, which
// holds the edge and the cloud roles.
const (
	Agent = "fedgan-agent"
	Full  = "fedgan"
)

// SumsFile is the name of the checksum file Build writes into Out.
const SumsFile = "SHA256SUMS"

// VersionFile, beside the binaries of an architecture, holds the version
// and commit they were stamped with ("VERSION COMMIT").
const VersionFile = "VERSION"

// readBuildInfo reads dir/arch/VERSION; "dev", "unknown" without one.
func readBuildInfo(dir string, arch Arch) (version, commit string) {
	b, err := os.ReadFile(filepath.Join(dir, arch.Name, VersionFile))
	if err != nil {
		return "dev", "unknown"
	}
	version, commit, _ = strings.Cut(strings.TrimSpace(string(b)), " ")
	return version, commit
}

// BuildOptions configure Build.
type BuildOptions struct {
	// Dir is the root of the fedgan module; default ".".
	Dir string
	// Out receives <arch>/<command>, <arch>/VERSION and SHA256SUMS.
	// Required.
	Out string
	// Arches to build; default every one of Arches().
	Arches []Arch
	// Commands are the cmd/ folders to build; default [Agent]. Add Full
	// for the edge and the cloud.
	Commands []string
	// Version and Commit are stamped into the binaries (what `--version`
	// prints); defaults "dev" and "unknown". No white space.
	Version, Commit string
	// Go is the go command; default "go".
	Go string
	// Log receives the go tool's output; nil discards it.
	Log io.Writer
}

// Artifact is one built binary.
type Artifact struct {
	Command string
	Arch    Arch
	// Path is relative to BuildOptions.Out, slash-separated: <arch>/<command>.
	Path   string
	Size   int64
	SHA256 string
}

// LDFlags returns the linker flags of a stripped build stamped with
// version and commit.
func LDFlags(version, commit string) string {
	return fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s", BuildInfoPkg, version, BuildInfoPkg, commit)
}

// Build cross-compiles every command for every architecture with CGO off,
// -trimpath and a stripped, stamped binary, then writes Out/SHA256SUMS
// listing every binary of this build (and, unchanged, those of earlier
// builds into the same folder).
func Build(ctx context.Context, opts BuildOptions) ([]Artifact, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	out, err := filepath.Abs(opts.Out)
	if err != nil {
		return nil, err
	}
	var arts []Artifact
	for _, a := range opts.Arches {
		for _, c := range opts.Commands {
			art, err := buildOne(ctx, opts, out, a, c)
			if err != nil {
				return nil, err
			}
			arts = append(arts, art)
		}
	}
	if err := writeBuildSums(out, arts); err != nil {
		return nil, err
	}
	return arts, nil
}

// check fills the defaults and checks the options.
func (o *BuildOptions) check() error {
	if o.Out == "" {
		return fmt.Errorf("%w: build: no output folder", ErrUsage)
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	if len(o.Arches) == 0 {
		o.Arches = Arches()
	}
	if len(o.Commands) == 0 {
		o.Commands = []string{Agent}
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Commit == "" {
		o.Commit = "unknown"
	}
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	for _, s := range []string{o.Version, o.Commit} {
		if strings.ContainsAny(s, " \t\n'\"") {
			return fmt.Errorf("%w: build: version and commit must not contain spaces or quotes: %q", ErrUsage, s)
		}
	}
	for _, c := range o.Commands {
		if c != Agent && c != Full {
			return fmt.Errorf("%w: build: unknown command %q (want %s or %s)", ErrUsage, c, Agent, Full)
		}
	}
	return nil
}

// buildOne builds command c for architecture a into out/<arch>/<command>,
// with the folder's VERSION file.
func buildOne(ctx context.Context, opts BuildOptions, out string, a Arch, c string) (Artifact, error) {
	rel := path.Join(a.Name, c)
	dst := filepath.Join(out, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Artifact{}, err
	}
	cmd := exec.CommandContext(ctx, opts.Go, "build", "-trimpath", "-ldflags", LDFlags(opts.Version, opts.Commit), "-o", dst, "./cmd/"+c)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.GOARCH, "GOARM="+a.GOARM)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&buf, opts.Log), io.MultiWriter(&buf, opts.Log)
	if err := cmd.Run(); err != nil {
		return Artifact{}, fmt.Errorf("firmwaretools: go build %s for %s: %w\n%s", c, a.Name, err, strings.TrimSpace(buf.String()))
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return Artifact{}, err
	}
	sum, err := FileSHA256(dst)
	if err != nil {
		return Artifact{}, err
	}
	if err := atomicfile.Write(filepath.Join(filepath.Dir(dst), VersionFile), []byte(opts.Version+" "+opts.Commit+"\n"), 0o644); err != nil {
		return Artifact{}, err
	}
	return Artifact{Command: c, Arch: a, Path: rel, Size: fi.Size(), SHA256: sum}, nil
}

// writeBuildSums writes out/SHA256SUMS: the binaries arts built, then
// those of earlier builds into the same folder, which stay listed.
func writeBuildSums(out string, arts []Artifact) error {
	sumsPath := filepath.Join(out, SumsFile)
	built := map[string]bool{}
	var sums []Sum
	for _, a := range arts {
		built[a.Path] = true
		sums = append(sums, Sum{SHA256: a.SHA256, Path: a.Path})
	}
	if b, err := os.ReadFile(sumsPath); err == nil {
		old, err := ParseSums(bytes.NewReader(b), sumsPath)
		if err != nil {
			return err
		}
		for _, s := range old {
			if !built[s.Path] {
				sums = append(sums, s)
			}
		}
	}
	return atomicfile.Write(sumsPath, FormatSums(sums), 0o644)
}
