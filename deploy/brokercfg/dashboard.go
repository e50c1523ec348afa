package brokercfg

import (
	"github.com/fedgan/fedgan/broker"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/dashboard"
	"github.com/fedgan/fedgan/wire"
)

// MountDashboard serves the live dashboard (package dashboard) at
// /dashboard/ on b's HTTP address, behind its HTTP token when one is set.
// community is the edge's ("" for the cloud). Without an HTTP address it
// does nothing.
func MountDashboard(top *config.Topology, b *broker.Broker, l Listeners, community string) error {
	if l.HTTP == "" {
		return nil
	}
	cfg := dashboard.Config{
		Role: "cloud", Name: top.Name, Community: community, Topics: wire.Topics{Root: top.Root},
		Mode: top.Training.Mode, LocalIters: top.Training.LocalIters, GlobalRounds: top.Training.GlobalRounds,
		Anonymous: l.AllowAnonymous, WSAddr: b.WSAddr,
	}
	if community != "" {
		cfg.Role = "edge"
	}
	for _, c := range top.Communities {
		cfg.Communities = append(cfg.Communities, c.ID)
	}
	if m := l.Monitor; m != nil {
		cfg.ClientIDPrefix = m.ClientIDPrefix
	}
	return b.Handle("GET "+dashboard.Prefix, dashboard.Handler(cfg))
}
