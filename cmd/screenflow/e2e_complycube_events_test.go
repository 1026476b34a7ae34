package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// postComplyCubeWebhook sends body to a screenflow's ComplyCube webhook, signed with secret, as
// ComplyCube would, and returns the answer's status and its "status" member.
func postComplyCubeWebhook(t *testing.T, baseURL, secret string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+"/webhooks/complycube", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(complycube.SignatureHeader, complycube.Sign(secret, body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var answer struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(raw, &answer)
	return resp.StatusCode, answer.Status
}

// waitForInboxStatus waits until the stored event has left pending, and returns where it went.
func (s *stack) waitForInboxStatus(t *testing.T, eventID string) string {
	t.Helper()
	var st store.InboxStatus
	require.Eventually(t, func() bool {
		var err error
		st, err = s.db.WebhookEventStatus(context.Background(), complycube.Name, eventID)
		return err == nil && st.Status != store.InboxPending
	}, 30*time.Second, 100*time.Millisecond, "event %s is handed on", eventID)
	return st.Status
}

func (s *stack) timeline(t *testing.T, id string) string {
	t.Helper()
	var lines []string
	for _, e := range s.screening(t, id).Timeline {
		lines = append(lines, e.Kind+": "+e.Detail)
	}
	return strings.Join(lines, "\n")
}

// TestEndToEndComplyCubeEventsWithOddTimestampsAreDelivered: an authentic event whose createdAt is
// empty, space-separated or epoch seconds is stored as a normal event, routed to its check and
// recorded. Before, it failed to parse and was kept as unparsed, never delivered.
func TestEndToEndComplyCubeEventsWithOddTimestampsAreDelivered(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: -1,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	created := s.createScreening(t)
	providerCheckID := s.providerCheckID(t, s.waitForStatus(t, created.ID, store.StatusInProgress, time.Minute).Checks[0].ID)

	for i, createdAt := range []string{`""`, `"2020-01-01 11:14:23"`, `1577877263`, `"1577877263964"`} {
		eventID := fmt.Sprintf("odd-time-%d", i)
		body := fmt.Appendf(nil, `{"id":%q,"type":"check.updated","resourceType":"check",`+
			`"payload":{"id":%q,"status":"pending","updatedAt":%s},"createdAt":%s}`, eventID, providerCheckID, createdAt, createdAt)
		code, answer := postComplyCubeWebhook(t, s.apiURL, e2eComplyCubeSecret, body)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "stored", answer, "createdAt %s", createdAt)
		require.Equal(t, store.InboxDelivered, s.waitForInboxStatus(t, eventID), "createdAt %s", createdAt)
	}
	require.Eventually(t, func() bool {
		return strings.Count(s.timeline(t, created.ID), "provider.event: check.updated") == 4
	}, 30*time.Second, 200*time.Millisecond, "the check workflow recorded every one")
}

// TestEndToEndComplyCubeLateEventsAmendTheCompletedScreening: after the check's workflow has
// completed, a monitoring hit and then a later outcome change each reach an amendment workflow,
// which reads the check again from ComplyCube and updates what the HR platform sees: the check's
// outcome, a new report, the screening's result and the timeline. Nothing is discarded.
func TestEndToEndComplyCubeLateEventsAmendTheCompletedScreening(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: -1,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	created := s.createScreening(t)
	providerCheckID := s.providerCheckID(t, s.waitForStatus(t, created.ID, store.StatusInProgress, time.Minute).Checks[0].ID)
	checkWorkflowID := workflows.CheckWorkflowID(created.ID, complycube.Name, created.Checks[0].ID)

	require.NoError(t, s.fake.CompleteCheck(providerCheckID, complycube.OutcomeClear))
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, time.Minute)
	require.Equal(t, "clear", done.Result)
	s.assertReportDownloads(t, done)
	firstReport := done.Documents[0]

	// A late event reaches the check's workflow id only once its workflow has closed: wait for it,
	// so that the amendment, not the check workflow, takes the event.
	require.Eventually(t, func() bool {
		desc, err := s.temporal.DescribeWorkflowExecution(context.Background(), checkWorkflowID, "")
		return err == nil && desc.WorkflowExecutionInfo.CloseTime != nil
	}, 30*time.Second, 100*time.Millisecond)
	// Events of the completion still being delivered are not what this test looks at.
	deliveredBefore := len(s.fake.Deliveries())

	steps := []struct {
		event   string
		act     func() error
		outcome string
		result  string
	}{
		{complycube.EventCheckMonitoringAttention, func() error { return s.fake.MonitoringAttention(providerCheckID) },
			complycube.OutcomeAttention, workflows.ResultConsider},
		{complycube.EventCheckUpdated, func() error {
			return s.fake.UpdateCheck(providerCheckID, complycube.StatusComplete, complycube.OutcomeRejected)
		}, complycube.OutcomeRejected, workflows.ResultConsider},
	}
	for i, step := range steps {
		require.NoError(t, step.act())
		var amended screeningJSON
		require.Eventually(t, func() bool {
			amended = s.screening(t, created.ID)
			return amended.Checks[0].Outcome == step.outcome && len(amended.Documents) == i+2
		}, time.Minute, 200*time.Millisecond, "the check's outcome becomes %s after %s", step.outcome, step.event)
		require.Equal(t, store.StatusCompleted, amended.Status)
		require.Equal(t, store.StatusCompleted, amended.Checks[0].Status)
		require.Eventually(t, func() bool { return s.screening(t, created.ID).Result == step.result },
			30*time.Second, 200*time.Millisecond, "the screening's result follows")

		served, ok := s.fake.ReportPDF(providerCheckID)
		require.True(t, ok)
		latest := amended.Documents[len(amended.Documents)-1]
		require.NotEqual(t, firstReport.ID, latest.ID, "the first report is kept")
		status, pdf := s.request(t, http.MethodGet, latest.URL, nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, served, pdf, "the new report is byte-identical to what ComplyCube serves now")

		eventID := ""
		for _, d := range s.fake.Deliveries()[deliveredBefore:] {
			if d.Type == step.event {
				eventID = d.EventID
			}
		}
		require.NotEmpty(t, eventID)
		require.Equal(t, store.InboxDelivered, s.waitForInboxStatus(t, eventID), "not discarded")
	}

	timeline := s.timeline(t, created.ID)
	require.Contains(t, timeline, "check.amended: outcome changed from clear to attention: ComplyCube says so after check.monitoring.attention")
	require.Contains(t, timeline, "check.amended: outcome changed from attention to rejected: ComplyCube says so after check.updated")
	require.Contains(t, timeline, "screening.result_changed: result changed from clear to consider")
	require.Contains(t, timeline, "provider.event: check.monitoring.attention (after the check finished")
	s.assertNoPIIInHistory(t, s.screening(t, created.ID))
	// The check's workflow id now holds the amendment's run: its history is recorded for replay.
	s.recordHistories(t, "complycube-amended", s.screening(t, created.ID))
}

