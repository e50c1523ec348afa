package firmwaretools

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"

	"github.com/fedgan/fedgan/internal/atomicfile"
)

// CA is the project certificate authority that signs device (and edge)
// certificates.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     crypto.Signer
}

// Validity periods of what Provision issues.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 5 * 365 * 24 * time.Hour
)

// LoadOrCreateCA reads the CA at certPath and keyPath, or, when neither
// file exists, creates one (ECDSA P-256) named name and writes it there:
// the key 0600, the certificate 0644. created reports which happened.
func LoadOrCreateCA(certPath, keyPath, name string, now time.Time) (ca *CA, created bool, err error) {
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	switch {
	case errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist):
		ca, err := newCA(name, now)
		if err != nil {
			return nil, false, err
		}
		keyPEM, err := keyPEM(ca.Key)
		if err != nil {
			return nil, false, err
		}
		if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
			return nil, false, err
		}
		if err := atomicfile.Write(certPath, ca.CertPEM, 0o644); err != nil {
			return nil, false, err
		}
		return ca, true, nil
	case certErr != nil:
		return nil, false, fmt.Errorf("%w: CA certificate: %w", ErrProvision, certErr)
	case keyErr != nil:
		return nil, false, fmt.Errorf("%w: CA key: %w", ErrProvision, keyErr)
	}
	ca, err = LoadCA(certPath, keyPath)
	return ca, false, err
}

// LoadCA reads a CA certificate and its private key (PKCS#8, SEC 1 or
// PKCS#1 PEM) and checks that they belong together.
func LoadCA(certPath, keyPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("%w: CA certificate: %w", ErrProvision, err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: CA certificate %s: %w", ErrProvision, certPath, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%w: %s is not a CA certificate", ErrProvision, certPath)
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("%w: CA key: %w", ErrProvision, err)
	}
	key, err := parseKeyPEM(kb)
	if err != nil {
		return nil, fmt.Errorf("%w: CA key %s: %w", ErrProvision, keyPath, err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w: CA key %s does not match certificate %s", ErrProvision, keyPath, certPath)
	}
	return &CA{Cert: cert, CertPEM: certPEM, Key: key}, nil
}

func newCA(name string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"fedgan"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: key}, nil
}

// serial is a random 127-bit serial number (RFC 5280 allows 20 octets).
func serial() *big.Int {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b)
}

// IssueClient issues a client certificate whose CommonName is id (the
// MQTT client id the broker checks against it) and a new P-256 key.
func (ca *CA) IssueClient(id string, now time.Time) (certPEM, keyPEM []byte, err error) {
	return ca.issue(id, nil, x509.ExtKeyUsageClientAuth, now)
}

// IssueServer issues a server certificate for the given DNS names and IP
// addresses, with CommonName name.
func (ca *CA) IssueServer(name string, hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	return ca.issue(name, hosts, x509.ExtKeyUsageServerAuth, now)
}

func (ca *CA) issue(cn string, hosts []string, usage x509.ExtKeyUsage, now time.Time) (certPEM, keyOut []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(leafValidity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"fedgan"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, err
	}
	kp, err := keyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), kp, nil
}

// HoldsCA reports whether the PEM bundle in b contains ca's certificate.
func (ca *CA) HoldsCA(b []byte) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == "CERTIFICATE" && bytes.Equal(blk.Bytes, ca.Cert.Raw) {
			return true
		}
	}
}

func keyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM certificate found")
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

func parseKeyPEM(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM private key found")
		}
		var key any
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", key)
		}
		return s, nil
	}
}
