package firmwaretools

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSums(t *testing.T) {
	// sha256("") and sha256("abc"), from FIPS 180-2.
	const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := SHA256([]byte("abc")); got != abc {
		t.Fatalf("SHA256(abc) = %s, want %s", got, abc)
	}
	sums := []Sum{{abc, "b/abc"}, {empty, "a/empty"}}
	text := string(FormatSums(sums))
	if want := empty + "  a/empty\n" + abc + "  b/abc\n"; text != want {
		t.Errorf("FormatSums:\n%s\nwant\n%s", text, want)
	}
	back, err := ParseSums(strings.NewReader(text), "x")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Sum{{empty, "a/empty"}, {abc, "b/abc"}}; !reflect.DeepEqual(back, want) {
		t.Errorf("ParseSums = %v, want %v", back, want)
	}
	if got, _ := ParseSums(strings.NewReader(abc+" *bin/x\n"), "x"); len(got) != 1 || got[0].Path != "bin/x" {
		t.Errorf("binary-mode line: got %v, want bin/x", got)
	}
	for _, bad := range []string{
		abc + " one-space",
		"xyz  file",
		abc[:60] + "  short-hash",
		abc + "  ../escape",
		abc + "  /abs/path",
		abc + "  a/./b",
	} {
		if _, err := ParseSums(strings.NewReader(bad+"\n"), "x"); !errors.Is(err, ErrBundle) {
			t.Errorf("ParseSums(%q): got %v, want ErrBundle", bad, err)
		}
	}

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a"), 0o755)
	os.MkdirAll(filepath.Join(dir, "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "empty"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "b", "abc"), []byte("abc"), 0o644)
	os.WriteFile(filepath.Join(dir, SumsFile), []byte(text), 0o644)
	if err := VerifySums(filepath.Join(dir, SumsFile)); err != nil {
		t.Errorf("VerifySums: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "b", "abc"), []byte("abd"), 0o644)
	var ce *ChecksumError
	if err := VerifySums(filepath.Join(dir, SumsFile)); !errors.As(err, &ce) || ce.File != "b/abc" || ce.Want != abc {
		t.Errorf("VerifySums after a change: got %v, want a *ChecksumError for b/abc", err)
	}
	os.Remove(filepath.Join(dir, "a", "empty"))
	if err := VerifySums(filepath.Join(dir, SumsFile)); !errors.As(err, &ce) || ce.File != "a/empty" || ce.Got != "" {
		t.Errorf("VerifySums with a missing file: got %v, want a *ChecksumError for a/empty", err)
	}
}