// TestEndToEndComplyCubeSubscribeThenRotateTheSecret registers the webhook the way an operator
// does, with `screenflow providers subscribe complycube`, which prints the secret ComplyCube
// returns once. A screenflow restarted with that secret first in COMPLYCUBE_WEBHOOK_SECRET and the
// old one after takes what the new webhook sends, and still what the old secret signs.
func TestEndToEndComplyCubeSubscribeThenRotateTheSecret(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	// The restarted screenflow will listen here; it is the public URL the webhook is registered for.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	publicURL := "http://" + ln.Addr().String()

	t.Setenv("COMPLYCUBE_BASE_URL", s.cfg.env("COMPLYCUBE_BASE_URL"))
	t.Setenv("COMPLYCUBE_API_KEY", e2eComplyCubeKey)
	t.Setenv("PUBLIC_BASE_URL", publicURL)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"providers", "subscribe", "complycube"}, &out))
	require.Contains(t, out.String(), publicURL+"/webhooks/complycube")
	require.Contains(t, out.String(), "only time it is printed")
	secret := ""
	for line := range strings.Lines(out.String()) {
		if f := strings.TrimSpace(line); len(f) == 64 && strings.Trim(f, "0123456789abcdef") == "" {
			secret = f
		}
	}
	require.NotEmpty(t, secret, "the secret is printed: %s", out.String())

	out.Reset()
	require.NoError(t, run(context.Background(), []string{"providers", "subscribe", "complycube"}, &out))
	require.Contains(t, out.String(), "already has webhook")
	require.NotContains(t, out.String(), secret, "a secret is printed once")

	// The operator puts the new secret first and restarts serve.
	rotated := secret + "," + e2eComplyCubeSecret
	cfg, err := loadConfig(func(name string) string {
		if name == "COMPLYCUBE_WEBHOOK_SECRET" {
			return rotated
		}
		return s.cfg.env(name)
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- serve(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), ln)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-served)
	})
	// Only the subscribed webhook sends from now on.
	s.fake.SetWebhookURL("")

	created := s.createScreening(t)
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, time.Minute)
	require.Equal(t, "clear", done.Result)
	deliveries := s.fake.Deliveries()
	require.NotEmpty(t, deliveries)
	for _, d := range deliveries {
		require.Equal(t, http.StatusOK, d.StatusCode, "%s, signed with the new secret, is taken", d.Type)
	}

	body := []byte(`{"id":"signed-with-the-old-secret","type":"client.updated","resourceType":"client","payload":{"id":"nobody"}}`)
	code, answer := postComplyCubeWebhook(t, publicURL, e2eComplyCubeSecret, body)
	require.Equal(t, http.StatusOK, code, "an event signed before the rotation is still taken")
	require.Equal(t, "stored", answer)
	code, _ = postComplyCubeWebhook(t, publicURL, "not-a-secret-of-ours", body)
	require.Equal(t, http.StatusUnauthorized, code)
}
