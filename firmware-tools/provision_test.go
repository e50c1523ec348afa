package firmwaretools

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/internal/mqttc"
)

// mode returns the permission bits of path.
func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func readUsers(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	users, err := config.ParsePasswordFile(b, path)
	if err != nil {
		t.Fatal(err) // also fails on a user listed twice
	}
	return users
}

func readLine(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestProvisionPasswords(t *testing.T) {
	f := newFixture(t, false)
	edgeCreds := filepath.Join(f.Dir, "edge-c1.passwd")
	// A hand-written line stays where it is.
	if err := os.WriteFile(edgeCreds, []byte("# devices of c1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, res := provisionFixture(t, f, CredAuto)

	if got, want := len(res.Devices), 2; got != want {
		t.Fatalf("provisioned %d devices, want %d", got, want)
	}
	for _, d := range res.Devices {
		if !d.Password || d.Cert || d.TLS {
			t.Errorf("%s: password %v cert %v tls %v; want a password only (auto, edge without TLS)", d.Device, d.Password, d.Cert, d.TLS)
		}
	}
	users := readUsers(t, edgeCreds)
	if got, want := len(users), 2; got != want {
		t.Errorf("edge credentials list %d users, want %d", got, want)
	}
	b, _ := os.ReadFile(edgeCreds)
	if !strings.HasPrefix(string(b), "# devices of c1\n") {
		t.Errorf("edge credentials lost their comment:\n%s", b)
	}
	for _, tc := range []struct {
		path string
		want os.FileMode
	}{
		{edgeCreds, 0o600},
		{filepath.Join(out, "devices", "d1"), 0o700},
		{filepath.Join(out, "devices", "d1", DevicePassword), 0o600},
		{filepath.Join(out, "devices", "d1", DeviceConfig), 0o644},
		{filepath.Join(f.Dir, "secrets", "d1.secret"), 0o600},
		{filepath.Join(f.Dir, "bridge-c1.secret"), 0o600},
		{filepath.Join(f.Dir, "cloud.passwd"), 0o600},
	} {
		if got := mode(t, tc.path); got != tc.want {
			t.Errorf("%s: mode %v, want %v", tc.path, got, tc.want)
		}
	}
	pw1 := readLine(t, filepath.Join(out, "devices", "d1", DevicePassword))
	if got := len(pw1); got != 26 {
		t.Errorf("password has %d characters, want 26 (130 random bits)", got)
	}
	if got := readLine(t, filepath.Join(f.Dir, "secrets", "d1.secret")); got != pw1 {
		t.Errorf("topology's d1 password file holds %q, want the provisioned %q", got, pw1)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(users["d1"]), []byte(pw1)); err != nil {
		t.Errorf("d1's hash does not verify its password: %v", err)
	}
	// The bridge user is on the cloud.
	bridgePW := readLine(t, filepath.Join(f.Dir, "bridge-c1.secret"))
	cloudUsers := readUsers(t, filepath.Join(f.Dir, "cloud.passwd"))
	if err := bcrypt.CompareHashAndPassword([]byte(cloudUsers["edge-c1"]), []byte(bridgePW)); err != nil {
		t.Errorf("cloud's edge-c1 hash does not verify the bridge password: %v", err)
	}

	// Provisioning d1 again rotates its password only; the bridge keeps its.
	d2Hash := users["d2"]
	if _, err := Provision(ProvisionOptions{Topology: f.Path(), Out: out, IDs: []string{"d1"}, Bridges: true, BcryptCost: bcrypt.MinCost}); err != nil {
		t.Fatal(err)
	}
	users2 := readUsers(t, edgeCreds)
	pw2 := readLine(t, filepath.Join(out, "devices", "d1", DevicePassword))
	if pw2 == pw1 {
		t.Error("re-provisioning kept d1's password; want a new one")
	}
	if err := bcrypt.CompareHashAndPassword([]byte(users2["d1"]), []byte(pw2)); err != nil {
		t.Errorf("d1's new hash does not verify its new password: %v", err)
	}
	if users2["d2"] != d2Hash {
		t.Error("re-provisioning d1 changed d2's hash")
	}
	if got := len(users2); got != 2 {
		t.Errorf("edge credentials list %d users after re-provisioning, want 2", got)
	}
	if got := readLine(t, filepath.Join(f.Dir, "bridge-c1.secret")); got != bridgePW {
		t.Error("re-provisioning changed the existing bridge password")
	}
	if got := readUsers(t, filepath.Join(f.Dir, "cloud.passwd"))["edge-c1"]; got != cloudUsers["edge-c1"] {
		t.Error("re-provisioning rewrote a bridge hash that still verified")
	}
}

func TestProvisionDefaultCost(t *testing.T) {
	f := newFixture(t, false)
	out := filepath.Join(f.Dir, "out")
	if _, err := Provision(ProvisionOptions{Topology: f.Path(), Out: out, IDs: []string{"d2"}}); err != nil {
		t.Fatal(err)
	}
	h := readUsers(t, filepath.Join(f.Dir, "edge-c1.passwd"))["d2"]
	cost, err := bcrypt.Cost([]byte(h))
	if err != nil {
		t.Fatal(err)
	}
	if cost != bcrypt.DefaultCost {
		t.Errorf("bcrypt cost %d, want %d", cost, bcrypt.DefaultCost)
	}
}

// The slice loads on its own and gives the device the same model, the
// same seed streams and the same local data as the whole topology.
func TestSliceIsTheDevicesView(t *testing.T) {
	f := newFixture(t, false)
	out, _ := provisionFixture(t, f, CredAuto)
	orig, err := config.Load(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"d1", "d2"} {
		path := filepath.Join(out, "devices", id, DeviceConfig)
		s, err := config.Load(path)
		if err != nil {
			t.Fatalf("%s: slice does not load: %v", id, err)
		}
		raw, _ := os.ReadFile(path)
		for _, secret := range []string{"password_hash", "bridge", "cloud.passwd", "secrets/", monitorPassword} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("%s: slice mentions %q; want nothing of the gateway's", id, secret)
			}
		}
		dev, comm, _, err := s.Device(id)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Path(dev.PasswordFile), filepath.Join(out, "devices", id, DevicePassword); got != want {
			t.Errorf("%s: password file resolves to %s, want %s", id, got, want)
		}
		if got, want := comm.Edge.Advertise, f.EdgeURL(); got != want {
			t.Errorf("%s: edge address %s, want %s", id, got, want)
		}
		if got, want := len(s.Communities), 1; got != want {
			t.Errorf("%s: %d communities, want %d (FR)", id, got, want)
		}
		if !reflect.DeepEqual(s.Spec(), orig.Spec()) {
			t.Errorf("%s: wire spec %+v, want %+v", id, s.Spec(), orig.Spec())
		}
		if !reflect.DeepEqual(s.DiscriminatorSpec(), orig.DiscriminatorSpec()) {
			t.Errorf("%s: discriminator %v, want %v", id, s.DiscriminatorSpec(), orig.DiscriminatorSpec())
		}
		if s.Training != orig.Training {
			t.Errorf("%s: training %+v, want %+v", id, s.Training, orig.Training)
		}
		got, err := deploy.DeviceData(s, id)
		if err != nil {
			t.Fatal(err)
		}
		want, err := deploy.DeviceData(orig, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Len() != want.Len() {
			t.Fatalf("%s: %d local rows, want %d", id, got.Len(), want.Len())
		}
		rg, rw := make([]float32, got.Dim), make([]float32, want.Dim)
		for i := 0; i < got.Len(); i += 37 {
			got.Row(rg, i)
			want.Row(rw, i)
			if !reflect.DeepEqual(rg, rw) {
				t.Fatalf("%s: row %d is %v, want %v", id, i, rg, rw)
			}
		}
	}
}

func TestSliceLR(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/lr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(dir, "lr.yaml")
	if err := os.WriteFile(top, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if _, err := Provision(ProvisionOptions{Topology: top, Out: out, IDs: []string{"a2", "b-d1"}, DataDir: DefaultDataDir, BcryptCost: bcrypt.MinCost}); err != nil {
		t.Fatal(err)
	}
	orig, err := config.Load(top)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := config.Load(filepath.Join(out, "devices", "a2", DeviceConfig))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(a2.Communities), 2; got != want {
		t.Fatalf("LR slice has %d communities, want %d", got, want)
	}
	for i, want := range []int{1, 0} {
		if got := *a2.Communities[i].Domain; got != want {
			t.Errorf("community %s: domain %d, want %d", a2.Communities[i].ID, got, want)
		}
	}
	if !reflect.DeepEqual(a2.DiscriminatorSpec(), orig.DiscriminatorSpec()) {
		t.Errorf("discriminator %v, want %v", a2.DiscriminatorSpec(), orig.DiscriminatorSpec())
	}
	dev, comm, j, err := a2.Device("a2")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := j, 1; got != want {
		t.Errorf("a2 is device #%d of its community, want #%d", got, want)
	}
	if got, want := comm.Data.Path, "/var/lib/fedgan/data/sensors-a.csv"; got != want {
		t.Errorf("data path %s, want %s", got, want)
	}
	if got, want := dev.Delay.D(), 150*time.Millisecond; got != want {
		t.Errorf("delay %s, want %s", got, want)
	}
	if dev.PasswordFile != "" || dev.TLS != nil {
		t.Errorf("anonymous edge: device got password %q, TLS %+v; want none", dev.PasswordFile, dev.TLS)
	}
	// Without a data folder the data settings stay verbatim.
	keep := filepath.Join(dir, "keep")
	if _, err := Provision(ProvisionOptions{Topology: top, Out: keep, IDs: []string{"a1"}}); err != nil {
		t.Fatal(err)
	}
	a1, err := config.Load(filepath.Join(keep, "devices", "a1", DeviceConfig))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a1.Communities[0].Data.Path, "data/sensors-a.csv"; got != want {
		t.Errorf("data path without DataDir %s, want %s", got, want)
	}
	// b-d1's edge has a credentials file: auto gives it a password.
	if got := readLine(t, filepath.Join(out, "devices", "b-d1", DevicePassword)); got == "" {
		t.Error("b-d1 got no password")
	}
	if _, err := os.Stat(filepath.Join(out, "devices", "a2", DevicePassword)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a2 (anonymous edge) has a password file: %v", err)
	}
}

func TestProvisionCertificates(t *testing.T) {
	f := newFixture(t, true)
	out := filepath.Join(f.Dir, "provisioned")
	res, err := Provision(ProvisionOptions{Topology: f.Path(), Out: out, Credentials: CredBoth, Bridges: true, BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	if !res.CACreated {
		t.Error("no CA created")
	}
	for _, tc := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Join(out, "ca"), 0o700},
		{filepath.Join(out, "ca", "ca.key"), 0o600},
		{filepath.Join(out, "ca", "ca.pem"), 0o644},
		{filepath.Join(out, "devices", "d1", DeviceKey), 0o600},
		{filepath.Join(out, "devices", "d1", DeviceCert), 0o644},
		{filepath.Join(out, "devices", "d1", DeviceCA), 0o644},
		{filepath.Join(out, "devices", "d1", DevicePassword), 0o600},
		{filepath.Join(f.Dir, "tls", "edge.key"), 0o600},
	} {
		if got := mode(t, tc.path); got != tc.want {
			t.Errorf("%s: mode %v, want %v", tc.path, got, tc.want)
		}
	}
	ca, err := LoadCA(filepath.Join(out, "ca", "ca.pem"), filepath.Join(out, "ca", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	certOf := func(p string) *x509.Certificate {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseCertPEM(b)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	dc := certOf(filepath.Join(out, "devices", "d1", DeviceCert))
	if got, want := dc.Subject.CommonName, "d1"; got != want {
		t.Errorf("device certificate CN %q, want %q", got, want)
	}
	if _, err := dc.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("device certificate does not verify as a client: %v", err)
	}
	ec := certOf(filepath.Join(f.Dir, "tls", "edge.pem"))
	if _, err := ec.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("edge certificate does not verify for 127.0.0.1: %v", err)
	}
	s, err := config.Load(filepath.Join(out, "devices", "d1", DeviceConfig))
	if err != nil {
		t.Fatal(err)
	}
	dev, comm, _, _ := s.Device("d1")
	if got, want := comm.Edge.Advertise, "ssl://127.0.0.1:"+strconv.Itoa(f.TLSPort); got != want {
		t.Errorf("device dials %s, want %s", got, want)
	}
	if dev.TLS == nil || dev.TLS.Cert != DeviceCert || dev.TLS.Key != DeviceKey || dev.TLS.CA != DeviceCA {
		t.Errorf("device TLS %+v, want relative %s, %s, %s", dev.TLS, DeviceCert, DeviceKey, DeviceCA)
	}

	// The real edge accepts d1 over mutual TLS with what was provisioned,
	// and refuses d1's certificate under another client id.
	startStack(t, f)
	connect := func(clientID string) error {
		pw := readLine(t, filepath.Join(out, "devices", clientID, DevicePassword))
		c, err := mqttc.New(mqttc.Options{URL: comm.Edge.Advertise, ClientID: clientID, Username: clientID, Password: pw,
			CAFile: s.Path(dev.TLS.CA), CertFile: s.Path(dev.TLS.Cert), KeyFile: s.Path(dev.TLS.Key)})
		if err != nil {
			return err
		}
		defer c.Close(0)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return c.WaitConnected(ctx)
	}
	if err := connect("d1"); err != nil {
		t.Errorf("d1 over mTLS: %v", err)
	}
	if err := connect("d2"); err == nil {
		t.Error("d1's certificate logged in as d2 (with d2's password); want refused: CN is not the client id")
	}

	// A client CA that is not the project's is an error, not a silent
	// mismatch.
	other := filepath.Join(f.Dir, "other")
	_, err = Provision(ProvisionOptions{Topology: f.Path(), Out: other, Credentials: CredCert})
	if !errors.Is(err, ErrProvision) || !strings.Contains(err.Error(), "edge.tls.ca") {
		t.Errorf("foreign edge CA: got %v, want ErrProvision naming edge.tls.ca", err)
	}
}

func TestProvisionErrors(t *testing.T) {
	f := newFixture(t, false)
	lr := filepath.Join(t.TempDir(), "lr.yaml")
	b, _ := os.ReadFile("testdata/lr.yaml")
	os.WriteFile(lr, b, 0o644)
	for _, tc := range []struct {
		name string
		opts ProvisionOptions
		want error
		msg  string
	}{
		{"unknown device", ProvisionOptions{Topology: f.Path(), IDs: []string{"d9"}}, ErrNoDevice, `device "d9" is not in`},
		{"missing device id", ProvisionOptions{Topology: f.Path(), IDs: []string{""}}, ErrNoDevice, "device id missing"},
		{"cert without TLS", ProvisionOptions{Topology: f.Path(), IDs: []string{"d1"}, Credentials: CredCert}, ErrProvision, "edge.tls.listen"},
		{"password on anonymous edge", ProvisionOptions{Topology: lr, IDs: []string{"a1"}, Credentials: CredPassword}, ErrProvision, "edge.credentials"},
		{"no topology", ProvisionOptions{Topology: filepath.Join(f.Dir, "nope.yaml")}, config.ErrConfig, "nope.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Out = filepath.Join(t.TempDir(), "out")
			_, err := Provision(tc.opts)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.msg)
			}
			if _, serr := os.Stat(tc.opts.Out); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("a failed provision wrote %s", tc.opts.Out)
			}
		})
	}
}

