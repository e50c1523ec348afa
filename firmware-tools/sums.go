package firmwaretools

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Sum is one line of a SHA256SUMS file or a bundle manifest: the hex
// SHA-256 of a file and its slash-separated path relative to the file
// that lists it.
type Sum struct {
	SHA256 string
	Path   string
}

// FormatSums writes sums in the format of `sha256sum` ("HEX  PATH" lines,
// sorted by path), so that `sha256sum -c --strict` checks them.
func FormatSums(sums []Sum) []byte {
	s := slices.Clone(sums)
	slices.SortFunc(s, func(a, b Sum) int { return strings.Compare(a.Path, b.Path) })
	var b bytes.Buffer
	for _, x := range s {
		fmt.Fprintf(&b, "%s  %s\n", x.SHA256, x.Path)
	}
	return b.Bytes()
}

// ParseSums reads sha256sum lines. source names the file in errors. Paths
// must be relative and must not leave their folder.
func ParseSums(r io.Reader, source string) ([]Sum, error) {
	var out []Sum
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		h, p, ok := strings.Cut(line, "  ")
		if !ok {
			// sha256sum's binary mode marker.
			h, p, ok = strings.Cut(line, " *")
		}
		if !ok || len(h) != 64 || !isHex(h) || !localPath(p) {
			return nil, fmt.Errorf("%w: %s:%d: want \"SHA256  relative/path\"", ErrBundle, source, n)
		}
		out = append(out, Sum{SHA256: strings.ToLower(h), Path: p})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBundle, source, err)
	}
	return out, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// localPath reports whether p is a clean relative slash path inside its
// folder (no "..", not absolute).
func localPath(p string) bool {
	return p != "" && filepath.IsLocal(filepath.FromSlash(p)) && path.Clean(p) == p && !strings.ContainsAny(p, "\\\n")
}

// SHA256 returns the hex SHA-256 of b.
func SHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// FileSHA256 returns the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// VerifySums checks every file listed in the sums file at sumsPath
// against the files beside it. A differing or missing file is a
// *ChecksumError wrapping ErrChecksum.
func VerifySums(sumsPath string) error {
	f, err := os.Open(sumsPath)
	if err != nil {
		return err
	}
	defer f.Close()
	sums, err := ParseSums(f, sumsPath)
	if err != nil {
		return err
	}
	dir := filepath.Dir(sumsPath)
	for _, s := range sums {
		got, err := FileSHA256(filepath.Join(dir, filepath.FromSlash(s.Path)))
		if os.IsNotExist(err) {
			return &ChecksumError{File: s.Path, Want: s.SHA256}
		}
		if err != nil {
			return err
		}
		if got != s.SHA256 {
			return &ChecksumError{File: s.Path, Want: s.SHA256, Got: got}
		}
	}
	return nil
}
