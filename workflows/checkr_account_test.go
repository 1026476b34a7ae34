package workflows

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

var cka *activities.CheckrAccounts

// accountHarness runs a CheckrAccountWorkflow and records what its subscribers are told.
type accountHarness struct {
	env  *testsuite.TestWorkflowEnvironment
	mu   sync.Mutex
	told map[string][]store.CheckrAccountStatus // subscriber → statuses, in order
}

func newAccountHarness(t *testing.T, connected bool) *accountHarness {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger)
	h := &accountHarness{env: ts.NewTestWorkflowEnvironment(), told: map[string][]store.CheckrAccountStatus{}}
	h.env.RegisterWorkflow(CheckrAccountWorkflow)
	h.env.RegisterActivityWithOptions(cka, activity.RegisterOptions{Name: registry.ActivityPrefix(checkr.Name)})
	var credentialedStatus store.CheckrAccountStatus
	if connected {
		credentialedStatus = store.CheckrCredentialed
	}
	h.env.OnActivity(checkrActivity(cka.RecordCheckrCredentialed), mock.Anything, "acct-1").Return(credentialedStatus, nil)
	h.env.OnActivity(checkrActivity(cka.ReadCheckrAccountStatus), mock.Anything, "acct-1").Return(store.CheckrAccountStatus(""), nil).Maybe()
	h.env.OnActivity(checkrActivity(cka.RecordCheckrDeauthorized), mock.Anything, activities.DeauthorizationInput{
		AccountID: "acct-1", TokenFingerprint: "fp-1"}).Return(true, nil)
	h.env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", CheckrAccountStateSignal, mock.Anything).Return(
		func(_, workflowID, _, _ string, arg any) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.told[workflowID] = append(h.told[workflowID], arg.(CheckrAccountState).Status)
			return nil
		})
	return h
}

func (h *accountHarness) at(delay time.Duration, signal string, arg any) {
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(signal, arg) }, delay)
}

func (h *accountHarness) statusAt(t *testing.T, delay time.Duration, want store.CheckrAccountStatus) {
	h.env.RegisterDelayedCallback(func() {
		res, err := h.env.QueryWorkflow(QueryStatus)
		require.NoError(t, err)
		var st CheckrAccountState
		require.NoError(t, res.Get(&st))
		require.Equal(t, want, st.Status, "at %s", delay)
	}, delay)
}

func (h *accountHarness) run(t *testing.T, until time.Duration) {
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, until)
	h.env.ExecuteWorkflow(CheckrAccountWorkflow, CheckrAccountInput{AccountID: "acct-1"})
	require.True(t, h.env.IsWorkflowCompleted())
}

func TestAnEarlyCredentialedEventIsKeptUntilTheAccountIsConnected(t *testing.T) {
	h := newAccountHarness(t, false)
	h.at(time.Minute, CheckrAccountEventSignal, CheckrAccountEvent{Kind: CheckrAccountCredentialed, EventID: "ev-cred"})
	h.statusAt(t, 2*time.Minute, store.CheckrAwaitingCredentialing)
	// The callback finishes: Postgres already knew the account is credentialed.
	h.at(3*time.Minute, CheckrAccountEventSignal, CheckrAccountEvent{Kind: CheckrAccountConnected, EventID: "conn-1", Status: store.CheckrCredentialed})
	h.statusAt(t, 4*time.Minute, store.CheckrCredentialed)
	h.run(t, time.Hour)
}

func TestSubscribersAreToldNowAndOnEveryChange(t *testing.T) {
	h := newAccountHarness(t, true)
	h.at(time.Minute, CheckrAccountEventSignal, CheckrAccountEvent{Kind: CheckrAccountConnected, EventID: "conn-1", Status: store.CheckrAwaitingCredentialing})
	h.at(2*time.Minute, CheckrSubscribeSignal, CheckrSubscription{WorkflowID: "check-a"})
	h.at(3*time.Minute, CheckrAccountEventSignal, CheckrAccountEvent{Kind: CheckrAccountCredentialed, EventID: "ev-cred"})
	h.at(4*time.Minute, CheckrAccountEventSignal, CheckrAccountEvent{Kind: CheckrAccountCredentialed, EventID: "ev-cred"})
	h.at(5*time.Minute, CheckrSubscribeSignal, CheckrSubscription{WorkflowID: "check-b"})
	h.at(6*time.Minute, CheckrAccountEventSignal, CheckrAccountEvent{Kind: CheckrAccountDeauthorized, EventID: "ev-deauth", TokenFingerprint: "fp-1"})
	h.at(7*time.Minute, CheckrAccountEventSignal, CheckrAccountEvent{Kind: CheckrAccountConnected, EventID: "conn-2", Status: store.CheckrAwaitingCredentialing})
	h.statusAt(t, 8*time.Minute, store.CheckrAwaitingCredentialing)
	h.run(t, time.Hour)

	require.Equal(t, []store.CheckrAccountStatus{store.CheckrAwaitingCredentialing, store.CheckrCredentialed, store.CheckrDeauthorized}, h.told["check-a"],
		"told at once, then on each change; the duplicate credentialed event changes nothing")
	require.Equal(t, []store.CheckrAccountStatus{store.CheckrCredentialed, store.CheckrDeauthorized}, h.told["check-b"])
	h.env.AssertActivityNumberOfCalls(t, checkrActivity(cka.RecordCheckrCredentialed), 1)
}

func TestAccountWorkflowContinuesAsNewWithItsState(t *testing.T) {
	w := &checkrAccount{accountID: "acct-1", status: store.CheckrCredentialed,
		subscribers: map[string]bool{"b": true, "a": true}, seen: map[string]bool{"e2": true, "e1": true}}
	require.Equal(t, CheckrAccountInput{AccountID: "acct-1", Status: store.CheckrCredentialed,
		Subscribers: []string{"a", "b"}, SeenEvents: []string{"e1", "e2"}}, w.input())
}
