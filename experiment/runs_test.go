package experiment

import (
	"reflect"
	"strings"
	"testing"
)

func TestPickRuns(t *testing.T) {
	tests := []struct {
		list    string
		want    []string
		wantErr string
	}{
		{"", []string{"centralized", "centralized-uncond", "fedgan-iid", "mdgan-iid", "fr-sync-iid-plain", "fr-sync-iid", "fr-async-iid", "fedgan-noniid", "mdgan-noniid", "fr-sync-noniid-plain", "fr-sync-noniid", "fr-async-noniid"}, ""},
		// Table order, whatever the order asked; spaces allowed.
		{"fr-async-iid, centralized", []string{"centralized", "fr-async-iid"}, ""},
		{"fr-sync-iid,fr-sync-iid", []string{"fr-sync-iid"}, ""},
		{"nope", nil, `unknown run "nope" (have centralized,centralized-uncond,`},
	}
	for _, tt := range tests {
		runs, err := PickRuns(tt.list)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("PickRuns(%q): got %v, want an error with %q", tt.list, err, tt.wantErr)
			}
			continue
		}
		var names []string
		for _, r := range runs {
			names = append(names, r.Name)
		}
		if err != nil || !reflect.DeepEqual(names, tt.want) {
			t.Errorf("PickRuns(%q) = %v, %v; want %v", tt.list, names, err, tt.want)
		}
	}
}

func TestOverrides(t *testing.T) {
	tests := []struct {
		run                      Run
		rounds, iters, evalEvery int
		seed                     uint64
		extra                    map[string]string
		want                     map[string]string
	}{
		{Run{}, 0, 0, 0, 0, nil, map[string]string{}},
		{Run{Mode: "async"}, 0, 0, 0, 0, nil, map[string]string{"training.mode": "async"}},
		{Run{Mode: "sync", Set: map[string]string{"model.class_code": "0"}}, 3, 0, 2, 0, nil,
			map[string]string{"training.mode": "sync", "model.class_code": "0", "training.global_rounds": "3", "cloud.eval_every": "2"}},
		{Run{}, 0, 7, 0, 0, nil, map[string]string{"training.local_iters": "7"}},
		{Run{}, 0, 0, 0, 3, nil, map[string]string{"seed": "3"}},
		// The caller's keys win over the run's.
		{Run{Mode: "sync", Set: map[string]string{"model.class_code": "0"}}, 0, 0, 0, 2,
			map[string]string{"model.class_code": "20", "training.robust": "none"},
			map[string]string{"training.mode": "sync", "model.class_code": "20", "training.robust": "none", "seed": "2"}},
	}
	for _, tt := range tests {
		if got := tt.run.overrides(tt.rounds, tt.iters, tt.evalEvery, tt.seed, tt.extra); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%+v.overrides(%d, %d, %d, %d, %v) = %v, want %v", tt.run, tt.rounds, tt.iters, tt.evalEvery, tt.seed, tt.extra, got, tt.want)
		}
	}
	// The run's own keys are copied, never changed.
	r := Run{Mode: "sync", Set: map[string]string{"a": "1"}}
	r.overrides(1, 1, 1, 1, map[string]string{"a": "2"})
	if len(r.Set) != 1 || r.Set["a"] != "1" {
		t.Errorf("overrides changed the run's Set: %v", r.Set)
	}
}

func TestFolder(t *testing.T) {
	r := Run{Name: "fr-sync-iid"}
	if got := r.folder(0); got != "fr-sync-iid" {
		t.Errorf("folder(0) = %q", got)
	}
	if got := r.folder(12); got != "fr-sync-iid-seed12" {
		t.Errorf("folder(12) = %q", got)
	}
}
