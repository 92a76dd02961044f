package live

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// ListenAndServe serves h on addr until ctx ends: wss when certFile and
// keyFile are given (a LuCI page served over HTTPS may not open ws://),
// plain ws when both are empty.
func ListenAndServe(ctx context.Context, addr, certFile, keyFile string, h http.Handler) error {
	ln, err := Listen(addr, certFile, keyFile)
	if err != nil {
		return err
	}
	return Serve(ctx, ln, h)
}

// Connection limits of a listener: a LAN client that opens connections and
// sends nothing, or floods handshakes, must neither exhaust the router's
// memory and descriptors nor lock others out.
const (
	// maxConns caps a listener's open connections, upgraded feeds included.
	maxConns = 32
	// maxConnsPerClient caps them per client: an IPv4 address, or an IPv6
	// /64, since one host can take any number of addresses from its prefix.
	maxConnsPerClient = 8
)

// Listen opens addr, wrapped in TLS when a certificate and key are given,
// with the connection limits above: a connection beyond them is closed as
// soon as it is accepted. addr must name an address: a wildcard (empty
// host, 0.0.0.0, ::) would face the WAN too.
func Listen(addr, certFile, keyFile string) (net.Listener, error) {
	return listen(addr, certFile, keyFile, maxConns, maxConnsPerClient)
}

func listen(addr, certFile, keyFile string, total, perClient int) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("live: listen address %q: %w", addr, err)
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.Unmap().IsUnspecified()) {
		return nil, fmt.Errorf("live: listen address %q is a wildcard: the feed must listen on a LAN address only", addr)
	}
	var cfg *tls.Config
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, errors.New("live: TLS needs both a certificate and a key file")
		}
		cert, err := LoadKeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		// http/1.1 only: a WebSocket handshake cannot ride on HTTP/2 here.
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("live: listen on %s: %w", addr, err)
	}
	// Below TLS, so that handshakes count too.
	ln = &limitListener{Listener: ln, total: total, perClient: perClient, open: map[netip.Prefix]int{}}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	return ln, nil
}

// Serve serves h on ln until ctx ends, then shuts down. Upgraded
// connections are not the server's any more: close the Hub for those.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// Nothing here reads a body or writes for long (an upgraded feed
		// sets its own deadlines).
		ReadTimeout:    10 * time.Second,
		WriteTimeout:   15 * time.Second,
		IdleTimeout:    time.Minute,
		MaxHeaderBytes: 8 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("live: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("live: shut down %s: %w", ln.Addr(), err)
	}
	<-errc // http.ErrServerClosed
	return nil
}

// limitListener closes, as soon as they are accepted, connections beyond
// its limits; a connection counts until it is closed, by the server or by
// the hub after an upgrade (the hijacked net.Conn is this wrapper).
type limitListener struct {
	net.Listener
	total, perClient int

	mu   sync.Mutex
	n    int
	open map[netip.Prefix]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr().String())
		if l.admit(key) {
			return &limitConn{Conn: c, release: func() { l.done(key) }}, nil
		}
		_ = c.Close()
	}
}

func (l *limitListener) admit(key netip.Prefix) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.total || l.open[key] >= l.perClient {
		return false
	}
	l.n++
	l.open[key]++
	return true
}

func (l *limitListener) done(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key) // the map holds only clients with connections
	}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// clientKey is who a remote address counts as: the IPv4 address, or the
// IPv6 /64. An address that does not parse counts as one unknown client.
func clientKey(remote string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// LoadKeyPair reads a certificate (chain) and its private key, each in PEM
// or DER. uhttpd's init script has px5g write both as DER (-der): an RSA key
// as PKCS#1, an EC key as SEC 1; with openssl instead of px5g the
// certificate is DER and the key PEM; a user-supplied pair is usually PEM.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certData, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("live: read certificate: %w", err)
	}
	keyData, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("live: read key: %w", err)
	}
	certs, err := parseCerts(certData)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("live: certificate %s: %w", certFile, err)
	}
	key, err := parseKey(keyData)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("live: key %s: %w", keyFile, err)
	}
	// Back through PEM so that tls.X509KeyPair checks the key matches.
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("live: key %s: %w", keyFile, err)
	}
	var certPEM bytes.Buffer
	for _, der := range certs {
		_ = pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	pair, err := tls.X509KeyPair(certPEM.Bytes(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("live: %s and %s: %w", certFile, keyFile, err)
	}
	return pair, nil
}

func isPEM(data []byte) bool { return bytes.Contains(data, []byte("-----BEGIN ")) }

func parseCerts(data []byte) ([][]byte, error) {
	var ders [][]byte
	if isPEM(data) {
		for {
			var b *pem.Block
			if b, data = pem.Decode(data); b == nil {
				break
			}
			if b.Type == "CERTIFICATE" {
				ders = append(ders, b.Bytes)
			}
		}
		if len(ders) == 0 {
			return nil, errors.New("no CERTIFICATE block in PEM")
		}
		for _, der := range ders {
			if _, err := x509.ParseCertificate(der); err != nil {
				return nil, fmt.Errorf("parse: %w", err)
			}
		}
		return ders, nil
	}
	cs, err := x509.ParseCertificates(data) // DER, possibly a concatenated chain
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(cs) == 0 {
		return nil, errors.New("empty file")
	}
	for _, c := range cs {
		ders = append(ders, c.Raw)
	}
	return ders, nil
}

func parseKey(data []byte) (crypto.PrivateKey, error) {
	der := data
	if isPEM(data) {
		der = nil
		for {
			var b *pem.Block
			if b, data = pem.Decode(data); b == nil {
				break
			}
			if strings.HasSuffix(b.Type, "PRIVATE KEY") {
				der = b.Bytes
				break
			}
		}
		if der == nil {
			return nil, errors.New("no PRIVATE KEY block in PEM")
		}
	}
	// PKCS#8 (openssl), PKCS#1 (RSA) and SEC 1 (EC) (px5g, mbedtls).
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParseECPrivateKey(der)
	if err != nil {
		return nil, errors.New("not a PKCS#8, PKCS#1 or SEC 1 private key (encrypted keys are not supported)")
	}
	return k, nil
}
