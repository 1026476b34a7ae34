// Package metrics defines screenflow's Prometheus metrics and serves them: what the receiver, the
// relay and the provider API clients count through small hooks, what Postgres holds (read at
// scrape time), and the Temporal SDK's own metrics. Each process (serve, worker) has one registry,
// exposed at /metrics; docs: the README's "Metrics" section, alerts: alerts.yml beside this file.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/screenflow/screenflow/internal/bearer"
	"github.com/screenflow/screenflow/metrics/apicalls"
)

// namespace prefixes every metric screenflow defines; the SDK's keep their own "temporal_".
const namespace = "screenflow"

// NewRegistry returns a registry with the Go runtime's and the process's metrics and the provider
// API calls (apicalls.Calls), which every process makes. The caller registers the rest.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		apicalls.Calls)
	return reg
}

// Handler serves reg's metrics. When token is set, a scrape must carry it as a bearer token:
// the metrics name providers, event types and volumes, which is nobody else's business; without
// a token the endpoint is as open as the listener it is on. Errors of one collector leave the
// others' metrics served.
func Handler(reg *prometheus.Registry, token string) http.Handler {
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	if token == "" {
		return metrics
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bearer.Matches(r.Header.Get("Authorization"), token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "a metrics token is required", http.StatusUnauthorized)
			return
		}
		metrics.ServeHTTP(w, r)
	})
}
