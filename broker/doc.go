// Package broker embeds the MQTT broker of an edge gateway (and, by
// default, of the cloud) and bridges it to a remote broker.
//
// A Broker is mochi-mqtt's mqtt.Server with listeners bound by Run (so
// "127.0.0.1:0" works and Addr reports the port), capabilities that start
// from mochi's defaults, and one authentication and ACL hook that denies
// by default. A Bridge is one uplink to a remote broker (a paho client)
// with a persistent, bounded store-and-forward queue, configured like a
// Mosquitto bridge. Neither knows the topic tree; DeviceRules, EdgeRules,
// EdgeUplinkRules, CloudRules and MonitorRules build the standard ACLs of
// docs/DESIGN.md §6.2 from wire.Topics.
//
// # Lifecycle
//
// New validates a Config (reporting every problem at once, as a
// *ConfigError) and binds nothing. Run binds the listeners, closes Ready,
// serves until its context is done, then disconnects every client, closes
// the listeners and waits for its goroutines before it returns. The
// application in the same process publishes and subscribes through the
// inline client, Broker.Publish and Broker.Subscribe (or Server()'s):
// inline publishes skip the ACL, and inline subscription handlers run on
// the publisher's goroutine after the broker's checks, so they must
// return quickly and must not modify the payload. Stats returns mochi's counters and ours; Config.HTTPAddr
// serves them as JSON (/stats), Prometheus text (/metrics, with the
// attached bridges, the Go runtime, the process, the build and whatever
// the services add with Register) and a health check (/healthz);
// Broker.Handle mounts a service's own pages beside them (the dashboard,
// docs/DESIGN.md §5.7).
//
// # Authentication
//
// A client that sends a username must match a User, whose password is
// checked against its bcrypt hash. bcrypt costs tens of milliseconds (more
// on ARM), so after a success the hook keeps an HMAC of the password (with
// a random per-process key) for that user, and a reconnect with the same
// password costs one HMAC; failures always pay bcrypt, unknown users
// included. A client that sends no username is anonymous, refused unless
// AllowAnonymous. With User.ClientIDMustMatch the client id must equal the
// username. A client id whose session (live, or kept for a persistent
// client) belongs to another user is refused, so one account cannot take
// over another's session; so are the ids of the inline client and of
// bridges. On a TLS listener with a client CA (mutual TLS) the
// certificate's CommonName must equal the client id, on top of the above.
// A client's will is checked against its write rules at connect time,
// since mochi publishes wills without an ACL check. Refused connections
// are counted in Stats.AuthFailures.
//
// # The gate
//
// Before mochi sees a socket, the broker admits it (Config.MaxPending
// unauthenticated sockets, Config.MaxConnsPerAddr per address) and gives
// it Config.ConnectTimeout for its TLS handshake and CONNECT. Failed
// logins delay their address and username (Config.AuthFreeFailures,
// AuthBackoff, AuthBackoffMax) by refusing them without bcrypt, at most
// Config.AuthConcurrency bcrypt checks run at once, and a verified
// password is cached for Config.AuthCacheTTL after its last use. Each
// refusal gets its own CONNACK code (bad credentials, identifier
// rejected, server unavailable, not authorized). A client publishing
// faster than Config.PublishRate, or with a retain flag its rule forbids
// (Rule.NoRetain), is disconnected. User.ClientIDPrefix keeps a monitor's
// client ids apart from the devices'. Every refusal is counted by reason
// (Stats.Refused, the Refused* constants) and logged at most once a
// minute per client address. Config.TLSOnly turns the plain listener off;
// DialInternal connects in-process; Config.HTTPToken protects /stats,
// /metrics and what Handle mounts (docs/DESIGN.md §6.1).
//
// # Access control
//
// Each user has an ordered list of Rules; the first rule whose filter
// matches decides, and no match denies. "%u" and "%c" in a filter stand
// for the username and client id, which must then be valid wire ids, so a
// substitution can never add a level or a wildcard. A publish matches a
// rule when the rule's filter matches the topic. A subscription matches
// when the requested filter is within the rule's filter: every topic the
// request could match, the rule's filter matches too (so a device with
// read access to its community's batch topic cannot subscribe to "#",
// "fedgan/v1/c/+/batch" or another community). mochi also checks every
// delivered message against the rules, so a broad subscription accepted
// by a later rule never delivers a topic an earlier rule denies.
//
// mochi answers a denied publish from an MQTT 3.1.1 client by dropping it
// (QoS 0) or by disconnecting the client (QoS 1 and 2: 3.1.1 has no
// negative PUBACK). Denials are counted in Stats.WriteDenied and
// Stats.ReadDenied.
//
// # Limits
//
// A packet larger than MaxPacketSize disconnects its sender before the
// payload is read; mochi does not announce the limit to 3.1.1 clients, so
// publishers must check sizes themselves. Each client may have
// MaxPendingWrites packets waiting to be written (64 by default, not
// mochi's 8192, which would let one slow device hold gigabytes of
// batches) and MaxInflight unacknowledged QoS 1 messages; beyond them
// messages to that client are dropped and counted. Sessions of
// disconnected persistent clients expire after SessionExpiry.
//
// # Bridge
//
// Each BridgeTopic maps LocalPrefix+Pattern to RemotePrefix+Pattern, in
// the direction Out, In or Both, as Mosquitto's
// "topic <pattern> [out|in|both] <qos> <local-prefix> <remote-prefix>"
// (ParseBridgeTopic reads that syntax).
//
// Out. The bridge subscribes on the local broker with the inline client.
// The handler copies the message and appends it to the queue before it
// returns: with QueueDir set, that is a file written, fsync'd and renamed
// into place, on the publisher's goroutine (BenchmarkQueuePush, append
// and removal, on this project's build machine: 5 ms for 1 KiB, 13 ms for
// 256 KiB, 33 ms for 2 MiB; in memory, under a microsecond). So when an inline Publish (the
// edge service's) returns, its message is on disk. For a network
// publisher mochi sends the PUBACK before subscribers see the message, so
// a crash in that instant can lose it. One sender goroutine delivers the
// queue in order, one message at a time, at the topic's QoS, and removes a
// message only after the remote's PUBACK; if none comes within AckTimeout
// it drops the connection and sends the message again. QoS 0 topics are
// queued the same way but may be lost around a reconnect.
//
// Delivery is therefore in order and at least once. Duplicates happen only
// around a reconnect: a PUBACK lost with the connection, an AckTimeout, or
// a restart between delivery and acknowledgement (Stats.Redelivered counts
// them). Receivers de-duplicate: the cloud by (community, round).
//
// Bounds. While the uplink is down the queue grows to QueueMaxMessages
// messages or QueueMaxBytes bytes of topics and payloads, then drops its
// oldest messages (Stats.Dropped, logged). A message larger than
// MaxMessageSize (the remote's packet limit; by default the local
// broker's) or than QueueMaxBytes is rejected (Stats.Rejected), since a
// remote that disconnects on it would block the queue. Without QueueDir
// the queue is in memory, with the same bounds, and lost on restart.
//
// Persistence. Each queued message is one file, with a checksum, named by
// its sequence number. Run reloads the directory and delivers what a
// previous process left, first; a file that fails its checksum is dropped
// and counted (Stats.Corrupt). A lock keeps a second bridge off the
// directory.
//
// Connection. Each connection is a fresh paho client (MQTT 3.1.1, the
// configured stable client id, CleanSession false by default). paho's own
// reconnect is off: after a reconnect it completes the old publish tokens
// without an acknowledgement, and its backoff has no jitter. Failed
// attempts back off exponentially from ReconnectMin to ReconnectMax with
// jitter, and so do connections that end with the queue head unacknowledged
// and nothing delivered (a remote whose ACL refuses it disconnects an MQTT
// 3.1.1 client): the message stays queued and the refusal is logged. With Notifications, the bridge keeps a retained "1" or "0" on
// the local $SYS/broker/connection/{Name}/state topic.
//
// In. On every connection the bridge subscribes on the remote (a
// clean-session-false remote session also queues messages for it while
// the uplink is down). Messages are republished on the local broker in
// arrival order, and acknowledged to the remote only once republished.
// The retain flag is kept as it arrives, but an MQTT 3.1.1 broker clears
// it on live deliveries, so set ForceRetain on topics the source always
// retains (the global model) to keep the newest copy retained locally for
// clients that connect later. Each re-subscription makes the remote send
// its retained messages again, so receivers see them more than once.
//
// Both. A message republished from the remote is never sent back (the
// bridge marks its own local publishes), and the remote's echo of a
// message the bridge sent is dropped once (MQTT 3.1.1 has no "no local").
//
// # Usage
//
// An edge gateway with its uplink to the cloud:
//
//	t := wire.Topics{}
//	b, err := broker.New(broker.Config{
//		Addr:  ":1883",
//		Users: []broker.User{{Name: "d1", PasswordHash: hash, Rules: broker.DeviceRules(t, "c1", "d1"), ClientIDMustMatch: true}},
//	}, log)
//	if err != nil {
//		return err
//	}
//	up, err := broker.NewBridge(b, broker.BridgeConfig{
//		Name: "cloud", Remote: "ssl://cloud.example:8883", ClientID: "edge-c1",
//		Username: "edge-c1", Password: secret, QueueDir: "/var/lib/fedgan/uplink", Notifications: true,
//		Topics: []broker.BridgeTopic{
//			{Pattern: t.Generator("c1"), Direction: broker.Out, QoS: 1},
//			{Pattern: t.GlobalModel(), Direction: broker.In, QoS: 1, ForceRetain: true},
//		},
//	}, log)
//	if err != nil {
//		return err
//	}
//	g, ctx := errgroup.WithContext(ctx)
//	g.Go(func() error { return b.Run(ctx) })
//	g.Go(func() error { return up.Run(ctx) })
//	// The edge service publishes with b.Publish once b.Ready() is closed.
//	return g.Wait()
package broker
