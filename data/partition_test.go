package data

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// checkPartition verifies that parts are sorted, disjoint, inside [0, n),
// and returns which indices are covered.
func checkPartition(t *testing.T, parts [][]int, n int) (covered []bool) {
	t.Helper()
	covered = make([]bool, n)
	for p, part := range parts {
		if !slices.IsSorted(part) {
			t.Errorf("part %d is not sorted", p)
		}
		for _, i := range part {
			if i < 0 || i >= n {
				t.Fatalf("part %d holds index %d outside [0, %d)", p, i, n)
			}
			if covered[i] {
				t.Fatalf("index %d is in two parts", i)
			}
			covered[i] = true
		}
	}
	return covered
}

func checkCovers(t *testing.T, parts [][]int, n int) {
	t.Helper()
	for i, c := range checkPartition(t, parts, n) {
		if !c {
			t.Fatalf("index %d is in no part", i)
		}
	}
}

// classesOf returns the distinct labels in a part and the count of each.
func classesOf(part, labels []int) map[int]int {
	m := map[int]int{}
	for _, i := range part {
		m[labels[i]]++
	}
	return m
}

func TestIID(t *testing.T) {
	for _, tt := range []struct {
		n, parts  int
		wantSizes []int
	}{
		{10, 3, []int{4, 3, 3}},
		{12, 4, []int{3, 3, 3, 3}},
		{2, 4, []int{1, 1, 0, 0}},
		{0, 2, []int{0, 0}},
		{60000, 5, []int{12000, 12000, 12000, 12000, 12000}},
	} {
		parts, err := IID(tt.n, tt.parts, seeded(1))
		if err != nil {
			t.Fatal(err)
		}
		checkCovers(t, parts, tt.n)
		sizes := make([]int, len(parts))
		for p := range parts {
			sizes[p] = len(parts[p])
		}
		if !slices.Equal(sizes, tt.wantSizes) {
			t.Errorf("IID(%d, %d): got sizes %v, want %v", tt.n, tt.parts, sizes, tt.wantSizes)
		}
	}
	a, _ := IID(100, 4, seeded(7))
	b, _ := IID(100, 4, seeded(7))
	c, _ := IID(100, 4, seeded(8))
	if !reflect.DeepEqual(a, b) {
		t.Error("IID with the same seed differs")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("IID with different seeds is the same")
	}
	if _, err := IID(10, 0, seeded(1)); !errors.Is(err, ErrPartition) {
		t.Errorf("IID(10, 0): got %v, want ErrPartition", err)
	}
}

