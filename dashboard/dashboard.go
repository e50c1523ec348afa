package dashboard

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"strconv"

	"github.com/fedgan/fedgan/wire"
)

//go:embed assets
var assets embed.FS

// Prefix is where Handler expects to be mounted: the page is Prefix, its
// settings Prefix + "config.json".
const Prefix = "/dashboard/"

// Config is what the page is told about the broker that serves it. None
// of it is a secret: the page asks for the monitor's password itself.
type Config struct {
	// Role is "cloud" or "edge"; Name the topology's name; Community the
	// edge's community ("" on the cloud).
	Role, Name, Community string
	// Communities are the topology's community ids, in its order.
	Communities []string
	// Topics is the tree the page subscribes to.
	Topics wire.Topics
	// Mode is training.mode (sync or async), LocalIters I_lo and
	// GlobalRounds I_gl: the page's progress bars.
	Mode                     string
	LocalIters, GlobalRounds int
	// ClientIDPrefix is the monitor's client id prefix (monitor.
	// client_id_prefix; "" is "fedgan-"): the page connects as
	// {prefix}dashboard-{random}.
	ClientIDPrefix string
	// Anonymous says the broker lets clients in without a password
	// (allow_anonymous), so the page may connect without asking.
	Anonymous bool
	// WSAddr returns the broker's bound WebSocket address ("" when it has
	// no websocket listener); it is read on every request of the
	// settings, so it may be given before the broker listens.
	WSAddr func() string
}

// settings is config.json.
type settings struct {
	Role           string            `json:"role"`
	Name           string            `json:"name"`
	Community      string            `json:"community,omitempty"`
	Communities    []string          `json:"communities"`
	Root           string            `json:"root"`
	Topics         map[string]string `json:"topics"`
	Mode           string            `json:"mode"`
	LocalIters     int               `json:"local_iters"`
	GlobalRounds   int               `json:"global_rounds"`
	WSPort         int               `json:"ws_port"` // 0: no websocket listener
	WSPath         string            `json:"ws_path"`
	ClientIDPrefix string            `json:"client_id_prefix"`
	Anonymous      bool              `json:"anonymous"`
	PreviewMax     int               `json:"preview_max_bytes"`
}

// Handler serves the dashboard under Prefix: the page, its script and
// styles, the vendored mqtt.js, and config.json. Mount it with
// broker.Handle("GET "+dashboard.Prefix, h), which puts it behind the
// broker's HTTP token when one is set.
func Handler(cfg Config) http.Handler {
	if cfg.ClientIDPrefix == "" {
		cfg.ClientIDPrefix = "fedgan-"
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(Prefix, http.FileServerFS(sub))
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(cfg.settings())
	})
	mux.Handle("GET "+Prefix, files)
	return headers(mux)
}

func (c Config) settings() settings {
	t := c.Topics
	s := settings{
		Role: c.Role, Name: c.Name, Community: c.Community, Communities: c.Communities,
		Root: rootOf(t), Mode: c.Mode, LocalIters: c.LocalIters, GlobalRounds: c.GlobalRounds,
		WSPath: "/mqtt", ClientIDPrefix: c.ClientIDPrefix, Anonymous: c.Anonymous, PreviewMax: wire.MaxPreview,
		Topics: map[string]string{
			"community_status": t.Status("+"),
			"presence":         t.Presence("+", "+"),
			"global_status":    t.GlobalStatus(),
			"preview":          t.GlobalPreview(),
		},
	}
	if s.Communities == nil {
		s.Communities = []string{}
	}
	if c.WSAddr != nil {
		if _, port, err := net.SplitHostPort(c.WSAddr()); err == nil {
			s.WSPort, _ = strconv.Atoi(port)
		}
	}
	return s
}

// rootOf is the topic root, read back from a builder so that no topic
// string is formatted here.
func rootOf(t wire.Topics) string {
	all := t.All()
	return all[:len(all)-len("/#")]
}

// headers adds the page's security headers: its own scripts only, no
// framing, no sniffing; mqtt.js's timer worker (a blob: URL it makes
// itself); the WebSocket may go to any host (the page's
// host on the broker's websocket port, or the ?ws= URL given).
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self' ws: wss:; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
