package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

var cka *activities.CheckrAccounts

// accountHarness runs a CheckrAccountWorkflow over subscribers kept as Postgres keeps them, and
// records what it tells them.
type accountHarness struct {
	env *testsuite.TestWorkflowEnvironment

	mu          sync.Mutex
	subscribers []string                               // sorted, as the store lists them
	finished    map[string]bool                        // subscribers that cannot be told
	told        map[string][]store.CheckrAccountStatus // subscriber → statuses, in order
	pages       int                                    // ListCheckrSubscribers calls
}

// newAccountHarness starts an environment in which Postgres says postgresStatus of acct-1 ("" when
// no tenant connected it) and credentialing it gives credentialedStatus.
func newAccountHarness(t *testing.T, postgresStatus, credentialedStatus store.CheckrAccountStatus) *accountHarness {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger)
	h := &accountHarness{env: ts.NewTestWorkflowEnvironment(), finished: map[string]bool{}, told: map[string][]store.CheckrAccountStatus{}}
	h.env.RegisterWorkflow(CheckrAccountWorkflow)
	h.env.RegisterActivityWithOptions(cka, activity.RegisterOptions{Name: registry.ActivityPrefix(checkr.Name)})
	h.env.OnActivity(checkrActivity(cka.RecordCheckrCredentialed), mock.Anything, "acct-1").Return(credentialedStatus, nil).Maybe()
	h.env.OnActivity(checkrActivity(cka.ReadCheckrAccountStatus), mock.Anything, "acct-1").Return(postgresStatus, nil).Maybe()
	h.env.OnActivity(checkrActivity(cka.RecordCheckrDeauthorized), mock.Anything, activities.DeauthorizationInput{
		AccountID: "acct-1", TokenFingerprint: "fp-1"}).Return(true, nil).Maybe()
	h.env.OnActivity(checkrActivity(cka.ListCheckrSubscribers), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckrSubscribersPage) ([]string, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.pages++
			i := sort.SearchStrings(h.subscribers, in.After)
			if i < len(h.subscribers) && h.subscribers[i] == in.After {
				i++
			}
			return slices.Clone(h.subscribers[i:min(i+in.Limit, len(h.subscribers))]), nil
		}).Maybe()
	h.env.OnActivity(checkrActivity(cka.UnsubscribeCheckrAccount), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckrUnsubscriptionInput) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.subscribers = slices.DeleteFunc(h.subscribers, func(id string) bool { return slices.Contains(in.WorkflowIDs, id) })
			return nil
		}).Maybe()
	h.env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", CheckrAccountStateSignal, mock.Anything).Return(
		func(_, workflowID, _, _ string, arg any) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.finished[workflowID] {
				return errors.New("workflow not found")
			}
			h.told[workflowID] = append(h.told[workflowID], arg.(CheckrAccountState).Status)
			return nil
		})
	return h
}

// subscribe adds subscribers as SubscribeCheckrAccount does: in Postgres, not in the workflow.
func (h *accountHarness) subscribe(ids ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subscribers = append(h.subscribers, ids...)
	sort.Strings(h.subscribers)
}

func (h *accountHarness) at(delay time.Duration, do func()) { h.env.RegisterDelayedCallback(do, delay) }

func (h *accountHarness) signalAt(delay time.Duration, ev CheckrAccountEvent) {
	h.at(delay, func() { h.env.SignalWorkflow(CheckrAccountEventSignal, ev) })
}

func (h *accountHarness) statusAt(t *testing.T, delay time.Duration, want store.CheckrAccountStatus) {
	h.at(delay, func() {
		res, err := h.env.QueryWorkflow(QueryStatus)
		require.NoError(t, err)
		var st CheckrAccountState
		require.NoError(t, res.Get(&st))
		require.Equal(t, want, st.Status, "at %s", delay)
	})
}

// run runs the workflow from in until it is canceled at until.
func (h *accountHarness) run(t *testing.T, in CheckrAccountInput, until time.Duration) {
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, until)
	h.env.ExecuteWorkflow(CheckrAccountWorkflow, in)
	require.True(t, h.env.IsWorkflowCompleted())
}

