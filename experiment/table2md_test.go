package experiment

import (
	"strings"
	"testing"

	"github.com/fedgan/fedgan/eval"
)

// TestTable2MarkdownClassCode: a run with a class code shows its class
// accuracy and TSTR per domain and the chance agreement given the class;
// a run without one shows "—" in these columns.
func TestTable2MarkdownClassCode(t *testing.T) {
	dom := func(fid, acc, tstr float64) eval.LRDomainReport {
		return eval.LRDomainReport{Scores: eval.Report{FID: fid, IS: 2, Covered: 10, Classes: 10}, ClassAccuracy: acc, TSTR: tstr}
	}
	tab := &Table2{Args: []string{"-table2"}, Runs: []Result2{
		{RunInfo: RunInfo{Name: "lr-sync-iid", Label: "LR (sync)", Split: "iid", Rounds: 300, LocalIters: 10, Transport: "sim", Grid: "g.png"},
			Report: eval.LRReport{Samples: 100, Agreement: 0.059, AgreementInDomain: 0.058, ChanceAgreement: 0.13, DomainAccuracy: 1,
				Domains: []eval.LRDomainReport{dom(317.52, 0, 0), dom(319.68, 0, 0)}}},
		{RunInfo: RunInfo{Name: "lr-sync-iid-cc", Label: "LR (sync), class code", Split: "iid", Rounds: 300, LocalIters: 10, Transport: "sim", Grid: "h.png"},
			Report: eval.LRReport{Samples: 100, ClassCode: 10, Agreement: 0.93, AgreementInDomain: 0.92, ChanceAgreement: 0.1, ChanceGivenClass: 0.9, DomainAccuracy: 0.995,
				Domains: []eval.LRDomainReport{dom(100, 0.961, 0.874), dom(110, 0.952, 0.861)}}},
	}}
	md := tab.Markdown()
	for _, want := range []string{
		"| class accuracy per domain ↑ | TSTR per domain ↑ | label agreement ↑ | in domain ↑ | chance | chance given y | domain accuracy ↑ |",
		"| LR (sync) | iid | 317.52 / 319.68 | 2.00 / 2.00 | 10/10 / 10/10 | — | — | 5.9% | 5.8% | 13.0% | — | 100.0% |",
		"| LR (sync), class code | iid | 100.00 / 110.00 | 2.00 / 2.00 | 10/10 / 10/10 | 96.1% / 95.2% | 87.4% / 86.1% | 93.0% | 92.0% | 10.0% | 90.0% | 99.5% |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table2.md lacks %q:\n%s", want, md)
		}
	}
}

// TestTable2MarkdownSeedsOverMQTT: a row's seeds may mix the simulator's
// runs and MQTT ones; the MQTT seed says so in its line and in the means.
func TestTable2MarkdownSeedsOverMQTT(t *testing.T) {
	res := func(seed uint64, transport string, fid float64) Result2 {
		return Result2{RunInfo: RunInfo{Name: "lr-sync-iid", Label: "LR (sync)", Split: "iid", Seed: seed, Rounds: 10, LocalIters: 1, Transport: transport, Devices: 10, Bytes: 1 << 30},
			Report: eval.LRReport{Samples: 100, Domains: []eval.LRDomainReport{{Scores: eval.Report{FID: fid}}, {Scores: eval.Report{FID: fid}}}}}
	}
	md := (&Table2{Runs: []Result2{res(1, "sim", 300), res(3, "mqtt", 320)}}).Markdown()
	for _, want := range []string{"| LR (sync), seed 1 | iid |", "| LR (sync), seed 3 over MQTT | iid |", "| (simulated) |", "| 10.2 MiB |",
		"| LR (sync) | iid | 1, 3 over MQTT | 310.00 ± 14.14 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("table2.md lacks %q:\n%s", want, md)
		}
	}
}
