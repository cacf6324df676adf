package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/app"
	"bgcall/fssim"
	"bgcall/internal/testutil"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bgcall test redis"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "redis.crt"), filepath.Join(dir, "redis.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// TestRedisTLS: redis.tls with redis.tls_ca reaches a TLS-only redis-server
// with a password, and a wrong CA is refused with a message naming the fix.
func TestRedisTLS(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", "0", "--tls-port", port, "--bind", "127.0.0.1",
		"--tls-cert-file", cert, "--tls-key-file", key, "--tls-auth-clients", "no",
		"--requirepass", "s3cret-redis", "--save", "", "--appendonly", "no", "--dir", dir)
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	testutil.WaitFor(t, "redis-server on TLS", func() bool {
		select {
		case <-exited:
			t.Skipf("redis-server does not run with TLS here: %s", out.String())
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	sim, err := fssim.Start(fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testConfig(sim)
	cfg.Redis.Addrs = []string{addr}
	cfg.Redis.TLS = true
	cfg.Redis.TLSCA = cert
	cfg.Redis.Password = "s3cret-redis"
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: io.Discard})
	if err != nil {
		t.Fatalf("start over TLS: %v\n%s", err, out.String())
	}
	c := &api.Client{Base: "http://" + d.APIAddr()}
	testutil.WaitFor(t, "ready", func() bool { return c.Ready(ctx) == nil })
	if _, _, err := c.Create(ctx, api.CreateRequest{Caller: "1001", Callee: "1002"}); err != nil {
		t.Errorf("create over TLS: %v", err)
	}
	stop()
	d.Wait()

	// Without the CA the server's certificate is not trusted.
	cfg.Redis.TLSCA = ""
	tctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := app.Start(tctx, app.Options{Config: cfg, LogOutput: io.Discard}); err == nil || !strings.Contains(err.Error(), "redis.tls") {
		t.Errorf("untrusted certificate: %v, want an error naming redis.tls", err)
	}
}
