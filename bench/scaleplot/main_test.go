package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseCloudRound: benchmark lines become one merge per rule and K,
// averaged over -count; other lines are skipped, bad names refused.
func TestParseCloudRound(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []merge
		err      string
	}{
		{"one", "goos: linux\nBenchmarkCloudRound/none/K=10-2   3   8700000 ns/op\nPASS\n", []merge{{"none", 10, 8.7}}, ""},
		{"count", "BenchmarkCloudRound/clip/K=100-2 3 400000000 ns/op\nBenchmarkCloudRound/clip/K=100-2 3 500000000 ns/op\nBenchmarkCloudRound/none/K=100 3 1000000 ns/op 12 B/op\n",
			[]merge{{"clip", 100, 450}, {"none", 100, 1}}, ""},
		{"median", "BenchmarkCloudRound/clip/K=1000-2 3 4000000000 ns/op\nBenchmarkCloudRound/clip/K=1000-2 3 13700000000 ns/op\nBenchmarkCloudRound/clip/K=1000-2 3 4100000000 ns/op\n",
			[]merge{{"clip", 1000, 4100}}, ""},
		{"none", "ok  \tgithub.com/fedgan/fedgan/fed\t3.1s\n", []merge{}, ""},
		{"bad K", "BenchmarkCloudRound/none/K=x-2 3 1 ns/op\n", nil, "K=x"},
		{"bad name", "BenchmarkCloudRound/none-2 3 1 ns/op\n", nil, "RULE/K=N"},
	} {
		got, err := parseCloudRound(strings.NewReader(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Fatalf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: merge %d is %+v, want %+v", tt.name, i, got[i], tt.want[i])
			}
		}
	}
}

// TestRun: from a sweep's files, both pictures and the tables; without
// the cloud's benchmark, the communities picture has the simulator only.
func TestRun(t *testing.T) {
	for _, cloud := range []bool{true, false} {
		testRun(t, cloud)
	}
}

func testRun(t *testing.T, cloud bool) {
	in, out := t.TempDir(), t.TempDir()
	files := map[string]string{
		"agents/10-10.json":   `{"agents": 10, "sample": 10, "iterations": 300, "iterations_per_second": 100, "edge_cpu_per_iteration_ms": 2, "asked": 3000, "answered": 3000}`,
		"agents/100-10.json":  `{"agents": 100, "sample": 10, "iterations": 300, "iterations_per_second": 90, "edge_cpu_per_iteration_ms": 2.5, "asked": 3000, "answered": 3000}`,
		"agents/100-0-1.json": `{"agents": 100, "sample": 0, "iterations": 100, "iterations_per_second": 20, "edge_cpu_per_iteration_ms": 9, "asked": 10000, "answered": 10000}`,
		"agents/100-0-2.json": `{"agents": 100, "sample": 0, "iterations": 100, "iterations_per_second": 30, "edge_cpu_per_iteration_ms": 8, "asked": 10000, "answered": 10000}`,
		"agents/100-0-3.json": `{"agents": 100, "sample": 0, "iterations": 100, "iterations_per_second": 10, "edge_cpu_per_iteration_ms": 10, "asked": 10000, "answered": 10000}`,
		"sim/10-10.json":      `{"communities": 10, "devices_per_community": 10, "rounds": 3, "wall_seconds": 0.5, "peak_rss_kib": 33000}`,
		"sim/100-10.json":     `{"communities": 100, "devices_per_community": 10, "rounds": 3, "wall_seconds": 2, "peak_rss_kib": 180000}`,
		"cloudround.txt":      "BenchmarkCloudRound/none/K=10-2 3 8700000 ns/op\nBenchmarkCloudRound/none/K=100-2 3 22300000 ns/op\n",
	}
	if !cloud {
		delete(files, "cloudround.txt")
	}
	for name, body := range files {
		p := filepath.Join(in, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var tables strings.Builder
	if err := run(in, out, &tables); err != nil {
		t.Fatal(err)
	}
	for _, png := range []string{"scale-agents.png", "scale-communities.png"} {
		if st, err := os.Stat(filepath.Join(out, png)); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v, want a picture", png, err)
		}
	}
	for _, want := range []string{"| 100 | all 100 | 3 × 100 | 20.0 (10.0–30.0) | 50.0 |", "| 9.00 | 0 | 0 | 30000 / 30000 |", "| 10 × 10 | 100 | 0.50 s |", "| none | 100 | 22.3 |"} {
		if got := strings.Contains(tables.String(), want); got != (cloud || !strings.HasPrefix(want, "| none")) {
			t.Errorf("cloud %v, tables:\n%s\nhas a row containing %q: %v", cloud, tables.String(), want, got)
		}
	}
}
