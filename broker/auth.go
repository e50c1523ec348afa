package broker

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fedgan/fedgan/internal/clock"
	"github.com/fedgan/fedgan/internal/pwhash"
	"github.com/fedgan/fedgan/wire"
)

// authHook is the broker's only authentication and ACL hook. It denies by
// default: a client is accepted only by a user entry (or anonymous access),
// and a topic only by a rule.
//
// Passwords are bcrypt hashes, or Mosquitto's PBKDF2-SHA512 and SHA-512
// hashes (package pwhash). bcrypt costs ~50-100 ms at cost 10 (more
// on ARM), so after a successful verification the hook remembers an
// HMAC-SHA256 of the password, keyed by a random per-instance secret, for
// that user, for Config.AuthCacheTTL after its last use; a reconnect with
// the same password then costs one HMAC. The cache holds at most one
// entry per configured user. Failed attempts pay the full cost, unknown
// users included (against a dummy hash in the first user's scheme and
// cost), so timing tells nothing about which usernames exist while the
// users share one scheme; authLimiter bounds how many run.
//
// The checks run in OnConnect, which lets the hook answer each refusal
// with its own CONNACK code (bad credentials, identifier rejected, server
// unavailable, not authorized); OnConnectAuthenticate then only accepts
// the clients OnConnect let through.
type authHook struct {
	mqtt.HookBase

	srv        *mqtt.Server     // to answer refusals
	clients    *mqtt.Clients    // the server's, to refuse session takeovers across users
	users      map[string]*User // read-only after construction
	anonymous  bool
	anonRules  []Rule
	mtlsListen string // listener id whose clients need CN == client id; "" for none
	dummyHash  func() string
	limit      *authLimiter
	gate       *connGate
	ref        *refusals
	clock      clock.Clock
	cacheTTL   time.Duration

	cacheKey [32]byte
	mu       sync.Mutex
	verified map[string]cachedPassword // username → the last password that verified
	accepted sync.Map                  // *mqtt.Client → struct{}: passed OnConnect

	pubRate, pubBurst float64
	buckets           sync.Map // *mqtt.Client → *bucket (pubgate.go)

	log *slog.Logger
	c   *counters
}

type cachedPassword struct {
	mac  [32]byte
	used time.Time
}

// counters are the broker's own counters (mochi keeps the rest in its
// system.Info).
type counters struct {
	authFailures atomic.Int64
	readDenied   atomic.Int64
	writeDenied  atomic.Int64
	tooLarge     atomic.Int64
	readErrors   atomic.Int64
}

func newAuthHook(cfg *Config, srv *mqtt.Server, mtlsListener string, gate *connGate, ref *refusals, log *slog.Logger, c *counters) (*authHook, error) {
	h := &authHook{
		srv:        srv,
		clients:    srv.Clients,
		users:      make(map[string]*User, len(cfg.Users)),
		anonymous:  cfg.AllowAnonymous,
		anonRules:  cfg.AnonymousRules,
		mtlsListen: mtlsListener,
		limit:      newAuthLimiter(cfg),
		gate:       gate,
		ref:        ref,
		clock:      clock.Or(cfg.Clock),
		cacheTTL:   cfg.AuthCacheTTL,
		verified:   make(map[string]cachedPassword),
		pubRate:    cfg.PublishRate,
		pubBurst:   float64(cfg.PublishBurst),
		log:        log,
		c:          c,
	}
	for i := range cfg.Users {
		u := cfg.Users[i]
		h.users[u.Name] = &u
	}
	if _, err := rand.Read(h.cacheKey[:]); err != nil {
		return nil, err
	}
	// A hash of a random password in the scheme and at the cost the users
	// have, so that a failed lookup costs as much as a failed
	// verification. Made on first use: it costs as much as a verification.
	like := "" // no users: no names to hide
	if len(cfg.Users) > 0 {
		like = cfg.Users[0].PasswordHash
	}
	h.dummyHash = sync.OnceValue(func() string { return pwhash.Like(like) })
	return h, nil
}

// ID implements mqtt.Hook.
func (h *authHook) ID() string { return "fedgan-auth" }

// Provides implements mqtt.Hook.
func (h *authHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPacketRead, mqtt.OnDisconnect:
		return true
	}
	return false
}

// refusal is why a client may not connect, and what its CONNACK says.
type refusal struct {
	reason string // one of the Refused* constants
	detail string
	code   connackKind
}

type connackKind int

const (
	badCredentials connackKind = iota
	idRejected
	unavailable
	notAuthorized
)

// connack returns the CONNACK code of kind for a client of the protocol
// version given (MQTT 3.1.1 has four refusal codes; mochi maps only some
// 5.0 codes to them).
func (k connackKind) connack(version byte) packets.Code {
	if version < 5 {
		return [...]packets.Code{packets.ErrMalformedUsernameOrPassword, packets.Err3ClientIdentifierNotValid,
			packets.Err3ServerUnavailable, packets.Err3NotAuthorized}[k]
	}
	return [...]packets.Code{packets.ErrBadUsernameOrPassword, packets.ErrClientIdentifierNotValid,
		packets.ErrServerUnavailable, packets.ErrNotAuthorized}[k]
}

