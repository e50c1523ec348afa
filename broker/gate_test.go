package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"golang.org/x/crypto/bcrypt"

	"github.com/fedgan/fedgan/internal/clock"
)

// refused returns the broker's refusal count for reason.
func refused(b *running, reason string) int64 { return b.Stats().Refused[reason] }

// closedWithin reports whether the peer closes c within d (a read that
// ends in EOF or a reset, not in our own deadline).
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var buf [64]byte
	for {
		_, err := c.Read(buf[:])
		if err == nil {
			continue
		}
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
}

func TestSilentSocketsClosedAtDeadline(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	ca, caKey := newCA(t)
	srvDER, srvKey := issue(t, ca, caKey, "broker", true)
	writePEM(t, filepath.Join(dir, "srv.pem"), "CERTIFICATE", srvDER)
	writeKey(t, filepath.Join(dir, "srv.key"), srvKey)
	const timeout = 300 * time.Millisecond
	b := startBroker(t, Config{
		AllowAnonymous: true, ConnectTimeout: timeout,
		TLS: &TLSConfig{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, "srv.pem"), KeyFile: filepath.Join(dir, "srv.key")},
	})
	const plain, silentTLS = 40, 20
	var conns []net.Conn
	for i := range plain + silentTLS {
		addr := b.Addr()
		if i >= plain {
			addr = b.TLSAddr()
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		conns = append(conns, c)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var open atomic.Int32
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !closedWithin(c, timeout+3*time.Second) {
				open.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := open.Load(); n > 0 {
		t.Fatalf("%d silent sockets still open %v after the %v deadline", n, time.Since(start), timeout)
	}
	eventually(t, "refusals counted", func() bool {
		return refused(b, RefusedConnectTimeout) == plain && refused(b, RefusedTLSTimeout) == silentTLS
	})
	if p, a := b.gate.counts(); p != 0 || a != 0 {
		t.Errorf("gate after every socket closed: %d pending, %d addresses; want 0, 0", p, a)
	}
	// A client that does connect in time is unaffected, and keeps its
	// connection past the connect deadline.
	c := mustDial(t, b.Addr(), "late", "", "")
	time.Sleep(2 * timeout)
	if !c.IsConnectionOpen() {
		t.Errorf("an authenticated client was closed by the connect deadline")
	}
}

func TestSocketCaps(t *testing.T) {
	checkGoroutines(t)
	t.Run("pending", func(t *testing.T) {
		b := startBroker(t, Config{AllowAnonymous: true, MaxPending: 5})
		var conns []net.Conn
		for range 5 {
			c, err := net.Dial("tcp", b.Addr())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			conns = append(conns, c)
		}
		eventually(t, "5 pending sockets", func() bool { p, _ := b.gate.counts(); return p == 5 })
		extra, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer extra.Close()
		if !closedWithin(extra, 2*time.Second) {
			t.Errorf("socket 6 with 5 pending: still open, want closed at once")
		}
		eventually(t, "one max_pending refusal", func() bool { return refused(b, RefusedMaxPending) == 1 })
		for _, c := range conns {
			_ = c.Close()
		}
		eventually(t, "pending sockets released", func() bool { p, _ := b.gate.counts(); return p == 0 })
		mustDial(t, b.Addr(), "after", "", "")
	})
	t.Run("per address", func(t *testing.T) {
		b := startBroker(t, Config{AllowAnonymous: true, MaxConnsPerAddr: 2})
		mustDial(t, b.Addr(), "a1", "", "")
		mustDial(t, b.Addr(), "a2", "", "")
		if _, err := dial(t, b.Addr(), "a3", "", ""); err == nil {
			t.Errorf("third connection from one address with a cap of 2: accepted")
		}
		// The client may see the socket closed before the broker has
		// counted the refusal.
		eventually(t, "one per_address refusal", func() bool { return refused(b, RefusedPerAddress) == 1 })
	})
	t.Run("max clients", func(t *testing.T) {
		b := startBroker(t, Config{AllowAnonymous: true, MaxClients: 3})
		for _, id := range []string{"c1", "c2", "c3"} {
			mustDial(t, b.Addr(), id, "", "")
		}
		_, err := dial(t, b.Addr(), "c4", "", "")
		if !errors.Is(err, packets.ErrorRefusedServerUnavailable) {
			t.Errorf("client 4 of 3: %v, want CONNACK server unavailable", err)
		}
		eventually(t, "max_clients counted", func() bool { return refused(b, RefusedMaxClients) == 1 })
	})
}

// TestLoginStorm: wrong passwords from many parallel connections cost a
// bounded number of bcrypt checks, the honest client's publishes go on
// being acknowledged during the storm, and it reconnects afterwards. How
// much the storm slows it is a rate, measured by BenchmarkLoginStorm.
func TestLoginStorm(t *testing.T) {
	checkGoroutines(t)
	st := loginStorm(t)
	t.Logf("quiet %.0f publishes/s, during the storm %.0f; bcrypt checks %d, refused without one %d",
		st.quiet, st.storm, st.checked, st.fast)
	// Attempts that passed the backoff check before the fifth failure was
	// recorded may still run, one slot at a time.
	if st.checked < 1 || st.checked > stormFree+stormParallel {
		t.Errorf("%d of %d wrong passwords were checked with bcrypt, want at most %d", st.checked, stormAttempts, stormFree+stormParallel)
	}
	if st.checked+st.fast != stormAttempts {
		t.Errorf("refusals: %d checked + %d refused fast, want %d in all", st.checked, st.fast, stormAttempts)
	}
	if st.stormN == 0 {
		t.Errorf("the honest client published nothing during the storm")
	}
	// The honest device reconnects on its cached password.
	st.honest.Disconnect(50)
	mustDial(t, st.addr, "d1", "d1", "pw1")
}

// BenchmarkLoginStorm reports the honest client's QoS 1 publishes per
// second before and during a storm of wrong passwords, and their ratio
// (docs/RESULTS.md §6):
//
//	go test ./broker -run '^$' -bench LoginStorm -benchtime 5x
func BenchmarkLoginStorm(b *testing.B) {
	var quiet, storm float64
	for range b.N {
		st := loginStorm(b)
		quiet += st.quiet
		storm += st.storm
	}
	b.ReportMetric(quiet/float64(b.N), "quiet-pub/s")
	b.ReportMetric(storm/float64(b.N), "storm-pub/s")
	b.ReportMetric(storm/quiet, "storm/quiet")
}

const stormFree, stormSlots, stormAttempts, stormParallel = 5, 1, 200, 20

// stormResult is what loginStorm measured.
type stormResult struct {
	addr          string
	honest        *client
	quiet, storm  float64 // honest publishes per second
	stormN        int     // honest publishes acknowledged during the storm
	checked, fast int     // wrong passwords checked with bcrypt, refused without
}

// loginStorm measures an honest client's publish rate alone, then while
// stormParallel connections try stormAttempts wrong passwords for the
// same user, on a broker whose backoff blocks the storm after stormFree
// failures for the rest of the run.
func loginStorm(tb testing.TB) stormResult {
	strong, err := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.DefaultCost)
	if err != nil {
		tb.Fatal(err)
	}
	b := fleet(tb, func(c *Config) {
		c.PublishRate = -1 // the honest client publishes as fast as it can
		c.Users = append(c.Users, User{Name: "victim", PasswordHash: string(strong), Rules: DeviceRules(tp, "c1", "victim"), ClientIDMustMatch: true})
		c.AuthFreeFailures, c.AuthConcurrency = stormFree, stormSlots
		c.AuthBackoff, c.AuthBackoffMax = time.Minute, time.Hour // the storm stays blocked for the whole run
	})
	honest := mustDial(tb, b.Addr(), "d1", "d1", "pw1")
	rate := func(d time.Duration) (float64, int) {
		n, start := 0, time.Now()
		for time.Since(start) < d {
			if err := publish(tb, honest, tp.Feedback("c1", "d1"), 1, false, "x"); err != nil {
				tb.Fatalf("honest publish: %v", err)
			}
			n++
		}
		return float64(n) / time.Since(start).Seconds(), n
	}
	res := stormResult{addr: b.Addr(), honest: honest}
	res.quiet, _ = rate(500 * time.Millisecond)

	var wg sync.WaitGroup
	work := make(chan int, stormAttempts)
	for i := range stormAttempts {
		work <- i
	}
	close(work)
	for range stormParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if _, err := dial(tb, b.Addr(), "victim", "victim", "wrong"); err == nil {
					tb.Error("wrong password accepted")
				}
			}
		}()
	}
	res.storm, res.stormN = rate(500 * time.Millisecond)
	wg.Wait()

	s := b.Stats()
	res.checked = int(s.Refused[RefusedWrongPassword])
	res.fast = int(s.Refused[RefusedAuthBackoff] + s.Refused[RefusedAuthBusy])
	return res
}

