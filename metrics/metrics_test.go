package metrics_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/metrics"
	"github.com/screenflow/screenflow/store"
)

func scrape(t *testing.T, h http.Handler, authorization string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestHandlerRequiresTheTokenWhenOneIsSet(t *testing.T) {
	reg := metrics.NewRegistry()
	guarded := metrics.Handler(reg, "s3cret")
	for _, authorization := range []string{"", "Bearer wrong", "s3cret", "Basic czNjcmV0", "Bearers3cret", "Bearer  "} {
		code, body := scrape(t, guarded, authorization)
		require.Equal(t, http.StatusUnauthorized, code, "Authorization: %q", authorization)
		require.NotContains(t, body, "go_goroutines")
	}
	for _, authorization := range []string{"Bearer s3cret", "bearer s3cret", "BEARER  s3cret"} {
		code, body := scrape(t, guarded, authorization)
		require.Equal(t, http.StatusOK, code, "Authorization: %q", authorization)
		require.Contains(t, body, "go_goroutines")
	}

	code, body := scrape(t, metrics.Handler(reg, ""), "")
	require.Equal(t, http.StatusOK, code, "without a token the endpoint is open")
	require.Contains(t, body, "go_goroutines")
}

type typedProvider struct{ name string }

func (p typedProvider) Name() string { return p.name }
func (p typedProvider) WebhookEventTypes() []string {
	return []string{"check.completed", "check.failed"}
}

type untypedProvider struct{}

func (untypedProvider) Name() string { return "untyped" }

func TestWebhooksKeepEventTypesToTheProvidersKnownSet(t *testing.T) {
	known := metrics.KnownEventTypes([]any{typedProvider{"complycube"}, untypedProvider{}})
	require.Equal(t, map[string][]string{"complycube": {"check.completed", "check.failed"}}, known)

	reg := prometheus.NewRegistry()
	w := metrics.NewWebhooks(reg, known)
	w.ObserveWebhook("complycube", "check.completed", metrics.AnswerStored, 3*time.Millisecond)
	w.ObserveWebhook("complycube", "check.completed", metrics.AnswerDuplicate, 2*time.Millisecond)
	w.ObserveWebhook("complycube", "made.up.by.a.sender", metrics.AnswerStored, time.Millisecond)
	w.ObserveWebhook("complycube", "", metrics.AnswerRejectedSignature, time.Millisecond)
	w.ObserveWebhook("untyped", "anything", metrics.AnswerStored, 20*time.Second)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP screenflow_webhooks_received_total Provider webhooks answered, by provider, event type (the provider's known types, else other) and answer.
# TYPE screenflow_webhooks_received_total counter
screenflow_webhooks_received_total{answer="duplicate",event_type="check.completed",provider="complycube"} 1
screenflow_webhooks_received_total{answer="rejected_signature",event_type="none",provider="complycube"} 1
screenflow_webhooks_received_total{answer="stored",event_type="check.completed",provider="complycube"} 1
screenflow_webhooks_received_total{answer="stored",event_type="other",provider="complycube"} 1
screenflow_webhooks_received_total{answer="stored",event_type="other",provider="untyped"} 1
`), "screenflow_webhooks_received_total"))

	families, err := reg.Gather()
	require.NoError(t, err)
	counts := map[string]uint64{}
	for _, f := range families {
		if f.GetName() == "screenflow_webhook_ack_duration_seconds" {
			for _, m := range f.GetMetric() {
				counts[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	require.Equal(t, map[string]uint64{"complycube": 4, "untyped": 1}, counts)
}

func TestRelayTimesOnlyDeliveredEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := metrics.NewRelay(reg)
	r.ObserveDelivery("checkr", store.InboxDelivered, 40*time.Millisecond)
	r.ObserveDelivery("checkr", store.InboxDelivered, 2*time.Second)
	r.ObserveDelivery("checkr", store.InboxUnroutable, time.Hour)
	r.ObserveDelivery("checkr", "retried", time.Second)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP screenflow_relay_deliveries_total Relay delivery attempts by provider and outcome (delivered, unroutable, discarded, retried, awaiting_route, released).
# TYPE screenflow_relay_deliveries_total counter
screenflow_relay_deliveries_total{outcome="delivered",provider="checkr"} 2
screenflow_relay_deliveries_total{outcome="retried",provider="checkr"} 1
screenflow_relay_deliveries_total{outcome="unroutable",provider="checkr"} 1
`), "screenflow_relay_deliveries_total"))
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "screenflow_relay_delivery_latency_seconds" {
			h := f.GetMetric()[0].GetHistogram()
			require.Equal(t, uint64(2), h.GetSampleCount(), "an unroutable event's wait is not a delivery's latency")
			require.InDelta(t, 2.04, h.GetSampleSum(), 1e-9)
			return
		}
	}
	t.Fatal("no screenflow_relay_delivery_latency_seconds")
}

