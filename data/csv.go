package data

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ReadCSV parses numeric sensor readings: a header row naming the columns,
// then one row of numbers per reading, every row as long as the header.
// Fields may be surrounded by spaces; lines starting with '#' are
// comments. rows holds the values row-major, len(header) per row, in the
// file's units.
//
// Errors are *CSVError values giving the line and column, wrapping ErrCSV:
// no header (the first row is all numbers), an empty or duplicate column
// name, a value that is not a finite number, a ragged row, no data rows.
func ReadCSV(r io.Reader) (header []string, rows []float64, err error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	rec, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, nil, &CSVError{Line: 1, Err: fmt.Errorf("%w: empty file; a header row naming the columns is required", ErrCSV)}
		}
		return nil, nil, csvParseError(err)
	}
	line, _ := cr.FieldPos(0)
	header = make([]string, len(rec))
	numeric := true
	for j, name := range rec {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, nil, &CSVError{Line: line, Column: j + 1, Err: fmt.Errorf("%w: empty column name in the header row", ErrCSV)}
		}
		if k := slices.Index(header[:j], name); k >= 0 {
			return nil, nil, &CSVError{Line: line, Column: j + 1, Name: name, Err: fmt.Errorf("%w: column name repeats column %d", ErrCSV, k+1)}
		}
		if _, err := strconv.ParseFloat(name, 64); err != nil {
			numeric = false
		}
		header[j] = name
	}
	if numeric {
		return nil, nil, &CSVError{Line: line, Err: fmt.Errorf("%w: header row required, got a row of numbers %v", ErrCSV, rec)}
	}
	cr.ReuseRecord = true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(err, csv.ErrFieldCount) {
				return nil, nil, &CSVError{Line: pe.StartLine, Err: fmt.Errorf("%w: %d fields, want %d (one per header column)", ErrCSV, len(rec), len(header))}
			}
			return nil, nil, csvParseError(err)
		}
		for j, f := range rec {
			f = strings.TrimSpace(f)
			v, perr := strconv.ParseFloat(f, 64)
			var why string
			switch {
			case f == "":
				why = "empty value"
			case perr != nil:
				why = fmt.Sprintf("%q is not a number", f)
			case math.IsNaN(v) || math.IsInf(v, 0):
				why = fmt.Sprintf("%q is not a finite number", f)
			}
			if why != "" {
				line, _ := cr.FieldPos(j)
				return nil, nil, &CSVError{Line: line, Column: j + 1, Name: header[j], Err: fmt.Errorf("%w: %s", ErrCSV, why)}
			}
			rows = append(rows, v)
		}
	}
	if len(rows) == 0 {
		return nil, nil, &CSVError{Line: line + 1, Err: fmt.Errorf("%w: no data rows after the header", ErrCSV)}
	}
	return header, rows, nil
}

// csvParseError converts encoding/csv's syntax errors.
func csvParseError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{Line: pe.Line, Err: fmt.Errorf("%w: byte %d: %w", ErrCSV, pe.Column, pe.Err)}
	}
	return fmt.Errorf("data: reading CSV: %w", err)
}

// LoadCSV reads a CSV file of numeric readings (see ReadCSV) into a
// numeric dataset named after the file, scaled to model space. With sc nil
// it fits a new Scaler to the file and returns it, to be saved beside the
// model; otherwise it applies sc, whose columns must match the header, and
// returns it. Errors name the file.
func LoadCSV(path string, sc *Scaler) (*Dataset, *Scaler, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	header, rows, err := ReadCSV(f)
	if err != nil {
		var ce *CSVError
		if errors.As(err, &ce) {
			ce.Path = path
			return nil, nil, ce
		}
		return nil, nil, &FileError{Path: path, Err: err}
	}
	if sc == nil {
		sc = FitScaler(header, rows)
	} else {
		if err := sc.Validate(); err != nil {
			return nil, nil, err
		}
		if !slices.Equal(sc.Columns, header) {
			return nil, nil, &FileError{Path: path, Err: fmt.Errorf("%w: scaler columns %q do not match the header %q", ErrScaler, sc.Columns, header)}
		}
	}
	vals := make([]float32, len(rows))
	sc.Transform(vals, rows)
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	d, err := NewNumeric(name, len(header), vals, nil, 0)
	if err != nil {
		return nil, nil, err
	}
	return d, sc, nil
}

