package dashboard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/wire"
)

func TestHandler(t *testing.T) {
	h := Handler(Config{
		Role: "edge", Name: "lab", Community: "a", Communities: []string{"a", "b"},
		Topics: wire.Topics{Root: "lab/fg"}, Mode: "sync", LocalIters: 20, GlobalRounds: 5,
		Anonymous: true, WSAddr: func() string { return "0.0.0.0:9001" },
	})
	get := func(path string) (*http.Response, string) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(w.Result().Body)
		return w.Result(), string(b)
	}

	resp, body := get(Prefix + "config.json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("config.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var s settings
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	want := settings{
		Role: "edge", Name: "lab", Community: "a", Communities: []string{"a", "b"}, Root: "lab/fg",
		Mode: "sync", LocalIters: 20, GlobalRounds: 5, WSPort: 9001, WSPath: "/mqtt", ClientIDPrefix: "fedgan-",
		Anonymous: true, PreviewMax: wire.MaxPreview,
		Topics: map[string]string{
			"community_status": "lab/fg/c/+/status", "presence": "lab/fg/c/+/presence/+",
			"global_status": "lab/fg/global/status", "preview": "lab/fg/global/preview",
		},
	}
	got, _ := json.Marshal(s)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("config.json:\n got %s\nwant %s", got, exp)
	}
	for _, k := range []string{"password", "token", "hash", "secret"} {
		if strings.Contains(strings.ToLower(body), k) {
			t.Errorf("config.json mentions %q: %s", k, body)
		}
	}

	for path, want := range map[string]string{
		Prefix:                 `<script src="app.js"`,
		Prefix + "app.js":      "mqtt.connect(",
		Prefix + "style.css":   ".community",
		Prefix + "mqtt.min.js": "mqtt.js 5.16.0",
	} {
		resp, body := get(path)
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, %d bytes without %q", path, resp.StatusCode, len(body), want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
	if resp, _ := get(Prefix + "nothing.js"); resp.StatusCode != 404 {
		t.Errorf("GET a missing asset: %d, want 404", resp.StatusCode)
	}

	// No websocket listener: port 0, which the page explains.
	h = Handler(Config{Role: "cloud", WSAddr: func() string { return "" }})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", Prefix+"config.json", nil))
	if !strings.Contains(w.Body.String(), `"ws_port":0`) || !strings.Contains(w.Body.String(), `"communities":[]`) {
		t.Errorf("config.json without a websocket: %s", w.Body.String())
	}
}
