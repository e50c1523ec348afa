package fedgan_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/fedgan/fedgan/"

// layers is the repository's layout, lowest first (docs/DESIGN.md,
// "Layout"): a package may import only packages of lower layers, so that
// nothing imports what it is used by. A name ending in "/" stands for every
// package under it.
var layers = [][]string{
	{"nn/internal/"},
	{"nn", "wire", "internal/"},
	{"fed", "data", "dashboard"},
	{"config", "broker"},
	{"deploy", "deploy/brokercfg"},
	{"eval"},
	{"device", "edge", "cloud"},
	{"sim", "loadtest"},
	{"local"},
	{"experiment"},
	{"cli/agentcli", "firmware-tools"},
	{"cli"},
	{"cmd/", "bench/"},
}

func layerOf(pkg string) (int, bool) {
	best, bestLen := -1, -1
	for i, row := range layers {
		for _, p := range row {
			match := pkg == p || strings.HasSuffix(p, "/") && strings.HasPrefix(pkg, p)
			if match && len(p) > bestLen {
				best, bestLen = i, len(p)
			}
		}
	}
	return best, best >= 0
}

// TestLayers checks every non-test import of the repository's packages
// against the layers.
func TestLayers(t *testing.T) {
	imports := map[string]map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata" || d.Name() == "bin" || d.Name() == "results") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if dir == "." {
			return nil
		}
		if imports[dir] == nil {
			imports[dir] = map[string]bool{}
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(p, module) {
				imports[dir][strings.TrimPrefix(p, module)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 10 {
		t.Fatalf("found only %d packages; is the test running at the repository root?", len(imports))
	}
	for pkg, deps := range imports {
		l, ok := layerOf(pkg)
		if !ok {
			t.Errorf("package %s is in no layer: add it to layers (and to docs/DESIGN.md's layout)", pkg)
			continue
		}
		for dep := range deps {
			if dl, ok := layerOf(dep); !ok || dl >= l {
				t.Errorf("%s (layer %d) imports %s (layer %d): a package imports only lower layers", pkg, l, dep, dl)
			}
		}
	}
}

func TestLayerOf(t *testing.T) {
	for pkg, want := range map[string]int{"nn/internal/openblas": 0, "nn": 1, "internal/clock": 1, "cli": 11, "cli/agentcli": 10, "cmd/fedgan": 12} {
		if got, _ := layerOf(pkg); got != want {
			t.Errorf("layerOf(%s) = %d, want %d", pkg, got, want)
		}
	}
	if _, ok := layerOf("nowhere"); ok {
		t.Error("an unknown package has a layer")
	}
}