// Scaler maps each column linearly from [Min, Max] in its units to
// [−1, 1] in model space, and back. A constant column (Min == Max) maps to
// 0, and back to Min.
//
// It is saved as JSON beside a model trained on scaled data, so that the
// model's generated rows can be mapped back to units:
//
//	{"columns": ["temp", "humidity"], "min": [12.5, 30], "max": [31, 88]}
type Scaler struct {
	Columns []string  `json:"columns"`
	Min     []float64 `json:"min"`
	Max     []float64 `json:"max"`
}

// FitScaler returns the Scaler that maps the range of each column of rows
// (row-major, len(columns) per row) onto [−1, 1]. It panics if len(rows)
// is not a multiple of len(columns).
func FitScaler(columns []string, rows []float64) *Scaler {
	d := len(columns)
	if d == 0 || len(rows)%d != 0 {
		panic(fmt.Sprintf("data: FitScaler: %d values do not form rows of %d columns", len(rows), d))
	}
	s := &Scaler{Columns: slices.Clone(columns), Min: make([]float64, d), Max: make([]float64, d)}
	for j := range d {
		s.Min[j], s.Max[j] = math.Inf(1), math.Inf(-1)
	}
	for i := 0; i < len(rows); i += d {
		for j, v := range rows[i : i+d] {
			s.Min[j] = min(s.Min[j], v)
			s.Max[j] = max(s.Max[j], v)
		}
	}
	if len(rows) == 0 {
		clear(s.Min)
		clear(s.Max)
	}
	return s
}

// Dim returns the number of columns.
func (s *Scaler) Dim() int { return len(s.Columns) }

// Validate checks that the slices have one entry per column and that each
// range is finite with Min <= Max. Errors wrap ErrScaler.
func (s *Scaler) Validate() error {
	d := len(s.Columns)
	if d == 0 || len(s.Min) != d || len(s.Max) != d {
		return fmt.Errorf("%w: %d columns, %d minima, %d maxima", ErrScaler, d, len(s.Min), len(s.Max))
	}
	for j := range d {
		lo, hi := s.Min[j], s.Max[j]
		if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo > hi {
			return fmt.Errorf("%w: column %d (%q) has range [%v, %v]", ErrScaler, j+1, s.Columns[j], lo, hi)
		}
	}
	return nil
}

// Transform maps rows in units (row-major, Dim per row) to model space:
// 2(x − Min)/(Max − Min) − 1, or 0 for a constant column. Values outside
// the fitted range map outside [−1, 1]; nothing is clamped. It panics if
// len(src) is not a multiple of Dim or len(dst) < len(src).
func (s *Scaler) Transform(dst []float32, src []float64) {
	d := s.check(len(src), len(dst))
	for i, x := range src {
		j := i % d
		if r := s.Max[j] - s.Min[j]; r > 0 {
			dst[i] = float32(2*(x-s.Min[j])/r - 1)
		} else {
			dst[i] = 0
		}
	}
}

// Inverse maps model-space rows back to units: Min + (y+1)(Max − Min)/2,
// or Min for a constant column. It panics as Transform does.
func (s *Scaler) Inverse(dst []float64, src []float32) {
	d := s.check(len(src), len(dst))
	for i, y := range src {
		j := i % d
		dst[i] = s.Min[j] + (float64(y)+1)*(s.Max[j]-s.Min[j])/2
	}
}

func (s *Scaler) check(nsrc, ndst int) int {
	d := len(s.Columns)
	if d == 0 || len(s.Min) != d || len(s.Max) != d || nsrc%d != 0 || ndst < nsrc {
		panic(fmt.Sprintf("data: Scaler of %d columns applied to %d values into %d", d, nsrc, ndst))
	}
	return d
}

// Save writes the scaler as JSON to path, replacing the file atomically
// (a temporary file in the same directory, then a rename).
func (s *Scaler) Save(path string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// LoadScaler reads a scaler written by Save and validates it. Errors name
// the file.
func LoadScaler(path string) (*Scaler, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Scaler
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: %w", ErrScaler, err)}
	}
	if err := s.Validate(); err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return &s, nil
}
