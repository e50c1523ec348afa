package pwhash

import (
	"errors"
	"strings"
	"testing"
)

// Made by Mosquitto 2.0's own tool on this project's build machine:
//
//	mosquitto_passwd -c -b f carol 'pässwörd 7'          ($7$, its default)
//	mosquitto_passwd -H sha512 -c -b f bob hunter2        ($6$, Mosquitto ≤ 1.6)
const (
	mosquitto7 = "$7$101$WeFBQzp1V2FlL8GE$LaWZz9Jfcirv2G0/4v9G3XTqQAHeIwtX0I4VLT/d/3RJHLLAH0i+uTECUaBN0pjEUhL9v4F2vtpZgLRV084BxQ=="
	mosquitto6 = "$6$aVVxx2+rXGARtzJ1$5S7xy0ddIXSYCwiwRiUpaBQ8FmPIc4p4s1Cj9dM+WYTE+1qJODDvNQn7TdBvqEnT+kEBqj9XCO3Cr26628UXPg=="
)

func TestVerify(t *testing.T) {
	b, err := Bcrypt("s3cret", 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, hash, password string
		want                 bool
	}{
		{"mosquitto $7$", mosquitto7, "pässwörd 7", true},
		{"mosquitto $7$, wrong", mosquitto7, "pässwörd 8", false},
		{"mosquitto $7$, empty", mosquitto7, "", false},
		{"mosquitto $6$", mosquitto6, "hunter2", true},
		{"mosquitto $6$, wrong", mosquitto6, "hunter3", false},
		{"bcrypt", b, "s3cret", true},
		{"bcrypt, wrong", b, "s3cret!", false},
		{"garbage", "plain", "plain", false},
	} {
		if got := Verify(tt.hash, []byte(tt.password)); got != tt.want {
			t.Errorf("%s: Verify = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		hash string
		ok   bool
	}{
		{mosquitto7, true},
		{mosquitto6, true},
		{"$2a$04$abcdefghijklmnopqrstuu5Gv0ePo3Bu4xaHyxSdErbP1hOeq9k.W", true},
		{"$7$101$WeFBQzp1V2FlL8GE$short", false},
		{"$7$0$WeFBQzp1V2FlL8GE$" + mosquitto7[len(mosquitto7)-88:], false},
		{"$7$99999999$WeFBQzp1V2FlL8GE$" + mosquitto7[len(mosquitto7)-88:], false},
		{"$7$101$!!$" + mosquitto7[len(mosquitto7)-88:], false},
		{"$6$onlysalt", false},
		{"$2a$99$x", false},
		{"hunter2", false},
		{"", false},
	} {
		err := Check(tt.hash)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrFormat)) {
			t.Errorf("Check(%.30q) = %v, want ok %v", tt.hash, err, tt.ok)
		}
	}
}

// TestLike: the stand-in hash for unknown users has the scheme and cost of
// the real one, and no password anyone knows.
func TestLike(t *testing.T) {
	b, _ := Bcrypt("x", 5)
	for _, h := range []string{mosquitto7, mosquitto6, b, "garbage"} {
		d := Like(h)
		if err := Check(d); err != nil {
			t.Errorf("Like(%.12q) = %q: %v", h, d, err)
		}
		if h != "garbage" && d[:3] != h[:3] {
			t.Errorf("Like(%.12q) = %.12q: another scheme", h, d)
		}
		if Verify(d, []byte("x")) || Verify(d, nil) {
			t.Errorf("Like(%.12q) has a known password", h)
		}
	}
	if d := Like(mosquitto7); !strings.HasPrefix(d, "$7$101$") {
		t.Errorf("Like(101 iterations) = %.12q", d)
	}
	if d := Like(b); d[:7] != "$2a$05$" {
		t.Errorf("Like(bcrypt cost 5) = %.7q", d)
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{mosquitto7, mosquitto6, "$2a$04$abcdefghijklmnopqrstuu5Gv0ePo3Bu4xaHyxSdErbP1hOeq9k.W", "$7$1$$", "$6$$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Check(s) == nil && Verify(s, []byte("a password nobody chose 1f7c")) {
			t.Errorf("%q verifies a random password", s)
		}
	})
}
