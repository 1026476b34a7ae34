package metrics

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Answers of a webhook, the values of screenflow_webhooks_received_total's answer label.
const (
	AnswerStored            = "stored"             // 200: stored, to be relayed
	AnswerDuplicate         = "duplicate"          // 200: already stored (a provider's retry)
	AnswerUnparsed          = "unparsed"           // 200: authentic but not understood; kept for operators
	AnswerRejectedSignature = "rejected_signature" // 401: signature or token missing or wrong
	AnswerTooLarge          = "too_large"          // 413: over WEBHOOK_MAX_BYTES
	AnswerBadRequest        = "bad_request"        // 400: the body could not be read
	AnswerUnavailable       = "unavailable"        // 503: Postgres did not take it; the provider retries
)

// Event type labels that are not a provider's event type.
const (
	// EventTypeOther is an event type the provider does not list: the label's values stay the
	// provider's known set whatever a sender puts in a body.
	EventTypeOther = "other"
	// EventTypeNone is a webhook with no type read: refused before parsing, or unparsed.
	EventTypeNone = "none"
)

// WebhookEventTyper is implemented by providers that list the event types their webhooks carry;
// a provider that does not has every type counted as "other".
type WebhookEventTyper interface {
	Name() string
	WebhookEventTypes() []string
}

// KnownEventTypes maps each provider's name to the event types it lists, for NewWebhooks.
func KnownEventTypes[P any](providers []P) map[string][]string {
	known := map[string][]string{}
	for _, p := range providers {
		if typer, ok := any(p).(WebhookEventTyper); ok {
			known[typer.Name()] = typer.WebhookEventTypes()
		}
	}
	return known
}

// Webhooks counts the webhooks the receiver answers and times their answers.
type Webhooks struct {
	received *prometheus.CounterVec
	ack      *prometheus.HistogramVec
	known    map[string][]string
}

// NewWebhooks registers the webhook metrics with reg. known maps a provider's name to its event
// types (KnownEventTypes): the values its event_type label takes besides "other" and "none".
func NewWebhooks(reg prometheus.Registerer, known map[string][]string) *Webhooks {
	w := &Webhooks{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "webhooks_received_total",
			Help: "Provider webhooks answered, by provider, event type (the provider's known types, else other) and answer.",
		}, []string{"provider", "event_type", "answer"}),
		// ComplyCube gives up on an answer after 15 s; the buckets resolve the milliseconds a
		// stored event takes and reach past that limit.
		ack: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "webhook_ack_duration_seconds",
			Help:    "Time from a webhook request's start to its answer, by provider.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}, []string{"provider"}),
		known: known,
	}
	reg.MustRegister(w.received, w.ack)
	return w
}

// ObserveWebhook counts one answered webhook of provider (a configured provider's name: the
// receiver has a route per provider only) and its answer's latency.
func (w *Webhooks) ObserveWebhook(provider, eventType, answer string, took time.Duration) {
	w.received.WithLabelValues(provider, w.eventTypeLabel(provider, eventType), answer).Inc()
	w.ack.WithLabelValues(provider).Observe(took.Seconds())
}

func (w *Webhooks) eventTypeLabel(provider, eventType string) string {
	switch {
	case eventType == "":
		return EventTypeNone
	case slices.Contains(w.known[provider], eventType):
		return eventType
	default:
		return EventTypeOther
	}
}
