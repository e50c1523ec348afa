package eval

import (
	"reflect"
	"testing"

	"github.com/fedgan/fedgan/fed"
)

func TestHot(t *testing.T) {
	tests := []struct {
		code []float32
		want int
	}{
		{nil, -1},
		{[]float32{0, 0, 0}, -1},
		{[]float32{0, 1, 0}, 1},
		{[]float32{3, 0}, 0},
		{[]float32{0, 0, 2.5}, 2},
		{[]float32{-1, 0}, -1},
	}
	for _, tt := range tests {
		if got := hot(tt.code); got != tt.want {
			t.Errorf("hot(%v) = %d, want %d", tt.code, got, tt.want)
		}
	}
}

func TestCodesOf(t *testing.T) {
	tests := []struct {
		l    fed.Layout
		row  []float32
		want fed.Codes
	}{
		// z only.
		{fed.Layout{Latent: 2}, []float32{0.5, -1}, fed.NoCodes},
		// LR: domain 1 of 3 (z may hold anything, even values > 1).
		{fed.Layout{Latent: 2, Domains: 3}, []float32{7, 9, 0, 1, 0}, fed.Codes{Domain: 1, Source: -1, Class: -1}},
		// LR before the domain is set: no domain.
		{fed.Layout{Latent: 1, Domains: 2}, []float32{0.3, 0, 0}, fed.NoCodes},
		// FR: source 2 of 3 at scale 3.
		{fed.Layout{Latent: 1, SourceCodes: 3}, []float32{-2, 0, 0, 3}, fed.Codes{Domain: -1, Source: 2, Class: -1, SourceScale: 3}},
		// FR: class 0 of 4.
		{fed.Layout{Latent: 2, Classes: 4}, []float32{1, 2, 1, 0, 0, 0}, fed.Codes{Domain: -1, Source: -1, Class: 0}},
		// Every part.
		{fed.Layout{Latent: 1, Domains: 2, SourceCodes: 2, Classes: 3}, []float32{4, 1, 0, 0, 2, 0, 0, 1},
			fed.Codes{Domain: 0, Source: 1, Class: 2, SourceScale: 2}},
	}
	for _, tt := range tests {
		got := codesOf(tt.l, tt.row)
		if got != tt.want {
			t.Errorf("codesOf(%+v, %v) = %+v, want %+v", tt.l, tt.row, got, tt.want)
		}
		// Writing the codes back leaves the row as it was.
		row := append([]float32(nil), tt.row...)
		tt.l.SetCodes(row, got)
		if !reflect.DeepEqual(row, tt.row) {
			t.Errorf("SetCodes(codesOf(%v)) gave %v", tt.row, row)
		}
	}
}

func TestClassLabels(t *testing.T) {
	l := fed.Layout{Latent: 2, SourceCodes: 1, Classes: 3}
	z := []float32{
		0.1, 1, 0, 0, 1, 0, // class 1 (z's 1 and the source code's are not a class)
		1, 1, 1, 1, 0, 0, // class 0
		0, 0, 0, 0, 0, 1, // class 2
		0, 0, 0, 0, 0, 0, // none
	}
	if got, want := classLabels(l, z), []int{1, 0, 2, -1}; !reflect.DeepEqual(got, want) {
		t.Errorf("classLabels = %v, want %v", got, want)
	}
}