func TestSetUsers(t *testing.T) {
	const h1, h2, h3 = "$2a$04$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "$2a$04$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "$2a$04$ccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	for _, tc := range []struct {
		name, old string
		set       map[string]string
		want      string
	}{
		{"create", "", map[string]string{"b": h2, "a": h1}, "a:" + h1 + "\nb:" + h2 + "\n"},
		{"replace in place", "# c1\na:" + h1 + "\nb:" + h2 + "\n", map[string]string{"a": h3}, "# c1\na:" + h3 + "\nb:" + h2 + "\n"},
		{"append, trailing blank lines dropped", "a:" + h1 + "\n\n", map[string]string{"c": h3}, "a:" + h1 + "\nc:" + h3 + "\n"},
		{"commented user is not a user", "#a:" + h1 + "\n", map[string]string{"a": h2}, "#a:" + h1 + "\na:" + h2 + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "passwd")
			if tc.old != "" {
				os.WriteFile(p, []byte(tc.old), 0o644)
			}
			if err := SetUsers(p, tc.set); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(p)
			if got := string(b); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if got := mode(t, p); got != 0o600 {
				t.Errorf("mode %v, want 0600", got)
			}
		})
	}
	p := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(p, []byte("a:"+h1+"\na:"+h2+"\n"), 0o600)
	if err := SetUsers(p, map[string]string{"b": h3}); !errors.Is(err, ErrProvision) {
		t.Errorf("duplicate user in the old file: got %v, want ErrProvision", err)
	}
}
