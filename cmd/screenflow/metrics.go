package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/screenflow/screenflow/metrics"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

// The metrics' settings. serve's metrics are at /metrics on HTTP_ADDR; the worker, which has no
// HTTP server of its own, listens on METRICS_ADDR: 9464 is clear of serve's 8080, Temporal's 7233
// and 8233, dev's Postgres and the fakes' ports (chosen by the system). METRICS_TOKEN, when set,
// is required of every scrape of either.
var (
	settingMetricsAddr  = registry.Setting{Name: "METRICS_ADDR", Default: ":9464"}
	settingMetricsToken = registry.Setting{Name: "METRICS_TOKEN"}
)

// metricsOff, as METRICS_ADDR, serves no worker metrics (an empty setting takes the default).
const metricsOff = "off"

// metricsConfig is how the processes expose their metrics.
type metricsConfig struct {
	// WorkerAddr is where the worker serves /metrics; "" serves nothing.
	WorkerAddr string
	// Token, when set, must come with every scrape as a bearer token.
	Token string
	// Temporal is the SDK's metrics handler of the process's Temporal client (temporalOptions);
	// nil, as in the admin commands, records nothing.
	Temporal client.MetricsHandler
}

func loadMetricsConfig(env registry.Env) (metricsConfig, error) {
	c := metricsConfig{WorkerAddr: settingMetricsAddr.Get(env), Token: settingMetricsToken.Get(env)}
	if c.WorkerAddr == metricsOff {
		c.WorkerAddr = ""
		return c, nil
	}
	if _, _, err := net.SplitHostPort(c.WorkerAddr); err != nil {
		return c, fmt.Errorf("%s=%q is neither host:port (such as :9464) nor %s", settingMetricsAddr.Name, c.WorkerAddr, metricsOff)
	}
	return c, nil
}

// processMetrics is one process's registry, served by handler, and the Temporal SDK's metrics in it.
type processMetrics struct {
	registry      *prometheus.Registry
	handler       http.Handler
	temporal      client.MetricsHandler
	closeTemporal io.Closer
}

func newProcessMetrics(cfg config, log *slog.Logger) *processMetrics {
	reg := metrics.NewRegistry()
	temporal, closer := metrics.TemporalHandler(reg, log)
	return &processMetrics{registry: reg, handler: metrics.Handler(reg, cfg.Metrics.Token), temporal: temporal,
		closeTemporal: closer}
}

func (m *processMetrics) close() { _ = m.closeTemporal.Close() }

// serveMetrics are serve's: the process's, the receiver's, the relay's, and what Postgres holds.
type serveMetrics struct {
	*processMetrics
	webhooks *metrics.Webhooks
	relay    *metrics.Relay
}

func newServeMetrics(cfg config, st *store.Store, log *slog.Logger) serveMetrics {
	m := serveMetrics{processMetrics: newProcessMetrics(cfg, log)}
	m.webhooks = metrics.NewWebhooks(m.registry, metrics.KnownEventTypes(cfg.Providers.All()))
	m.relay = metrics.NewRelay(m.registry)
	// Only serve reads Postgres for the gauges: one scrape target per number, not two.
	m.registry.MustRegister(metrics.NewDatabaseCollector(st, cfg.Providers.Names(), log))
	return m
}

// startWorkerMetrics serves the worker's metrics on cfg.Metrics.WorkerAddr until ctx is done. A
// listener that cannot be had is logged, not fatal: a worker without metrics still runs the
// screenings, and one that stopped for a port would run none.
func startWorkerMetrics(ctx context.Context, cfg config, log *slog.Logger) *processMetrics {
	m := newProcessMetrics(cfg, log)
	if cfg.Metrics.WorkerAddr == "" {
		return m
	}
	ln, err := net.Listen("tcp", cfg.Metrics.WorkerAddr)
	if err != nil {
		log.Error("worker metrics not served: cannot listen", "addr", cfg.Metrics.WorkerAddr, "error", err)
		return m
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.handler)
	go func() {
		if err := serveHTTP(ctx, ln, mux); err != nil {
			log.Error("worker metrics server stopped", "error", err)
		}
	}()
	log.Info("worker metrics listening", "addr", ln.Addr().String())
	return m
}
