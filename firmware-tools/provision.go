package firmwaretools

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/atomicfile"
)

// Credentials selects what identity Provision gives a device.
type Credentials string

const (
	// CredAuto (the zero value): a password when the device's edge has a
	// credentials file, a client certificate when the edge has a mutual
	// TLS listener (edge.tls.listen and edge.tls.ca), both when it has both.
	CredAuto Credentials = ""
	// CredPassword, CredCert, CredBoth and CredNone ask for exactly that;
	// a choice the edge cannot check is an error wrapping ErrProvision.
	CredPassword Credentials = "password"
	CredCert     Credentials = "cert"
	CredBoth     Credentials = "both"
	CredNone     Credentials = "none"
)

// ParseCredentials parses "auto", "password", "cert", "both" or "none".
func ParseCredentials(s string) (Credentials, error) {
	switch c := Credentials(s); c {
	case "auto":
		return CredAuto, nil
	case CredAuto, CredPassword, CredCert, CredBoth, CredNone:
		return c, nil
	}
	return "", fmt.Errorf("%w: credentials %q: want auto, password, cert, both or none", ErrUsage, s)
}

// Files of a provisioned device, relative to its folder Out/devices/<id>
// (which holds everything its bundle installs into the config folder).
const (
	DeviceConfig   = "topology.yaml"
	DevicePassword = "password"
	DeviceCA       = "tls/ca.pem"
	DeviceCert     = "tls/device.pem"
	DeviceKey      = "tls/device.key"
)

// ProvisionOptions configure Provision. Paths on the gateway side are
// read and written where the topology names them (relative to its file).
type ProvisionOptions struct {
	// Topology is the deployment's topology file. Required.
	Topology string
	// Out receives devices/<id>/ for every device and ca/ for a created
	// CA. Required.
	Out string
	// IDs are the devices to provision; empty means every device.
	IDs []string
	// Credentials is what identity the devices get; default CredAuto.
	Credentials Credentials
	// CACert and CAKey are the project CA; default Out/ca/ca.pem and
	// Out/ca/ca.key, created when neither exists.
	CACert, CAKey string
	// EdgeCA is the PEM bundle a device uses to verify its edge's server
	// certificate; default the project CA.
	EdgeCA string
	// EdgeURL overrides the URL written into the devices' slices; default
	// the community's edge.advertise, with the scheme ssl:// and the port
	// of edge.tls.listen when the edge has a TLS listener.
	EdgeURL string
	// DataDir, if set, is the folder holding the data files on the board:
	// the slices' data paths are rewritten into it (see onBoardData).
	// Empty keeps the topology's data settings verbatim, so that a device
	// computes exactly the partition the simulator computed; its relative
	// paths then resolve against the config folder on the board.
	// Rewriting a path may change which slice of a source a device draws
	// when communities split one source (data.parts > 1): provision every
	// device of those communities with the same DataDir.
	DataDir string
	// Bridges also provisions every edge's bridge user on the cloud's
	// embedded broker: the edge's bridge.password_file (kept if it exists,
	// else a new random password) and its bcrypt hash in cloud.credentials.
	Bridges bool
	// BcryptCost defaults to bcrypt.DefaultCost.
	BcryptCost int
	// Now is the clock for certificate validity; default time.Now.
	Now func() time.Time
}

// Identity is what Provision made for one device.
type Identity struct {
	Device, Community string
	// Dir is the device's folder, Out/devices/<id>.
	Dir string
	// Password and Cert say which credentials it got; TLS whether it
	// dials its edge over TLS.
	Password, Cert, TLS bool
	// URL is the edge address in its slice.
	URL string
}

// ProvisionResult lists what Provision did.
type ProvisionResult struct {
	Devices []Identity
	// CA is the project CA certificate's path ("" if no certificate was
	// needed); CACreated says it was made now.
	CA        string
	CACreated bool
	// Changed lists the gateway-side files written: edge and cloud
	// credential files, device and bridge password files, edge TLS files.
	Changed []string
	// Notes are things a person should know (e.g. a bridge left alone).
	Notes []string
}