type fakeDatabase struct {
	pending    []store.PendingInbox
	screenings []store.StatusCount
	checks     []store.StatusCount
	err        error
}

func (d fakeDatabase) PendingInboxByProvider(context.Context) ([]store.PendingInbox, error) {
	return d.pending, d.err
}

func (d fakeDatabase) ScreeningsByStatus(context.Context) ([]store.StatusCount, error) {
	return d.screenings, d.err
}

func (d fakeDatabase) ChecksByStatus(context.Context) ([]store.StatusCount, error) {
	return d.checks, d.err
}

func TestDatabaseCollectorReportsWhatPostgresHoldsAndZerosForTheRest(t *testing.T) {
	db := fakeDatabase{
		pending:    []store.PendingInbox{{Provider: "complycube", Count: 3, OldestAgeSeconds: 42.5}},
		screenings: []store.StatusCount{{Status: store.StatusCompleted, Count: 7}, {Status: store.StatusInProgress, Count: 2}},
		checks:     []store.StatusCount{{Provider: "checkr", Status: store.StatusAwaitingCredentialing, Count: 1}},
	}
	c := metrics.NewDatabaseCollector(db, []string{"checkr", "complycube"}, slog.New(slog.DiscardHandler))
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP screenflow_database_up 1 when the last scrape read the inbox, screenings and checks from Postgres, 0 when a query failed.
# TYPE screenflow_database_up gauge
screenflow_database_up 1
# HELP screenflow_inbox_oldest_pending_age_seconds Age of the oldest webhook event not yet delivered, by provider; 0 when none is pending.
# TYPE screenflow_inbox_oldest_pending_age_seconds gauge
screenflow_inbox_oldest_pending_age_seconds{provider="checkr"} 0
screenflow_inbox_oldest_pending_age_seconds{provider="complycube"} 42.5
# HELP screenflow_inbox_pending_events Webhook events stored and not yet delivered to their workflow, by provider.
# TYPE screenflow_inbox_pending_events gauge
screenflow_inbox_pending_events{provider="checkr"} 0
screenflow_inbox_pending_events{provider="complycube"} 3
# HELP screenflow_screenings Screenings by status.
# TYPE screenflow_screenings gauge
screenflow_screenings{status="canceled"} 0
screenflow_screenings{status="completed"} 7
screenflow_screenings{status="failed"} 0
screenflow_screenings{status="in_progress"} 2
screenflow_screenings{status="pending"} 0
`), "screenflow_database_up", "screenflow_inbox_oldest_pending_age_seconds", "screenflow_inbox_pending_events",
		"screenflow_screenings"))

	require.Equal(t, 14, testutil.CollectAndCount(c, "screenflow_checks"), "every status of every configured provider")
	families, err := gatherCollector(c)
	require.NoError(t, err)
	got := map[string]float64{}
	for _, m := range families["screenflow_checks"].GetMetric() {
		got[m.GetLabel()[0].GetValue()+"/"+m.GetLabel()[1].GetValue()] = m.GetGauge().GetValue()
	}
	require.Equal(t, 1.0, got["checkr/awaiting_credentialing"])
	require.Equal(t, 0.0, got["complycube/completed"])
}

func TestDatabaseCollectorSaysSoWhenPostgresFails(t *testing.T) {
	c := metrics.NewDatabaseCollector(fakeDatabase{err: errors.New("connection refused")}, []string{"checkr"},
		slog.New(slog.DiscardHandler))
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP screenflow_database_up 1 when the last scrape read the inbox, screenings and checks from Postgres, 0 when a query failed.
# TYPE screenflow_database_up gauge
screenflow_database_up 0
`)), "no zeros that are not true, only that the database was not read")
}

func gatherCollector(c prometheus.Collector) (map[string]*dto.MetricFamily, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	families, err := reg.Gather()
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return byName, err
}

func TestTemporalSDKMetricsLandInTheRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, closer := metrics.TemporalHandler(reg, slog.New(slog.DiscardHandler))
	h.WithTags(map[string]string{"namespace": "default", "operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(2)
	h.Timer("temporal_request_latency").Record(30 * time.Millisecond)
	require.NoError(t, closer.Close(), "closing reports what was recorded")

	families, err := reg.Gather()
	require.NoError(t, err)
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	require.Contains(t, byName, "temporal_request_total")
	require.Equal(t, 2.0, byName["temporal_request_total"].GetMetric()[0].GetCounter().GetValue())
	require.Contains(t, byName, "temporal_request_latency_seconds")
	require.Equal(t, uint64(1), byName["temporal_request_latency_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(),
		"timers are histograms")
}
