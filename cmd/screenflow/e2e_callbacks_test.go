package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// hrCallback is one callback as the HR platform's receiver got it, and what it answered.
type hrCallback struct {
	webhookID   string
	eventType   string
	screeningID string
	sequence    int64
	answered    int
	verifyError error
	header      http.Header
	body        []byte
}

// hrReceiver is an HR platform's callback receiver: it verifies each callback with an independent
// Standard Webhooks implementation (Svix's) and answers 503 while it is down.
type hrReceiver struct {
	*httptest.Server
	down     atomic.Bool
	mu       sync.Mutex
	verifier *svix.Webhook
	got      []hrCallback
}

func newHRReceiver(t *testing.T) *hrReceiver {
	t.Helper()
	r := &hrReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var event struct {
			Type     string `json:"type"`
			Sequence int64  `json:"sequence"`
			Data     struct {
				ScreeningID string `json:"screening_id"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &event)
		got := hrCallback{webhookID: req.Header.Get("webhook-id"), eventType: event.Type, screeningID: event.Data.ScreeningID,
			sequence: event.Sequence, answered: http.StatusOK, header: req.Header.Clone(), body: body}
		if r.down.Load() {
			got.answered = http.StatusServiceUnavailable
		}
		r.mu.Lock()
		got.verifyError = r.verifier.Verify(body, req.Header)
		r.got = append(r.got, got)
		r.mu.Unlock()
		w.WriteHeader(got.answered)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hrReceiver) setSecret(t *testing.T, secret string) {
	t.Helper()
	verifier, err := svix.NewWebhook(secret)
	require.NoError(t, err)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verifier = verifier
}

func (r *hrReceiver) callbacks() []hrCallback {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hrCallback(nil), r.got...)
}

// accepted are the event types the receiver accepted (2xx) about a screening, in arrival order.
func (r *hrReceiver) accepted(screeningID string) []hrCallback {
	var out []hrCallback
	for _, c := range r.callbacks() {
		if c.screeningID == screeningID && c.answered == http.StatusOK {
			out = append(out, c)
		}
	}
	return out
}

func typesOf(callbacks []hrCallback) []string {
	var types []string
	for _, c := range callbacks {
		types = append(types, c.eventType)
	}
	return types
}

// complyCubeCallbacks are the events of a ComplyCube screening that completes: ordered, the check
// opened at ComplyCube, its report stored, the check completed and with it the screening.
var complyCubeCallbacks = []string{store.EventScreeningCreated, store.EventCheckUpdated, store.EventDocumentAvailable,
	store.EventCheckCompleted, store.EventScreeningCompleted}

// amendmentCallbacks follow when ComplyCube's monitoring later finds something on a clear check:
// the check's outcome changes, its new report is stored, and the screening's result follows.
var amendmentCallbacks = []string{store.EventCheckAmended, store.EventDocumentAvailable, store.EventScreeningResultChanged}

func TestEndToEndCallbacksArriveSignedInOrderAndAfterAnOutage(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 500 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour},
		env:    map[string]string{"CALLBACK_ALLOW_HTTP": "true", "CALLBACK_ALLOW_PRIVATE": "true"}})
	s.checkContract(t)
	hr := newHRReceiver(t)

	status, raw := s.request(t, http.MethodPost, "/v1/webhook-endpoints", map[string]any{
		"url": hr.URL + "/screenflow", "event_types": store.CallbackEventTypes})
	require.Equal(t, http.StatusCreated, status, string(raw))
	var endpoint struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	require.NoError(t, json.Unmarshal(raw, &endpoint))
	hr.setSecret(t, endpoint.Secret)

	first := s.createScreening(t)
	s.waitForStatus(t, first.ID, store.StatusCompleted, time.Minute)
	require.Eventually(t, func() bool { return len(hr.accepted(first.ID)) >= len(complyCubeCallbacks) },
		30*time.Second, 100*time.Millisecond, "the callbacks arrive")

	// Weeks later ComplyCube's monitoring finds something: the amendment is an event too. The late
	// event must find the check's workflow closed, for the amendment to take it.
	checkWorkflowID := workflows.CheckWorkflowID(first.ID, complycube.Name, first.Checks[0].ID)
	require.Eventually(t, func() bool {
		desc, err := s.temporal.DescribeWorkflowExecution(t.Context(), checkWorkflowID, "")
		return err == nil && desc.WorkflowExecutionInfo.CloseTime != nil
	}, 30*time.Second, 100*time.Millisecond)
	require.NoError(t, s.fake.MonitoringAttention(s.providerCheckID(t, first.Checks[0].ID)))
	firstCallbacks := append(slices.Clone(complyCubeCallbacks), amendmentCallbacks...)
	require.Eventually(t, func() bool { return len(hr.accepted(first.ID)) >= len(firstCallbacks) },
		time.Minute, 100*time.Millisecond, "the amendment's callbacks arrive")

	// The receiver goes down while the second screening runs: its callbacks wait and come later.
	hr.down.Store(true)
	second := s.createScreening(t)
	s.waitForStatus(t, second.ID, store.StatusCompleted, time.Minute)
	require.Eventually(t, func() bool {
		for _, c := range hr.callbacks() {
			if c.screeningID == second.ID && c.answered == http.StatusServiceUnavailable {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "a callback meets the outage")
	time.Sleep(2 * time.Second)
	hr.down.Store(false)
	require.Eventually(t, func() bool { return len(hr.accepted(second.ID)) >= len(complyCubeCallbacks) },
		2*time.Minute, 200*time.Millisecond, "the callbacks arrive after the outage")
	// Anything more, a duplicate or an unexpected event, would come within a sweep or two.
	time.Sleep(3 * time.Second)

	for scr, expected := range map[string][]string{first.ID: firstCallbacks, second.ID: complyCubeCallbacks} {
		accepted := hr.accepted(scr)
		require.Equal(t, expected, typesOf(accepted), "exactly the expected events, in order, once each")
		ids := map[string]bool{}
		for i, c := range accepted {
			require.Equal(t, int64(i+1), c.sequence)
			ids[c.webhookID] = true
			for _, pii := range []string{candidateEmail, candidateLastName, candidateDOB} {
				require.NotContains(t, string(c.body), pii)
			}
		}
		require.Len(t, ids, len(expected), "one webhook-id per event")
	}
	var changed struct {
		Data struct {
			Result         string `json:"result"`
			PreviousResult string `json:"previous_result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(hr.accepted(first.ID)[len(firstCallbacks)-1].body, &changed))
	require.Equal(t, workflows.ResultConsider, changed.Data.Result)
	require.Equal(t, workflows.ResultClear, changed.Data.PreviousResult)
	acceptedIDs := map[string]bool{}
	for _, c := range hr.accepted(second.ID) {
		acceptedIDs[c.webhookID] = true
	}
	for _, c := range hr.callbacks() {
		require.NoError(t, c.verifyError, "every callback is verified by an independent Standard Webhooks implementation")
		require.NoError(t, s.contract.CheckCallback(t.Context(), c.eventType, c.header, c.body),
			"every callback is the contract's webhook of its type: headers and body")
		if c.answered == http.StatusServiceUnavailable {
			require.Equal(t, second.ID, c.screeningID)
			require.True(t, acceptedIDs[c.webhookID], "a callback refused during the outage came again with its webhook-id")
		}
	}

	status, raw = s.request(t, http.MethodGet, "/v1/webhook-endpoints/"+endpoint.ID+"/deliveries", nil)
	require.Equal(t, http.StatusOK, status, string(raw))
	var log struct {
		Deliveries []struct {
			WebhookID string `json:"webhook_id"`
			Status    string `json:"status"`
			Attempts  []struct {
				StatusCode int `json:"status_code"`
			} `json:"attempts"`
		} `json:"deliveries"`
	}
	require.NoError(t, json.Unmarshal(raw, &log))
	require.Len(t, log.Deliveries, len(firstCallbacks)+len(complyCubeCallbacks))
	retried := 0
	for _, d := range log.Deliveries {
		require.Equal(t, store.CallbackDelivered, d.Status)
		last := d.Attempts[len(d.Attempts)-1]
		require.Equal(t, http.StatusOK, last.StatusCode)
		if len(d.Attempts) > 1 {
			retried++
			require.Equal(t, http.StatusServiceUnavailable, d.Attempts[0].StatusCode)
		}
	}
	require.Positive(t, retried, "the log shows the attempts that met the outage")

	// In production, inside addresses are refused at registration, by address or by name.
	s.restart(t, map[string]string{"CALLBACK_ALLOW_PRIVATE": "false"})
	for _, url := range []string{hr.URL + "/screenflow", "http://localhost:9/screenflow", "http://10.0.0.7/screenflow"} {
		status, raw = s.request(t, http.MethodPost, "/v1/webhook-endpoints", map[string]any{
			"url": url, "event_types": []string{store.EventScreeningCompleted}})
		require.Equal(t, http.StatusUnprocessableEntity, status, string(raw))
		require.Contains(t, string(raw), `"url"`)
	}
}