// Provision creates the identity of each device: a random password whose
// bcrypt hash is set in its edge's credentials file and/or a client
// certificate (CommonName = device id) signed by the project CA, the CA
// certificate that verifies the edge, and the device's own slice of the
// topology, all under Out/devices/<id>/ (keys and passwords 0600, the
// folder 0700). A device's password is rotated every time it is
// provisioned. Passwords also go to the device's password_file of the
// topology, if it names one, so that a local run (`fedgan run`) works.
//
// When certificates are used and the edge's TLS files (edge.tls.cert, key,
// ca) do not exist yet, Provision issues the edge's server certificate
// from the project CA (for the hosts of edge.advertise and
// edge.tls.listen) and writes the CA as edge.tls.ca.
func Provision(opts ProvisionOptions) (*ProvisionResult, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	top, err := config.Load(opts.Topology)
	if err != nil {
		return nil, err
	}
	ids := opts.IDs
	if len(ids) == 0 {
		ids = deviceIDs(top)
	}
	// Check every id and every choice before writing anything.
	plans := make([]devicePlan, len(ids))
	needCA := false
	for i, id := range ids {
		if plans[i], err = planDevice(top, id, opts); err != nil {
			return nil, err
		}
		needCA = needCA || plans[i].cert || plans[i].tl
	}
	pv := &provisioning{opts: opts, top: top, res: &ProvisionResult{}, edgesDone: map[string]bool{}, hashes: map[string]map[string]string{}}
	if pv.out, err = filepath.Abs(opts.Out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(pv.out, 0o750); err != nil {
		return nil, err
	}
	if needCA {
		if err := pv.loadCA(); err != nil {
			return nil, err
		}
	}
	for _, p := range plans {
		if err := pv.device(p); err != nil {
			return nil, err
		}
	}
	if err := pv.setUsers(); err != nil {
		return nil, err
	}
	return pv.res, nil
}

// check checks the options that need no topology and fills Now.
func (o *ProvisionOptions) check() error {
	if o.Topology == "" || o.Out == "" {
		return fmt.Errorf("%w: provision needs a topology and an output folder", ErrUsage)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BcryptCost != 0 && (o.BcryptCost < bcrypt.MinCost || o.BcryptCost > bcrypt.MaxCost) {
		return fmt.Errorf("%w: bcrypt cost %d outside [%d, %d]", ErrUsage, o.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	return nil
}

// devicePlan is what Provision makes for one device: a password (pw), a
// client certificate (cert), and whether it dials its edge over TLS (tl).
type devicePlan struct {
	id           string
	dev          *config.Device
	comm         *config.Community
	pw, cert, tl bool
}

// planDevice decides what device id gets, and checks that its edge can
// check it.
func planDevice(top *config.Topology, id string, opts ProvisionOptions) (devicePlan, error) {
	if id == "" {
		return devicePlan{}, &DeviceError{}
	}
	dev, comm, _, err := top.Device(id)
	if err != nil {
		return devicePlan{}, &DeviceError{ID: id, Where: top.Source, Known: deviceIDs(top)}
	}
	p := devicePlan{id: id, dev: dev, comm: comm}
	e := comm.Edge
	hasTLS := e.TLS != nil && e.TLS.Listen != ""
	switch opts.Credentials {
	case CredAuto:
		p.pw, p.cert = e.Credentials != "", hasTLS && e.TLS.CA != ""
	case CredPassword:
		p.pw = true
	case CredCert:
		p.cert = true
	case CredBoth:
		p.pw, p.cert = true, true
	case CredNone:
	default:
		return devicePlan{}, fmt.Errorf("%w: credentials %q", ErrUsage, opts.Credentials)
	}
	if p.pw && e.Credentials == "" {
		return devicePlan{}, fmt.Errorf("%w: device %s: community %s's edge has no credentials file (edge.credentials) to hold its password hash", ErrProvision, id, comm.ID)
	}
	if p.cert && !hasTLS {
		return devicePlan{}, fmt.Errorf("%w: device %s: a client certificate needs a TLS listener on community %s's edge (edge.tls.listen)", ErrProvision, id, comm.ID)
	}
	if p.cert && e.TLS.CA == "" {
		return devicePlan{}, fmt.Errorf("%w: device %s: community %s's edge checks no client certificates (edge.tls.ca is not set)", ErrProvision, id, comm.ID)
	}
	p.tl = hasTLS && opts.EdgeURL == "" || opts.EdgeURL != "" && isTLSURL(opts.EdgeURL)
	return p, nil
}

// provisioning is one Provision call once its plans are made.
type provisioning struct {
	opts      ProvisionOptions
	top       *config.Topology
	out       string // opts.Out, absolute
	res       *ProvisionResult
	ca        *CA    // the project CA, if a device needs it
	edgeCA    []byte // what verifies the edges' certificates
	edgesDone map[string]bool
	hashes    map[string]map[string]string // credentials file → user → hash
}

// loadCA loads or creates the project CA, and reads the edge CA.
func (pv *provisioning) loadCA() error {
	opts := &pv.opts
	if opts.CACert == "" && opts.CAKey == "" {
		opts.CACert, opts.CAKey = filepath.Join(pv.out, "ca", "ca.pem"), filepath.Join(pv.out, "ca", "ca.key")
		if err := os.MkdirAll(filepath.Join(pv.out, "ca"), 0o700); err != nil {
			return err
		}
	}
	if opts.CACert == "" || opts.CAKey == "" {
		return fmt.Errorf("%w: give both the CA certificate and its key", ErrUsage)
	}
	var err error
	if pv.ca, pv.res.CACreated, err = LoadOrCreateCA(opts.CACert, opts.CAKey, pv.top.Name+" fedgan CA", opts.Now()); err != nil {
		return err
	}
	pv.res.CA = opts.CACert
	pv.edgeCA = pv.ca.CertPEM
	if opts.EdgeCA != "" {
		if pv.edgeCA, err = os.ReadFile(opts.EdgeCA); err != nil {
			return fmt.Errorf("%w: edge CA: %w", ErrProvision, err)
		}
		if _, err := parseCertPEM(pv.edgeCA); err != nil {
			return fmt.Errorf("%w: edge CA %s: %w", ErrProvision, opts.EdgeCA, err)
		}
	}
	return nil
}

// device provisions one device as p says: its edge's TLS files (once per
// community), then its folder, credentials and slice.
func (pv *provisioning) device(p devicePlan) error {
	if (p.cert || p.tl) && !pv.edgesDone[p.comm.ID] {
		pv.edgesDone[p.comm.ID] = true
		changed, err := edgeTLS(pv.top, p.comm, pv.ca, p.cert, pv.opts.Now())
		if err != nil {
			return err
		}
		pv.res.Changed = append(pv.res.Changed, changed...)
	}
	dir := filepath.Join(pv.out, "devices", p.id)
	if err := cleanDeviceDir(dir); err != nil {
		return err
	}
	sp := sliceParams{URL: deviceURL(p.comm.Edge, pv.opts.EdgeURL, p.tl), DataDir: pv.opts.DataDir}
	idn := Identity{Device: p.id, Community: p.comm.ID, Dir: dir, Password: p.pw, Cert: p.cert, TLS: p.tl, URL: sp.URL}
	if p.pw {
		if err := pv.password(p, dir, &sp); err != nil {
			return err
		}
	}
	if p.tl {
		if err := atomicfile.Write(filepath.Join(dir, filepath.FromSlash(DeviceCA)), pv.edgeCA, 0o644); err != nil {
			return err
		}
		sp.TLS = &config.TLS{CA: DeviceCA}
		if p.dev.TLS != nil {
			sp.TLS.ServerName = p.dev.TLS.ServerName
		}
	}
	if p.cert {
		if err := pv.clientCert(p, dir, &sp); err != nil {
			return err
		}
	}
	if n := dataNote(pv.top, p.comm, p.dev, pv.opts.DataDir); n != "" {
		pv.res.Notes = append(pv.res.Notes, n)
	}
	slice, err := deviceSlice(pv.top, p.id, sp)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, DeviceConfig), slice, 0o644); err != nil {
		return err
	}
	pv.res.Devices = append(pv.res.Devices, idn)
	return nil
}

// cleanDeviceDir makes a device's folder, 0700, without the files of an
// earlier provisioning, which this one may not make and which must then
// not be bundled.
func cleanDeviceDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{DevicePassword, DeviceCA, DeviceCert, DeviceKey} {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(f))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// password gives the device a new password: in its folder, in its
// password_file if the topology names one, and its hash for its edge's
// credentials file (written by setUsers).
func (pv *provisioning) password(p devicePlan, dir string, sp *sliceParams) error {
	pw := NewPassword()
	h, err := hashPassword(pw, pv.opts.BcryptCost)
	if err != nil {
		return err
	}
	cf := pv.top.Path(p.comm.Edge.Credentials)
	if pv.hashes[cf] == nil {
		pv.hashes[cf] = map[string]string{}
	}
	pv.hashes[cf][p.id] = h
	if err := writeSecret(filepath.Join(dir, DevicePassword), pw); err != nil {
		return err
	}
	if p.dev.PasswordFile != "" {
		if err := writeSecret(pv.top.Path(p.dev.PasswordFile), pw); err != nil {
			return err
		}
		pv.res.Changed = append(pv.res.Changed, pv.top.Path(p.dev.PasswordFile))
	}
	sp.PasswordFile = DevicePassword
	return nil
}

// clientCert issues the device's client certificate into its folder.
func (pv *provisioning) clientCert(p devicePlan, dir string, sp *sliceParams) error {
	certPEM, keyPEM, err := pv.ca.IssueClient(p.id, pv.opts.Now())
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, filepath.FromSlash(DeviceKey)), keyPEM, 0o600); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, filepath.FromSlash(DeviceCert)), certPEM, 0o644); err != nil {
		return err
	}
	sp.TLS.Cert, sp.TLS.Key = DeviceCert, DeviceKey
	return nil
}

