package certs

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

func writePair(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	s, err := NewSelfSigned(name)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(s.cert.PrivateKey.(*ecdsa.PrivateKey))
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Certificate[0]}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return cert, key
}

func leafName(t *testing.T, f *Files) string {
	c, _ := f.GetCertificate(nil)
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.DNSNames[0]
}

func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir, "one.example.net")
	f, err := NewFiles(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	writePair(t, dir, "two.example.net")
	if err := f.Reload(); err != nil || leafName(t, f) != "two.example.net" {
		t.Fatalf("reload: %v, serving %s", err, leafName(t, f))
	}
	os.WriteFile(key, []byte("garbage"), 0o600)
	if err := f.Reload(); err == nil {
		t.Fatal("bad key accepted")
	}
	if leafName(t, f) != "two.example.net" {
		t.Errorf("a failed reload replaced the certificate in force")
	}
	if _, err := NewFiles(filepath.Join(dir, "missing.pem"), key); err == nil {
		t.Errorf("missing file accepted")
	}
}
