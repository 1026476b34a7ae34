package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/screenflow/screenflow/store"
)

// Relay counts what became of the relay's delivery attempts and times the delivered events'
// way from the inbox to their workflow.
type Relay struct {
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
}

// NewRelay registers the relay's metrics with reg.
func NewRelay(reg prometheus.Registerer) *Relay {
	r := &Relay{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "relay_deliveries_total",
			Help: "Relay delivery attempts by provider and outcome (delivered, unroutable, discarded, retried, awaiting_route, released).",
		}, []string{"provider", "outcome"}),
		// From milliseconds (the fast path) to the hour RELAY_UNROUTABLE_AFTER lets an event wait
		// for its route.
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "relay_delivery_latency_seconds",
			Help:    "Time from a webhook's storing to its delivery to its workflow, by provider.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"provider"}),
	}
	reg.MustRegister(r.deliveries, r.latency)
	return r
}

// ObserveDelivery counts one outcome of provider's event; sinceStored, the time since the event
// was stored, is timed when the event was delivered (store.InboxDelivered).
func (r *Relay) ObserveDelivery(provider, outcome string, sinceStored time.Duration) {
	r.deliveries.WithLabelValues(provider, outcome).Inc()
	if outcome == store.InboxDelivered {
		r.latency.WithLabelValues(provider).Observe(sinceStored.Seconds())
	}
}
