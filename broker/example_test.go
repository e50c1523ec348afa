package broker_test

import (
	"context"
	"fmt"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/fedgan/fedgan/broker"
	"github.com/fedgan/fedgan/wire"
)

// An edge gateway: devices of community c1 on the embedded broker, and an
// uplink that sends generator updates to the cloud and brings the global
// model back, retained.
func Example() {
	run := func(ctx context.Context, deviceHash, uplinkPassword string, log *slog.Logger) error {
		t := wire.Topics{}
		b, err := broker.New(broker.Config{
			Addr: ":1883",
			Users: []broker.User{
				{Name: "d1", PasswordHash: deviceHash, Rules: broker.DeviceRules(t, "c1", "d1"), ClientIDMustMatch: true},
			},
		}, log)
		if err != nil {
			return err
		}
		up, err := broker.NewBridge(b, broker.BridgeConfig{
			Name: "cloud", Remote: "tcp://cloud.example:1883", ClientID: "edge-c1",
			Username: "edge-c1", Password: uplinkPassword,
			QueueDir: "/var/lib/fedgan/uplink", Notifications: true,
			Topics: []broker.BridgeTopic{
				{Pattern: t.Generator("c1"), Direction: broker.Out, QoS: 1},
				{Pattern: t.GlobalModel(), Direction: broker.In, QoS: 1, ForceRetain: true},
			},
		}, log)
		if err != nil {
			return err
		}
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return b.Run(ctx) })
		g.Go(func() error { return up.Run(ctx) })
		return g.Wait()
	}
	_ = run
}

// The standard device ACL, in order: the first matching rule decides.
func ExampleDeviceRules() {
	for _, r := range broker.DeviceRules(wire.Topics{}, "c1", "d1") {
		fmt.Printf("%-28s read=%v write=%v\n", r.Filter, r.Read, r.Write)
	}
	// Output:
	// fedgan/v1/c/c1/feedback/d1   read=false write=true
	// fedgan/v1/c/c1/presence/d1   read=false write=true
	// fedgan/v1/c/c1/local/d1      read=false write=true
	// fedgan/v1/c/c1/batch         read=true write=false
	// fedgan/v1/c/c1/batch/d1      read=true write=false
	// fedgan/v1/c/c1/community_model read=true write=false
	// fedgan/v1/c/c1/status        read=true write=false
	// fedgan/v1/global/#           read=true write=false
}