func TestAnEarlyCredentialedEventIsKeptUntilTheAccountIsConnected(t *testing.T) {
	h := newAccountHarness(t, "", "")
	h.signalAt(time.Minute, CheckrAccountEvent{Kind: CheckrAccountCredentialed, EventID: "ev-cred"})
	h.statusAt(t, 2*time.Minute, store.CheckrAwaitingCredentialing)
	// The callback finishes: Postgres already knew the account is credentialed.
	h.signalAt(3*time.Minute, CheckrAccountEvent{Kind: CheckrAccountConnected, EventID: "conn-1", Status: store.CheckrCredentialed})
	h.statusAt(t, 4*time.Minute, store.CheckrCredentialed)
	h.run(t, CheckrAccountInput{AccountID: "acct-1"}, time.Hour)
}

func TestSubscribersAreToldEveryChange(t *testing.T) {
	h := newAccountHarness(t, store.CheckrAwaitingCredentialing, store.CheckrCredentialed)
	h.at(2*time.Minute, func() { h.subscribe("check-a") })
	h.signalAt(3*time.Minute, CheckrAccountEvent{Kind: CheckrAccountCredentialed, EventID: "ev-cred"})
	h.signalAt(4*time.Minute, CheckrAccountEvent{Kind: CheckrAccountCredentialed, EventID: "ev-cred"})
	h.at(5*time.Minute, func() { h.subscribe("check-b") })
	h.signalAt(6*time.Minute, CheckrAccountEvent{Kind: CheckrAccountDeauthorized, EventID: "ev-deauth", TokenFingerprint: "fp-1"})
	h.at(7*time.Minute, func() { h.mu.Lock(); h.finished["check-a"] = true; h.mu.Unlock() })
	h.signalAt(8*time.Minute, CheckrAccountEvent{Kind: CheckrAccountConnected, EventID: "conn-2", Status: store.CheckrAwaitingCredentialing})
	h.statusAt(t, 9*time.Minute, store.CheckrAwaitingCredentialing)
	h.run(t, CheckrAccountInput{AccountID: "acct-1", Status: store.CheckrAwaitingCredentialing}, time.Hour)

	require.Equal(t, []store.CheckrAccountStatus{store.CheckrCredentialed, store.CheckrDeauthorized}, h.told["check-a"],
		"told each change; the duplicate credentialed event changes nothing")
	require.Equal(t, []store.CheckrAccountStatus{store.CheckrDeauthorized, store.CheckrAwaitingCredentialing}, h.told["check-b"])
	require.Equal(t, []string{"check-b"}, h.subscribers, "a subscriber that has finished is forgotten")
	h.env.AssertActivityNumberOfCalls(t, checkrActivity(cka.RecordCheckrCredentialed), 1)
}

// A token.deauthorized for an account whose workflow is not running (Temporal was down at the
// callback; the workflow was terminated) starts one (registry.Reviver): it takes the status from
// Postgres, and the deauthorization reaches the checks.
func TestAnAccountWorkflowStartedByAnEventTakesPostgresStateAndTellsEveryone(t *testing.T) {
	h := newAccountHarness(t, store.CheckrCredentialed, store.CheckrCredentialed)
	h.subscribe("check-a", "check-b")
	h.signalAt(0, CheckrAccountEvent{Kind: CheckrAccountDeauthorized, EventID: "ev-deauth", TokenFingerprint: "fp-1"})
	h.statusAt(t, time.Minute, store.CheckrDeauthorized)
	h.run(t, CheckrAccountInput{AccountID: "acct-1"}, time.Hour)

	for _, id := range []string{"check-a", "check-b"} {
		require.NotEmpty(t, h.told[id])
		require.Equal(t, store.CheckrDeauthorized, h.told[id][len(h.told[id])-1], id)
	}
	h.env.AssertActivityNumberOfCalls(t, checkrActivity(cka.RecordCheckrDeauthorized), 1)
}

// canInput is the input of the run a continue-as-new starts, and its encoded size.
func canInput(t *testing.T, err error) (CheckrAccountInput, int) {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "the workflow continued as new: %v", err)
	var in CheckrAccountInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	return in, proto.Size(can.Input)
}

