package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/screenflow/screenflow/providers/registry"
)

// The settings for a secured Temporal (mTLS, or Temporal Cloud's API keys), under the names the
// Temporal CLI and the SDKs' environment configuration read, so one environment serves both.
var (
	settingTemporalTLS        = registry.Setting{Name: "TEMPORAL_TLS"}
	settingTemporalClientCert = registry.Setting{Name: "TEMPORAL_TLS_CLIENT_CERT_PATH"}
	settingTemporalClientKey  = registry.Setting{Name: "TEMPORAL_TLS_CLIENT_KEY_PATH"}
	settingTemporalServerCA   = registry.Setting{Name: "TEMPORAL_TLS_SERVER_CA_CERT_PATH"}
	settingTemporalServerName = registry.Setting{Name: "TEMPORAL_TLS_SERVER_NAME"}
	settingTemporalAPIKey     = registry.Setting{Name: "TEMPORAL_API_KEY"}
)

// temporalSecurity is how screenflow proves itself to Temporal and checks that it talks to the
// right server. The zero value is plaintext without credentials, as for a local dev server.
type temporalSecurity struct {
	// TLS is nil for plaintext.
	TLS    *tls.Config
	APIKey string
}

// loadTemporalSecurity reads the TEMPORAL_TLS* and TEMPORAL_API_KEY settings and loads the
// files they name, so that a wrong path or file stops start-up rather than the first dial.
// TLS is on when TEMPORAL_TLS says so or, unset, when any other of these settings is set.
func loadTemporalSecurity(env registry.Env) (temporalSecurity, error) {
	certPath := settingTemporalClientCert.Get(env)
	keyPath := settingTemporalClientKey.Get(env)
	caPath := settingTemporalServerCA.Get(env)
	serverName := settingTemporalServerName.Get(env)
	apiKey := settingTemporalAPIKey.Get(env)
	tlsImplied := certPath != "" || keyPath != "" || caPath != "" || serverName != "" || apiKey != ""

	tlsOn := tlsImplied
	if v := settingTemporalTLS.Get(env); v != "" {
		explicit, err := strconv.ParseBool(v)
		if err != nil {
			return temporalSecurity{}, fmt.Errorf("%s=%q is neither true nor false", settingTemporalTLS.Name, v)
		}
		tlsOn = explicit
	}
	if !tlsOn && apiKey != "" {
		// Fail closed: the key would cross the network in plaintext.
		return temporalSecurity{}, fmt.Errorf("%s is set but %s=false: an API key is only sent over TLS",
			settingTemporalAPIKey.Name, settingTemporalTLS.Name)
	}
	if !tlsOn && tlsImplied {
		return temporalSecurity{}, fmt.Errorf("%s=false contradicts the %s_* settings that are set: unset one or the other",
			settingTemporalTLS.Name, settingTemporalTLS.Name)
	}
	if !tlsOn {
		return temporalSecurity{}, nil
	}

	conf := &tls.Config{ServerName: serverName}
	if (certPath == "") != (keyPath == "") {
		return temporalSecurity{}, fmt.Errorf("%s and %s go together: a client certificate needs its key",
			settingTemporalClientCert.Name, settingTemporalClientKey.Name)
	}
	if certPath != "" {
		cert, err := loadClientCertificate(certPath, keyPath)
		if err != nil {
			return temporalSecurity{}, err
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if caPath != "" {
		caPEM, err := readPEMFile(settingTemporalServerCA, caPath)
		if err != nil {
			return temporalSecurity{}, err
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(caPEM) {
			return temporalSecurity{}, fmt.Errorf("%s=%q holds no usable PEM certificate", settingTemporalServerCA.Name, caPath)
		}
	}
	return temporalSecurity{TLS: conf, APIKey: apiKey}, nil
}

// loadClientCertificate reads the client certificate and its key. Errors name the file at fault
// and never quote its contents.
func loadClientCertificate(certPath, keyPath string) (tls.Certificate, error) {
	certPEM, err := readPEMFile(settingTemporalClientCert, certPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readPEMFile(settingTemporalClientKey, keyPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	if block, _ := pem.Decode(certPEM); block.Type != "CERTIFICATE" {
		return tls.Certificate{}, fmt.Errorf("%s=%q holds a %s, not a CERTIFICATE", settingTemporalClientCert.Name, certPath, block.Type)
	}
	if block, _ := pem.Decode(keyPEM); !strings.HasSuffix(block.Type, "PRIVATE KEY") {
		return tls.Certificate{}, fmt.Errorf("%s=%q holds a %s, not a PRIVATE KEY", settingTemporalClientKey.Name, keyPath, block.Type)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s=%q and %s=%q: %w", settingTemporalClientCert.Name, certPath,
			settingTemporalClientKey.Name, keyPath, err)
	}
	return cert, nil
}

// readPEMFile reads the file a setting names and checks that it is PEM.
func readPEMFile(s registry.Setting, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	if block, _ := pem.Decode(data); block == nil {
		return nil, fmt.Errorf("%s=%q is not a PEM file", s.Name, path)
	}
	return data, nil
}
