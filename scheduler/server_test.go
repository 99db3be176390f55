package scheduler

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
)

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// serve runs Serve on a free port until the test ends and returns its base
// URL once it answers.
func serve(t *testing.T, webConfig string, reg prometheus.Gatherer, healthy func() error) string {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, addr, webConfig, reg, healthy, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve after cancel: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		select {
		case err := <-done:
			t.Fatalf("Serve: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url, user, password string) (int, string) {
	t.Helper()
	return getWith(t, http.DefaultClient, url, user, password)
}

func getWith(t *testing.T, client *http.Client, url, user, password string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestServeMetricsAndHealth(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, "1.2.3")
	m.BackupDone("main", manifest("app", t0, 100, "base"), time.Minute)
	var unhealthy error
	base := serve(t, "", reg, func() error { return unhealthy })

	code, body := get(t, base+"/metrics", "", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, want := range []string{`pgtier_build_info{goversion=`, `pgtier_backup_runs_total{cluster="main",database="app",result="success"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if code, body := get(t, base+"/healthz", "", ""); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz healthy: %d %q", code, body)
	}
	unhealthy = errors.New("lease lost:\nbucket unreachable")
	if code, body := get(t, base+"/healthz", "", ""); code != http.StatusServiceUnavailable || body != "lease lost: bucket unreachable\n" {
		t.Errorf("/healthz unhealthy: %d %q", code, body)
	}
	if code, _ := get(t, base+"/nothing", "", ""); code != http.StatusNotFound {
		t.Errorf("/nothing: %d, want 404", code)
	}
}

func TestServeBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(file, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	NewMetrics(reg, "1.2.3")
	base := serve(t, file, reg, func() error { return nil })

	if code, _ := get(t, base+"/metrics", "", ""); code != http.StatusUnauthorized {
		t.Errorf("unauthenticated scrape: %d, want 401", code)
	}
	if code, _ := get(t, base+"/metrics", "prometheus", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("scrape with a wrong password: %d, want 401", code)
	}
	code, body := get(t, base+"/metrics", "prometheus", "s3cret")
	if code != http.StatusOK || !strings.Contains(body, "pgtier_build_info") {
		t.Errorf("authenticated scrape: %d\n%s", code, body)
	}
	if code, _ := get(t, base+"/healthz", "", ""); code != http.StatusUnauthorized {
		t.Errorf("unauthenticated /healthz: %d, want 401 (the web config covers every path)", code)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "backupd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	file := filepath.Join(dir, "web.yml")
	config := "tls_server_config:\n  cert_file: " + certFile + "\n  key_file: " + keyFile + "\n"
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	NewMetrics(reg, "1.2.3")
	base := strings.Replace(serve(t, file, reg, func() error { return nil }), "http://", "https://", 1)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	code, body := getWith(t, client, base+"/metrics", "", "")
	if code != http.StatusOK || !strings.Contains(body, "pgtier_build_info") {
		t.Errorf("scrape over TLS: %d\n%s", code, body)
	}
	if code, _ := get(t, strings.Replace(base, "https://", "http://", 1)+"/metrics", "", ""); code != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS port: %d, want 400", code)
	}
}

func TestServeRefusesAtOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.DiscardHandler)
	healthy := func() error { return nil }

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = Serve(ctx, busy.Addr().String(), "", reg, healthy, logger)
	if err == nil || !strings.Contains(err.Error(), "listening for metrics on "+busy.Addr().String()) {
		t.Errorf("address in use: %v", err)
	}
	if ctx.Err() != nil {
		t.Error("Serve waited for its context instead of failing")
	}

	bad := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(bad, []byte("basic_auth_users:\n  prometheus: not-a-bcrypt-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen("127.0.0.1:0", bad, reg, healthy, logger); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad web config: %v", err)
	}
	if _, err := Listen("127.0.0.1:0", filepath.Join(t.TempDir(), "missing.yml"), reg, healthy, logger); err == nil {
		t.Error("a missing web config file is accepted")
	}
}

func TestServerShutdown(t *testing.T) {
	s, err := Listen("127.0.0.1:0", "", prometheus.NewRegistry(), func() error { return nil }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	if code, _ := get(t, "http://"+s.Addr().String()+"/healthz", "", ""); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Error("still listening after shutdown")
	}
}
