package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// netListener is a mochi listeners.Listener over a socket bound by Run, so
// that "127.0.0.1:0" works and the bound address is known (mochi's own
// WebSocket and HTTP listeners report the configured address only). It
// tracks its goroutines so that Run can wait for them.
type netListener struct {
	id  string
	ln  net.Listener
	ws  bool
	log *slog.Logger

	closed atomic.Bool
	wg     sync.WaitGroup
	hs     *http.Server
	gate   *connGate // counts connections that end before they authenticate; nil for none
}

var _ listeners.Listener = (*netListener)(nil)

func (l *netListener) ID() string              { return l.id }
func (l *netListener) Address() string         { return l.ln.Addr().String() }
func (l *netListener) Init(*slog.Logger) error { return nil } // bound by Run
func (l *netListener) Protocol() string {
	if l.ws {
		return "ws"
	}
	return "tcp"
}

// newNetListener wraps a bound socket. Serve must be called exactly once
// (mochi's Serve does) before wait.
func newNetListener(id string, ln net.Listener, ws bool, log *slog.Logger) *netListener {
	l := &netListener{id: id, ln: ln, ws: ws, log: log}
	l.wg.Add(1) // released when Serve returns
	return l
}

// Serve accepts connections until Close. mochi runs it on its own
// goroutine.
func (l *netListener) Serve(establish listeners.EstablishFn) {
	defer l.wg.Done()
	if l.ws {
		l.serveWS(establish)
		return
	}
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if !l.closed.Load() {
				l.log.Error("accept failed; listener stopped", "error", err)
			}
			return
		}
		if l.closed.Load() {
			_ = conn.Close()
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			err := establish(l.id, conn)
			if err != nil && !isClosing(err) {
				l.log.Debug("client ended", "error", err, "remote", conn.RemoteAddr().String())
			}
			if l.gate != nil {
				l.gate.ended(conn, err)
			}
		}()
	}
}

func (l *netListener) serveWS(establish listeners.EstablishFn) {
	up := websocket.Upgrader{
		Subprotocols: []string{"mqtt"},
		CheckOrigin:  func(*http.Request) bool { return true },
	}
	l.hs = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			conn := &wsConn{Conn: c.UnderlyingConn(), c: c}
			if l.gate != nil {
				// The HTTP server reset the admission deadline: CONNECT
				// gets the connect timeout again.
				_ = conn.SetDeadline(time.Now().Add(l.gate.timeout))
			}
			err = establish(l.id, conn)
			if err != nil && !isClosing(err) {
				l.log.Debug("client ended", "error", err, "remote", r.RemoteAddr)
			}
			if l.gate != nil {
				l.gate.ended(conn, err)
			}
		}),
	}
	if err := l.hs.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !l.closed.Load() {
		l.log.Error("websocket listener stopped", "error", err)
	}
}

// Close stops accepting and disconnects this listener's clients.
func (l *netListener) Close(closeClients listeners.CloseFn) {
	if !l.closed.CompareAndSwap(false, true) {
		return
	}
	if l.hs != nil {
		// Shutdown does not wait for hijacked (upgraded) connections;
		// closeClients below ends them.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = l.hs.Shutdown(ctx)
		cancel()
	}
	_ = l.ln.Close()
	closeClients(l.id)
}

// wait blocks until Serve and every connection it started have returned.
func (l *netListener) wait() { l.wg.Wait() }

func isClosing(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, packets.ErrServerShuttingDown)
}

// wsConn carries MQTT over binary WebSocket messages (after mochi's
// listeners.wsConn).
type wsConn struct {
	net.Conn
	c *websocket.Conn
	r io.Reader // current message, or nil
}

func (ws *wsConn) Read(p []byte) (int, error) {
	for {
		if ws.r == nil {
			op, r, err := ws.c.NextReader()
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errors.New("broker: websocket message is not binary")
			}
			ws.r = r
		}
		n, err := ws.r.Read(p)
		if errors.Is(err, io.EOF) {
			ws.r = nil
			err = nil
			if n == 0 {
				continue
			}
		}
		return n, err
	}
}

func (ws *wsConn) Write(p []byte) (int, error) {
	if err := ws.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// pipeListener is the in-process listener: DialInternal hands one end of a
// net.Pipe to mochi. No socket, so it works with every network listener
// off. It keeps the server ends it handed out until their connection ends,
// so that Close can end them all: a client still connecting when the
// broker stops (not yet among mochi's clients, which closeClients
// disconnects) would otherwise attach afterwards and keep the broker's
// stop waiting for it.
type pipeListener struct {
	mu        sync.Mutex
	establish listeners.EstablishFn // nil until Serve, and again after Close
	closed    bool
	conns     map[net.Conn]struct{} // server ends whose establish has not returned
	wg        sync.WaitGroup
}

var _ listeners.Listener = (*pipeListener)(nil)

func newPipeListener() *pipeListener { return &pipeListener{conns: map[net.Conn]struct{}{}} }

func (l *pipeListener) ID() string              { return ListenerInproc }
func (l *pipeListener) Address() string         { return "inproc" }
func (l *pipeListener) Protocol() string        { return "pipe" }
func (l *pipeListener) Init(*slog.Logger) error { return nil }

// Serve records establish; connections come from dial.
func (l *pipeListener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.establish = establish
	}
}

// Close stops dial, disconnects this listener's clients, closes every
// connection it handed out, connected or still connecting, and waits for
// their establish calls to return. The wait matters: mochi's Close waits
// on a WaitGroup that each establish call adds to, and an establish
// started by dial just before Close would otherwise add to it while it is
// being waited on (a data race, and a client mochi never waits for).
func (l *pipeListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	l.closed, l.establish = true, nil
	l.mu.Unlock()
	closeClients(ListenerInproc)
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

var errNotServing = errors.New("broker: not serving")

func (l *pipeListener) dial() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.establish == nil {
		return nil, errNotServing
	}
	client, server := net.Pipe()
	establish := l.establish
	l.conns[server] = struct{}{}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		_ = establish(ListenerInproc, server)
		l.mu.Lock()
		delete(l.conns, server)
		l.mu.Unlock()
	}()
	return client, nil
}