func TestAuthBackoffGrowsAndExpires(t *testing.T) {
	checkGoroutines(t)
	fake := clock.NewFake(time.Unix(1e9, 0))
	b := fleet(t, func(c *Config) {
		c.Clock = fake
		c.AuthFreeFailures, c.AuthBackoff, c.AuthBackoffMax = 2, time.Second, time.Minute
	})
	try := func(pw string) error {
		_, err := dial(t, b.Addr(), "d2", "d2", pw)
		return err
	}
	for i := range 3 {
		if err := try("bad"); !errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) {
			t.Fatalf("failure %d: %v, want bad username or password", i+1, err)
		}
	}
	// Three failures, two free: 1 s of backoff, for the right password too.
	if err := try("pw2"); !errors.Is(err, packets.ErrorRefusedServerUnavailable) {
		t.Fatalf("right password during the backoff: %v, want server unavailable", err)
	}
	fake.Advance(time.Second)
	if err := try("bad"); !errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) {
		t.Fatalf("after the backoff: %v, want a bcrypt check", err)
	}
	// The fourth failure doubles the delay: 1 s is not enough.
	fake.Advance(time.Second)
	if err := try("pw2"); !errors.Is(err, packets.ErrorRefusedServerUnavailable) {
		t.Fatalf("1 s into a 2 s backoff: %v, want server unavailable", err)
	}
	fake.Advance(time.Second)
	if err := try("pw2"); err != nil {
		t.Fatalf("after the doubled backoff, right password: %v", err)
	}
	// A verified password is cached: a storm of wrong passwords from the
	// same address delays the users not yet verified, not d1 nor d2.
	mustDial(t, b.Addr(), "d1", "d1", "pw1").Disconnect(50)
	for range 4 {
		_ = try("bad")
	}
	if _, err := dial(t, b.Addr(), "d9", "d9", "pw9"); !errors.Is(err, packets.ErrorRefusedServerUnavailable) {
		t.Fatalf("d9 (never verified) during its address's backoff: %v, want server unavailable", err)
	}
	if _, err := dial(t, b.Addr(), "d1", "d1", "pw1"); err != nil {
		t.Errorf("d1 with a cached password during its address's backoff: %v", err)
	}
	if err := try("pw2"); err != nil {
		t.Errorf("d2 with a cached password during its own backoff: %v", err)
	}
	// The cache expires AuthCacheTTL after its last use.
	fake.Advance(DefaultAuthCacheTTL + time.Second)
	for range 3 {
		_ = try("bad")
	}
	if _, err := dial(t, b.Addr(), "d1", "d1", "pw1"); !errors.Is(err, packets.ErrorRefusedServerUnavailable) {
		t.Errorf("d1 after its cache expired, during its address's backoff: %v, want server unavailable", err)
	}
}

