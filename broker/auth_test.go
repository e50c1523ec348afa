package broker

import (
	"errors"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/wire"
)

func TestFilterWithin(t *testing.T) {
	for _, tc := range []struct {
		sub, sup string
		want     bool
	}{
		// topic names: same as wire.Match
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/b", "a/+", true},
		{"a/b", "+/+", true},
		{"a/b", "#", true},
		{"a/b", "a/#", true},
		{"a", "a/#", true}, // "a/#" matches its parent
		{"a", "a/+", false},
		{"a/b/c", "a/+", false},
		{"a/b", "a/b/c", false},
		{"$SYS/x", "#", false}, // leading wildcards skip $ topics
		{"$SYS/x", "+/x", false},
		{"$SYS/x", "$SYS/#", true},
		{"a//b", "a/+/b", true}, // empty level
		// wildcard requests
		{"a/+", "a/+", true},
		{"a/+", "a/#", true},
		{"a/+", "a/b", false},
		{"a/+", "+/+", true},
		{"a/#", "a/#", true},
		{"a/#", "#", true},
		{"a/#", "a/+", false},   // "a/#" also matches "a" and "a/b/c"
		{"a/#", "a/+/#", false}, // ... and "a", which "a/+/#" does not
		{"a/+/#", "a/#", true},
		{"a/+", "a/+/#", true}, // every a/x is matched by a/x/#'s parent rule
		{"#", "#", true},
		{"#", "a/#", false},
		{"#", "+/#", true}, // "+/#" matches every topic "#" matches
		{"a/#", "a/+/#", false},
		{"#", "+/+/#", false},
		{"+", "#", true},
		{"+", "+", true},
		{"+", "a", false},
		{"+/+", "+", false},
		{"fedgan/v1/#", "fedgan/v1/c/c1/batch", false},
		{"fedgan/v1/c/c2/batch", "fedgan/v1/c/c1/batch", false},
		{"fedgan/v1/c/+/batch", "fedgan/v1/c/c1/batch", false},
		{"fedgan/v1/global/model", "fedgan/v1/global/#", true},
	} {
		if got := filterWithin(tc.sub, tc.sup); got != tc.want {
			t.Errorf("filterWithin(%q, %q) = %v, want %v", tc.sub, tc.sup, got, tc.want)
		}
	}
}

// filterLevels is the alphabet of the fuzz test: every literal a filter
// may contain, plus a level no filter contains ("q"), which stands for
// every other literal.
var filterLevels = []string{"a", "b", "", "$s", "q"}

// topicsUpTo enumerates every topic of 1..n levels over filterLevels
// ("$s" only as the first level, which is where '$' matters).
func topicsUpTo(n int) []string {
	var out []string
	var rec func(prefix []string)
	rec = func(prefix []string) {
		if len(prefix) > 0 {
			out = append(out, strings.Join(prefix, "/"))
		}
		if len(prefix) == n {
			return
		}
		for _, l := range filterLevels {
			if l == "$s" && len(prefix) > 0 {
				continue
			}
			rec(append(prefix, l))
		}
	}
	rec(nil)
	return out
}

// decodeFilter turns fuzz bytes into a valid filter over filterLevels
// plus '+' and '#' (at most 4 levels).
func decodeFilter(b []byte) string {
	if len(b) == 0 {
		return "#"
	}
	alphabet := []string{"a", "b", "", "$s", "+", "#"}
	var lv []string
	for i, c := range b {
		if i == 4 {
			break
		}
		l := alphabet[int(c)%len(alphabet)]
		if l == "$s" && i > 0 {
			l = "a"
		}
		lv = append(lv, l)
		if l == "#" {
			break
		}
	}
	return strings.Join(lv, "/")
}

// FuzzFilterWithin checks filterWithin against its definition: sub is
// within sup exactly when every topic sub matches is matched by sup
// (wire.Match), over every topic of up to 6 levels of an alphabet in which
// "q" stands for any literal neither filter names.
func FuzzFilterWithin(f *testing.F) {
	f.Add([]byte{0, 5}, []byte{5})       // a/# within #
	f.Add([]byte{0, 5}, []byte{0, 4})    // a/# not within a/+
	f.Add([]byte{3, 5}, []byte{5})       // $s/# not within #
	f.Add([]byte{4, 4}, []byte{4, 4, 5}) // +/+ within +/+/#
	f.Add([]byte{0}, []byte{0, 5})       // a within a/#
	f.Add([]byte{2, 0}, []byte{4, 0})    // /a within +/a
	topics := topicsUpTo(6)
	f.Fuzz(func(t *testing.T, sb, pb []byte) {
		sub, sup := decodeFilter(sb), decodeFilter(pb)
		want := true
		witness := ""
		for _, tp := range topics {
			if wire.Match(sub, tp) && !wire.Match(sup, tp) {
				want, witness = false, tp
				break
			}
		}
		if got := filterWithin(sub, sup); got != want {
			t.Errorf("filterWithin(%q, %q) = %v, want %v (witness topic %q)", sub, sup, got, want, witness)
		}
	})
}