// OnConnect implements mqtt.Hook: it authenticates cl and, on a refusal,
// answers with its CONNACK code and ends the connection.
func (h *authHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	r := h.authenticate(cl, pk)
	if r.reason == "" {
		h.accepted.Store(cl, struct{}{})
		h.gate.authenticated(cl.Net.Conn)
		return nil
	}
	h.c.authFailures.Add(1)
	h.ref.refuse(r.reason, cl.Net.Remote, r.detail, "client_id", cl.ID,
		"username", string(pk.Connect.Username), "listener", cl.Net.Listener)
	// A 3.1.1 return code (below 0x80) goes out as is.
	code := r.code.connack(cl.Properties.ProtocolVersion)
	_ = h.srv.SendConnack(cl, code, false, nil)
	return code
}

// OnConnectAuthenticate implements mqtt.Hook: only clients that passed
// OnConnect are accepted.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	_, ok := h.accepted.LoadAndDelete(cl)
	return ok
}

// authenticate returns why cl may not connect, or a zero refusal.
func (h *authHook) authenticate(cl *mqtt.Client, pk packets.Packet) refusal {
	if r := h.checkCert(cl); r.reason != "" {
		return r
	}
	name := string(pk.Connect.Username)
	var rules []Rule
	if name == "" && !pk.Connect.UsernameFlag {
		if !h.anonymous {
			return refusal{RefusedAnonymous, "anonymous access is off", badCredentials}
		}
		rules = h.anonRules
		if usesSubst(rules, "%c") {
			if err := wire.ValidID(cl.ID); err != nil {
				return refusal{RefusedClientID, "invalid client id: " + err.Error(), idRejected}
			}
		}
	} else {
		u, r := h.checkUser(cl, name, pk.Connect.Password)
		if r.reason != "" {
			return r
		}
		if r := checkClientID(u, cl.ID); r.reason != "" {
			return r
		}
		rules = u.Rules
	}

	// A client id names a session: another user must not take it over
	// (and inherit its subscriptions), nor anyone the inline client's.
	if cl.ID == mqtt.InlineClientId || strings.HasPrefix(cl.ID, bridgeIDPrefix) {
		return refusal{RefusedClientID, "client id reserved", idRejected}
	}
	if old, ok := h.clients.Get(cl.ID); ok && string(old.Properties.Username) != name {
		return refusal{RefusedClientIDInUse, "client id in use by another user's session", idRejected}
	}

	// mochi publishes wills without an ACL check: check them here.
	if pk.Connect.WillFlag {
		topic := pk.Connect.WillTopic
		if !mqtt.IsValidFilter(topic, true) || !allowed(rules, name, cl.ID, topic, true) {
			return refusal{RefusedWillTopic, "will topic " + strconv.Quote(topic) + " not writable", notAuthorized}
		}
	}
	return refusal{}
}

// checkCert checks the client certificate on the mTLS listener.
func (h *authHook) checkCert(cl *mqtt.Client) refusal {
	if h.mtlsListen == "" || cl.Net.Listener != h.mtlsListen {
		return refusal{}
	}
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return refusal{RefusedClientCert, "mTLS listener without a TLS connection", badCredentials}
	}
	st := tc.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return refusal{RefusedClientCert, "no client certificate", badCredentials}
	}
	if cn := st.PeerCertificates[0].Subject.CommonName; cn != cl.ID {
		return refusal{RefusedClientCert, "client certificate CommonName " + strconv.Quote(cn) + " is not the client id", idRejected}
	}
	return refusal{}
}

// checkUser verifies name's password: from the cache when it verified
// recently, otherwise with bcrypt, within the limits of authLimiter.
func (h *authHook) checkUser(cl *mqtt.Client, name string, password []byte) (*User, refusal) {
	u, known := h.users[name]
	var sum [32]byte
	if known {
		sum = h.passwordMAC(u.Name, password)
		if h.cached(u.Name, sum) {
			return u, refusal{}
		}
	}
	host := hostOf(cl.Net.Remote)
	if wait := h.limit.blocked(addrKey(host), userKey(name)); wait > 0 {
		return nil, refusal{RefusedAuthBackoff, "too many failed logins: retry in " + wait.Round(time.Millisecond).String(), unavailable}
	}
	if !h.limit.acquire() {
		return nil, refusal{RefusedAuthBusy, "every password check is busy", unavailable}
	}
	defer h.limit.release()
	if !known {
		_ = pwhash.Verify(h.dummyHash(), password)
		h.limit.fail(addrKey(host), userKey(name))
		return nil, refusal{RefusedUnknownUser, "unknown user", badCredentials}
	}
	if !pwhash.Verify(u.PasswordHash, password) {
		h.limit.fail(addrKey(host), userKey(name))
		return nil, refusal{RefusedWrongPassword, "wrong password", badCredentials}
	}
	h.limit.succeed(userKey(name))
	h.mu.Lock()
	h.verified[u.Name] = cachedPassword{mac: sum, used: h.clock.Now()}
	h.mu.Unlock()
	return u, refusal{}
}

