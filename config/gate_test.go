package config

import (
	"strings"
	"testing"
	"time"
)

// TestGateKeys checks the broker listener, limit and monitor keys: their
// defaults and the problems they report.
func TestGateKeys(t *testing.T) {
	const head = `
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8]}
training: {global_rounds: 1, local_iters: 1}
`
	const comm = `
communities:
  - id: a
    data: {kind: gaussian, means: [[0, 0]], std: 1}
    device_count: 2
    edge: {allow_anonymous: true%s}
`
	load := func(cloud, edge, limits string) (*Topology, error) {
		src := head + "cloud: {allow_anonymous: true" + cloud + "}\n" + limits + strings.Replace(comm, "%s", edge, 1)
		return FromBytes([]byte(src), "inline", "/cfg")
	}
	t.Run("defaults", func(t *testing.T) {
		top, err := load("", ", http: ':9100'", "limits: {publish_rate: 50, connect_timeout: 2s}\n")
		if err != nil {
			t.Fatal(err)
		}
		e := top.Communities[0].Edge
		for _, c := range []struct {
			name      string
			got, want any
		}{
			{"edge listen", e.Listen, "127.0.0.1:1883"},
			{"cloud listen", top.Cloud.Listen, "127.0.0.1:1883"},
			{"edge http on loopback", e.HTTP, "127.0.0.1:9100"},
			{"edge advertise", e.Advertise, "tcp://127.0.0.1:1883"},
			{"publish rate", top.Limits.PublishRate, 50.0},
			{"connect timeout", top.Limits.ConnectTimeout.D(), 2 * time.Second},
			{"max clients left to the broker", top.Limits.MaxClients, 0},
		} {
			if c.got != c.want {
				t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
			}
		}
	})
	t.Run("tls only advertises ssl", func(t *testing.T) {
		top, err := load("", ", listen: '0.0.0.0:1883', tls_only: true, tls: {listen: ':8883', cert: c.pem, key: k.pem}", "")
		if err != nil {
			t.Fatal(err)
		}
		if got := top.Communities[0].Edge.Advertise; got != "ssl://127.0.0.1:8883" {
			t.Errorf("advertise %q, want ssl://127.0.0.1:8883", got)
		}
	})
	t.Run("monitor prefix default", func(t *testing.T) {
		top, err := load("", ", monitor: {username: watcher, password_hash: x}", "")
		if err != nil {
			t.Fatal(err)
		}
		if got := top.Communities[0].Edge.Monitor.ClientIDPrefix; got != "fedgan-" {
			t.Errorf("monitor client_id_prefix %q, want fedgan-", got)
		}
	})
	for _, tc := range []struct{ name, cloud, edge, limits, want string }{
		{"tls only without tls", "", ", tls_only: true", "", "communities[a].edge.tls_only: needs a TLS listener"},
		{"cloud tls only without tls", ", tls_only: true", "", "", "cloud.tls_only: needs a TLS listener"},
		{"monitor prefix covers a device", "", ", monitor: {username: m, password_hash: x, client_id_prefix: a-}", "", "device id \"a-d1\" starts with \"a-\""},
		{"monitor named as a device", "", ", monitor: {username: a-d2, password_hash: x, client_id_prefix: mon-}", "", "is device \"a-d2\"'s id"},
		{"bad prefix", "", ", monitor: {username: m, password_hash: x, client_id_prefix: 'x/#'}", "", "monitor.client_id_prefix"},
		{"negative cap", "", "", "limits: {max_clients: -1}\n", "limits.max_clients: must be >= 0"},
		{"negative timeout", "", "", "limits: {connect_timeout: -1s}\n", "limits.connect_timeout: must be >= 0"},
		{"negative receive maximum", "", "", "limits: {receive_maximum: -1}\n", "limits.receive_maximum: must be >= 0"},
		{"receive maximum above MQTT's", "", "", "limits: {receive_maximum: 65536}\n", "limits.receive_maximum: must be at most 65535"},
		{"backoff max below backoff", "", "", "limits: {auth_backoff: 10s, auth_backoff_max: 2s}\n", "limits.auth_backoff_max: must be >= auth_backoff"},
		{"unknown key", "", ", tls_onyl: true", "", "tls_onyl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.cloud, tc.edge, tc.limits)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a problem saying %q", err, tc.want)
			}
		})
	}
}
