package brokercfg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"

	"github.com/fedgan/fedgan/broker"
	"github.com/fedgan/fedgan/config"
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

// Base fills the settings every embedded broker shares: listeners, limits
// and the monitor user.
func Base(top *config.Topology, listen, ws, http string, t *config.TLS, anonymous bool, mon *config.Monitor) broker.Config {
	topics := wire.Topics{Root: top.Root}
	cfg := broker.Config{
		Addr: listen, WSAddr: ws, HTTPAddr: http, AllowAnonymous: anonymous,
		// A payload at the limit plus the fixed header and the topic.
		MaxPacketSize:    top.Limits.MaxPayload + 4096,
		MaxPendingWrites: top.Limits.MaxPendingWrites,
	}
	if t != nil && t.Listen != "" {
		cfg.TLS = &broker.TLSConfig{Addr: t.Listen, CertFile: top.Path(t.Cert), KeyFile: top.Path(t.Key), ClientCAFile: top.Path(t.CA)}
	}
	if mon != nil && mon.Username != "" {
		cfg.Users = append(cfg.Users, broker.User{Name: mon.Username, PasswordHash: mon.PasswordHash, Rules: broker.MonitorRules(topics)})
	}
	return cfg
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
