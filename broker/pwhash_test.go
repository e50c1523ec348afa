package broker

import (
	"testing"
)

// TestMosquittoPasswords: users whose hashes come from Mosquitto's own
// mosquitto_passwd (PBKDF2-SHA512 $7$, its default, and the older salted
// SHA-512 $6$) log in with their passwords and not with others, beside a
// bcrypt user, over a real socket.
func TestMosquittoPasswords(t *testing.T) {
	const (
		// mosquitto_passwd -c -b f carol 'pässwörd 7'
		carol = "$7$101$WeFBQzp1V2FlL8GE$LaWZz9Jfcirv2G0/4v9G3XTqQAHeIwtX0I4VLT/d/3RJHLLAH0i+uTECUaBN0pjEUhL9v4F2vtpZgLRV084BxQ=="
		// mosquitto_passwd -H sha512 -c -b f bob hunter2
		bob = "$6$aVVxx2+rXGARtzJ1$5S7xy0ddIXSYCwiwRiUpaBQ8FmPIc4p4s1Cj9dM+WYTE+1qJODDvNQn7TdBvqEnT+kEBqj9XCO3Cr26628UXPg=="
	)
	b := startBroker(t, Config{Users: []User{
		{Name: "carol", PasswordHash: carol},
		{Name: "bob", PasswordHash: bob},
		{Name: "dave", PasswordHash: hash(t, "bcrypt pw")},
	}})
	for _, tt := range []struct {
		user, pw string
		ok       bool
	}{
		{"carol", "pässwörd 7", true},
		{"carol", "pässwörd", false},
		{"bob", "hunter2", true},
		{"bob", "pässwörd 7", false},
		{"dave", "bcrypt pw", true},
		{"dave", "hunter2", false},
		{"eve", "hunter2", false},
	} {
		c, err := dial(t, b.Addr(), tt.user+"-1", tt.user, tt.pw)
		if (err == nil) != tt.ok {
			t.Errorf("%s with %q: %v, want ok %v", tt.user, tt.pw, err, tt.ok)
		}
		if err == nil {
			c.Disconnect(0)
		}
	}
	if _, err := New(Config{Users: []User{{Name: "x", PasswordHash: "hunter2"}}}, nil); err == nil {
		t.Error("a plain-text password as a hash was accepted")
	}
}
