package broker

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestHandle(t *testing.T) {
	checkGoroutines(t)
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "page "+r.URL.Path) })
	for _, tok := range []string{"", "s3cret"} {
		t.Run("token="+tok, func(t *testing.T) {
			b := startBroker(t, Config{HTTPAddr: "127.0.0.1:0", HTTPToken: tok})
			if err := b.Handle("GET /dashboard/", page); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"GET /stats", "GET /dashboard/", "GET /{x", "BAD PATTERN HERE"} {
				if err := b.Handle(p, page); err == nil {
					t.Errorf("Handle(%q): nil error, want a conflict or a malformed pattern", p)
				}
			}
			if err := b.Handle("GET /x", nil); err == nil {
				t.Error("Handle with a nil handler: nil error")
			}
			get := func(path, auth string) (int, string) {
				t.Helper()
				req, _ := http.NewRequest("GET", "http://"+b.HTTPAddr()+path, nil)
				if auth != "" {
					req.Header.Set("Authorization", "Bearer "+auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(body)
			}
			code, body := get("/dashboard/app.js", "")
			if tok == "" {
				if code != 200 || body != "page /dashboard/app.js" {
					t.Fatalf("GET /dashboard/app.js: %d %q", code, body)
				}
				return
			}
			if code != 401 {
				t.Fatalf("GET /dashboard/app.js without the token: %d, want 401", code)
			}
			if code, body := get("/dashboard/app.js", tok); code != 200 || !strings.HasPrefix(body, "page ") {
				t.Fatalf("GET /dashboard/app.js with the token: %d %q", code, body)
			}
			if code, _ := get("/healthz", ""); code != 200 {
				t.Errorf("/healthz: %d, want 200 (open)", code)
			}
		})
	}
}
