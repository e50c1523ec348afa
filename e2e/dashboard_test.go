package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"
)

// dashboardShot, when set, is where TestDashboard saves a screenshot of
// an edge's dashboard: go test ./e2e -run TestDashboard
// -dashboard-shot=$PWD/docs/dashboard.png makes the one in the docs.
var dashboardShot = flag.String("dashboard-shot", "", "save a screenshot of the edge's dashboard to this PNG file")

// chromium finds a Chromium or Chrome binary: $CHROME, then the usual
// names on PATH.
func chromium() string {
	if p := os.Getenv("CHROME"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// browser starts a headless Chromium for the test and reports what the
// pages throw and every Content Security Policy violation.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	bin := chromium()
	if bin == "" {
		const msg = "no Chromium binary found (apt-get install chromium, or set CHROME): the dashboard test needs a real browser"
		if os.Getenv("FEDGAN_REQUIRE_CHROMIUM") != "" {
			t.Fatal(msg + "; FEDGAN_REQUIRE_CHROMIUM is set (CI)")
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var mu sync.Mutex
	var problems []string
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			desc := ""
			if d.Exception != nil {
				desc = d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("exception at %s:%d: %s %s", d.URL, d.LineNumber+1, d.Text, desc))
		case *log.EventEntryAdded:
			if strings.Contains(ev.Entry.Text, "Content Security Policy") {
				problems = append(problems, "CSP: "+ev.Entry.Text)
			}
		}
	}))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// poll evaluates js in the page until it returns true or waitFor passes.
func poll(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("conn").textContent + " | " + document.getElementById("login-error").textContent + " | " + document.getElementById("note").textContent`))
			t.Fatalf("timed out after %s waiting for %s (page: %s)", waitFor, what, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func text(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return s
}

// TestDashboard loads the dashboards of a running edge and cloud (built
// binaries, real brokers) in headless Chromium: behind the HTTP token,
// the edge's page refuses a wrong monitor password and connects with the
// right one over MQTT-over-WebSockets, shows the global round advancing,
// the community's devices and the cloud's preview picture (bridged down);
// the cloud's page connects anonymously and shows the communities and the
// same picture.
func TestDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test with a browser")
	}
	ctx, problems := browser(t)

	const token, password = "dash-token-1", "monitor-pw"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tp := newTopo(t, 400, 20) // rounds of about a second, longer than the status period
	tp.HTTP, tp.WS, tp.MonitorHash = true, true, string(hash)
	tp.HTTPTokenFile = filepath.Join(tp.Dir, "http.token")
	if err := os.WriteFile(tp.HTTPTokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The edges take passwords: the dashboard must log in as the monitor.
	tp.Anonymous = false
	writeSecrets(t, tp)
	cfg := tp.write(t)
	startAll(t, tp, cfg)
	a := tp.Communities[0]
	edgeURL := fmt.Sprintf("http://127.0.0.1:%d/dashboard/", a.HTTP)

	// The page is behind the token, like /stats.
	eventually(t, "edge a's HTTP listener", func() bool {
		resp, err := http.Get(edgeURL)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
	cfgJSON := httpGet(t, edgeURL+"config.json", token)
	for _, secret := range []string{token, password, string(hash)} {
		if strings.Contains(cfgJSON, secret) {
			t.Fatalf("config.json holds a secret: %s", cfgJSON)
		}
	}
	if !strings.Contains(cfgJSON, fmt.Sprintf(`"ws_port":%d`, a.WS)) || !strings.Contains(cfgJSON, `"anonymous":false`) {
		t.Fatalf("config.json: %s", cfgJSON)
	}

	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Bearer " + token}}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(edgeURL), chromedp.WaitVisible(chromedp.CSS("#login-form"))); err != nil {
		t.Fatal(err)
	}
	if anon := text(t, ctx, `String(document.getElementById("anon").hidden)`); anon != "true" {
		t.Errorf("the edge allows no anonymous client, yet the page offers it (anon hidden = %s)", anon)
	}
	// A wrong password: the broker refuses (CONNACK 4) and the form says so.
	login := func(pw string) {
		t.Helper()
		text(t, ctx, `document.getElementById("user").value = ""`)
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#user"), "monitor"),
			chromedp.SendKeys(chromedp.CSS("#password"), pw), chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`))); err != nil {
			t.Fatal(err)
		}
	}
	login("wrong")
	poll(t, ctx, "the refusal of a wrong password", `document.getElementById("conn").dataset.state === "refused" && !document.getElementById("login").hidden && document.getElementById("login-error").textContent.length > 0`)
	login(password)
	poll(t, ctx, "the edge's dashboard to connect as the monitor", `document.getElementById("conn").dataset.state === "connected"`)
	if pw := text(t, ctx, `document.getElementById("password").value`); pw != "" {
		t.Errorf("the password stays in the form after login: %q", pw)
	}

	// The round advances, the devices show, the picture arrives.
	poll(t, ctx, "a global round number", `/^[0-9]+$/.test(document.getElementById("round").textContent)`)
	r1, _ := strconv.Atoi(text(t, ctx, `document.getElementById("round").textContent`))
	poll(t, ctx, fmt.Sprintf("the round to advance past %d", r1), fmt.Sprintf(`+document.getElementById("round").textContent > %d`, r1))
	for _, d := range a.Devices {
		poll(t, ctx, "device "+d+" live or late", fmt.Sprintf(`(() => { const e = document.querySelector('.community[data-id="a"] .device[data-id="%s"]'); return !!e && (e.dataset.state === "live" || e.dataset.state === "late"); })()`, d))
	}
	poll(t, ctx, "community b's card (from the cloud's bridged status)", `!!document.querySelector('.community[data-id="b"]')`)
	poll(t, ctx, "the preview picture", `(() => { const i = document.getElementById("preview"); return !i.hidden && i.complete && i.naturalWidth > 0; })()`)
	poll(t, ctx, "the loss and quality curves", `document.querySelectorAll("#loss-chart polyline").length > 0 && document.querySelectorAll("#quality-chart polyline").length > 0`)
	poll(t, ctx, "a device weight", `document.querySelector('.community[data-id="a"] .wv').textContent !== ""`)
	if *dashboardShot != "" {
		time.Sleep(20 * time.Second) // more points on the curves
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*dashboardShot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", *dashboardShot, len(png))
	}

	// The cloud's page: anonymous access is allowed there.
	cloudURL := fmt.Sprintf("http://127.0.0.1:%d/dashboard/", tp.CloudHTTP)
	if err := chromedp.Do(ctx, chromedp.Navigate(cloudURL), chromedp.WaitVisible(chromedp.CSS("#anon")),
		chromedp.Click(chromedp.CSS("#anon"))); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the cloud's dashboard to connect anonymously", `document.getElementById("conn").dataset.state === "connected"`)
	poll(t, ctx, "both communities with their Eq. 1 weights", `["a", "b"].every((c) => { const e = document.querySelector('.community[data-id="' + c + '"]'); return !!e && e.textContent.includes("Eq. 1 weight"); })`)
	poll(t, ctx, "the cloud's round", `+document.getElementById("round").textContent >= 1`)
	poll(t, ctx, "the preview picture on the cloud", `(() => { const i = document.getElementById("preview"); return !i.hidden && i.complete && i.naturalWidth > 0; })()`)

	if p := problems(); len(p) > 0 {
		t.Errorf("the pages reported problems:\n%s", strings.Join(p, "\n"))
	}
}

// httpGet fetches url with the bearer token and returns the body.
func httpGet(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}
