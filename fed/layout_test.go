package fed

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestLayoutColumns(t *testing.T) {
	l := Layout{Latent: 3, Domains: 2, SourceCodes: 4, Classes: 5}
	if l.Width() != 14 || l.DomainOff() != 3 || l.SourceOff() != 5 || l.ClassOff() != 9 {
		t.Fatalf("width %d, offsets %d %d %d; want 14, 3 5 9", l.Width(), l.DomainOff(), l.SourceOff(), l.ClassOff())
	}
	row := make([]float32, l.Width())
	for i := range row {
		row[i] = 7
	}
	l.SetCodes(row, Codes{Domain: 1, Source: 2, Class: 4, SourceScale: 3})
	want := []float32{7, 7, 7, 0, 1, 0, 0, 3, 0, 0, 0, 0, 0, 1}
	if !slices.Equal(row, want) {
		t.Fatalf("row %v, want %v", row, want)
	}
	l.SetCodes(row, NoCodes)
	if !slices.Equal(row[3:], make([]float32, 11)) || row[0] != 7 {
		t.Fatalf("NoCodes left %v", row)
	}
	l.Fill(row, rand.New(rand.NewPCG(1, 2)), Codes{Domain: -1, Source: 0, Class: -1})
	if row[0] == 7 || row[5] != 1 {
		t.Fatalf("Fill: z not drawn or source scale not defaulted to 1: %v", row)
	}
}

// TestCloudLayoutWidth checks that NewCloud refuses a G whose input width
// is not the layout's (tinyGen takes 2 inputs); a zero layout is not
// checked.
func TestCloudLayoutWidth(t *testing.T) {
	for _, tt := range []struct {
		l  Layout
		ok bool
	}{
		{Layout{}, true},
		{Layout{Latent: 2}, true},
		{Layout{Latent: 1, SourceCodes: 1}, true},
		{Layout{Latent: 3}, false},
		{Layout{Latent: 2, Classes: 1}, false},
	} {
		_, err := NewCloud(CloudConfig{Communities: []string{"a"}, GlobalRounds: 1, RoundTimeout: time.Minute, Gen: tinyGen(t), RNG: rand.NewPCG(3, 3), Layout: tt.l})
		if (err == nil) != tt.ok {
			t.Errorf("layout %+v: error %v, want ok = %v", tt.l, err, tt.ok)
		}
	}
}