func TestAuthLimiterProperties(t *testing.T) {
	// For any number of failures the delay is within [0, max], never
	// shrinks while failures keep coming, and is 0 up to the free ones.
	fake := clock.NewFake(time.Unix(0, 0))
	for _, tc := range []struct {
		free      int
		base, max time.Duration
	}{{0, time.Millisecond, time.Second}, {5, time.Second, 5 * time.Minute}, {3, time.Hour, time.Hour}} {
		l := newAuthLimiter(&Config{AuthFreeFailures: tc.free, AuthBackoff: tc.base, AuthBackoffMax: tc.max, AuthConcurrency: 1, Clock: fake})
		var last time.Duration
		for n := 1; n <= 80; n++ {
			l.fail("k")
			d := l.blocked("k")
			switch {
			case d < 0 || d > tc.max:
				t.Fatalf("%+v: delay %v after %d failures, outside [0, %v]", tc, d, n, tc.max)
			case n <= tc.free && d != 0:
				t.Fatalf("%+v: delay %v after %d free failures", tc, d, n)
			case d < last:
				t.Fatalf("%+v: delay shrank from %v to %v at failure %d", tc, last, d, n)
			}
			last = d
		}
	}
}

func TestClientIDRules(t *testing.T) {
	checkGoroutines(t)
	b := fleet(t, func(c *Config) {
		for i := range c.Users {
			if c.Users[i].Name == "mon" {
				c.Users[i].ClientIDPrefix = "fedgan-"
			}
		}
	})
	// d1 is offline: the monitor still may not hold its id.
	if _, err := dial(t, b.Addr(), "d1", "mon", "pwm"); !errors.Is(err, packets.ErrorRefusedIDRejected) {
		t.Errorf("monitor as offline device d1: %v, want identifier rejected", err)
	}
	if _, err := dial(t, b.Addr(), "fedgan-", "mon", "pwm"); !errors.Is(err, packets.ErrorRefusedIDRejected) {
		t.Errorf("monitor as the bare prefix: %v, want identifier rejected", err)
	}
	mustDial(t, b.Addr(), "mon", "mon", "pwm").Disconnect(50) // its own name
	mon := mustDial(t, b.Addr(), "fedgan-watch-1", "mon", "pwm")
	if err := publish(t, mon, tp.Feedback("c1", "d1"), 1, false, "x"); err == nil {
		eventually(t, "monitor publish refused", func() bool { return b.Stats().WriteDenied > 0 })
	}
	// d1 connects while the monitor is on; a device's id must be its name.
	mustDial(t, b.Addr(), "d1", "d1", "pw1")
	if _, err := dial(t, b.Addr(), "d2", "d1", "pw1"); !errors.Is(err, packets.ErrorRefusedIDRejected) {
		t.Errorf("d1 as client id d2: %v, want identifier rejected", err)
	}
	if got := refused(b, RefusedClientID); got != 3 {
		t.Errorf("client_id refusals = %d, want 3", got)
	}
	// A user whose name starts with the monitor's prefix is refused at
	// configuration time.
	_, err := New(Config{Users: []User{
		{Name: "mon", PasswordHash: hash(t, "x"), ClientIDPrefix: "dev"},
		{Name: "dev7", PasswordHash: hash(t, "y"), ClientIDMustMatch: true},
	}}, nil)
	if err == nil || !strings.Contains(err.Error(), "ClientIDPrefix") {
		t.Errorf("a device name under the monitor's prefix: %v, want a configuration error", err)
	}
}

