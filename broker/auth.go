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

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/crypto/bcrypt"

	"github.com/fedgan/fedgan/wire"
)

// authHook is the broker's only authentication and ACL hook. It denies by
// default: a client is accepted only by a user entry (or anonymous access),
// and a topic only by a rule.
//
// Passwords are bcrypt hashes. bcrypt costs ~50-100 ms at cost 10 (more
// on ARM), so after a successful verification the hook remembers an
// HMAC-SHA256 of the password, keyed by a random per-instance secret, for
// that user; a reconnect with the same password then costs one HMAC.
// The cache holds at most one entry per configured user. Failed attempts
// always pay the full bcrypt cost, unknown users included (against a
// dummy hash), so timing tells nothing about which usernames exist.
type authHook struct {
	mqtt.HookBase

	clients    *mqtt.Clients    // the server's, to refuse session takeovers across users
	users      map[string]*User // read-only after construction
	anonymous  bool
	anonRules  []Rule
	mtlsListen string // listener id whose clients need CN == client id; "" for none
	dummyHash  func() []byte

	cacheKey [32]byte
	mu       sync.Mutex
	verified map[string][32]byte // username → HMAC of the last password that verified

	log *slog.Logger
	c   *counters
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

func newAuthHook(cfg *Config, clients *mqtt.Clients, mtlsListener string, log *slog.Logger, c *counters) (*authHook, error) {
	h := &authHook{
		clients:    clients,
		users:      make(map[string]*User, len(cfg.Users)),
		anonymous:  cfg.AllowAnonymous,
		anonRules:  cfg.AnonymousRules,
		mtlsListen: mtlsListener,
		verified:   make(map[string][32]byte),
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
	// A hash of a random password at the cost the users have, so that a
	// failed lookup costs as much as a failed verification. Made on first
	// use: it costs as much as a verification.
	cost := bcrypt.MinCost // no users: no names to hide
	if len(cfg.Users) > 0 {
		cost, _ = bcrypt.Cost([]byte(cfg.Users[0].PasswordHash))
	}
	h.dummyHash = sync.OnceValue(func() []byte {
		var pw [16]byte
		_, _ = rand.Read(pw[:])
		dummy, _ := bcrypt.GenerateFromPassword(pw[:], max(cost, bcrypt.MinCost))
		return dummy
	})
	return h, nil
}

// ID implements mqtt.Hook.
func (h *authHook) ID() string { return "fedgan-auth" }

// Provides implements mqtt.Hook.
func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// OnConnectAuthenticate implements mqtt.Hook.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if reason := h.authenticate(cl, pk); reason != "" {
		h.c.authFailures.Add(1)
		h.log.Warn("connection refused", "reason", reason, "client_id", cl.ID,
			"username", string(pk.Connect.Username), "remote", cl.Net.Remote, "listener", cl.Net.Listener)
		return false
	}
	return true
}

// authenticate returns why cl may not connect, or "".
func (h *authHook) authenticate(cl *mqtt.Client, pk packets.Packet) string {
	if h.mtlsListen != "" && cl.Net.Listener == h.mtlsListen {
		tc, ok := cl.Net.Conn.(*tls.Conn)
		if !ok {
			return "mTLS listener without a TLS connection"
		}
		st := tc.ConnectionState()
		if len(st.PeerCertificates) == 0 {
			return "no client certificate"
		}
		if cn := st.PeerCertificates[0].Subject.CommonName; cn != cl.ID {
			return "client certificate CommonName " + strconv.Quote(cn) + " is not the client id"
		}
	}

	name := string(pk.Connect.Username)
	var rules []Rule
	if name == "" && !pk.Connect.UsernameFlag {
		if !h.anonymous {
			return "anonymous access is off"
		}
		rules = h.anonRules
		if usesSubst(rules, "%c") {
			if err := wire.ValidID(cl.ID); err != nil {
				return "invalid client id: " + err.Error()
			}
		}
	} else {
		u, ok := h.users[name]
		if !ok {
			_ = bcrypt.CompareHashAndPassword(h.dummyHash(), pk.Connect.Password)
			return "unknown user"
		}
		if !h.checkPassword(u, pk.Connect.Password) {
			return "wrong password"
		}
		if u.ClientIDMustMatch && cl.ID != u.Name {
			return "client id must equal the username"
		}
		if u.ClientIDMustMatch || usesSubst(u.Rules, "%c") {
			if err := wire.ValidID(cl.ID); err != nil {
				return "invalid client id: " + err.Error()
			}
		}
		rules = u.Rules
	}

	// A client id names a session: another user must not take it over
	// (and inherit its subscriptions), nor anyone the inline client's.
	if cl.ID == mqtt.InlineClientId || strings.HasPrefix(cl.ID, bridgeIDPrefix) {
		return "client id reserved"
	}
	if old, ok := h.clients.Get(cl.ID); ok && string(old.Properties.Username) != name {
		return "client id in use by another user's session"
	}

	// mochi publishes wills without an ACL check: check them here.
	if pk.Connect.WillFlag {
		topic := pk.Connect.WillTopic
		if !mqtt.IsValidFilter(topic, true) || !allowed(rules, name, cl.ID, topic, true) {
			return "will topic " + strconv.Quote(topic) + " not writable"
		}
	}
	return ""
}

func (h *authHook) checkPassword(u *User, password []byte) bool {
	mac := hmac.New(sha256.New, h.cacheKey[:])
	mac.Write([]byte(u.Name))
	mac.Write([]byte{0})
	mac.Write(password)
	var sum [32]byte
	mac.Sum(sum[:0])

	h.mu.Lock()
	cached, ok := h.verified[u.Name]
	h.mu.Unlock()
	if ok && subtle.ConstantTimeCompare(cached[:], sum[:]) == 1 {
		return true
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), password) != nil {
		return false
	}
	h.mu.Lock()
	h.verified[u.Name] = sum
	h.mu.Unlock()
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
