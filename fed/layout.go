package fed

import "math/rand/v2"

// Layout is the one definition of the columns of the generator's input
// rows, in this order:
//
//	[ z: Latent | domain code: Domains | source code: SourceCodes | class code: Classes ]
//
// z ~ N(0, I_m); the domain code c_k is the LR scenario's one-hot
// condition (Sect. 3.2); the source code e_s (model.source_code, FR) and
// the class code e_y (model.class_code, FR or LR) are optional one-hot
// conditions.
// Every part but z may be empty. The edges, the cloud, the sampler and the
// configuration all size and fill G's input through it.
type Layout struct {
	Latent, Domains, SourceCodes, Classes int
}

// Width is the width of G's input rows.
func (l Layout) Width() int { return l.Latent + l.Domains + l.SourceCodes + l.Classes }

// DomainOff is the column of domain code 0.
func (l Layout) DomainOff() int { return l.Latent }

// SourceOff is the column of source code 0.
func (l Layout) SourceOff() int { return l.Latent + l.Domains }

// ClassOff is the column of class 0.
func (l Layout) ClassOff() int { return l.Latent + l.Domains + l.SourceCodes }

// Codes are the one-hot conditions of one input row; -1 leaves a part
// zero. SourceScale is the magnitude of the source code's one (1 when 0).
type Codes struct {
	Domain, Source, Class int
	SourceScale           float32
}

// NoCodes leaves every condition zero.
var NoCodes = Codes{Domain: -1, Source: -1, Class: -1}

// Fill writes one input row: fresh z ~ N(0, I) drawn from rng, then the
// codes. row has Width() entries.
func (l Layout) Fill(row []float32, rng *rand.Rand, c Codes) {
	fillNormal(row[:l.Latent], rng)
	l.SetCodes(row, c)
}

// SetCodes clears the condition columns of row and writes c into them,
// leaving z as it is.
func (l Layout) SetCodes(row []float32, c Codes) {
	clear(row[l.Latent:l.Width()])
	if c.Domain >= 0 && l.Domains > 0 {
		row[l.DomainOff()+c.Domain] = 1
	}
	if c.Source >= 0 && l.SourceCodes > 0 {
		s := c.SourceScale
		if s == 0 {
			s = 1
		}
		row[l.SourceOff()+c.Source] = s
	}
	if c.Class >= 0 && l.Classes > 0 {
		row[l.ClassOff()+c.Class] = 1
	}
}
