package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// IID divides the indices 0..n−1 among parts uniformly at random: a random
// permutation cut into parts pieces whose sizes differ by at most one (the
// first n mod parts parts get one more). Every index is in exactly one
// part; each part is sorted ascending. Errors wrap ErrPartition.
func IID(n, parts int, rng *rand.Rand) ([][]int, error) {
	if parts < 1 || n < 0 {
		return nil, fmt.Errorf("%w: %d rows into %d parts", ErrPartition, n, parts)
	}
	perm := rng.Perm(n)
	out := make([][]int, parts)
	start := 0
	for p := range parts {
		size := n / parts
		if p < n%parts {
			size++
		}
		out[p] = perm[start : start+size : start+size]
		slices.Sort(out[p])
		start += size
	}
	return out, nil
}

// byClass returns the distinct labels in ascending order and, for each,
// the indices holding it in ascending order.
func byClass(labels []int) (classes []int, members map[int][]int, err error) {
	members = map[int][]int{}
	for i, l := range labels {
		if l < 0 {
			return nil, nil, fmt.Errorf("%w: label %d of row %d is negative", ErrPartition, l, i)
		}
		if _, ok := members[l]; !ok {
			classes = append(classes, l)
		}
		members[l] = append(members[l], i)
	}
	slices.Sort(classes)
	return classes, members, nil
}

// Shards divides rows by label so that each part holds classesPerPart
// classes (label skew, as in McMahan et al.'s pathological non-IID split,
// but with exactly classesPerPart distinct classes per part).
//
// How shards are cut: the classes present in labels are shuffled into a
// sequence; part p takes the classesPerPart classes at positions
// p·classesPerPart, … of that sequence repeated cyclically, so the classes
// of a part are distinct and, when parts·classesPerPart ≥ the number of
// classes, every class is used, each by ⌊S/C⌋ or ⌈S/C⌉ parts
// (S = parts·classesPerPart slots, C classes). Each class's rows are then
// shuffled and cut into as many contiguous shards as parts use it, sizes
// differing by at most one, one shard per part. When S < C only S classes
// (chosen at random) are used and the rows of the other classes are
// dropped; otherwise every row is in exactly one part.
//
// Each part is sorted ascending. Errors wrap ErrPartition: parts < 1,
// classesPerPart outside [1, C], a negative label, or a class with fewer
// rows than the shards it must be cut into.
func Shards(labels []int, parts, classesPerPart int, rng *rand.Rand) ([][]int, error) {
	classes, members, err := byClass(labels)
	if err != nil {
		return nil, err
	}
	c := len(classes)
	if parts < 1 || classesPerPart < 1 || classesPerPart > c {
		return nil, fmt.Errorf("%w: %d parts of %d classes each from %d classes", ErrPartition, parts, classesPerPart, c)
	}
	perm := rng.Perm(c)
	slots := parts * classesPerPart
	owners := map[int][]int{} // class → the part of each of its shards
	for s := range slots {
		class := classes[perm[s%c]]
		owners[class] = append(owners[class], s/classesPerPart)
	}
	out := make([][]int, parts)
	for _, class := range classes {
		own := owners[class]
		if len(own) == 0 {
			continue // dropped: S < C
		}
		rows := slices.Clone(members[class])
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		if len(rows) < len(own) {
			return nil, fmt.Errorf("%w: class %d has %d rows, fewer than its %d shards", ErrPartition, class, len(rows), len(own))
		}
		start := 0
		for k, p := range own {
			size := len(rows) / len(own)
			if k < len(rows)%len(own) {
				size++
			}
			out[p] = append(out[p], rows[start:start+size]...)
			start += size
		}
	}
	for p := range out {
		slices.Sort(out[p])
	}
	return out, nil
}

// Dirichlet divides rows by label with proportions drawn from a symmetric
// Dirichlet distribution (Hsu et al. 2019): for each class, in ascending
// label order, q ~ Dir(alpha, …, alpha) over the parts, and the class's
// shuffled rows are cut at the rounded cumulative proportions. Small alpha
// (0.1) gives each part few classes, large alpha (100) approaches IID.
// Every row is in exactly one part, but a part may be empty. Each part is
// sorted ascending. Errors wrap ErrPartition: parts < 1, alpha not
// positive and finite, a negative label.
func Dirichlet(labels []int, parts int, alpha float64, rng *rand.Rand) ([][]int, error) {
	if parts < 1 || !(alpha > 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("%w: %d parts with Dirichlet alpha %v", ErrPartition, parts, alpha)
	}
	classes, members, err := byClass(labels)
	if err != nil {
		return nil, err
	}
	gamma := distuv.Gamma{Alpha: alpha, Beta: 1, Src: rng}
	out := make([][]int, parts)
	q := make([]float64, parts)
	for _, class := range classes {
		rows := slices.Clone(members[class])
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		var sum float64
		for p := range q {
			q[p] = gamma.Rand()
			sum += q[p]
		}
		if !(sum > 0) || math.IsInf(sum, 0) { // every draw underflowed (tiny alpha): all to one part
			clear(q)
			q[rng.IntN(parts)] = 1
			sum = 1
		}
		var cum float64
		start := 0
		for p := range parts {
			cum += q[p] / sum
			end := int(math.Round(cum * float64(len(rows))))
			if p == parts-1 {
				end = len(rows)
			}
			end = min(max(end, start), len(rows))
			out[p] = append(out[p], rows[start:end]...)
			start = end
		}
	}
	for p := range out {
		slices.Sort(out[p])
	}
	return out, nil
}

