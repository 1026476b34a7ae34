// Package apicalls counts the calls to the providers' APIs. It is apart from package metrics so
// that the API clients, which report to it, depend on nothing but Prometheus's client.
package apicalls

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Calls counts the calls to the providers' APIs. It is one for the whole process because the API
// clients are built deep inside each provider's configuration, where no registry reaches;
// metrics.NewRegistry registers it with each process's registry, and with no global one.
var Calls = newMetrics()

// Metrics counts provider API calls by provider, operation and status, and times them.
type Metrics struct {
	calls   *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

func newMetrics() *Metrics {
	return &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "screenflow", Name: "provider_calls_total",
			Help: "Calls to provider APIs by provider, operation (method and route template) and status (2xx, 4xx, 5xx, or the transport error's class).",
		}, []string{"provider", "operation", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "screenflow", Name: "provider_call_duration_seconds",
			Help:    "Duration of calls to provider APIs, by provider and operation.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"provider", "operation"}),
	}
}

// ObserveCall counts one call and its duration. operation must be bounded: a route template such
// as "GET /checks/:id", never a path with ids in it.
func (m *Metrics) ObserveCall(provider, operation, status string, took time.Duration) {
	m.calls.WithLabelValues(provider, operation, status).Inc()
	m.latency.WithLabelValues(provider, operation).Observe(took.Seconds())
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.calls.Describe(ch)
	m.latency.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.calls.Collect(ch)
	m.latency.Collect(ch)
}