// setUsers provisions the bridges if asked, then writes every password
// hash into its credentials file.
func (pv *provisioning) setUsers() error {
	if pv.opts.Bridges {
		notes, err := bridges(pv.top, pv.hashes, pv.res, pv.opts.BcryptCost)
		if err != nil {
			return err
		}
		pv.res.Notes = append(pv.res.Notes, notes...)
	}
	for _, f := range sortedKeys(pv.hashes) {
		if err := SetUsers(f, pv.hashes[f]); err != nil {
			return err
		}
		pv.res.Changed = append(pv.res.Changed, f)
	}
	return nil
}

// bridges provisions every edge's bridge account on the cloud's embedded
// broker, adding the hashes to set.
func bridges(top *config.Topology, set map[string]map[string]string, res *ProvisionResult, cost int) ([]string, error) {
	c := top.Cloud
	if c.URL != "" {
		return []string{"bridges: the cloud uses an external broker (cloud.url); add the edges' bridge users there"}, nil
	}
	if c.Credentials == "" {
		return []string{"bridges: the cloud broker has no credentials file (cloud.credentials); bridges connect anonymously"}, nil
	}
	cf := top.Path(c.Credentials)
	existing := map[string]string{}
	if b, err := os.ReadFile(cf); err == nil {
		if existing, err = config.ParsePasswordFile(b, cf); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProvision, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", ErrProvision, err)
	}
	var notes []string
	for _, cm := range top.Communities {
		b := cm.Edge.Bridge
		if b.PasswordFile == "" {
			notes = append(notes, fmt.Sprintf("bridges: community %s: no edge.bridge.password_file; its bridge is left alone", cm.ID))
			continue
		}
		pf := top.Path(b.PasswordFile)
		pw, err := top.ReadSecret(b.PasswordFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if pw == "" {
			pw = NewPassword()
			if err := writeSecret(pf, pw); err != nil {
				return nil, err
			}
			res.Changed = append(res.Changed, pf)
		}
		if h, ok := existing[b.Username]; ok && bcrypt.CompareHashAndPassword([]byte(h), []byte(pw)) == nil {
			continue // already in place
		}
		h, err := hashPassword(pw, cost)
		if err != nil {
			return nil, err
		}
		if set[cf] == nil {
			set[cf] = map[string]string{}
		}
		set[cf][b.Username] = h
	}
	return notes, nil
}

// edgeTLS creates the edge's missing TLS files from the project CA: its
// server certificate and key, and (when devices present certificates)
// the CA that checks them. An existing client CA must hold the project CA.
func edgeTLS(top *config.Topology, cm *config.Community, ca *CA, clientCerts bool, now time.Time) ([]string, error) {
	t := cm.Edge.TLS
	var changed []string
	if t.Cert != "" && t.Key != "" && ca != nil {
		cp, kp := top.Path(t.Cert), top.Path(t.Key)
		_, ce := os.Stat(cp)
		_, ke := os.Stat(kp)
		if errors.Is(ce, os.ErrNotExist) && errors.Is(ke, os.ErrNotExist) {
			certPEM, keyPEM, err := ca.IssueServer("edge-"+cm.ID, edgeHosts(cm.Edge), now)
			if err != nil {
				return nil, err
			}
			if err := atomicfile.Write(kp, keyPEM, 0o600); err != nil {
				return nil, err
			}
			if err := atomicfile.Write(cp, certPEM, 0o644); err != nil {
				return nil, err
			}
			changed = append(changed, cp, kp)
		}
	}
	if clientCerts && t.CA != "" {
		p := top.Path(t.CA)
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := atomicfile.Write(p, ca.CertPEM, 0o644); err != nil {
				return nil, err
			}
			changed = append(changed, p)
		case err != nil:
			return nil, fmt.Errorf("%w: edge %s: %w", ErrProvision, cm.ID, err)
		case !ca.HoldsCA(b):
			return nil, fmt.Errorf("%w: community %s: edge.tls.ca %s does not hold the project CA %s; give the CA it trusts (--ca, --ca-key)", ErrProvision, cm.ID, p, ca.Cert.Subject.CommonName)
		}
	}
	return changed, nil
}

