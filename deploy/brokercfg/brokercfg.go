package brokercfg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"

	"github.com/fedgan/fedgan/broker"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/wire"
)

// Internal is a service's own account on the broker it embeds: a random
// password that lives only in memory.
type Internal struct {
	User     string
	Password string
}

// NewInternal makes a random internal account. bcrypt's minimum cost is
// enough: the secret is 128 random bits that never leave the process.
func NewInternal(user string, rules []broker.Rule) (Internal, broker.User, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Internal{}, broker.User{}, err
	}
	pw := hex.EncodeToString(b[:])
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		return Internal{}, broker.User{}, err
	}
	return Internal{User: user, Password: pw}, broker.User{Name: user, PasswordHash: string(h), Rules: rules, ClientIDMustMatch: true}, nil
}

// Listeners is what a broker section of the topology (the cloud's or an
// edge's) says about its listeners and users.
type Listeners struct {
	Listen, WebSocket, HTTP, HTTPTokenFile string
	TLS                                    *config.TLS
	TLSOnly, AllowAnonymous                bool
	Monitor                                *config.Monitor
	// MaxClients is the default of limits.max_clients for this broker.
	MaxClients int
}

// Base fills the settings every embedded broker shares: listeners, the
// limits of the topology's limits section and the monitor user.
func Base(top *config.Topology, l Listeners) (broker.Config, error) {
	topics := wire.Topics{Root: top.Root}
	lim := top.Limits
	cfg := broker.Config{
		Addr: l.Listen, WSAddr: l.WebSocket, HTTPAddr: l.HTTP, AllowAnonymous: l.AllowAnonymous, TLSOnly: l.TLSOnly,
		// A payload at the limit plus the fixed header and the topic.
		MaxPacketSize:    lim.MaxPayload + 4096,
		MaxPendingWrites: lim.MaxPendingWrites,
		MaxClients:       lim.MaxClients,
		ConnectTimeout:   lim.ConnectTimeout.D(),
		MaxPending:       lim.MaxPendingConnections,
		MaxConnsPerAddr:  lim.MaxConnectionsPerAddress,
		PublishRate:      lim.PublishRate,
		PublishBurst:     lim.PublishBurst,
		ReceiveMaximum:   lim.ReceiveMaximum,
		AuthFreeFailures: lim.AuthFreeFailures,
		AuthBackoff:      lim.AuthBackoff.D(),
		AuthBackoffMax:   lim.AuthBackoffMax.D(),
		AuthConcurrency:  lim.AuthConcurrency,
		AuthCacheTTL:     lim.AuthCache.D(),
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = l.MaxClients
	}
	if l.HTTPTokenFile != "" {
		tok, err := top.ReadSecret(l.HTTPTokenFile)
		if err != nil {
			return cfg, err
		}
		if tok == "" {
			return cfg, fmt.Errorf("%w: http_token_file %s is empty", config.ErrConfig, l.HTTPTokenFile)
		}
		cfg.HTTPToken = tok
	}
	if t := l.TLS; t != nil && t.Listen != "" {
		cfg.TLS = &broker.TLSConfig{Addr: t.Listen, CertFile: top.Path(t.Cert), KeyFile: top.Path(t.Key), ClientCAFile: top.Path(t.CA)}
	}
	if mon := l.Monitor; mon != nil && mon.Username != "" {
		cfg.Users = append(cfg.Users, broker.User{Name: mon.Username, PasswordHash: mon.PasswordHash,
			Rules: broker.MonitorRules(topics), ClientIDPrefix: mon.ClientIDPrefix})
	}
	return cfg, nil
}

// ServiceClient is how a service's own client reaches the broker it
// embeds: in-process (no socket, so it works with the plain listener off),
// as its internal account.
func ServiceClient(b *broker.Broker, self Internal) mqttc.Options {
	return mqttc.Options{
		URL: "inproc://broker", Dial: b.DialInternal,
		ClientID: self.User, Username: self.User, Password: self.Password,
	}
}

// Users reads a password file ("user:bcrypt-hash" lines) and gives each
// user the rules rulesFor returns; a user rulesFor does not know is an
// error naming the file.
func Users(top *config.Topology, file string, rulesFor func(user string) ([]broker.Rule, bool)) ([]broker.User, error) {
	if file == "" {
		return nil, nil
	}
	path := top.Path(file)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: credentials: %w", config.ErrConfig, err)
	}
	users, err := config.ParsePasswordFile(b, path)
	if err != nil {
		return nil, err
	}
	var out []broker.User
	for name, hash := range users {
		rules, ok := rulesFor(name)
		if !ok {
			return nil, fmt.Errorf("%w: %s: user %q is not a device or edge of this topology", config.ErrConfig, path, name)
		}
		out = append(out, broker.User{Name: name, PasswordHash: hash, Rules: rules, ClientIDMustMatch: true})
	}
	return out, nil
}

// Serve runs b in g and waits until it listens. It reports false when ctx
// ended or the broker stopped first (g.Wait then says why).
func Serve(ctx context.Context, g *errgroup.Group, b *broker.Broker) bool {
	g.Go(func() error { return b.Run(ctx) })
	select {
	case <-b.Ready():
		return true
	case <-b.Done():
	case <-ctx.Done():
	}
	return false
}

// LogExposure says in a service's start log where its broker can be
// reached from: loopback only (the default with no listen key, as
// Mosquitto 2 does), or every interface, at level.
func LogExposure(log *slog.Logger, level slog.Level, b *broker.Broker) {
	for _, l := range []struct{ name, addr string }{{"tcp", b.Addr()}, {"tls", b.TLSAddr()}, {"ws", b.WSAddr()}, {"http", b.HTTPAddr()}} {
		if l.addr == "" {
			continue
		}
		host, _, _ := net.SplitHostPort(l.addr)
		ip := net.ParseIP(host)
		switch {
		case ip != nil && ip.IsLoopback():
			log.Log(context.Background(), level, "listener on loopback only: other hosts cannot connect (set its address, e.g. listen: 0.0.0.0:1883, to accept them)",
				slog.String("listener", l.name), slog.String("addr", l.addr))
		case ip != nil && ip.IsUnspecified():
			log.Log(context.Background(), level, "listener on every interface", slog.String("listener", l.name), slog.String("addr", l.addr))
		}
	}
}