func TestShards(t *testing.T) {
	// 3 classes of 4 rows: 0 0 0 0 1 1 1 1 2 2 2 2.
	labels := []int{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}
	tests := []struct {
		name           string
		parts, k       int
		wantPerClass   int // parts using each class: S/C when it divides
		wantPartSize   int
		wantCount      int // rows of each of its classes a part holds
		wantAllCovered bool
	}{
		// S = 6 slots, each class used by 2 parts, its 4 rows cut 2 + 2.
		{"3 parts of 2 classes", 3, 2, 2, 4, 2, true},
		// S = 3 = C: each part holds one whole class.
		{"3 parts of 1 class", 3, 1, 1, 4, 4, true},
		// S = 6: each class cut into 2 shards of 2, each part 1 class.
		{"6 parts of 1 class", 6, 1, 2, 2, 2, true},
		// S = 3 = C with k = 3: one part holds everything.
		{"1 part of 3 classes", 1, 3, 1, 12, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := Shards(labels, tt.parts, tt.k, seeded(2))
			if err != nil {
				t.Fatal(err)
			}
			checkCovers(t, parts, len(labels))
			used := map[int]int{}
			for p, part := range parts {
				cls := classesOf(part, labels)
				if len(cls) != tt.k || len(part) != tt.wantPartSize {
					t.Errorf("part %d: got %d classes and %d rows, want %d and %d", p, len(cls), len(part), tt.k, tt.wantPartSize)
				}
				for c, n := range cls {
					used[c]++
					if n != tt.wantCount {
						t.Errorf("part %d holds %d rows of class %d, want %d", p, n, c, tt.wantCount)
					}
				}
			}
			for c := range 3 {
				if used[c] != tt.wantPerClass {
					t.Errorf("class %d is used by %d parts, want %d", c, used[c], tt.wantPerClass)
				}
			}
		})
	}

	t.Run("fewer slots than classes drops classes", func(t *testing.T) {
		// S = 2 < C = 3: two classes used, the third's 4 rows dropped.
		parts, err := Shards(labels, 2, 1, seeded(3))
		if err != nil {
			t.Fatal(err)
		}
		covered := checkPartition(t, parts, len(labels))
		dropped := map[int]int{}
		for i, c := range covered {
			if !c {
				dropped[labels[i]]++
			}
		}
		if len(dropped) != 1 {
			t.Fatalf("got dropped rows by class %v, want all 4 rows of exactly one class", dropped)
		}
		for c, n := range dropped {
			if n != 4 {
				t.Errorf("class %d: %d of its 4 rows dropped, want all", c, n)
			}
		}
	})

	t.Run("uneven shards", func(t *testing.T) {
		// 5 rows of class 0 and 1 row of class 1; 2 parts of 1 class:
		// S = 2 = C, each part a whole class.
		parts, err := Shards([]int{0, 0, 0, 0, 0, 1}, 2, 1, seeded(4))
		if err != nil {
			t.Fatal(err)
		}
		checkCovers(t, parts, 6)
		// 4 parts of 1 class: class 0 cut 3 + 2, class 1 (1 row) into 2 shards: impossible.
		if _, err := Shards([]int{0, 0, 0, 0, 0, 1}, 4, 1, seeded(4)); !errors.Is(err, ErrPartition) {
			t.Errorf("got %v, want ErrPartition for a class with fewer rows than shards", err)
		}
	})

	a, _ := Shards(labels, 3, 2, seeded(9))
	b, _ := Shards(labels, 3, 2, seeded(9))
	if !reflect.DeepEqual(a, b) {
		t.Error("Shards with the same seed differs")
	}
	for _, tt := range []struct {
		labels   []int
		parts, k int
	}{
		{labels, 0, 1}, {labels, 2, 0}, {labels, 2, 4}, {[]int{0, -1}, 1, 1},
	} {
		if _, err := Shards(tt.labels, tt.parts, tt.k, seeded(1)); !errors.Is(err, ErrPartition) {
			t.Errorf("Shards(%v, %d, %d): got %v, want ErrPartition", tt.labels, tt.parts, tt.k, err)
		}
	}
}

// TestShardsMNIST checks the paper's non-IID setting on the real labels:
// 5 devices with 2 classes each use all 10 classes once, so each device
// holds two whole classes.
func TestShardsMNIST(t *testing.T) {
	labels, err := Source{Name: MNIST}.Labels(Train)
	if err != nil {
		t.Fatal(err)
	}
	total := classCounts(labels, 10)
	parts, err := Shards(labels, 5, 2, seeded(5))
	if err != nil {
		t.Fatal(err)
	}
	checkCovers(t, parts, len(labels))
	for p, part := range parts {
		cls := classesOf(part, labels)
		if len(cls) != 2 {
			t.Errorf("device %d: got classes %v, want 2", p, cls)
		}
		for c, n := range cls {
			if n != total[c] {
				t.Errorf("device %d holds %d of the %d rows of class %d, want all", p, n, total[c], c)
			}
		}
	}
}

func TestDirichlet(t *testing.T) {
	labels := make([]int, 1000)
	for i := range labels {
		labels[i] = i % 10
	}
	for _, alpha := range []float64{1e-3, 0.1, 1, 1000} {
		parts, err := Dirichlet(labels, 4, alpha, seeded(6))
		if err != nil {
			t.Fatal(err)
		}
		checkCovers(t, parts, len(labels))
		again, _ := Dirichlet(labels, 4, alpha, seeded(6))
		if !reflect.DeepEqual(parts, again) {
			t.Errorf("alpha %v: the same seed gives different parts", alpha)
		}
		// Per class, the largest share a part takes: near 1/4 for large
		// alpha, near 1 for small.
		var maxShare float64
		for c := range 10 {
			best := 0
			for _, part := range parts {
				best = max(best, classesOf(part, labels)[c])
			}
			maxShare += float64(best) / 100 / 10
		}
		t.Logf("alpha %v: mean largest share %.3f", alpha, maxShare)
		switch {
		case alpha >= 1000 && maxShare > 0.35:
			t.Errorf("alpha %v: mean largest share %.2f, want near 0.25", alpha, maxShare)
		case alpha <= 0.1 && maxShare < 0.8:
			t.Errorf("alpha %v: mean largest share %.2f, want near 1", alpha, maxShare)
		}
	}
	for _, alpha := range []float64{0, -1} {
		if _, err := Dirichlet(labels, 4, alpha, seeded(1)); !errors.Is(err, ErrPartition) {
			t.Errorf("alpha %v: got %v, want ErrPartition", alpha, err)
		}
	}
}