// checkClientID checks the client id a user asks for.
func checkClientID(u *User, id string) refusal {
	if u.ClientIDMustMatch && id != u.Name {
		return refusal{RefusedClientID, "client id must equal the username", idRejected}
	}
	if u.ClientIDPrefix != "" && id != u.Name && (!strings.HasPrefix(id, u.ClientIDPrefix) || len(id) == len(u.ClientIDPrefix)) {
		return refusal{RefusedClientID, "client id must be the username or start with " + strconv.Quote(u.ClientIDPrefix), idRejected}
	}
	if u.ClientIDMustMatch || usesSubst(u.Rules, "%c") {
		if err := wire.ValidID(id); err != nil {
			return refusal{RefusedClientID, "invalid client id: " + err.Error(), idRejected}
		}
	}
	return refusal{}
}

func (h *authHook) passwordMAC(name string, password []byte) [32]byte {
	mac := hmac.New(sha256.New, h.cacheKey[:])
	mac.Write([]byte(name))
	mac.Write([]byte{0})
	mac.Write(password)
	var sum [32]byte
	mac.Sum(sum[:0])
	return sum
}

// cached reports whether sum is the MAC of name's last verified password,
// used within the cache TTL, and renews it.
func (h *authHook) cached(name string, sum [32]byte) bool {
	now := h.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.verified[name]
	if !ok || now.Sub(c.used) > h.cacheTTL {
		delete(h.verified, name)
		return false
	}
	if subtle.ConstantTimeCompare(c.mac[:], sum[:]) != 1 {
		return false
	}
	c.used = now
	h.verified[name] = c
	return true
}

// OnACLCheck implements mqtt.Hook. mochi calls it for a publish (write,
// topic), a subscription (read, filter) and each delivery (read, topic).
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	name := string(cl.Properties.Username)
	var rules []Rule
	if u, ok := h.users[name]; ok {
		rules = u.Rules
	} else if name == "" && h.anonymous {
		rules = h.anonRules
	}
	if allowed(rules, name, cl.ID, topic, write) {
		return true
	}
	if write {
		h.c.writeDenied.Add(1)
	} else {
		h.c.readDenied.Add(1)
	}
	h.log.Debug("acl denied", "client_id", cl.ID, "username", name, "topic", topic, "write", write)
	return false
}

// allowed applies rules in order: the first rule that matches decides.
// For write, topic is a topic name; for read it may be a filter (a
// subscription), and a rule matches when the filter is within the rule's.
func allowed(rules []Rule, username, clientID, topic string, write bool) bool {
	if !write {
		if rest, ok := strings.CutPrefix(topic, "$share/"); ok {
			// $share/{group}/{filter}: the group is not a topic level.
			_, f, ok := strings.Cut(rest, "/")
			if !ok {
				return false
			}
			topic = f
		}
	}
	for _, r := range rules {
		f := substitute(r.Filter, username, clientID)
		if write {
			if wire.Match(f, topic) {
				return r.Write
			}
		} else if filterWithin(topic, f) {
			return r.Read
		}
	}
	return false
}

func substitute(filter, username, clientID string) string {
	if !strings.Contains(filter, "%") {
		return filter
	}
	return strings.NewReplacer("%u", username, "%c", clientID).Replace(filter)
}

func usesSubst(rules []Rule, s string) bool {
	for _, r := range rules {
		if strings.Contains(r.Filter, s) {
			return true
		}
	}
	return false
}

// filterWithin reports whether every topic that filter sub matches is
// also matched by filter sup (MQTT 3.1.1 §4.7, as wire.Match implements
// it: '+' is one level, '#' any number of trailing levels including none,
// "a/#" matches "a", and a leading wildcard never matches a topic that
// starts with '$'). A topic name is a filter without wildcards, so
// filterWithin(topic, f) == wire.Match(f, topic).
func filterWithin(sub, sup string) bool {
	s := strings.Split(sub, "/")
	p := strings.Split(sup, "/")
	// sub can match a '$' topic only through a literal first level; such a
	// topic escapes a leading wildcard in sup.
	if strings.HasPrefix(s[0], "$") && (p[0] == "+" || p[0] == "#") {
		return false
	}
	for i, sl := range s {
		if i >= len(p) {
			return false // sub has topics deeper than sup can reach
		}
		pl := p[i]
		switch {
		case pl == "#":
			return true
		case sl == "#":
			// sub matches every depth from i on (from i-1 when i > 0, by
			// the parent rule). Only '#' in sup does, or "+/#" at the root:
			// it matches every topic of one level or more, as "#" does.
			return i == 0 && pl == "+" && len(p) == 2 && p[1] == "#"
		case pl == "+":
			// matches any single level, sub's '+' included
		case sl == "+" || sl != pl:
			return false
		}
	}
	// sub's topics have exactly len(s) levels.
	return len(p) == len(s) || (len(p) == len(s)+1 && p[len(s)] == "#")
}
