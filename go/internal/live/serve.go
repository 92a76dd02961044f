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
	"os"
	"strings"
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

// Listen opens addr, wrapped in TLS when a certificate and key are given.
func Listen(addr, certFile, keyFile string) (net.Listener, error) {
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
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    8 << 10,
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
