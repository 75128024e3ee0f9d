package httpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/unix"
)

// keyUpdater is a hostile TLS 1.3 client: after a normal handshake
// (crypto/tls's) it writes KeyUpdate messages that ask the server to
// update its keys too, and never reads. crypto/tls cannot send them, so
// this client writes its records itself, from the traffic secret the
// handshake logged.
type keyUpdater struct {
	raw    net.Conn
	hash   func() hash.Hash
	secret []byte
	aead   cipher.AEAD
	iv     []byte
	seq    uint64
	keyLen int
	suite  uint16
}

func dialKeyUpdater(t *testing.T, addr string) *keyUpdater {
	t.Helper()
	var keylog bytes.Buffer
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		// A small receive window, so the server's answers fill it soon.
		return c.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
	}}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13,
		NextProtos: []string{"http/1.1"}, KeyLogWriter: &keylog})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	k := &keyUpdater{raw: raw, suite: tc.ConnectionState().CipherSuite}
	for _, line := range strings.Split(keylog.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "CLIENT_TRAFFIC_SECRET_0" {
			k.secret, _ = hex.DecodeString(f[2])
		}
	}
	switch k.suite {
	case tls.TLS_AES_128_GCM_SHA256:
		k.hash, k.keyLen = sha256.New, 16
	case tls.TLS_AES_256_GCM_SHA384:
		k.hash, k.keyLen = sha512.New384, 32
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		k.hash, k.keyLen = sha256.New, 32
	}
	if k.secret == nil || k.hash == nil {
		t.Fatal("no TLS 1.3 traffic secret")
	}
	k.keys()
	return k
}

// expandLabel is TLS 1.3's HKDF-Expand-Label with an empty context.
func (k *keyUpdater) expandLabel(secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := binary.BigEndian.AppendUint16(nil, uint16(n))
	info = append(append(append(info, byte(len(full))), full...), 0)
	out, err := hkdf.Expand(k.hash, secret, string(info), n)
	if err != nil {
		panic(err)
	}
	return out
}

func (k *keyUpdater) keys() {
	key := k.expandLabel(k.secret, "key", k.keyLen)
	k.iv = k.expandLabel(k.secret, "iv", 12)
	if k.suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		k.aead, _ = chacha20poly1305.New(key)
	} else {
		block, _ := aes.NewCipher(key)
		k.aead, _ = cipher.NewGCM(block)
	}
	k.seq = 0
}

// Record content types.
const (
	recordHandshake   = 22
	recordApplication = 23
)

// update sends one KeyUpdate (update_requested) and moves to the next
// write keys, as the protocol has the sender do.
func (k *keyUpdater) update() error {
	err := k.send(recordHandshake, []byte{24, 0, 0, 1, 1})
	k.secret = k.expandLabel(k.secret, "traffic upd", k.hash().Size())
	k.keys()
	return err
}

// send writes one encrypted record.
func (k *keyUpdater) send(typ byte, payload []byte) error {
	inner := append(bytes.Clone(payload), typ)
	hdr := []byte{recordApplication, 3, 3, 0, 0}
	binary.BigEndian.PutUint16(hdr[3:], uint16(len(inner)+k.aead.Overhead()))
	nonce := bytes.Clone(k.iv)
	for i := range 8 {
		nonce[4+i] ^= byte(k.seq >> (56 - 8*i))
	}
	rec := k.aead.Seal(hdr, nonce, inner, hdr)
	k.seq++
	k.raw.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := k.raw.Write(rec)
	return err
}

// TestKeyUpdatesDoNotPinWorkers: TLS 1.3 clients that send KeyUpdates and
// never read do not keep other HTTPS/1.1 requests waiting. crypto/tls
// answers a KeyUpdate inside Read, and that write, on a socket full of
// unread answers, blocked its worker inside the pool: ten such clients
// held every worker until they left. (crypto/tls takes 16 KeyUpdates in
// a row at most, so every 15 are followed by a field of a request head
// that never ends.)
func TestKeyUpdatesDoNotPinWorkers(t *testing.T) {
	// Small send buffers (inherited from the listening socket), so the
	// answers fill them within the requests' head limit.
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 4096) })
	}}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := startTLSOn(t, l, http.HandlerFunc(hello))
	var wg sync.WaitGroup
	for range workersPerCPU*runtime.GOMAXPROCS(0) + 2 {
		k := dialKeyUpdater(t, addr)
		defer k.raw.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Until the server stops reading them: its worker is then
			// stuck on the answers this client does not read.
			if k.send(recordApplication, []byte("GET /sized HTTP/1.1\r\nHost: x\r\n")) != nil {
				return
			}
			for range 2000 {
				for range 15 {
					if k.update() != nil {
						return
					}
				}
				if k.send(recordApplication, []byte("X: y\r\n")) != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range 3 {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /sized HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d beside the key-updating clients: %v", i, err)
		}
	}
}
