package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

const e2eOperatorKey = "e2e-operator-key-0123456789abcdef0123"

// operatorRequest calls the operator API with the operator key.
func (s *stack) operatorRequest(t *testing.T, method, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.apiURL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e2eOperatorKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, raw
}

// The done-when of issue 12's inbox tools: ComplyCube's check.completed arrives while no route
// leads from its check to a workflow, waits for one and is given up as unroutable; the route
// appears, an operator replays the event with `screenflow inbox replay`, and the screening
// completes. Replaying it again, from the CLI or the operator API, changes nothing.
func TestEndToEndAnUnroutableEventReplayedAfterItsRouteAppearsCompletesTheScreening(t *testing.T) {
	tmp := testenv.Temporal(t)
	// No polling within the test: only the event can complete the check.
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: -1,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour},
		env:    map[string]string{"RELAY_UNROUTABLE_AFTER": "2s", "OPERATOR_API_KEY": e2eOperatorKey}})
	ctx := context.Background()
	t.Setenv("SCREENFLOW_ENCRYPTION_KEY", s.cfg.EncryptionKey)
	created := s.createScreening(t)
	checkID := s.waitForStatus(t, created.ID, store.StatusInProgress, time.Minute).Checks[0].ID
	subject := complycube.SubjectFor("check", s.providerCheckID(t, checkID))

	// The check's route is taken away for as long as the event waits: the event meets what it
	// meets when a provider's event outruns the route, or names a resource screenflow learns of
	// only later.
	var workflowID string
	require.NoError(t, s.db.DB().Get(&workflowID, `DELETE FROM routes WHERE provider = $1 AND subject = $2
		RETURNING workflow_id`, complycube.Name, subject))
	require.NoError(t, s.fake.CompleteCheck(s.providerCheckID(t, checkID), complycube.OutcomeClear))

	var eventID string
	require.Eventually(t, func() bool {
		err := s.db.DB().Get(&eventID, `SELECT event_id FROM webhook_events
			WHERE provider = $1 AND subject = $2 AND event_type = $3`, complycube.Name, subject, complycube.EventCheckCompleted)
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "check.completed is stored")
	require.Equal(t, store.InboxUnroutable, s.waitForInboxStatus(t, eventID))
	unroutable, err := s.db.WebhookEventStatus(ctx, complycube.Name, eventID)
	require.NoError(t, err)
	id := strconv.FormatInt(unroutable.ID, 10)

	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"inbox", "list", "--status", "unroutable", "--provider", "complycube"}, &out))
	require.Regexp(t, `(?m)^`+id+`\s+complycube\s+check\.completed\s+.*\s+unroutable\s+`, out.String())
	require.Equal(t, store.StatusInProgress, s.screening(t, created.ID).Status, "nothing reached the check")

	// The route appears as the activity writes it.
	require.NoError(t, s.db.AddRoute(ctx, complycube.Name, subject, workflowID))
	out.Reset()
	require.NoError(t, run(ctx, []string{"inbox", "replay", id}, &out))
	require.Contains(t, out.String(), "event "+id+" (unroutable): replayed")

	done := s.waitForStatus(t, created.ID, store.StatusCompleted, time.Minute)
	require.Equal(t, "clear", done.Result)
	s.assertReportDownloads(t, done)
	require.Equal(t, store.InboxDelivered, s.waitForInboxStatus(t, eventID))
	delivered, err := s.db.WebhookEventStatus(ctx, complycube.Name, eventID)
	require.NoError(t, err)
	require.Equal(t, 1, delivered.Attempts, "counted afresh from the replay")

	// Replayed again, through the CLI and through the operator API: the event stays delivered and
	// the screening as it is.
	out.Reset()
	require.NoError(t, run(ctx, []string{"inbox", "replay", id}, &out))
	require.Contains(t, out.String(), "event "+id+" (delivered): left alone: already delivered")
	status, raw := s.operatorRequest(t, http.MethodPost, "/v1/operator/inbox/"+id+"/replay")
	require.Equal(t, http.StatusOK, status, string(raw))
	var replay struct {
		Results []struct {
			Replayed bool   `json:"replayed"`
			Status   string `json:"status"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(raw, &replay))
	require.Len(t, replay.Results, 1)
	require.False(t, replay.Results[0].Replayed)
	require.Equal(t, store.InboxDelivered, replay.Results[0].Status)

	status, raw = s.operatorRequest(t, http.MethodGet, "/v1/operator/inbox/"+id)
	require.Equal(t, http.StatusOK, status, string(raw))
	require.NotContains(t, string(raw), candidateEmail)
	require.NotContains(t, string(raw), candidateLastName)

	time.Sleep(2 * time.Second) // what a second delivery would need to show
	again, err := s.db.WebhookEventStatus(ctx, complycube.Name, eventID)
	require.NoError(t, err)
	require.Equal(t, delivered, again, "no second delivery")
	after := s.screening(t, created.ID)
	require.Equal(t, done.Status, after.Status)
	require.Equal(t, done.Result, after.Result)
	require.Equal(t, done.Timeline, after.Timeline, "the check recorded the event once")
	require.Len(t, after.Documents, 1)
}
