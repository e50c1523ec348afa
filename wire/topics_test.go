package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestTopicBuilders(t *testing.T) {
	def, custom := Topics{}, Topics{Root: "lab/fg"}
	tests := []struct {
		got, want string
	}{
		{def.Batch("c1"), "fedgan/v1/c/c1/batch"},
		{def.BatchTo("c1", "d-7"), "fedgan/v1/c/c1/batch/d-7"},
		{def.Feedback("c1", "d-7"), "fedgan/v1/c/c1/feedback/d-7"},
		{def.FeedbackFilter("c1"), "fedgan/v1/c/c1/feedback/+"},
		{def.Presence("c1", "d.2"), "fedgan/v1/c/c1/presence/d.2"},
		{def.PresenceFilter("c1"), "fedgan/v1/c/c1/presence/+"},
		{def.Generator("c_2"), "fedgan/v1/c/c_2/generator"},
		{def.GeneratorFilter(), "fedgan/v1/c/+/generator"},
		{def.Status("c1"), "fedgan/v1/c/c1/status"},
		{def.GlobalModel(), "fedgan/v1/global/model"},
		{def.GlobalStatus(), "fedgan/v1/global/status"},
		{def.GlobalPreview(), "fedgan/v1/global/preview"},
		{def.All(), "fedgan/v1/#"},
		{def.Community("c1"), "fedgan/v1/c/c1/#"},
		{custom.Batch("c1"), "lab/fg/c/c1/batch"},
		{custom.GlobalModel(), "lab/fg/global/model"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		root, topic string
		want        Topic
		err         string
	}{
		{"", "fedgan/v1/c/c1/batch", Topic{Kind: KindBatch, Community: "c1"}, ""},
		{"", "fedgan/v1/c/c1/feedback/d1", Topic{Kind: KindFeedback, Community: "c1", Device: "d1"}, ""},
		{"", "fedgan/v1/c/c1/presence/d1", Topic{Kind: KindPresence, Community: "c1", Device: "d1"}, ""},
		{"", "fedgan/v1/c/c1/generator", Topic{Kind: KindGenerator, Community: "c1"}, ""},
		{"", "fedgan/v1/c/c1/status", Topic{Kind: KindStatus, Community: "c1"}, ""},
		{"", "fedgan/v1/global/model", Topic{Kind: KindModel}, ""},
		{"", "fedgan/v1/global/status", Topic{Kind: KindGlobalState}, ""},
		{"", "fedgan/v1/global/preview", Topic{Kind: KindPreview}, ""},
		{"", "fedgan/v1/global/preview/x", Topic{}, `wire: malformed topic: "fedgan/v1/global/preview/x"`},
		{"a/b/c", "a/b/c/c/X.y-z_0/feedback/D", Topic{Kind: KindFeedback, Community: "X.y-z_0", Device: "D"}, ""},

		{"", "other/v1/c/c1/batch", Topic{}, `wire: malformed topic: "other/v1/c/c1/batch" is not under "fedgan/v1"`},
		{"", "fedgan/v1", Topic{}, `wire: malformed topic: "fedgan/v1" is not under "fedgan/v1"`},
		{"", "fedgan/v10/c/c1/batch", Topic{}, `wire: malformed topic: "fedgan/v10/c/c1/batch" is not under "fedgan/v1"`},
		{"", "$SYS/broker/uptime", Topic{}, `wire: malformed topic: "$SYS/broker/uptime" is not under "fedgan/v1"`},
		{"", "fedgan/v1/", Topic{}, `wire: malformed topic: "fedgan/v1/"`},
		{"", "fedgan/v1/c/c1/batch/", Topic{}, `wire: malformed topic: "fedgan/v1/c/c1/batch/": wire: invalid id: "" must be 1 to 64 characters`},
		{"", "fedgan/v1/c/c1/feedback", Topic{}, `wire: malformed topic: "fedgan/v1/c/c1/feedback"`},
		{"", "fedgan/v1/c/c1/batch/d1", Topic{Kind: KindBatch, Community: "c1", Device: "d1"}, ""},
		{"", "fedgan/v1/c/c1/batch/+", Topic{}, `wire: malformed topic: "fedgan/v1/c/c1/batch/+": wire: invalid id: "+" contains '+' (allowed: letters, digits, _ . -)`},
		{"", "fedgan/v1/c/c1/batch/d1/x", Topic{}, `wire: malformed topic: "fedgan/v1/c/c1/batch/d1/x"`},
		{"", "fedgan/v1/c/c1/model", Topic{}, `wire: malformed topic: "fedgan/v1/c/c1/model"`},
		{"", "fedgan/v1/global/batch", Topic{}, `wire: malformed topic: "fedgan/v1/global/batch"`},
		{"", "fedgan/v1/c//batch", Topic{}, `wire: malformed topic: "fedgan/v1/c//batch": wire: invalid id: "" must be 1 to 64 characters`},
		{"", "fedgan/v1/c/+/batch", Topic{}, `wire: malformed topic: "fedgan/v1/c/+/batch": wire: invalid id: "+" contains '+' (allowed: letters, digits, _ . -)`},
		{"", "fedgan/v1/c/c1/feedback/#", Topic{}, `wire: malformed topic: "fedgan/v1/c/c1/feedback/#": wire: invalid id: "#" contains '#' (allowed: letters, digits, _ . -)`},
		{"", "fedgan/v1/c/c1/presence/dé", Topic{}, `wire: malformed topic: "fedgan/v1/c/c1/presence/dé": wire: invalid id: "dé" contains 'é' (allowed: letters, digits, _ . -)`},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			got, err := Topics{Root: tt.root}.Parse(tt.topic)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("got %+v, %v; want error %q", got, err, tt.err)
				}
				if !errors.Is(err, ErrTopic) {
					t.Errorf("errors.Is(err, ErrTopic): got false, want true")
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"c1", true}, {"A-b_c.9", true}, {strings.Repeat("x", 64), true},
		{"", false}, {strings.Repeat("x", 65), false}, {"a b", false}, {"a/b", false},
		{"+", false}, {"#", false}, {"$SYS", false}, {"é", false}, {"a\x00", false},
	}
	for _, tt := range tests {
		err := ValidID(tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("ValidID(%q): got %v, want ok=%v", tt.id, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrID) {
			t.Errorf("ValidID(%q): errors.Is(err, ErrID) is false", tt.id)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b/c", "a/b/c", true},
		{"a/b/c", "a/b", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b/d", false},
		{"+", "a", true},
		{"+", "a/b", false},
		{"+/+", "a/b", true},
		{"+/b", "a/b", true},
		{"a/+", "a/", true}, // "a/" has an empty second level
		{"a/+", "a", false},
		{"+/+", "/b", true}, // leading empty level
		{"/+", "/b", true},
		{"#", "a", true},
		{"#", "a/b/c", true},
		{"a/#", "a", true}, // '#' also matches the parent [MQTT-4.7.1-2]
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"a/b/#", "a", false},
		{"a/+/#", "a/b", true},
		{"fedgan/v1/c/+/feedback/+", "fedgan/v1/c/c1/feedback/d1", true},
		{"fedgan/v1/c/+/feedback/+", "fedgan/v1/c/c1/presence/d1", false},
		{"fedgan/v1/#", "fedgan/v1/global/model", true},
		{"fedgan/v1/#", "fedgan/v10/global/model", false},
		// $-topics are not matched by a leading wildcard [MQTT-4.7.2-1].
		{"#", "$SYS/broker/uptime", false},
		{"+/broker/uptime", "$SYS/broker/uptime", false},
		{"$SYS/#", "$SYS/broker/uptime", true},
		{"$SYS/+/uptime", "$SYS/broker/uptime", true},
		{"a/#", "a/$SYS", true}, // only the first level is special
		// Invalid filters match nothing; wildcards inside a level are literal.
		{"a/#/c", "a/b/c", false},
		{"#/a", "x/a", false},
		{"a/b#", "a/b#", true},
		{"a/b#", "a/bc", false},
		{"a+/b", "ax/b", false},
		// Case and empty strings.
		{"A/b", "a/b", false},
		{"", "", true},
		{"", "a", false},
	}
	for _, tt := range tests {
		if got := Match(tt.filter, tt.topic); got != tt.want {
			t.Errorf("Match(%q, %q): got %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
		if got := refMatch(tt.filter, tt.topic); got != tt.want {
			t.Errorf("refMatch(%q, %q): got %v, want %v (the reference is wrong)", tt.filter, tt.topic, got, tt.want)
		}
	}
}

// refMatch is a straightforward reference for Match, level by level.
func refMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	f, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, l := range f {
		if l == "#" {
			return i == len(f)-1 // then it matches the rest, even nothing
		}
		if i >= len(tl) || l != "+" && l != tl[i] {
			return false
		}
	}
	return len(f) == len(tl)
}

// build is the builder call for a parsed topic.
func build(ts Topics, t Topic) string {
	switch t.Kind {
	case KindBatch:
		return ts.Batch(t.Community)
	case KindFeedback:
		return ts.Feedback(t.Community, t.Device)
	case KindPresence:
		return ts.Presence(t.Community, t.Device)
	case KindGenerator:
		return ts.Generator(t.Community)
	case KindStatus:
		return ts.Status(t.Community)
	case KindModel:
		return ts.GlobalModel()
	case KindGlobalState:
		return ts.GlobalStatus()
	case KindPreview:
		return ts.GlobalPreview()
	}
	panic("build: kind " + t.Kind)
}

// filtersFor lists the filters of the tree that must match a topic of t.
func filtersFor(ts Topics, t Topic) []string {
	fs := []string{ts.All(), "#"}
	if t.Community != "" {
		fs = append(fs, ts.Community(t.Community))
	}
	switch t.Kind {
	case KindFeedback:
		fs = append(fs, ts.FeedbackFilter(t.Community))
	case KindPresence:
		fs = append(fs, ts.PresenceFilter(t.Community))
	case KindGenerator:
		fs = append(fs, ts.GeneratorFilter())
	}
	return fs
}

// FuzzParse: a topic that parses is rebuilt exactly by its builder, is
// matched by the tree's filters, and is not matched by another community's
// filter; one that does not parse is not a builder's output.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"fedgan/v1/c/c1/batch",         // batch
		"fedgan/v1/c/c1/feedback/d1",   // feedback
		"fedgan/v1/c/c-2/presence/d.3", // presence, ids with - and .
		"fedgan/v1/c/c1/generator",     // generator
		"fedgan/v1/c/c1/status",        // community status
		"fedgan/v1/global/model",       // global model
		"fedgan/v1/global/status",      // global status
		"fedgan/v1/global/preview",     // preview picture
		"fedgan/v1/c/+/generator",      // a filter, not a topic
		"fedgan/v1/c//batch",           // empty id
		"fedgan/v1/#",                  // the tree's filter
		"$SYS/broker/uptime",           // broker topic
		"",                             // empty
	} {
		f.Add(s)
	}
	ts := Topics{}
	f.Fuzz(func(t *testing.T, topic string) {
		got, err := ts.Parse(topic)
		if err != nil {
			if !errors.Is(err, ErrTopic) {
				t.Fatalf("Parse(%q): error %v does not wrap ErrTopic", topic, err)
			}
			return
		}
		if b := build(ts, got); b != topic {
			t.Fatalf("Parse(%q) = %+v, rebuilt as %q", topic, got, b)
		}
		for _, fl := range filtersFor(ts, got) {
			if !Match(fl, topic) {
				t.Errorf("Match(%q, %q) = false, want true", fl, topic)
			}
		}
		if got.Community != "" && Match(ts.Community(got.Community+"x"), topic) {
			t.Errorf("Match(%q, %q) = true, want false", ts.Community(got.Community+"x"), topic)
		}
		if !Match(topic, topic) {
			t.Errorf("Match(%q, itself) = false, want true", topic)
		}
	})
}

// FuzzTopicIDs: builder → Parse round trip for any ids; Parse accepts
// exactly the ids ValidID accepts.
func FuzzTopicIDs(f *testing.F) {
	f.Add("c1", "d1")       // plain ids
	f.Add("c/1", "d1")      // a level separator in an id
	f.Add("+", "#")         // wildcards as ids
	f.Add("", "d1")         // empty community
	f.Add("c1", "d.-_9Z")   // every allowed punctuation
	f.Add("ç", "\x00")      // non-ASCII and NUL
	ts := Topics{Root: "r"} // a short root keeps the fuzzer on the ids
	f.Fuzz(func(t *testing.T, c, d string) {
		for _, want := range []Topic{
			{Kind: KindFeedback, Community: c, Device: d},
			{Kind: KindPresence, Community: c, Device: d},
			{Kind: KindBatch, Community: c},
			{Kind: KindGenerator, Community: c},
		} {
			topic := build(ts, want)
			got, err := ts.Parse(topic)
			hasDevice := want.Kind == KindFeedback || want.Kind == KindPresence
			wantOK := ValidID(c) == nil && (!hasDevice || ValidID(d) == nil)
			if (err == nil) != wantOK {
				t.Fatalf("Parse(%q): got %+v, %v; want ok=%v", topic, got, err, wantOK)
			}
			if err == nil && got != want {
				t.Fatalf("Parse(%q): got %+v, want %+v", topic, got, want)
			}
		}
	})
}

// FuzzMatch checks Match against the reference on arbitrary filters and
// topics, and that a filter without wildcards matches only itself.
func FuzzMatch(f *testing.F) {
	f.Add("a/+/c", "a/b/c")                                         // '+' in the middle
	f.Add("a/#", "a")                                               // '#' matches the parent
	f.Add("#", "$SYS/x")                                            // $-topics vs leading wildcard
	f.Add("+/+", "/")                                               // empty levels
	f.Add("a/#/b", "a/x/b")                                         // invalid filter
	f.Add("fedgan/v1/c/+/feedback/+", "fedgan/v1/c/c1/feedback/d1") // ours
	f.Add("fedgan/v1/c/c1/#", "fedgan/v1/c/c1/presence/d1")         // ours
	f.Add("a/b", "a/b/")                                            // trailing empty level
	f.Fuzz(func(t *testing.T, filter, topic string) {
		got := Match(filter, topic)
		if want := refMatch(filter, topic); got != want {
			t.Fatalf("Match(%q, %q): got %v, reference says %v", filter, topic, got, want)
		}
		if !strings.ContainsAny(filter, "+#") && got != (filter == topic) {
			t.Fatalf("Match(%q, %q): got %v for a wildcard-free filter", filter, topic, got)
		}
	})
}
