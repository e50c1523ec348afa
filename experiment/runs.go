package experiment

import (
	"fmt"
	"slices"
	"strings"
)

// Run is one column of the paper's Table 1.
type Run struct {
	Name   string // folder name and -runs key
	Label  string // row label in the table
	Config string // file under the configuration folder
	Split  string // "iid" or "non-iid", for the table
	Mode   string // training.mode override ("" keeps the file's)
	// Set holds further overrides of the file's keys (DeriveConfig).
	Set map[string]string
	// DomainsOf names a label-related file (Table 2's centralized
	// baseline): the run's IDX data is that file's domains, each labelled
	// with its domain (MergeDomains), and its G is scored against it.
	DomainsOf string
}

// Table1Runs are the runs of Table 1 that this project has: the
// centralized baseline and the FR scenario in sync and async mode on the
// i.i.d. and the non-i.i.d. split, plus the paper's plain FR (an
// unconditional G(z) and D, Eq. 3's minimax, Eq. 1 without the server
// optimizer) in sync mode on both splits, which shows why the
// configurations depart from it, and the centralized baseline with the
// previous unconditional model (the paper's MLP with the minibatch-std
// column), which shows what the class condition adds; and the paper's
// baselines Fed GAN (the FR file with training.algorithm: fedgan) and
// M-D GAN (the mdgan-* files: one community of the FR file's devices with
// their rows, plain averaging) on both splits.
var Table1Runs = []Run{
	{Name: "centralized", Label: "Cent. GAN", Config: "centralized.yaml", Split: "all data on one device"},
	{Name: "centralized-uncond", Label: "Cent. GAN, unconditional G(z)", Config: "centralized.yaml", Split: "all data on one device", Set: unconditional},
	{Name: "fedgan-iid", Label: "Fed GAN", Config: "mnist-fmnist-iid.yaml", Split: "iid", Mode: "sync", Set: fedGAN},
	{Name: "mdgan-iid", Label: "M-D GAN", Config: "mdgan-mnist-fmnist-iid.yaml", Split: "iid", Mode: "sync"},
	{Name: "fr-sync-iid-plain", Label: "FR (sync), plain G(z)", Config: "mnist-fmnist-iid.yaml", Split: "iid", Mode: "sync", Set: plainFR},
	{Name: "fr-sync-iid", Label: "FR (sync)", Config: "mnist-fmnist-iid.yaml", Split: "iid", Mode: "sync"},
	{Name: "fr-async-iid", Label: "FR (async)", Config: "mnist-fmnist-iid.yaml", Split: "iid", Mode: "async"},
	{Name: "fedgan-noniid", Label: "Fed GAN", Config: "mnist-fmnist-noniid.yaml", Split: "non-iid", Mode: "sync", Set: fedGAN},
	{Name: "mdgan-noniid", Label: "M-D GAN", Config: "mdgan-mnist-fmnist-noniid.yaml", Split: "non-iid", Mode: "sync"},
	{Name: "fr-sync-noniid-plain", Label: "FR (sync), plain G(z)", Config: "mnist-fmnist-noniid.yaml", Split: "non-iid", Mode: "sync", Set: plainFR},
	{Name: "fr-sync-noniid", Label: "FR (sync)", Config: "mnist-fmnist-noniid.yaml", Split: "non-iid", Mode: "sync"},
	{Name: "fr-async-noniid", Label: "FR (async)", Config: "mnist-fmnist-noniid.yaml", Split: "non-iid", Mode: "async"},
}

// fedGAN makes the FR file's federation train Fed GAN (every device a
// whole GAN, FedAvg at the edges and the cloud; docs/DESIGN.md §2.12)
// with the same data, models, batch size, rates and steps per round.
var fedGAN = map[string]string{"training.algorithm": "fedgan"}

// plainFR turns the configurations' additions off: the paper's FR (its
// MLP discriminator, Eq. 3's minimax objective, Eq. 1's plain average).
var plainFR = map[string]string{"model.class_code": "0", "model.source_code": "none", "model.d_minibatch_std": "0",
	"training.objective": "minimax", "training.server_optimizer": "none", "training.server_lr_decay": "0",
	"training.server_momentum": "0", "training.mode_seeking": "0"}

// unconditional turns the class condition off (G(z), D(x) with the
// minibatch-std column: the model of the previous Table 1).
var unconditional = map[string]string{"model.class_code": "0", "training.mode_seeking": "0"}

// RunNames are the names of Table1Runs, comma-separated, in table order.
func RunNames() string { return names(Table1Runs) }

// Table2RunNames are the names of Table2Runs, comma-separated.
func Table2RunNames() string { return names(Table2Runs) }

func names(runs []Run) string { return namesOf(runs, runName) }

func runName(r Run) string { return r.Name }

// namesOf is the names of all, comma-separated, in order.
func namesOf[T any](all []T, name func(T) string) string {
	var s []string
	for _, x := range all {
		s = append(s, name(x))
	}
	return strings.Join(s, ",")
}

// PickRuns returns the runs of Table1Runs named in the comma-separated
// list (all if empty), in table order; an unknown name is an error.
func PickRuns(list string) ([]Run, error) { return pick(Table1Runs, list) }

// PickTable2Runs is PickRuns for Table2Runs.
func PickTable2Runs(list string) ([]Run, error) { return pick(Table2Runs, list) }

func pick(all []Run, list string) ([]Run, error) {
	return pickNamed(all, list, "run", runName)
}

// pickNamed returns the items of all named in the comma-separated list
// (all if empty), in all's order; an unknown name is an error naming the
// known ones.
func pickNamed[T any](all []T, list, what string, name func(T) string) ([]T, error) {
	if list == "" {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if !slices.ContainsFunc(all, func(x T) bool { return name(x) == n }) {
			return nil, fmt.Errorf("unknown %s %q (have %s)", what, n, namesOf(all, name))
		}
		want[n] = true
	}
	var out []T
	for _, x := range all {
		if want[name(x)] {
			out = append(out, x)
		}
	}
	return out, nil
}

// folder is the name of the folder (and grid) of r made with seed: its
// name, with "-seedS" unless seed is 0 (the file's).
func (r Run) folder(seed uint64) string {
	if seed == 0 {
		return r.Name
	}
	return fmt.Sprintf("%s-seed%d", r.Name, seed)
}

// overrides are the keys of r's configuration that the run changes: its
// own (Set, Mode) and the harness's (rounds, local iterations, evaluation
// period, seed; 0 keeps the file's), then the caller's extra (which wins).
func (r Run) overrides(rounds, iters, evalEvery int, seed uint64, extra map[string]string) map[string]string {
	set := map[string]string{}
	for k, v := range r.Set {
		set[k] = v
	}
	if seed != 0 {
		set["seed"] = fmt.Sprint(seed)
	}
	if r.Mode != "" {
		set["training.mode"] = r.Mode
	}
	for key, v := range map[string]int{"training.global_rounds": rounds, "training.local_iters": iters, "cloud.eval_every": evalEvery} {
		if v > 0 {
			set[key] = fmt.Sprint(v)
		}
	}
	for k, v := range extra {
		set[k] = v
	}
	return set
}
