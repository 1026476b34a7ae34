package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

const e2eMetricsToken = "e2e-metrics-token"

// scraped is one scrape's metric families, by name.
type scraped map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, url string) scraped {
	t.Helper()
	code, body := scrapeStatus(t, url, e2eMetricsToken)
	require.Equal(t, http.StatusOK, code, body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	return families
}

// value is the counter's or gauge's value of the sample of family with every one of labels (in
// pairs), 0 when there is none; a histogram's sample count.
func (s scraped) value(family string, labels ...string) float64 {
	f, ok := s[family]
	if !ok {
		return 0
	}
	var sum float64
	for _, m := range f.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			sum += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			sum += m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for i := 0; i < len(pairs); i += 2 {
		if have[pairs[i]] != pairs[i+1] {
			return false
		}
	}
	return true
}

func TestEndToEndMetricsCountAScreening(t *testing.T) {
	tmp := testenv.Temporal(t)
	workerAddr := freeAddr(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour},
		env:    map[string]string{"METRICS_ADDR": workerAddr, "METRICS_TOKEN": e2eMetricsToken}})
	s.fake.DuplicateWebhooks(true)
	serveURL, workerURL := s.apiURL+"/metrics", "http://"+workerAddr+"/metrics"
	// The worker runs beside serve and opens its metrics listener when it starts, which may be
	// after serve answers.
	waitListening(t, workerAddr, 30*time.Second, "the worker's metrics listener")

	for _, url := range []string{serveURL, workerURL} {
		code, body := scrapeStatus(t, url, "")
		require.Equal(t, http.StatusUnauthorized, code, "%s without the token", url)
		require.NotContains(t, body, "screenflow_")
	}
	// The provider API calls are counted for the whole test binary: the screening's are the difference.
	callsBefore := scrapeMetrics(t, workerURL)

	created := s.createScreening(t)
	s.waitForStatus(t, created.ID, store.StatusCompleted, time.Minute)

	completed := func() (delivered, events int) {
		seen := map[string]bool{}
		for _, d := range s.fake.Deliveries() {
			if d.Type == complycube.EventCheckCompleted && d.StatusCode == http.StatusOK {
				delivered++
				seen[d.EventID] = true
			}
		}
		return delivered, len(seen)
	}
	var served scraped
	require.Eventually(t, func() bool {
		served = scrapeMetrics(t, serveURL)
		delivered, _ := completed()
		counted := served.value("screenflow_webhooks_received_total", "provider", "complycube",
			"event_type", complycube.EventCheckCompleted)
		return delivered == 2 && counted == 2 && served.value("screenflow_inbox_pending_events", "provider", "complycube") == 0
	}, 30*time.Second, 250*time.Millisecond, "both deliveries of check.completed (the fake duplicates them) are counted")
	delivered, events := completed()
	require.Equal(t, 2, delivered)
	require.Equal(t, 1, events)
	require.Equal(t, 1.0, served.value("screenflow_webhooks_received_total", "provider", "complycube",
		"event_type", complycube.EventCheckCompleted, "answer", "stored"))
	require.Equal(t, 1.0, served.value("screenflow_webhooks_received_total", "provider", "complycube",
		"event_type", complycube.EventCheckCompleted, "answer", "duplicate"))
	require.Equal(t, 1.0, served.value("screenflow_webhooks_received_total", "provider", "complycube",
		"event_type", "check.completed.clear", "answer", "stored"))
	require.Zero(t, served.value("screenflow_webhooks_received_total", "answer", "rejected_signature"))
	allAcked := served.value("screenflow_webhooks_received_total", "provider", "complycube")
	require.Equal(t, float64(len(s.fake.Deliveries())), allAcked, "every delivery the fake made is counted once")
	require.Equal(t, allAcked, served.value("screenflow_webhook_ack_duration_seconds", "provider", "complycube"),
		"and timed")

	stored := served.value("screenflow_webhooks_received_total", "provider", "complycube", "answer", "stored")
	require.Equal(t, stored, served.value("screenflow_relay_deliveries_total", "provider", "complycube", "outcome", "delivered")+
		served.value("screenflow_relay_deliveries_total", "provider", "complycube", "outcome", "discarded"),
		"every stored event was delivered, or discarded once its check had closed")
	require.Zero(t, served.value("screenflow_relay_deliveries_total", "outcome", "unroutable"))
	require.Equal(t, served.value("screenflow_relay_deliveries_total", "provider", "complycube", "outcome", "delivered"),
		served.value("screenflow_relay_delivery_latency_seconds", "provider", "complycube"))

	require.Equal(t, 1.0, served.value("screenflow_screenings", "status", "completed"))
	require.Zero(t, served.value("screenflow_screenings", "status", "in_progress"))
	require.Equal(t, 1.0, served.value("screenflow_checks", "provider", "complycube", "status", "completed"))
	require.Equal(t, 1.0, served.value("screenflow_database_up"))
	require.Contains(t, served, "temporal_request_total", "serve's Temporal client reports the SDK's metrics")

	var worker scraped
	require.Eventually(t, func() bool {
		worker = scrapeMetrics(t, workerURL)
		return worker.value("temporal_workflow_completed_total", "workflow_type", workflows.ScreeningWorkflowName) >= 1
	}, 10*time.Second, 250*time.Millisecond, "the worker reports the SDK's metrics, the screening's workflow completed")
	for _, family := range []string{"temporal_workflow_task_execution_latency_seconds", "temporal_activity_execution_latency_seconds",
		"temporal_request_total"} {
		require.Contains(t, worker, family)
	}
	calls := func(operation string) float64 {
		return worker.value("screenflow_provider_calls_total", "provider", "complycube", "operation", operation, "status", "2xx") -
			callsBefore.value("screenflow_provider_calls_total", "provider", "complycube", "operation", operation, "status", "2xx")
	}
	require.Equal(t, 1, s.fake.ChecksCreated())
	require.Equal(t, float64(s.fake.ChecksCreated()), calls("POST /checks"))
	require.Equal(t, float64(s.fake.ClientsCreated()), calls("POST /clients"))
	require.Positive(t, calls("GET /reports"), "the report is fetched once the check completed")
	for _, f := range worker["screenflow_provider_calls_total"].GetMetric() {
		for _, l := range f.GetLabel() {
			if l.GetName() == "operation" {
				require.NotRegexp(t, `[0-9a-f]{12}`, l.GetValue(), "operations are routes, never ids")
			}
		}
	}
}
