package pwhash

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// ErrFormat is the cause of every unreadable hash.
var ErrFormat = errors.New("pwhash: not a bcrypt ($2…), PBKDF2-SHA512 ($7$…) or SHA-512 ($6$…) hash")

// MaxIterations bounds a $7$ hash's PBKDF2 iterations, so that a hash in
// a file cannot make each login cost minutes.
const MaxIterations = 1_000_000

// hash is a parsed hash.
type hash struct {
	scheme     string // "2" bcrypt, "6", "7"
	bcrypt     []byte
	iterations int
	salt, sum  []byte
}

func parse(s string) (hash, error) {
	switch {
	case strings.HasPrefix(s, "$2"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil {
			return hash{}, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		return hash{scheme: "2", bcrypt: []byte(s)}, nil
	case strings.HasPrefix(s, "$7$"):
		f := strings.Split(s[3:], "$")
		if len(f) != 3 {
			return hash{}, fmt.Errorf("%w: $7$ wants $7$iterations$salt$hash", ErrFormat)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 1 || n > MaxIterations {
			return hash{}, fmt.Errorf("%w: $7$ iterations %q not in [1, %d]", ErrFormat, f[0], MaxIterations)
		}
		h := hash{scheme: "7", iterations: n}
		if h.salt, h.sum, err = saltAndSum(f[1], f[2]); err != nil {
			return hash{}, err
		}
		return h, nil
	case strings.HasPrefix(s, "$6$"):
		f := strings.Split(s[3:], "$")
		if len(f) != 2 {
			return hash{}, fmt.Errorf("%w: $6$ wants $6$salt$hash", ErrFormat)
		}
		salt, sum, err := saltAndSum(f[0], f[1])
		if err != nil {
			return hash{}, err
		}
		return hash{scheme: "6", salt: salt, sum: sum}, nil
	}
	return hash{}, ErrFormat
}

func saltAndSum(salt64, sum64 string) (salt, sum []byte, err error) {
	if salt, err = base64.StdEncoding.DecodeString(salt64); err != nil || len(salt) == 0 {
		return nil, nil, fmt.Errorf("%w: the salt is not base64", ErrFormat)
	}
	if sum, err = base64.StdEncoding.DecodeString(sum64); err != nil || len(sum) != sha512.Size {
		return nil, nil, fmt.Errorf("%w: the hash is not 64 bytes of base64", ErrFormat)
	}
	return salt, sum, nil
}

// Check reports whether s is a hash Verify can check.
func Check(s string) error {
	_, err := parse(s)
	return err
}

// Verify reports whether password matches the hash s; an unreadable hash
// matches nothing. The comparison of the derived bytes is constant-time.
func Verify(s string, password []byte) bool {
	h, err := parse(s)
	if err != nil {
		return false
	}
	return h.verify(password)
}

func (h hash) verify(password []byte) bool {
	switch h.scheme {
	case "2":
		return bcrypt.CompareHashAndPassword(h.bcrypt, password) == nil
	case "7":
		sum, err := pbkdf2.Key(sha512.New, string(password), h.salt, h.iterations, sha512.Size)
		return err == nil && subtle.ConstantTimeCompare(sum, h.sum) == 1
	case "6":
		d := sha512.New()
		d.Write(password)
		d.Write(h.salt)
		return subtle.ConstantTimeCompare(d.Sum(nil), h.sum) == 1
	}
	return false
}

// Like returns a hash of a random password in s's scheme and cost, which
// a broker verifies for unknown users so that a wrong name costs what a
// wrong password costs (no name can be told from the timing). An
// unreadable s gives a bcrypt hash at bcrypt's lowest cost.
func Like(s string) string {
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	h, err := parse(s)
	if err != nil {
		h = hash{scheme: "2", bcrypt: []byte("$2a$04$")}
	}
	switch h.scheme {
	case "7":
		salt := make([]byte, len(h.salt))
		_, _ = rand.Read(salt)
		sum, _ := pbkdf2.Key(sha512.New, string(pw[:]), salt, h.iterations, sha512.Size)
		return "$7$" + strconv.Itoa(h.iterations) + "$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(sum)
	case "6":
		salt := make([]byte, len(h.salt))
		_, _ = rand.Read(salt)
		d := sha512.New()
		d.Write(pw[:])
		d.Write(salt)
		return "$6$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(d.Sum(nil))
	}
	cost, err := bcrypt.Cost(h.bcrypt)
	if err != nil {
		cost = bcrypt.MinCost
	}
	b, _ := bcrypt.GenerateFromPassword(pw[:], cost)
	return string(b)
}

// Bcrypt returns the bcrypt hash of password at cost (bcrypt's default
// when 0): what fedgan writes.
func Bcrypt(password string, cost int) (string, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("pwhash: %w", err)
	}
	return string(h), nil
}
