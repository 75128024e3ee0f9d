// Package certs provides the HTTPS listener's certificates: from files
// (reloaded on SIGHUP), generated self-signed, or obtained and renewed with
// ACME HTTP-01 through the node's port-80 listener.
package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Source hands out the current certificate.
type Source interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Reload re-reads certificates from disk where that applies.
	Reload() error
	// HTTPHandler wraps the port-80 handler (ACME answers challenges there).
	HTTPHandler(next http.Handler) http.Handler
}

// Files serves a certificate and key from PEM files.
type Files struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// NewFiles loads the pair; errors name the files.
func NewFiles(certFile, keyFile string) (*Files, error) {
	f := &Files{certFile: certFile, keyFile: keyFile}
	return f, f.Reload()
}

// Reload re-reads the files; on error the previous certificate stays.
func (f *Files) Reload() error {
	c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return fmt.Errorf("load certificate %s: %w", f.certFile, err)
	}
	f.cur.Store(&c)
	return nil
}

// GetCertificate implements Source.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cur.Load(), nil
}

// HTTPHandler implements Source.
func (f *Files) HTTPHandler(next http.Handler) http.Handler { return next }

// SelfSigned is a certificate generated at start, for trials.
type SelfSigned struct{ cert *tls.Certificate }

// NewSelfSigned makes an ECDSA P-256 certificate for the names, valid a year.
func NewSelfSigned(names ...string) (*SelfSigned, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"micromirror self-signed"}},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &SelfSigned{cert: &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}, nil
}

// GetCertificate implements Source.
func (s *SelfSigned) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert, nil
}

// Reload implements Source (nothing to re-read).
func (s *SelfSigned) Reload() error { return nil }

// HTTPHandler implements Source.
func (s *SelfSigned) HTTPHandler(next http.Handler) http.Handler { return next }

// LoadCAPool reads a PEM bundle of CA certificates, for a private ACME
// server or an ssl:// MQTT broker.
func LoadCAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates", path)
	}
	return pool, nil
}

// ACMEConfig configures ACME.
type ACMEConfig struct {
	Names     []string // first is the node name
	Email     string
	Directory string // empty: Let's Encrypt production
	CAFile    string // trust for a private ACME server
	CacheDir  string
}

// ACME obtains certificates with HTTP-01 and renews them 30 days before
// expiry (autocert's timer), keeping them in CacheDir across restarts.
type ACME struct {
	m     *autocert.Manager
	names []string
	log   *slog.Logger
}

// NewACME prepares the manager; Prefetch starts obtaining.
func NewACME(cfg ACMEConfig, log *slog.Logger) (*ACME, error) {
	client := &acme.Client{DirectoryURL: cfg.Directory}
	if client.DirectoryURL == "" {
		client.DirectoryURL = autocert.DefaultACMEDirectory
	}
	if cfg.CAFile != "" {
		pool, err := LoadCAPool(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("acme ca_file: %w", err)
		}
		client.HTTPClient = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			Proxy:           http.ProxyFromEnvironment,
		}}
	}
	allowed := autocert.HostWhitelist(cfg.Names...)
	m := &autocert.Manager{
		Prompt: autocert.AcceptTOS,
		Cache:  autocert.DirCache(cfg.CacheDir),
		// autocert checks the challenge request's Host header as sent, and
		// "name:80" is a legal Host; compare the name alone.
		HostPolicy: func(ctx context.Context, host string) error {
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			return allowed(ctx, host)
		},
		Email:  cfg.Email,
		Client: client,
	}
	return &ACME{m: m, names: cfg.Names, log: log}, nil
}

// GetCertificate implements Source.
func (a *ACME) GetCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if h.ServerName == "" {
		// Clients that connect by IP send no SNI; give them the node's
		// certificate rather than a handshake failure.
		c := *h
		c.ServerName = a.names[0]
		h = &c
	}
	return a.m.GetCertificate(h)
}

// Reload implements Source; autocert renews on its own.
func (a *ACME) Reload() error { return nil }

// HTTPHandler answers /.well-known/acme-challenge/ and passes the rest on.
func (a *ACME) HTTPHandler(next http.Handler) http.Handler { return a.m.HTTPHandler(next) }

// Prefetch obtains the certificates now instead of on the first handshake,
// retrying with backoff until ctx ends, so the first visitor never waits on
// the CA and a problem shows in the log at start.
func (a *ACME) Prefetch(ctx context.Context) {
	backoff := 10 * time.Second
	for _, name := range a.names {
		for {
			hello := &tls.ClientHelloInfo{
				ServerName:        name,
				CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
				SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
				SupportedCurves:   []tls.CurveID{tls.CurveP256},
				SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
			}
			_, err := a.m.GetCertificate(hello)
			if err == nil {
				a.log.Info("acme certificate ready", "name", name)
				break
			}
			a.log.Warn("acme certificate", "name", name, "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Hour)
		}
	}
}