func TestDeviceCannotRetain(t *testing.T) {
	checkGoroutines(t)
	b := fleet(t)
	d1 := mustDial(t, b.Addr(), "d1", "d1", "pw1")
	d1.Publish(tp.Feedback("c1", "d1"), 1, true, "stuck")
	select {
	case <-d1.lost:
	case <-time.After(waitFor):
		t.Fatal("retained feedback: still connected, want disconnected")
	}
	if got := refused(b, RefusedRetain); got != 1 {
		t.Errorf("retain refusals = %d, want 1", got)
	}
	// Presence is retained by design (the protocol's).
	d1 = mustDial(t, b.Addr(), "d1", "d1", "pw1")
	if err := publish(t, d1, tp.Presence("c1", "d1"), 1, true, `{"state":"online"}`); err != nil {
		t.Fatal(err)
	}
	if !d1.IsConnectionOpen() {
		t.Error("retained presence disconnected the device")
	}
	// A new subscriber gets the retained presence and no feedback.
	mon := mustDial(t, b.Addr(), "mon-1", "mon", "pwm")
	fb, _ := subscribe(t, mon, tp.Feedback("c1", "d1"), 1)
	pres, _ := subscribe(t, mon, tp.Presence("c1", "d1"), 1)
	if m := next(t, pres, "retained presence"); !m.retained {
		t.Errorf("presence %+v not retained", m)
	}
	none(t, fb, "retained feedback")
}

