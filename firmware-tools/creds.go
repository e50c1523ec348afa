package firmwaretools

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/atomicfile"
)

// NewPassword returns a random password: 26 base32 characters, 130 bits
// from crypto/rand.
func NewPassword() string { return rand.Text() }

// SetUsers adds or replaces users in the password file at path ("user:
// bcrypt-hash" lines, as config.ParsePasswordFile reads): a listed user's
// line is replaced in place, others are appended, comments and the rest
// are kept, and no user is ever listed twice. The file is created if
// missing and written 0600 (secret material: never weaker).
func SetUsers(path string, hashes map[string]string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: credentials: %w", ErrProvision, err)
	}
	if _, err := config.ParsePasswordFile(old, path); err != nil {
		return fmt.Errorf("%w: %w", ErrProvision, err)
	}
	done := map[string]bool{}
	var lines []string
	for _, line := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		user, _, ok := strings.Cut(strings.TrimSpace(line), ":")
		if h, set := hashes[user]; ok && set && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			line = user + ":" + h
			done[user] = true
		}
		if line != "" || len(lines) > 0 {
			lines = append(lines, line)
		}
	}
	for _, u := range sortedKeys(hashes) {
		if !done[u] {
			lines = append(lines, u+":"+hashes[u])
		}
	}
	out := []byte(strings.Join(lines, "\n") + "\n")
	if _, err := config.ParsePasswordFile(out, path); err != nil {
		return fmt.Errorf("%w: %w", ErrProvision, err)
	}
	return atomicfile.Write(path, out, 0o600)
}

// hashPassword is bcrypt at cost (bcrypt.DefaultCost when 0).
func hashPassword(pw string, cost int) (string, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("firmwaretools: bcrypt: %w", err)
	}
	return string(h), nil
}

// writeSecret writes a one-line secret file, 0600.
func writeSecret(path, secret string) error {
	return atomicfile.Write(path, []byte(secret+"\n"), 0o600)
}
