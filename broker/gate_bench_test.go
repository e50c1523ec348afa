package broker

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// connectPacket is an MQTT 3.1.1 CONNECT with a clean session, a 60 s
// keepalive, client id id and, unless user is empty, credentials.
func connectPacket(id, user, pw string) []byte {
	flags := byte(0x02)
	if user != "" {
		flags |= 0xc0
	}
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 60}
	for _, f := range []string{id, user, pw} {
		if f != "" {
			body = append(append(body, byte(len(f)>>8), byte(len(f))), f...)
		}
	}
	return append([]byte{0x10, byte(len(body))}, body...)
}

// heapMiB is the heap and goroutine stacks in use after a collection.
func heapMiB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse+m.StackInuse) / (1 << 20)
}

// silent opens n sockets to addr that send nothing and reports when the
// broker has closed the last one.
func silent(b *testing.B, br *Broker, addr string, n int, timeout time.Duration, base float64) {
	before := br.Stats().Refused
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last time.Duration
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(timeout + 10*time.Second))
			_, _ = io.Copy(io.Discard, c)
			mu.Lock()
			last = max(last, time.Since(start))
			mu.Unlock()
		}()
	}
	during := heapMiB()
	wg.Wait()
	time.Sleep(100 * time.Millisecond) // the broker counts a socket just after closing it
	s := br.Stats().Refused
	b.Logf("%d silent sockets to %s (connect timeout %v, max pending %d): all closed %v after the first opened; "+
		"refused at accept %d, at the deadline %d (CONNECT) + %d (TLS); heap+stacks %.1f MiB before, %.1f while open, %.1f after",
		n, addr, timeout, DefaultMaxPending, last.Round(time.Millisecond), s[RefusedMaxPending]-before[RefusedMaxPending],
		s[RefusedConnectTimeout]-before[RefusedConnectTimeout], s[RefusedTLSTimeout]-before[RefusedTLSTimeout], base, during, heapMiB())
	b.ReportMetric(last.Seconds(), "s-to-close-all")
}

// BenchmarkGateSockets measures what silent sockets and idle sessions
// cost a broker with the default gate, and what client N+1 gets beyond
// MaxClients (docs/RESULTS.md §6):
//
//	go test ./broker -run '^$' -bench GateSockets -benchtime 1x -v
func BenchmarkGateSockets(b *testing.B) {
	for range b.N {
		gateSockets(b)
	}
}

func gateSockets(b *testing.B) {
	dir := b.TempDir()
	ca, caKey := newCA(b)
	srvDER, srvKey := issue(b, ca, caKey, "broker", true)
	writePEM(b, filepath.Join(dir, "srv.pem"), "CERTIFICATE", srvDER)
	writeKey(b, filepath.Join(dir, "srv.key"), srvKey)
	const timeout = 2 * time.Second
	const plain, silentTLS, idle = 1000, 200, 1000
	// The shared account of a fleet of devices, rules per client id.
	fleetHash, err := bcrypt.GenerateFromPassword([]byte("fleet-pw"), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	br, err := New(Config{
		Users: []User{{Name: "fleet", PasswordHash: string(fleetHash), Rules: DeviceRules(tp, "c1", "%c")}},
		Addr:  "127.0.0.1:0", AllowAnonymous: true, ConnectTimeout: timeout, MaxClients: idle,
		TLS: &TLSConfig{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, "srv.pem"), KeyFile: filepath.Join(dir, "srv.key")},
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = br.Run(ctx) }()
	<-br.Ready()
	base := heapMiB()

	// Silent sockets: how long until the broker has closed them all.
	silent(b, br, br.Addr(), plain, timeout, base)
	silent(b, br, br.TLSAddr(), silentTLS, timeout, base)

	// Idle authenticated sessions (the first pays bcrypt, the others hit
	// the cache): the heap and stacks each costs (client sockets are raw,
	// so the figure is the broker's).
	base = heapMiB()
	conns := make([]net.Conn, 0, idle)
	for i := range idle {
		c, err := net.Dial("tcp", br.Addr())
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write(connectPacket("idle"+strconv.Itoa(i), "fleet", "fleet-pw")); err != nil {
			b.Fatal(err)
		}
		ack := make([]byte, 4)
		if _, err := io.ReadFull(c, ack); err != nil || ack[3] != 0 {
			b.Fatalf("session %d: CONNACK %x, %v", i, ack, err)
		}
	}
	perSession := (heapMiB() - base) * (1 << 20) / idle
	b.Logf("%d idle sessions: %.1f KiB of broker heap each", idle, perSession/1024)
	b.ReportMetric(perSession/1024, "KiB/session")

	// Client N+1.
	c, err := net.Dial("tcp", br.Addr())
	if err != nil {
		b.Fatal(err)
	}
	_, _ = c.Write(connectPacket("one-too-many", "fleet", "fleet-pw"))
	ack := make([]byte, 4)
	_, err = io.ReadFull(c, ack)
	b.Logf("client %d with MaxClients %d: CONNACK % x (%v), then closed; counted max_clients=%d", idle+1, idle, ack, err, br.Stats().Refused[RefusedMaxClients])
	_ = c.Close()
	for _, c := range conns {
		_ = c.Close()
	}
}