func TestAllowedFirstRuleDecides(t *testing.T) {
	rules := []Rule{
		{Filter: "f/c/%c/secret", Read: false, Write: false}, // explicit deny first
		{Filter: "f/c/%c/#", Read: true, Write: true},
		{Filter: "f/u/%u", Write: true},
		{Filter: "f/#", Read: true},
	}
	for _, tc := range []struct {
		topic string
		write bool
		want  bool
	}{
		{"f/c/dev1/x", true, true},
		{"f/c/dev1/secret", true, false},
		{"f/c/dev1/secret", false, false},
		{"f/c/dev1/#", false, true}, // subscription: accepted by rule 2; deliveries of .../secret still denied by rule 1
		{"f/c/dev2/x", true, false},
		{"f/c/dev2/x", false, true}, // rule 4
		{"f/u/alice", true, true},
		{"f/u/bob", true, false},
		{"f/#", false, true},
		{"#", false, false},
		{"g/x", true, false}, // no rule: deny
		{"$share/grp/f/c/dev1/x", false, true},
		{"$share/grp", false, false},
	} {
		if got := allowed(rules, "alice", "dev1", tc.topic, tc.write); got != tc.want {
			t.Errorf("allowed(%q, write=%v) = %v, want %v", tc.topic, tc.write, got, tc.want)
		}
	}
	if allowed(nil, "alice", "dev1", "f/x", false) {
		t.Errorf("allowed with no rules = true, want false (default deny)")
	}
}

func TestStandardRules(t *testing.T) {
	tp := wire.Topics{}
	dev := DeviceRules(tp, "c1", "d1")
	edge := EdgeRules(tp, "c1")
	mon := MonitorRules(tp)
	up := EdgeUplinkRules(tp, "c1")
	cloud := CloudRules(tp)
	for _, tc := range []struct {
		name  string
		rules []Rule
		topic string
		write bool
		want  bool
	}{
		{"device own feedback", dev, "fedgan/v1/c/c1/feedback/d1", true, true},
		{"device other feedback", dev, "fedgan/v1/c/c1/feedback/d2", true, false},
		{"device own presence", dev, "fedgan/v1/c/c1/presence/d1", true, true},
		{"device writes batch", dev, "fedgan/v1/c/c1/batch", true, false},
		{"device writes global model", dev, "fedgan/v1/global/model", true, false},
		{"device reads batch", dev, "fedgan/v1/c/c1/batch", false, true},
		{"device reads other community", dev, "fedgan/v1/c/c2/batch", false, false},
		{"device reads its own batches", dev, "fedgan/v1/c/c1/batch/d1", false, true},
		{"device reads another's batches", dev, "fedgan/v1/c/c1/batch/d2", false, false},
		{"device reads every device's batches", dev, "fedgan/v1/c/c1/batch/+", false, false},
		{"device reads batch/#", dev, "fedgan/v1/c/c1/batch/#", false, false},
		{"device writes its own batches", dev, "fedgan/v1/c/c1/batch/d1", true, false},
		{"device reads all batches", dev, "fedgan/v1/c/+/batch", false, false},
		{"device reads #", dev, "#", false, false},
		{"device reads tree", dev, "fedgan/v1/#", false, false},
		{"device reads global", dev, "fedgan/v1/global/#", false, true},
		{"device reads model", dev, "fedgan/v1/global/model", false, true},
		{"device reads others' feedback", dev, "fedgan/v1/c/c1/feedback/+", false, false},
		{"device own local model", dev, "fedgan/v1/c/c1/local/d1", true, true},
		{"device other local model", dev, "fedgan/v1/c/c1/local/d2", true, false},
		{"device reads others' local models", dev, "fedgan/v1/c/c1/local/+", false, false},
		{"device reads community model", dev, "fedgan/v1/c/c1/community_model", false, true},
		{"device reads other community model", dev, "fedgan/v1/c/c2/community_model", false, false},
		{"device writes community model", dev, "fedgan/v1/c/c1/community_model", true, false},
		{"edge reads local models", edge, "fedgan/v1/c/c1/local/+", false, true},
		{"edge reads other local models", edge, "fedgan/v1/c/c2/local/+", false, false},
		{"edge writes community model", edge, "fedgan/v1/c/c1/community_model", true, true},
		{"edge writes local model", edge, "fedgan/v1/c/c1/local/d1", true, false},
		{"edge reads feedback", edge, "fedgan/v1/c/c1/feedback/+", false, true},
		{"edge reads other community", edge, "fedgan/v1/c/c2/feedback/+", false, false},
		{"edge writes batch", edge, "fedgan/v1/c/c1/batch", true, true},
		{"edge writes a device's batch", edge, "fedgan/v1/c/c1/batch/d7", true, true},
		{"edge writes another community's device batch", edge, "fedgan/v1/c/c2/batch/d7", true, false},
		{"edge writes generator", edge, "fedgan/v1/c/c1/generator", true, true},
		{"edge writes feedback", edge, "fedgan/v1/c/c1/feedback/d1", true, false},
		{"edge writes model", edge, "fedgan/v1/global/model", true, false},
		{"uplink writes generator", up, "fedgan/v1/c/c1/generator", true, true},
		{"uplink writes other generator", up, "fedgan/v1/c/c2/generator", true, false},
		{"uplink reads model", up, "fedgan/v1/global/model", false, true},
		{"cloud reads generators", cloud, "fedgan/v1/c/+/generator", false, true},
		{"cloud writes model", cloud, "fedgan/v1/global/model", true, true},
		{"cloud writes batch", cloud, "fedgan/v1/c/c1/batch", true, false},
		{"monitor reads tree", mon, "fedgan/v1/#", false, true},
		{"monitor reads $SYS", mon, "$SYS/#", false, true},
		{"monitor writes", mon, "fedgan/v1/c/c1/feedback/d1", true, false},
	} {
		if got := allowed(tc.rules, "u", "d1", tc.topic, tc.write); got != tc.want {
			t.Errorf("%s: allowed(%q, write=%v) = %v, want %v", tc.name, tc.topic, tc.write, got, tc.want)
		}
	}
	// A template shared by many device accounts.
	tmpl := DeviceRules(tp, "c1", "%u")
	if !allowed(tmpl, "d7", "d7", "fedgan/v1/c/c1/feedback/d7", true) {
		t.Errorf("template rules: d7 may not write its own feedback, want allowed")
	}
	if allowed(tmpl, "d7", "d7", "fedgan/v1/c/c1/feedback/d8", true) {
		t.Errorf("template rules: d7 may write d8's feedback, want denied")
	}
}