func TestScheme(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 2, 3, 3}
	for _, tt := range []struct {
		s    Scheme
		want func() ([][]int, error)
	}{
		{Scheme{}, func() ([][]int, error) { return IID(8, 2, seeded(1)) }},
		{Scheme{Kind: "iid"}, func() ([][]int, error) { return IID(8, 2, seeded(1)) }},
		{Scheme{Kind: "shards"}, func() ([][]int, error) { return Shards(labels, 2, 2, seeded(1)) }},
		{Scheme{Kind: "shards", ClassesPerPart: 1}, func() ([][]int, error) { return Shards(labels, 2, 1, seeded(1)) }},
		{Scheme{Kind: "dirichlet", Alpha: 0.5}, func() ([][]int, error) { return Dirichlet(labels, 2, 0.5, seeded(1)) }},
	} {
		got, err := tt.s.Partition(labels, 2, seeded(1))
		want, werr := tt.want()
		if err != nil || werr != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: got %v, %v; want %v", tt.s, got, err, want)
		}
	}
	if _, err := (Scheme{Kind: "round-robin"}).Partition(labels, 2, seeded(1)); !errors.Is(err, ErrPartition) {
		t.Errorf("unknown kind: got %v, want ErrPartition", err)
	}
}

func TestPaperFRSplit(t *testing.T) {
	mnist, err := Source{Name: MNIST}.Labels(Train)
	if err != nil {
		t.Fatal(err)
	}
	// Any labels with Fashion-MNIST's shape will do when it is absent:
	// 60,000 rows, 6,000 per class.
	fashion, err := Source{Name: FashionMNIST}.Labels(Train)
	if err != nil {
		t.Logf("Fashion-MNIST not installed (%v); using synthetic balanced labels", err)
		fashion = make([]int, 60000)
		for i := range fashion {
			fashion[i] = i % 10
		}
	}
	for _, s := range []Scheme{{Kind: "iid"}, {Kind: "shards", ClassesPerPart: 2}} {
		t.Run(s.Kind, func(t *testing.T) {
			split, err := PaperFRSplit(mnist, fashion, 5, s, seeded(11))
			if err != nil {
				t.Fatal(err)
			}
			if len(split) != 3 {
				t.Fatalf("got %d communities, want 3", len(split))
			}
			var fashionParts [][]int
			for c, devices := range split {
				if len(devices) != 5 {
					t.Fatalf("community %d: got %d devices, want 5", c, len(devices))
				}
				wantSource, labels := FashionMNIST, fashion
				if c == 0 {
					wantSource, labels = MNIST, mnist
				}
				var idx [][]int
				rows := 0
				for d, p := range devices {
					if p.Source != wantSource {
						t.Errorf("community %d device %d: source %s, want %s", c, d, p.Source, wantSource)
					}
					idx = append(idx, p.Indices)
					rows += len(p.Indices)
					cls := classesOf(p.Indices, labels)
					switch {
					case s.Kind == "shards" && len(cls) != 2:
						t.Errorf("community %d device %d: %d classes, want 2", c, d, len(cls))
					case s.Kind == "iid" && len(cls) != 10:
						t.Errorf("community %d device %d: %d classes, want 10", c, d, len(cls))
					}
				}
				if c == 0 {
					checkCovers(t, idx, len(mnist))
				} else {
					checkPartition(t, idx, len(fashion))
					fashionParts = append(fashionParts, idx...)
					if rows != 30000 {
						t.Errorf("community %d holds %d Fashion-MNIST rows, want 30000", c, rows)
					}
				}
				// The device-side computation gives the same parts.
				own, err := PaperFRCommunity(c, labels, 5, s, seeded(11))
				if err != nil || !reflect.DeepEqual(own, devices) {
					t.Errorf("community %d: PaperFRCommunity differs from PaperFRSplit (%v)", c, err)
				}
			}
			// Communities 2 and 3 split Fashion-MNIST between them: disjoint, covering.
			checkCovers(t, fashionParts, len(fashion))
		})
	}
	if _, err := PaperFRCommunity(3, mnist, 5, Scheme{}, seeded(1)); !errors.Is(err, ErrPartition) {
		t.Errorf("community 3: got %v, want ErrPartition", err)
	}
}
