package data

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name, in  string
		line, col int
		msg       string
	}{
		{"empty", "", 1, 0, "line 1: data: bad CSV: empty file; a header row naming the columns is required"},
		{"no header", "1,2\n3,4\n", 1, 0, "line 1: data: bad CSV: header row required, got a row of numbers [1 2]"},
		{"not a number", "temp,hum\n1,2\n3,wet\n", 3, 2, `line 3, column 2 ("hum"): data: bad CSV: "wet" is not a number`},
		{"empty value", "temp,hum\n1, \n", 2, 2, `line 2, column 2 ("hum"): data: bad CSV: empty value`},
		{"NaN", "temp,hum\nNaN,2\n", 2, 1, `line 2, column 1 ("temp"): data: bad CSV: "NaN" is not a finite number`},
		{"Inf", "temp,hum\n1,-Inf\n", 2, 2, `"-Inf" is not a finite number`},
		{"ragged", "temp,hum\n1,2\n3\n", 3, 0, "line 3: data: bad CSV: 1 fields, want 2 (one per header column)"},
		{"no rows", "temp,hum\n", 2, 0, "line 2: data: bad CSV: no data rows after the header"},
		{"duplicate", "temp,temp\n1,2\n", 1, 2, `line 1, column 2 ("temp"): data: bad CSV: column name repeats column 1`},
		{"empty name", "temp,,hum\n1,2,3\n", 1, 2, "line 1, column 2: data: bad CSV: empty column name"},
		{"comment shifts lines", "# station 4\ntemp\n1\nx\n", 4, 1, `line 4, column 1 ("temp"): data: bad CSV: "x" is not a number`},
		{"bare quote", "temp\n1\"2\n", 2, 0, `line 2: data: bad CSV: byte 2: bare " in non-quoted-field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadCSV(strings.NewReader(tt.in))
			var ce *CSVError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCSV) {
				t.Fatalf("got %v, want a *CSVError wrapping ErrCSV", err)
			}
			if ce.Line != tt.line || ce.Column != tt.col || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got line %d column %d %q, want line %d column %d containing %q", ce.Line, ce.Column, err, tt.line, tt.col, tt.msg)
			}
		})
	}
}

func TestLoadCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sensors.csv")
	// temp spans [10, 20]; hum is constant; pressure spans [-2, 2].
	const in = "temp, hum, pressure\n10, 50, -2\n20, 50, 2\n15, 50, 1\n"
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	d, sc, err := LoadCSV(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "sensors" || d.Len() != 3 || d.Dim != 3 || d.Classes != 0 || d.IsImage() {
		t.Fatalf("got %s len %d dim %d classes %d, want sensors 3 3 0", d.Name, d.Len(), d.Dim, d.Classes)
	}
	want := &Scaler{Columns: []string{"temp", "hum", "pressure"}, Min: []float64{10, 50, -2}, Max: []float64{20, 50, 2}}
	if !slices.Equal(sc.Columns, want.Columns) || !slices.Equal(sc.Min, want.Min) || !slices.Equal(sc.Max, want.Max) {
		t.Errorf("scaler: got %+v, want %+v", sc, want)
	}
	rows := make([]float32, 9)
	d.Rows(rows, []int{0, 1, 2})
	// 2(x−min)/(max−min) − 1; the constant column maps to 0.
	wantRows := []float32{-1, 0, -1, 1, 0, 1, 0, 0, 0.5}
	if !slices.Equal(rows, wantRows) {
		t.Errorf("model-space rows: got %v, want %v", rows, wantRows)
	}
	units := make([]float64, 9)
	sc.Inverse(units, rows)
	if wantUnits := []float64{10, 50, -2, 20, 50, 2, 15, 50, 1}; !slices.Equal(units, wantUnits) {
		t.Errorf("Inverse: got %v, want %v", units, wantUnits)
	}

	// Save and load beside the model; the loaded scaler maps new data the same way.
	sp := filepath.Join(dir, "scaler.json")
	if err := sc.Save(sp); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadScaler(sp)
	if err != nil {
		t.Fatal(err)
	}
	d2, sc2, err := LoadCSV(path, loaded)
	if err != nil || sc2 != loaded {
		t.Fatalf("LoadCSV with a loaded scaler: %v", err)
	}
	rows2 := make([]float32, 9)
	d2.Rows(rows2, []int{0, 1, 2})
	if !slices.Equal(rows2, wantRows) {
		t.Errorf("rows with the loaded scaler: got %v, want %v", rows2, wantRows)
	}
	// Values outside the fitted range are not clamped.
	out := make([]float32, 3)
	sc.Transform(out, []float64{25, 0, -4})
	if !slices.Equal(out, []float32{2, 0, -2}) { // 2(25−10)/10 − 1, constant, 2(−4+2)/4 − 1
		t.Errorf("Transform outside the range: got %v, want [2 0 -2]", out)
	}

	// A scaler for other columns is refused, naming the file.
	other := &Scaler{Columns: []string{"a", "b", "c"}, Min: []float64{0, 0, 0}, Max: []float64{1, 1, 1}}
	if _, _, err := LoadCSV(path, other); !errors.Is(err, ErrScaler) || !strings.Contains(err.Error(), path) {
		t.Errorf("mismatched scaler: got %v, want ErrScaler naming %s", err, path)
	}
	// A bad file is reported with its path.
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("a\nx\n"), 0o644)
	if _, _, err := LoadCSV(bad, nil); !errors.Is(err, ErrCSV) || !strings.HasPrefix(err.Error(), bad+":line 2, column 1") {
		t.Errorf("bad CSV: got %v, want ErrCSV starting with %s:line 2, column 1", err, bad)
	}
}

func TestScalerValidate(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, json string }{
		{"min above max", `{"columns":["a"],"min":[2],"max":[1]}`},
		{"short max", `{"columns":["a","b"],"min":[0,0],"max":[1]}`},
		{"no columns", `{"columns":[],"min":[],"max":[]}`},
		{"unknown field", `{"columns":["a"],"min":[0],"max":[1],"scale":2}`},
		{"not JSON", `columns: [a]`},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".json")
		os.WriteFile(p, []byte(tt.json), 0o644)
		_, err := LoadScaler(p)
		var fe *FileError
		if !errors.Is(err, ErrScaler) || !errors.As(err, &fe) || fe.Path != p {
			t.Errorf("%s: got %v, want ErrScaler in a *FileError naming %s", tt.name, err, p)
		}
	}
	nan := &Scaler{Columns: []string{"a"}, Min: []float64{math.NaN()}, Max: []float64{1}}
	if err := nan.Save(filepath.Join(dir, "nan.json")); !errors.Is(err, ErrScaler) {
		t.Errorf("saving a NaN bound: got %v, want ErrScaler", err)
	}
}