func TestPublishRateDisconnects(t *testing.T) {
	checkGoroutines(t)
	fake := clock.NewFake(time.Unix(1e9, 0)) // time stands still: only the burst is available
	const burst = 10
	b := fleet(t, func(c *Config) { c.Clock, c.PublishRate, c.PublishBurst = fake, 100, burst })
	d1 := mustDial(t, b.Addr(), "d1", "d1", "pw1")
	for i := range burst {
		if err := publish(t, d1, tp.Feedback("c1", "d1"), 1, false, "x"); err != nil {
			t.Fatalf("publish %d within the burst: %v", i, err)
		}
	}
	fake.Advance(100 * time.Millisecond) // ten more
	for i := range burst {
		if err := publish(t, d1, tp.Feedback("c1", "d1"), 1, false, "x"); err != nil {
			t.Fatalf("publish %d after refilling: %v", i, err)
		}
	}
	d1.Publish(tp.Feedback("c1", "d1"), 1, false, "flood")
	select {
	case <-d1.lost:
	case <-time.After(waitFor):
		t.Fatal("publish over the rate: still connected")
	}
	if got := refused(b, RefusedPublishRate); got != 1 {
		t.Errorf("publish_rate refusals = %d, want 1", got)
	}
}

func TestTLSOnly(t *testing.T) {
	checkGoroutines(t)
	if _, err := New(Config{TLSOnly: true}, nil); err == nil {
		t.Error("TLSOnly without TLS: accepted")
	}
	dir := t.TempDir()
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	srvDER, srvKey := issue(t, ca, caKey, "broker", true)
	writePEM(t, filepath.Join(dir, "srv.pem"), "CERTIFICATE", srvDER)
	writeKey(t, filepath.Join(dir, "srv.key"), srvKey)
	plain := freeAddr(t)
	b := fleet(t, func(c *Config) {
		c.Addr, c.TLSOnly = plain, true
		c.TLS = &TLSConfig{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, "srv.pem"), KeyFile: filepath.Join(dir, "srv.key")}
	})
	if b.Addr() != "" {
		t.Errorf("Addr() = %q with TLSOnly, want empty", b.Addr())
	}
	if c, err := net.Dial("tcp", plain); err == nil {
		_ = c.Close()
		t.Errorf("something listens on the plain address %s", plain)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	mustDial(t, "ssl://"+b.TLSAddr(), "d1", "d1", "pw1", func(o *paho.ClientOptions) {
		o.SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	})
	// The services' own clients connect in-process.
	mustDial(t, "tcp://inproc", "d2", "d2", "pw2", func(o *paho.ClientOptions) {
		o.SetCustomOpenConnectionFn(func(*url.URL, paho.ClientOptions) (net.Conn, error) { return b.DialInternal() })
	})
}

func TestHTTPToken(t *testing.T) {
	checkGoroutines(t)
	b := startBroker(t, Config{HTTPAddr: "127.0.0.1:0", HTTPToken: "s3cret"})
	_, _ = dial(t, b.Addr(), "x", "", "") // one refusal, for /metrics
	get := func(path string, auth func(*http.Request)) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+b.HTTPAddr()+path, nil)
		if auth != nil {
			auth(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	for _, tc := range []struct {
		path string
		auth func(*http.Request)
		want int
	}{
		{"/healthz", nil, 200},
		{"/stats", nil, 401},
		{"/metrics", nil, 401},
		{"/stats", bearer("wrong"), 401},
		{"/stats", bearer("s3cret"), 200},
		{"/metrics", func(r *http.Request) { r.SetBasicAuth("prometheus", "s3cret") }, 200},
	} {
		code, body := get(tc.path, tc.auth)
		if code != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.path, code, tc.want)
		}
		if tc.path == "/metrics" && code == 200 && !strings.Contains(body, `fedgan_broker_refused_total{reason="anonymous"} 1`) {
			t.Errorf("/metrics has no refusal count by reason:\n%s", body)
		}
	}
}