func manyChecks(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("screening/0b5e6f5c-2b7d-4d59-9d3e-%012d/checkr/5a4c1a7e-6f0d-4b8e-8f3a-%012d", i, i)
	}
	return ids
}

// An account with 25,000 checks and many events continues as new with an input of the same small
// size as one with none: its subscribers are in Postgres, its seen events a bounded window.
func TestAccountWorkflowStateStaysSmallWithManyChecksAndEvents(t *testing.T) {
	const checks, connections = 25_000, 1_000
	h := newAccountHarness(t, store.CheckrAwaitingCredentialing, store.CheckrCredentialed)
	h.subscribe(manyChecks(checks)...)
	h.at(time.Minute, func() {
		for i := range connections {
			h.env.SignalWorkflow(CheckrAccountEventSignal, CheckrAccountEvent{Kind: CheckrAccountConnected,
				EventID: fmt.Sprintf("connect:%d", i), Status: store.CheckrAwaitingCredentialing})
		}
	})
	h.signalAt(2*time.Minute, CheckrAccountEvent{Kind: CheckrAccountCredentialed, EventID: "ev-cred"})
	h.at(time.Hour, func() {
		h.env.SetContinueAsNewSuggested(true)
		h.env.SignalWorkflow(CheckrAccountEventSignal, CheckrAccountEvent{Kind: CheckrAccountConnected, EventID: "connect:last",
			Status: store.CheckrCredentialed})
	})
	h.env.ExecuteWorkflow(CheckrAccountWorkflow, CheckrAccountInput{AccountID: "acct-1", Status: store.CheckrAwaitingCredentialing})
	require.True(t, h.env.IsWorkflowCompleted())

	in, size := canInput(t, h.env.GetWorkflowError())
	require.Less(t, size, 64<<10, "the continue-as-new input stays small")
	require.Equal(t, store.CheckrCredentialed, in.Status)
	require.Len(t, in.SeenEvents, seenAccountEvents, "only the latest event ids travel")
	require.Equal(t, "connect:last", in.SeenEvents[len(in.SeenEvents)-1])
	require.False(t, in.Telling, "every subscriber was told")
	require.Len(t, h.told, checks)
	for _, id := range manyChecks(checks) {
		require.Equal(t, []store.CheckrAccountStatus{store.CheckrCredentialed}, h.told[id], id)
	}
	require.Equal(t, checks/tellPageSize+1, h.pages, "subscribers are listed a page at a time")
}

// Telling 25,000 subscribers takes more history than one run may have: the workflow continues as
// new between pages, and the next run tells the rest.
func TestTellingContinuesAcrossContinueAsNew(t *testing.T) {
	const checks = 5 * tellPageSize
	first := newAccountHarness(t, store.CheckrCredentialed, store.CheckrCredentialed)
	first.subscribe(manyChecks(checks)...)
	first.env.SetContinueAsNewSuggested(true)
	first.env.ExecuteWorkflow(CheckrAccountWorkflow, CheckrAccountInput{AccountID: "acct-1", Status: store.CheckrDeauthorized,
		Telling: true})
	in, size := canInput(t, first.env.GetWorkflowError())
	require.Less(t, size, 1<<10)
	require.True(t, in.Telling)
	require.Equal(t, manyChecks(checks)[tellPageSize-1], in.TellAfter, "one page told, the cursor after it")
	require.Len(t, first.told, tellPageSize)

	rest := newAccountHarness(t, store.CheckrCredentialed, store.CheckrCredentialed)
	rest.subscribe(manyChecks(checks)...)
	rest.run(t, in, time.Hour)
	require.Len(t, rest.told, checks-tellPageSize)
	for id, told := range rest.told {
		require.Equal(t, []store.CheckrAccountStatus{store.CheckrDeauthorized}, told, id)
		require.NotContains(t, first.told, id, "each subscriber is told once")
	}
}

func TestCheckrAccountIDOf(t *testing.T) {
	id, ok := CheckrAccountIDOf(CheckrAccountWorkflowID("acct-1"))
	require.True(t, ok)
	require.Equal(t, "acct-1", id)
	for _, other := range []string{"checkr-account/", "screening/s/checkr/c", "acct-1"} {
		_, ok := CheckrAccountIDOf(other)
		require.False(t, ok, other)
	}
}
