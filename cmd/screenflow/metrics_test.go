package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMetricsSettings(t *testing.T) {
	for value, want := range map[string]string{"": ":9464", "127.0.0.1:9500": "127.0.0.1:9500", "off": ""} {
		c, err := loadMetricsConfig(func(name string) string {
			return map[string]string{"METRICS_ADDR": value, "METRICS_TOKEN": "t0ken"}[name]
		})
		require.NoError(t, err, value)
		require.Equal(t, want, c.WorkerAddr, value)
		require.Equal(t, "t0ken", c.Token)
	}
	_, err := loadMetricsConfig(func(name string) string { return map[string]string{"METRICS_ADDR": "9464"}[name] })
	require.ErrorContains(t, err, "METRICS_ADDR")
}

// freeAddr is a loopback address nothing listens on, for a listener that takes an address only.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// waitListening waits until something accepts connections on addr: a listener that a goroutine
// of the test opens when it gets there.
func waitListening(t *testing.T, addr string, within time.Duration, what string) {
	t.Helper()
	require.Eventually(t, func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}, within, 20*time.Millisecond, "%s on %s", what, addr)
}

func scrapeStatus(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestWorkerServesItsMetricsOnItsOwnListenerUntilStopped(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := config{Metrics: metricsConfig{WorkerAddr: addr, Token: "t0ken"}}
	m := startWorkerMetrics(ctx, cfg, slog.New(slog.DiscardHandler))
	defer m.close()

	code, _ := scrapeStatus(t, "http://"+addr+"/metrics", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := scrapeStatus(t, "http://"+addr+"/metrics", "t0ken")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "go_goroutines")

	cancel()
	require.Eventually(t, func() bool {
		_, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		return err != nil
	}, 5*time.Second, 20*time.Millisecond, "the listener closes with the worker")
}
