package wire

import (
	"errors"
	"fmt"
	"strings"
)

// Topic kinds returned by Topics.Parse.
const (
	KindBatch       = "batch"
	KindFeedback    = "feedback"
	KindPresence    = "presence"
	KindGenerator   = "generator"
	KindStatus      = "status"
	KindModel       = "model"
	KindGlobalState = "global_status"
	// KindPreview is {root}/global/preview: the cloud's latest picture of
	// the global generator's samples (PNG, retained; see CheckPreview).
	KindPreview = "preview"
	// Fed GAN (docs/DESIGN.md §2.12): {root}/c/{community}/community_model
	// and {root}/c/{community}/local/{device}.
	KindCommunityModel = "community_model"
	KindLocal          = "local"
)

// ErrTopic is returned when a topic does not belong to the tree.
var ErrTopic = errors.New("wire: malformed topic")

// ErrID is returned for a community or device id that cannot be a topic level.
var ErrID = errors.New("wire: invalid id")

// Topics builds and parses the topic tree of docs/DESIGN.md §4.1 under Root.
// The zero value uses DefaultRoot.
type Topics struct {
	Root string
}

func (t Topics) root() string {
	if t.Root == "" {
		return DefaultRoot
	}
	return t.Root
}

// Batch is {root}/c/{community}/batch.
func (t Topics) Batch(community string) string { return t.root() + "/c/" + community + "/batch" }

// BatchTo is {root}/c/{community}/batch/{device}: a batch for one asked
// device of a sampling edge (training.sample).
func (t Topics) BatchTo(community, device string) string {
	return t.Batch(community) + "/" + device
}

// Feedback is {root}/c/{community}/feedback/{device}.
func (t Topics) Feedback(community, device string) string {
	return t.root() + "/c/" + community + "/feedback/" + device
}

// FeedbackFilter matches every device's feedback in a community.
func (t Topics) FeedbackFilter(community string) string {
	return t.root() + "/c/" + community + "/feedback/+"
}

// Presence is {root}/c/{community}/presence/{device}.
func (t Topics) Presence(community, device string) string {
	return t.root() + "/c/" + community + "/presence/" + device
}

// PresenceFilter matches every device's presence in a community.
func (t Topics) PresenceFilter(community string) string {
	return t.root() + "/c/" + community + "/presence/+"
}

// Generator is {root}/c/{community}/generator.
func (t Topics) Generator(community string) string {
	return t.root() + "/c/" + community + "/generator"
}

// GeneratorFilter matches every community's generator updates.
func (t Topics) GeneratorFilter() string { return t.root() + "/c/+/generator" }

// CommunityModel is {root}/c/{community}/community_model: a Fed GAN
// edge's model of the round for its devices.
func (t Topics) CommunityModel(community string) string {
	return t.root() + "/c/" + community + "/" + KindCommunityModel
}

// Local is {root}/c/{community}/local/{device}: a Fed GAN device's local
// model.
func (t Topics) Local(community, device string) string {
	return t.root() + "/c/" + community + "/" + KindLocal + "/" + device
}

// LocalFilter matches every device's local model in a community.
func (t Topics) LocalFilter(community string) string {
	return t.root() + "/c/" + community + "/local/+"
}

// Status is {root}/c/{community}/status.
func (t Topics) Status(community string) string { return t.root() + "/c/" + community + "/status" }

// GlobalModel is {root}/global/model.
func (t Topics) GlobalModel() string { return t.root() + "/global/model" }

// GlobalStatus is {root}/global/status.
func (t Topics) GlobalStatus() string { return t.root() + "/global/status" }

// GlobalPreview is {root}/global/preview: the cloud's retained preview
// picture (PNG, at most MaxPreview bytes; CheckPreview).
func (t Topics) GlobalPreview() string { return t.root() + "/global/" + KindPreview }

// All is {root}/#, every topic of the tree.
func (t Topics) All() string { return t.root() + "/#" }

// Community returns the filter {root}/c/{community}/# .
func (t Topics) Community(community string) string { return t.root() + "/c/" + community + "/#" }

// Topic is a parsed topic name.
type Topic struct {
	Kind      string
	Community string // empty for global topics
	Device    string // set for feedback, presence, local models and a batch for one device
}

// Parse splits a topic of the tree into its parts. It returns an error
// wrapping ErrTopic for anything else.
func (t Topics) Parse(topic string) (Topic, error) {
	rest, ok := strings.CutPrefix(topic, t.root()+"/")
	if !ok {
		return Topic{}, fmt.Errorf("%w: %q is not under %q", ErrTopic, topic, t.root())
	}
	p := strings.Split(rest, "/")
	switch {
	case len(p) == 2 && p[0] == "global" && p[1] == "model":
		return Topic{Kind: KindModel}, nil
	case len(p) == 2 && p[0] == "global" && p[1] == "status":
		return Topic{Kind: KindGlobalState}, nil
	case len(p) == 2 && p[0] == "global" && p[1] == KindPreview:
		return Topic{Kind: KindPreview}, nil
	case len(p) == 3 && p[0] == "c" && (p[2] == KindBatch || p[2] == KindGenerator || p[2] == KindStatus || p[2] == KindCommunityModel):
		if err := ValidID(p[1]); err != nil {
			return Topic{}, fmt.Errorf("%w: %q: %w", ErrTopic, topic, err)
		}
		return Topic{Kind: p[2], Community: p[1]}, nil
	case len(p) == 4 && p[0] == "c" && (p[2] == KindFeedback || p[2] == KindPresence || p[2] == KindLocal || p[2] == KindBatch):
		if err := ValidID(p[1]); err != nil {
			return Topic{}, fmt.Errorf("%w: %q: %w", ErrTopic, topic, err)
		}
		if err := ValidID(p[3]); err != nil {
			return Topic{}, fmt.Errorf("%w: %q: %w", ErrTopic, topic, err)
		}
		return Topic{Kind: p[2], Community: p[1], Device: p[3]}, nil
	}
	return Topic{}, fmt.Errorf("%w: %q", ErrTopic, topic)
}

// ValidID reports whether id can be used as a community or device id:
// 1–64 characters from [A-Za-z0-9_.-]. Such ids are safe as topic
// levels, file names and MQTT client ids.
func ValidID(id string) error {
	if len(id) == 0 || len(id) > 64 {
		return fmt.Errorf("%w: %q must be 1 to 64 characters", ErrID, id)
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return fmt.Errorf("%w: %q contains %q (allowed: letters, digits, _ . -)", ErrID, id, r)
		}
	}
	return nil
}

// Match reports whether the MQTT topic filter matches topic
// (MQTT 3.1.1 §4.7: '+' one level, '#' the rest; topics starting with '$'
// are not matched by a leading wildcard [MQTT-4.7.2-1]). "a/#" matches "a"
// too. A filter with '#' anywhere but as its last level is invalid and
// matches nothing; '+' or '#' inside a level is taken literally.
func Match(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return !fmore // '#' must be the last level [MQTT-4.7.1-2]
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore && !tmore {
			return true
		}
		if !fmore {
			return false
		}
		if !tmore {
			// "a/#" matches "a".
			return frest == "#"
		}
		filter, topic = frest, trest
	}
}