// Scheme selects a partitioner by name, as a configuration file does.
type Scheme struct {
	// Kind is "iid" (also ""), "shards" or "dirichlet".
	Kind string
	// ClassesPerPart is the number of classes per part for "shards";
	// 0 means 2, the paper's non-IID setting.
	ClassesPerPart int
	// Alpha is the concentration for "dirichlet"; it must be > 0.
	Alpha float64
}

// Partition divides the rows with the given labels among parts.
// "iid" ignores the labels except for their number.
func (s Scheme) Partition(labels []int, parts int, rng *rand.Rand) ([][]int, error) {
	switch s.Kind {
	case "", "iid":
		return IID(len(labels), parts, rng)
	case "shards":
		k := s.ClassesPerPart
		if k == 0 {
			k = 2
		}
		return Shards(labels, parts, k, rng)
	case "dirichlet":
		return Dirichlet(labels, parts, s.Alpha, rng)
	}
	return nil, fmt.Errorf("%w: unknown scheme %q, want iid, shards or dirichlet", ErrPartition, s.Kind)
}

// Part is one device's share of a split: rows of the training split of
// the image dataset Source, ascending.
type Part struct {
	Source  string
	Indices []int
}

// PaperFRCommunities is the number of communities in the paper's
// feature-related image experiment.
const PaperFRCommunities = 3

// PaperFRSplit builds the paper's feature-related image split
// ("Experiment Settings"): community 0 (the paper's community 1) holds the
// MNIST training set, communities 1 and 2 hold the Fashion-MNIST training
// set cut into two random halves (30,000 images each, the cut IID, so both
// halves hold every class), and each community's rows are divided among
// its devices by s (the paper: 5 devices, "iid" or "shards" with 2 classes
// per device). The result is indexed [community][device].
//
// The split is computed community by community from seeds drawn from rng
// at the start, so that a device can compute its own community's part with
// PaperFRCommunity from only its own dataset's labels and an rng in the
// same state.
func PaperFRSplit(mnistLabels, fashionLabels []int, devices int, s Scheme, rng *rand.Rand) ([][]Part, error) {
	seeds := paperSeeds(rng)
	out := make([][]Part, PaperFRCommunities)
	for c := range out {
		labels := mnistLabels
		if c > 0 {
			labels = fashionLabels
		}
		var err error
		if out[c], err = paperFRCommunity(c, labels, devices, s, seeds); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PaperFRCommunity returns community c's parts of PaperFRSplit (c in
// [0, 3)), given only the training labels of that community's dataset
// (MNIST for c = 0, Fashion-MNIST otherwise) and an rng in the state
// PaperFRSplit would get.
func PaperFRCommunity(c int, labels []int, devices int, s Scheme, rng *rand.Rand) ([]Part, error) {
	if c < 0 || c >= PaperFRCommunities {
		return nil, fmt.Errorf("%w: community %d of the paper's split, want 0, 1 or 2", ErrPartition, c)
	}
	return paperFRCommunity(c, labels, devices, s, paperSeeds(rng))
}

// paperSeeds draws the split's seeds: MNIST, the Fashion-MNIST halving,
// Fashion community 1, Fashion community 2.
func paperSeeds(rng *rand.Rand) [4]uint64 {
	return [4]uint64{rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64()}
}

func paperFRCommunity(c int, labels []int, devices int, s Scheme, seeds [4]uint64) ([]Part, error) {
	if len(labels) == 0 {
		return nil, fmt.Errorf("%w: community %d has no rows", ErrPartition, c)
	}
	source, rows := MNIST, []int(nil)
	sub := labels
	if c > 0 {
		source = FashionMNIST
		halves, err := IID(len(labels), 2, rand.New(rand.NewPCG(seeds[1], 0)))
		if err != nil {
			return nil, err
		}
		rows = halves[c-1]
		sub = make([]int, len(rows))
		for k, i := range rows {
			sub[k] = labels[i]
		}
	}
	seed := seeds[0]
	if c > 0 {
		seed = seeds[1+c]
	}
	parts, err := s.Partition(sub, devices, rand.New(rand.NewPCG(seed, 0)))
	if err != nil {
		return nil, fmt.Errorf("community %d (%s): %w", c, source, err)
	}
	out := make([]Part, len(parts))
	for d, idx := range parts {
		if rows != nil { // map positions in the half back to rows of the file
			for k, i := range idx {
				idx[k] = rows[i]
			}
		}
		out[d] = Part{Source: source, Indices: idx}
	}
	return out, nil
}
