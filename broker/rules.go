package broker

import (
	"path"

	"github.com/fedgan/fedgan/wire"
)

// The standard rule sets of docs/DESIGN.md §6.2, built from wire.Topics so that
// no topic string is formatted here. Each returns a fresh slice.
//
// device may be "%u" or "%c" to build one rule set shared by many device
// accounts (the broker substitutes the username or client id, which must
// then be a valid wire id).

// globalFilter is {root}/global/#, derived from the model topic.
func globalFilter(t wire.Topics) string { return path.Dir(t.GlobalModel()) + "/#" }

// DeviceRules lets a device publish only its own feedback and (Fed GAN)
// local model (never retained) and presence (retained: the protocol's)
// and subscribe only to its community's batch and its own batch topic
// (a sampling edge's), (Fed GAN) community model
// and status topics and to the global topics ({root}/global/#, retained
// model and status).
func DeviceRules(t wire.Topics, community, device string) []Rule {
	return []Rule{
		{Filter: t.Feedback(community, device), Write: true, NoRetain: true},
		{Filter: t.Presence(community, device), Write: true},
		{Filter: t.Local(community, device), Write: true, NoRetain: true},
		{Filter: t.Batch(community), Read: true},
		{Filter: t.BatchTo(community, device), Read: true},
		{Filter: t.CommunityModel(community), Read: true},
		{Filter: t.Status(community), Read: true},
		{Filter: globalFilter(t), Read: true},
	}
}

// EdgeRules is what an edge service needs on its own broker when it
// connects as a network client rather than through the inline client:
// read its devices' feedback, (Fed GAN) local models and presence, write
// batches, (Fed GAN) community models, status and generator updates, read
// the global topics.
func EdgeRules(t wire.Topics, community string) []Rule {
	return []Rule{
		{Filter: t.FeedbackFilter(community), Read: true},
		{Filter: t.PresenceFilter(community), Read: true},
		{Filter: t.LocalFilter(community), Read: true},
		{Filter: t.Batch(community), Read: true, Write: true},
		{Filter: t.BatchTo(community, "+"), Read: true, Write: true},
		{Filter: t.CommunityModel(community), Read: true, Write: true},
		{Filter: t.Status(community), Read: true, Write: true},
		{Filter: t.Generator(community), Read: true, Write: true},
		{Filter: globalFilter(t), Read: true},
	}
}

// EdgeUplinkRules is what an edge's bridge needs on the cloud broker:
// write the community's generator updates and status, read the global
// topics.
func EdgeUplinkRules(t wire.Topics, community string) []Rule {
	return []Rule{
		{Filter: t.Generator(community), Write: true},
		{Filter: t.Status(community), Write: true},
		{Filter: globalFilter(t), Read: true},
	}
}

// CloudRules is what a cloud service needs on the cloud broker when it
// connects as a network client: read every community's generator updates
// and status, write the global model, status and preview picture.
func CloudRules(t wire.Topics) []Rule {
	return []Rule{
		{Filter: t.GeneratorFilter(), Read: true},
		{Filter: t.Status("+"), Read: true},
		{Filter: t.GlobalModel(), Read: true, Write: true},
		{Filter: t.GlobalStatus(), Read: true, Write: true},
		{Filter: t.GlobalPreview(), Read: true, Write: true},
	}
}

// MonitorRules lets a read-only monitor subscribe to the whole tree
// ({root}/#) and to the broker's $SYS topics (bridge states included),
// and publish nothing.
func MonitorRules(t wire.Topics) []Rule {
	return []Rule{
		{Filter: t.All(), Read: true},
		{Filter: "$SYS/#", Read: true},
	}
}
