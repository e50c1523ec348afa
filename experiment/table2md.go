package experiment

import (
	"fmt"
	"strings"
	"time"

	"github.com/fedgan/fedgan/local"
)

// Markdown is the table as table2.md: a header, a row per run, the means
// over seeds of runs made with more than one, the traffic of runs over
// MQTT and a footer. It needs at least one run.
func (t *Table2) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Table 2: MNIST + inverted MNIST, label-related scenario\n\n")
	fmt.Fprintf(&b, "Reproduce with: `fedgan experiment %s`\n\n", strings.Join(t.Args, " "))
	fmt.Fprintf(&b, "Scores of %d latents z, each drawn in every domain (G(z, c_k)), against each domain's real test images, "+
		"on a digit classifier trained on every domain's real images and a domain classifier (on this project's scale, not the paper's). "+
		"Label agreement: the share of z whose samples get one digit in every domain (the paper's Fig. 5 columns); "+
		"in domain: also each assigned its own domain; chance: what independent draws with the same histograms would agree; "+
		"domain accuracy: the share of samples assigned the domain asked for. Grids: one row per domain, one column per z.\n\n",
		t.Runs[0].Report.Samples)
	b.WriteString("With a class code (model.class_code) the latent shared by the domains is (z, y), y drawn with the data's class shares: " +
		"class accuracy is the share of each domain's samples G(z, c_k, y) that the digit classifier labels y, and chance given y what independent draws " +
		"with each domain's histogram among the samples of each class would agree (near 100% when every domain draws the class asked for: the agreement " +
		"then comes from y, not z); TSTR the accuracy on each domain's real test images of a classifier trained on that domain's samples labelled y. — where G has no class code.\n\n")
	fmt.Fprintln(&b, "| run | split | FID per domain ↓ | IS per domain ↑ | classes covered | class accuracy per domain ↑ | TSTR per domain ↑ | label agreement ↑ | in domain ↑ | chance | chance given y | domain accuracy ↑ | G updates | wall time | bytes per device per round | grid |")
	fmt.Fprintln(&b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	groups := byName(t.Runs, result2Name)
	for _, r := range t.Runs {
		label := r.Label
		if len(groups[r.Name]) > 1 {
			label += ", seed " + r.seed()
		}
		var fid, is, cov, acc, tstr []string
		for _, d := range r.Report.Domains {
			fid = append(fid, fmt.Sprintf("%.2f", d.Scores.FID))
			is = append(is, fmt.Sprintf("%.2f", d.Scores.IS))
			cov = append(cov, fmt.Sprintf("%d/%d", d.Scores.Covered, d.Scores.Classes))
			acc = append(acc, fmt.Sprintf("%.1f%%", 100*d.ClassAccuracy))
			tstr = append(tstr, fmt.Sprintf("%.1f%%", 100*d.TSTR))
		}
		classAcc, given, synth := "—", "—", "—"
		if r.Report.ClassCode > 0 {
			classAcc, given = strings.Join(acc, " / "), fmt.Sprintf("%.1f%%", 100*r.Report.ChanceGivenClass)
			if r.Report.Domains[0].TSTR > 0 {
				synth = strings.Join(tstr, " / ")
			}
		}
		perDevice := "(simulated)"
		if r.Transport != "sim" && r.Devices > 0 && r.Rounds > 0 {
			perDevice = local.BytesHuman(r.Bytes / int64(r.Devices*r.Rounds))
		}
		rep := r.Report
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %.1f%% | %.1f%% | %.1f%% | %s | %.1f%% | %d × %d | %s | %s | ![%s](%s) |\n",
			label, r.Split, strings.Join(fid, " / "), strings.Join(is, " / "), strings.Join(cov, " / "), classAcc, synth,
			100*rep.Agreement, 100*rep.AgreementInDomain, 100*rep.ChanceAgreement, given, 100*rep.DomainAccuracy,
			r.Rounds, r.LocalIters, time.Duration(r.WallSeconds*float64(time.Second)).Round(time.Second), perDevice, r.Name, r.Grid)
	}
	b.WriteString(t.summary(groups))
	fmt.Fprintf(&b, "\nDomains (in code order): %s; the domain classifier's accuracy on their real test images: %.1f%%.\n",
		strings.Join(t.Runs[0].DomainNames, ", "), 100*t.Runs[0].Report.RealDomainAccuracy)
	return b.String()
}

func result2Name(r Result2) string { return r.Name }

// summary is the section of table2.md with the runs made over more than
// one seed: mean ± sample standard deviation of the mean FID over the
// domains, the label agreement and the domain accuracy; "" when none.
func (t *Table2) summary(groups map[string][]Result2) string {
	var b strings.Builder
	for i, rs := range overSeeds(t.Runs, groups, result2Name) {
		if i == 0 {
			seedsHeader(&b, "mean FID over domains ↓ | label agreement ↑ | in domain ↑ | domain accuracy ↑")
		}
		r := rs[0]
		var seeds []string
		var fid, agree, in, dom []float64
		for _, x := range rs {
			seeds = append(seeds, x.seed())
			var f []float64
			for _, d := range x.Report.Domains {
				f = append(f, d.Scores.FID)
			}
			fid = append(fid, mean(f))
			agree, in, dom = append(agree, 100*x.Report.Agreement), append(in, 100*x.Report.AgreementInDomain), append(dom, 100*x.Report.DomainAccuracy)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s%% | %s%% | %s%% |\n", r.Label, r.Split, strings.Join(seeds, ", "),
			meanSD(fid, 2), meanSD(agree, 1), meanSD(in, 1), meanSD(dom, 1))
	}
	return b.String()
}