// dataNote says what a device's board needs for its data.
func dataNote(top *config.Topology, c *config.Community, d *config.Device, dir string) string {
	data := c.Data
	if d.Data != nil {
		data = *d.Data
	}
	switch {
	case data.Kind == "gaussian":
		return ""
	case dir != "":
		p := onBoardData(data, dir)
		return fmt.Sprintf("device %s: copy its %s data to %s on the board", d.ID, data.Kind, p.Path)
	case data.Path == "":
		return fmt.Sprintf("device %s: %s data without data.path: the board has no Go module cache; set path or give a data folder (-data-dir)", d.ID, data.Kind)
	}
	return fmt.Sprintf("device %s: its %s data must be at %s on the board (relative paths are relative to the config folder)", d.ID, data.Kind, data.Path)
}

// edgeHosts are the names a device may dial the edge by.
func edgeHosts(e config.Edge) []string {
	var hosts []string
	add := func(h string) {
		if h != "" && h != "0.0.0.0" && h != "::" {
			for _, x := range hosts {
				if x == h {
					return
				}
			}
			hosts = append(hosts, h)
		}
	}
	if u, err := url.Parse(e.Advertise); err == nil {
		add(u.Hostname())
	}
	if h, _, err := net.SplitHostPort(e.TLS.Listen); err == nil {
		add(h)
	}
	return hosts
}

func isTLSURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "ssl" || p.Scheme == "tls" || p.Scheme == "mqtts" || p.Scheme == "wss")
}

// deviceURL is the address a device dials: the override, or the edge's
// advertised address, switched to its TLS listener's port when tls.
func deviceURL(e config.Edge, override string, tls bool) string {
	if override != "" {
		return override
	}
	if !tls {
		return e.Advertise
	}
	host := "127.0.0.1"
	if u, err := url.Parse(e.Advertise); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	_, port, err := net.SplitHostPort(e.TLS.Listen)
	if err != nil {
		return e.Advertise
	}
	return "ssl://" + net.JoinHostPort(host, port)
}