func TestConfigValidateReportsAll(t *testing.T) {
	cfg := Config{
		MaxPacketSize:    10,
		MaxPendingWrites: -1,
		ReadBuffer:       -1,
		TLS:              &TLSConfig{CertFile: "/nonexistent/cert.pem"},
		Users: []User{
			{Name: "a", PasswordHash: "plain", Rules: []Rule{{Filter: "x/#/y"}}},
			{Name: "a", PasswordHash: "$2a$04$abcdefghijklmnopqrstuuJ3Yl4iZ7m9xQ5bS1kZ6oR0f8h2Wc3Ge"},
			{Name: "bad/name", PasswordHash: "x", Rules: []Rule{{Filter: "d/%u", Write: true}}},
		},
	}
	err := cfg.validate()
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) {
		t.Fatalf("validate() = %v, want a *ConfigError wrapping ErrConfig", err)
	}
	for _, want := range []string{
		"TLS.Addr", "TLS.CertFile", "TLS.KeyFile", "MaxPacketSize", "MaxPendingWrites", "ReadBuffer",
		"Users[0].PasswordHash", "Users[0].Rules[0]", "Users[1].Name", "Users[2].PasswordHash", "Users[2].Rules[0]",
	} {
		found := false
		for _, p := range ce.Problems {
			if strings.HasPrefix(p, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("problems %q: none about %s", ce.Problems, want)
		}
	}

	var ok Config
	if err := ok.validate(); err != nil {
		t.Fatalf("zero Config: validate() = %v, want nil", err)
	}
	if ok.Addr != DefaultAddr || ok.MaxPendingWrites != DefaultMaxPendingWrites || ok.MaxPacketSize != DefaultMaxPacketSize || ok.MaxInflight != DefaultMaxInflight || ok.ReadBuffer != DefaultReadBuffer {
		t.Errorf("zero Config defaults: got %+v", ok)
	}
	anon := Config{AllowAnonymous: true}
	if err := anon.validate(); err != nil || len(anon.AnonymousRules) != 1 || anon.AnonymousRules[0].Filter != "#" {
		t.Errorf("anonymous defaults: err %v, rules %v; want allow-all", err, anon.AnonymousRules)
	}
}
