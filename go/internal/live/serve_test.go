package live

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// selfSigned makes a certificate for 127.0.0.1 like px5g's: self-signed.
func selfSigned(t *testing.T, key crypto.Signer) ([]byte, *x509.Certificate) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "OpenWrt"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return der, cert
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestWSSWithUhttpdStyleFiles(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, rsaCert := selfSigned(t, rsaKey)
	ecDER, ecCert := selfSigned(t, ecKey)
	ecSEC1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPKCS8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS8, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name      string
		cert, key []byte
		ca        *x509.Certificate
	}{
		// px5g selfsigned -der -newkey rsa:2048 (uhttpd's default)
		{"DER cert, DER PKCS#1 RSA key", rsaDER, x509.MarshalPKCS1PrivateKey(rsaKey), rsaCert},
		// px5g selfsigned -der -newkey ec
		{"DER cert, DER SEC 1 EC key", ecDER, ecSEC1, ecCert},
		// openssl req -x509 -outform der -nodes: the key stays PEM
		{"DER cert, PEM PKCS#8 key", rsaDER, pemOf("PRIVATE KEY", rsaPKCS8), rsaCert},
		// a PEM pair, as a user or ACME would install
		{"PEM cert, PEM PKCS#8 EC key", pemOf("CERTIFICATE", ecDER), pemOf("PRIVATE KEY", ecPKCS8), ecCert},
		{"PEM cert, PEM RSA PRIVATE KEY", pemOf("CERTIFICATE", rsaDER), pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), rsaCert},
		{"DER cert, DER PKCS#8 EC key", ecDER, ecPKCS8, ecCert},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile := write(t, dir, "uhttpd.crt", c.cert)
			keyFile := write(t, dir, "uhttpd.key", c.key)

			h := newHub(t, Options{Checker: newChecker(goodSession)})
			addr := serve(t, h, certFile, keyFile)
			pool := x509.NewCertPool()
			pool.AddCert(c.ca)
			d := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 10 * time.Second}
			conn, status, err := dial(t, d, liveURL("wss", addr, goodSession), "https://127.0.0.1")
			if err != nil {
				t.Fatalf("wss dial: status %d: %v", status, err)
			}
			waitFor(t, "the client", func() bool { return h.Clients() == 1 })
			t0 := time.Unix(1700000000, 0)
			h.Publish(sample(t0, map[string]Counts{"aa:00:00:00:00:01": {DownloadBytes: 0, UploadBytes: 0}}))
			h.Publish(sample(t0.Add(time.Second), map[string]Counts{"aa:00:00:00:00:01": {DownloadBytes: 10280, UploadBytes: 20}}))
			assertRates(t, readMsg(t, conn), t0.Add(time.Second), []Rate{{MAC: "aa:00:00:00:00:01", Down: 10280, Up: 20}})

			// Refusals on wss are plain HTTPS statuses too.
			_, status, _ = dial(t, d, liveURL("wss", addr, badSession), "https://127.0.0.1")
			if status != http.StatusForbidden {
				t.Fatalf("invalid session over wss: %d, want 403", status)
			}
			// A plain ws client cannot talk to the TLS port.
			if _, _, err := dial(t, websocket.DefaultDialer, liveURL("ws", addr, goodSession), "http://127.0.0.1"); err == nil {
				t.Fatal("plain ws connected to the wss listener")
			}
		})
	}
}

func TestLoadKeyPairRejects(t *testing.T) {
	dir := t.TempDir()
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := selfSigned(t, k1)
	sec1, _ := x509.MarshalECPrivateKey(k2)
	cert := write(t, dir, "c.der", der)
	other := write(t, dir, "other.key", sec1)
	garbage := write(t, dir, "garbage", []byte("not a certificate\n"))
	empty := write(t, dir, "empty", nil)
	encrypted := write(t, dir, "enc.key", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	for name, files := range map[string][2]string{
		"key of another certificate": {cert, other},
		"garbage certificate":        {garbage, other},
		"empty certificate":          {empty, other},
		"garbage key":                {cert, garbage},
		"encrypted key":              {cert, encrypted},
		"missing key":                {cert, filepath.Join(dir, "nope")},
	} {
		if _, err := LoadKeyPair(files[0], files[1]); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), "live: ") {
			t.Errorf("%s: unwrapped error %v", name, err)
		}
		if _, err := Listen("127.0.0.1:0", files[0], files[1]); err == nil {
			t.Errorf("%s: Listen accepted it", name)
		}
	}
	if _, err := Listen("127.0.0.1:0", cert, ""); err == nil {
		t.Error("a certificate without a key was accepted")
	}
}
