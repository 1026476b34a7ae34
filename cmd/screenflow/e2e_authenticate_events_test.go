package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/authenticate"
	authfake "github.com/screenflow/screenflow/providers/authenticate/fake"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// authenticateScreening is what these tests read of GET /v1/screenings/{id} beyond screeningJSON.
type authenticateScreening struct {
	Result string `json:"result"`
	Checks []struct {
		Outcome  string `json:"outcome"`
		Searches []struct {
			SearchStatus    string `json:"search_status"`
			SearchSubStatus string `json:"search_sub_status"`
		} `json:"searches"`
	} `json:"checks"`
	Timeline []struct {
		Kind   string `json:"kind"`
		Detail string `json:"detail"`
	} `json:"timeline"`
}

func (s *stack) authenticateScreening(t *testing.T, id string) authenticateScreening {
	t.Helper()
	status, raw := s.request(t, http.MethodGet, "/v1/screenings/"+id, nil)
	require.Equal(t, http.StatusOK, status, string(raw))
	var scr authenticateScreening
	require.NoError(t, json.Unmarshal(raw, &scr))
	return scr
}

// timelineHas reports whether an entry's detail contains every part.
func (a authenticateScreening) timelineHas(parts ...string) bool {
	for _, e := range a.Timeline {
		found := true
		for _, p := range parts {
			found = found && strings.Contains(e.Kind+": "+e.Detail, p)
		}
		if found {
			return true
		}
	}
	return false
}

// waitAuthenticateDelivered waits until the inbox row of a webhook the fake sent is delivered. The
// inbox keys Authenticate's events by the SHA-256 of their body; a row that ends anywhere else
// (discarded, unroutable, unparsed) fails at once.
func (s *stack) waitAuthenticateDelivered(t *testing.T, wh authfake.Webhook) {
	t.Helper()
	sum := sha256.Sum256(wh.Body)
	key := hex.EncodeToString(sum[:])
	var last store.InboxStatus
	require.Eventually(t, func() bool {
		st, err := s.db.WebhookEventStatus(context.Background(), authenticate.Name, key)
		last = st
		return err == nil && st.Status != store.InboxPending
	}, time.Minute, 100*time.Millisecond, "the %s event was never handed over", wh.Type)
	require.Equal(t, store.InboxDelivered, last.Status, "the %s event: %+v", wh.Type, last)
}

func TestEndToEndAuthenticateEventsSharingOneIDAllTakeEffect(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	// The documentation's samples all show "id": "string". If the id names the user or the order,
	// every event after the first carries the same one.
	s.auth.ShareEventID("string")

	created := s.createScreening(t, map[string]any{"provider": "authenticate", "type": "criminal"})
	// The webhook deadline is an hour: only the events themselves can complete the check in time.
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, 2*time.Minute)

	require.Equal(t, "clear", done.Result)
	require.Equal(t, store.StatusCompleted, done.Checks[0].Status)
	require.Len(t, done.Checks[0].Searches, 3)
	require.Len(t, done.Documents, 1)
	types := map[string]int{}
	for _, wh := range s.auth.Sent() {
		require.Equal(t, "string", wh.EventID)
		types[wh.Type]++
		s.waitAuthenticateDelivered(t, wh)
	}
	require.GreaterOrEqual(t, types[authenticate.EventCriminalStatusUpdate], 2, "updates of different searches under one id")
	require.Equal(t, 1, types[authenticate.EventAllCriminalComplete])
	require.Equal(t, 2, types[authenticate.EventPDFReportGeneration], "INITIATED and COMPLETED")
}

func TestEndToEndLateAuthenticateEventsAmendTheClosedCheck(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	ctx := context.Background()

	created := s.createScreening(t, map[string]any{"provider": "authenticate", "type": "criminal"})
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, 2*time.Minute)
	require.Equal(t, "clear", done.Result)
	checkID := done.Checks[0].ID
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, workflows.CheckWorkflowID(created.ID, authenticate.Name, checkID), "")
	require.NoError(t, err)
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, desc.WorkflowExecutionInfo.Status, "the check workflow has closed")
	check, err := s.db.Check(ctx, checkID)
	require.NoError(t, err)
	user := *check.ProviderClientID
	lastSent := func() authfake.Webhook {
		sent := s.auth.Sent()
		return sent[len(sent)-1]
	}

	// Anyone holding the URL could send this; the API shows no record, so nothing changes.
	require.NoError(t, s.auth.SendMonitoringRecordFound(user))
	s.waitAuthenticateDelivered(t, lastSent())
	require.Eventually(t, func() bool {
		return s.authenticateScreening(t, created.ID).timelineHas(authenticate.EventMonitoringRecordFound, "not confirmed")
	}, time.Minute, 200*time.Millisecond, "the unconfirmed notice is in the timeline")
	scr := s.authenticateScreening(t, created.ID)
	require.Equal(t, "clear", scr.Checks[0].Outcome)
	require.Equal(t, "clear", scr.Result)

	require.NoError(t, s.auth.SendUserPIIUpdate(user))
	s.waitAuthenticateDelivered(t, lastSent())
	require.Eventually(t, func() bool {
		return s.authenticateScreening(t, created.ID).timelineHas(authenticate.EventUserPIIUpdate)
	}, time.Minute, 200*time.Millisecond, "the late PII update is in the timeline")

	// Monitoring finds a record, and the API shows it: the outcome and the result change.
	require.NoError(t, s.auth.FindMonitoringRecord(user))
	s.waitAuthenticateDelivered(t, lastSent())
	require.Eventually(t, func() bool {
		scr = s.authenticateScreening(t, created.ID)
		return scr.Checks[0].Outcome == "record_found" && scr.Result == "consider"
	}, time.Minute, 200*time.Millisecond, "the confirmed record changes the outcome, then the screening's result")
	found := 0
	for _, sr := range scr.Checks[0].Searches {
		if sr.SearchSubStatus == authenticate.SubStatusRecordFound {
			found++
		}
	}
	require.Equal(t, 1, found, "the search monitoring flagged shows it")
	require.True(t, scr.timelineHas("check.amended", "record_found"), "the amendment says what changed")
	require.Equal(t, store.StatusCompleted, s.screening(t, created.ID).Status)
	s.assertNoPIIInHistory(t, s.screening(t, created.ID))
	// The check's workflow id now holds the amendment's run: its history is recorded for replay.
	s.recordHistories(t, "authenticate-amended", s.screening(t, created.ID))
}
