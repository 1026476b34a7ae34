package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	stdlog "log"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
)

// testPKI is a throwaway CA with a Temporal server certificate (for temporalServerName only) and
// a client certificate it signed, all written as PEM files.
type testPKI struct {
	ca                        *x509.Certificate
	server                    tls.Certificate
	client                    *x509.Certificate
	caPath, certPath, keyPath string
	// otherKeyPath is a valid key that does not belong to the client certificate.
	otherKeyPath string
}

const temporalServerName = "temporal.test"

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "screenflow test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	issue := func(serial int64, template x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
		key := newKey(t)
		template.SerialNumber = big.NewInt(serial)
		template.NotBefore, template.NotAfter = ca.NotBefore, ca.NotAfter
		template.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, &template, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		return cert, key
	}
	serverCert, serverKey := issue(2, x509.Certificate{
		Subject:     pkix.Name{CommonName: temporalServerName},
		DNSNames:    []string{temporalServerName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	clientCert, clientKey := issue(3, x509.Certificate{
		Subject:     pkix.Name{CommonName: "screenflow-worker"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})

	p := testPKI{
		ca:           ca,
		server:       tls.Certificate{Certificate: [][]byte{serverCert.Raw}, PrivateKey: serverKey, Leaf: serverCert},
		client:       clientCert,
		caPath:       writeTestFile(t, dir, "ca.pem", certPEM(ca)),
		certPath:     writeTestFile(t, dir, "client.pem", certPEM(clientCert)),
		keyPath:      writeTestFile(t, dir, "client.key", keyPEM(t, clientKey)),
		otherKeyPath: writeTestFile(t, dir, "other.key", keyPEM(t, newKey(t))),
	}
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return key
}

func certPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

func keyPEM(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeTestFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

func loadTestConfig(env map[string]string) (config, error) {
	return loadConfig(func(name string) string { return env[name] })
}

func TestConfigTemporalSecurity(t *testing.T) {
	pki := newTestPKI(t)

	t.Run("plaintext by default", func(t *testing.T) {
		cfg, err := loadTestConfig(nil)
		require.NoError(t, err)
		require.Nil(t, cfg.TemporalSecurity.TLS)
		require.Empty(t, cfg.TemporalSecurity.APIKey)
		opts := temporalOptions(cfg, slog.New(slog.DiscardHandler))
		require.Nil(t, opts.ConnectionOptions.TLS)
		require.Nil(t, opts.Credentials)
	})

	t.Run("TEMPORAL_TLS=true verifies the server against the system roots", func(t *testing.T) {
		cfg, err := loadTestConfig(map[string]string{"TEMPORAL_TLS": "true"})
		require.NoError(t, err)
		require.NotNil(t, cfg.TemporalSecurity.TLS)
		require.Nil(t, cfg.TemporalSecurity.TLS.RootCAs, "nil RootCAs means the system roots")
		require.Empty(t, cfg.TemporalSecurity.TLS.Certificates)
		require.False(t, cfg.TemporalSecurity.TLS.InsecureSkipVerify)
	})

	t.Run("mTLS with a CA and a server name", func(t *testing.T) {
		cfg, err := loadTestConfig(map[string]string{
			"TEMPORAL_TLS_CLIENT_CERT_PATH":    pki.certPath,
			"TEMPORAL_TLS_CLIENT_KEY_PATH":     pki.keyPath,
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.caPath,
			"TEMPORAL_TLS_SERVER_NAME":         temporalServerName,
		})
		require.NoError(t, err)
		conf := cfg.TemporalSecurity.TLS
		require.NotNil(t, conf, "TLS settings imply TLS")
		require.Len(t, conf.Certificates, 1)
		require.Equal(t, pki.client.Raw, conf.Certificates[0].Certificate[0])
		require.Equal(t, temporalServerName, conf.ServerName)
		_, err = pki.server.Leaf.Verify(x509.VerifyOptions{Roots: conf.RootCAs, DNSName: temporalServerName})
		require.NoError(t, err, "the CA file's certificate is trusted")
		opts := temporalOptions(cfg, slog.New(slog.DiscardHandler))
		require.Same(t, conf, opts.ConnectionOptions.TLS)
		require.Nil(t, opts.Credentials)
	})

	t.Run("an API key implies TLS", func(t *testing.T) {
		for _, env := range []map[string]string{
			{"TEMPORAL_API_KEY": "key-123"},
			{"TEMPORAL_API_KEY": "key-123", "TEMPORAL_TLS": "true"},
		} {
			cfg, err := loadTestConfig(env)
			require.NoError(t, err)
			require.NotNil(t, cfg.TemporalSecurity.TLS)
			require.Equal(t, "key-123", cfg.TemporalSecurity.APIKey)
			opts := temporalOptions(cfg, slog.New(slog.DiscardHandler))
			require.NotNil(t, opts.ConnectionOptions.TLS)
			require.NotNil(t, opts.Credentials)
		}
	})

	notPEM := writeTestFile(t, t.TempDir(), "not.pem", []byte("just some text\n"))
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		name string
		env  map[string]string
		// names are the settings the error must name.
		names []string
	}{
		{"API key with TLS disabled", map[string]string{"TEMPORAL_API_KEY": "key-123", "TEMPORAL_TLS": "false"},
			[]string{"TEMPORAL_API_KEY", "TEMPORAL_TLS"}},
		{"TLS settings with TLS disabled", map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.caPath, "TEMPORAL_TLS": "false"},
			[]string{"TEMPORAL_TLS"}},
		{"TEMPORAL_TLS not a boolean", map[string]string{"TEMPORAL_TLS": "maybe"}, []string{"TEMPORAL_TLS"}},
		{"certificate without key", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": pki.certPath},
			[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH"}},
		{"key without certificate", map[string]string{"TEMPORAL_TLS_CLIENT_KEY_PATH": pki.keyPath},
			[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH"}},
		{"unreadable certificate", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": missing, "TEMPORAL_TLS_CLIENT_KEY_PATH": pki.keyPath},
			[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH"}},
		{"unreadable key", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": pki.certPath, "TEMPORAL_TLS_CLIENT_KEY_PATH": missing},
			[]string{"TEMPORAL_TLS_CLIENT_KEY_PATH"}},
		{"unreadable CA", map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": missing}, []string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH"}},
		{"certificate not PEM", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": notPEM, "TEMPORAL_TLS_CLIENT_KEY_PATH": pki.keyPath},
			[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH"}},
		{"key not PEM", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": pki.certPath, "TEMPORAL_TLS_CLIENT_KEY_PATH": notPEM},
			[]string{"TEMPORAL_TLS_CLIENT_KEY_PATH"}},
		{"CA not PEM", map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": notPEM}, []string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH"}},
		{"CA file holds a key", map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.keyPath}, []string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH"}},
		{"certificate and key swapped", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": pki.keyPath, "TEMPORAL_TLS_CLIENT_KEY_PATH": pki.certPath},
			[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH"}},
		{"key of another certificate", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": pki.certPath, "TEMPORAL_TLS_CLIENT_KEY_PATH": pki.otherKeyPath},
			[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadTestConfig(tc.env)
			require.Error(t, err)
			for _, name := range tc.names {
				require.Contains(t, err.Error(), name)
			}
			require.NotContains(t, err.Error(), "key-123", "errors never quote the API key")
			require.NotContains(t, err.Error(), "BEGIN", "errors never quote key material")
		})
	}
}

// seenRequest is what the fake Temporal frontend saw of a gRPC call.
type seenRequest struct {
	path          string
	serverName    string
	peerCerts     []*x509.Certificate
	authorization string
}

// startFakeTemporal serves HTTP/2 over TLS with the test PKI's server certificate, as Temporal's
// frontend does, and answers every gRPC call "unknown method", which the SDK's dial accepts from
// an older server: the client connects without a real Temporal behind it.
func startFakeTemporal(t *testing.T, pki testPKI, clientAuth tls.ClientAuthType) (string, <-chan seenRequest) {
	t.Helper()
	seen := make(chan seenRequest, 16)
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(pki.ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case seen <- seenRequest{path: r.URL.Path, serverName: r.TLS.ServerName, peerCerts: r.TLS.PeerCertificates,
			authorization: r.Header.Get("Authorization")}:
		default:
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "12")
		w.Header().Set("Grpc-Message", "unknown method "+r.URL.Path)
		w.WriteHeader(http.StatusOK)
	}))
	srv.EnableHTTP2 = true
	// The refused handshakes are expected; their log lines are noise.
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientCAs: clientCAs, ClientAuth: clientAuth}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), seen
}

func nextRequest(t *testing.T, seen <-chan seenRequest) seenRequest {
	t.Helper()
	select {
	case req := <-seen:
		return req
	case <-time.After(10 * time.Second):
		t.Fatal("no gRPC request reached the fake Temporal over TLS")
		return seenRequest{}
	}
}

// TestTemporalTLSHandshake dials a TLS Temporal frontend the way serve and worker do, and checks
// on the server side that the client verified it, presented its certificate or its API key.
func TestTemporalTLSHandshake(t *testing.T) {
	pki := newTestPKI(t)
	log := slog.New(slog.DiscardHandler)

	t.Run("mTLS", func(t *testing.T) {
		addr, seen := startFakeTemporal(t, pki, tls.RequireAndVerifyClientCert)
		cfg, err := loadTestConfig(map[string]string{
			"TEMPORAL_ADDRESS":                 addr,
			"TEMPORAL_TLS_CLIENT_CERT_PATH":    pki.certPath,
			"TEMPORAL_TLS_CLIENT_KEY_PATH":     pki.keyPath,
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.caPath,
			"TEMPORAL_TLS_SERVER_NAME":         temporalServerName,
		})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		tc, err := dialTemporal(ctx, cfg, log)
		require.NoError(t, err)
		tc.Close()

		req := nextRequest(t, seen)
		require.Equal(t, "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo", req.path)
		require.Equal(t, temporalServerName, req.serverName)
		require.NotEmpty(t, req.peerCerts, "the client presented a certificate")
		require.True(t, req.peerCerts[0].Equal(pki.client), "the client presented TEMPORAL_TLS_CLIENT_CERT_PATH")
		require.Empty(t, req.authorization)
	})

	t.Run("API key", func(t *testing.T) {
		addr, seen := startFakeTemporal(t, pki, tls.VerifyClientCertIfGiven)
		cfg, err := loadTestConfig(map[string]string{
			"TEMPORAL_ADDRESS":                 addr,
			"TEMPORAL_API_KEY":                 "key-123",
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.caPath,
			"TEMPORAL_TLS_SERVER_NAME":         temporalServerName,
		})
		require.NoError(t, err)
		tc, err := client.NewLazyClient(temporalOptions(cfg, log))
		require.NoError(t, err)
		defer tc.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		_, err = tc.CheckHealth(ctx, nil)
		require.Error(t, err, "the fake is not Temporal")

		req := nextRequest(t, seen)
		require.Equal(t, temporalServerName, req.serverName)
		require.Empty(t, req.peerCerts)
		require.Equal(t, "Bearer key-123", req.authorization)
	})

	t.Run("a server the CA did not sign is refused", func(t *testing.T) {
		addr, seen := startFakeTemporal(t, pki, tls.VerifyClientCertIfGiven)
		cfg, err := loadTestConfig(map[string]string{
			"TEMPORAL_ADDRESS":         addr,
			"TEMPORAL_API_KEY":         "key-123",
			"TEMPORAL_TLS_SERVER_NAME": temporalServerName,
		})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		_, err = client.DialContext(ctx, temporalOptions(cfg, log))
		require.ErrorContains(t, err, "certificate signed by unknown authority")
		require.Empty(t, seen, "no request reached the server")
	})
}
