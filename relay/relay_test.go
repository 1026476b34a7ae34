package relay_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/relay"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const testSignal = "test-event"

// collectSignals returns the bodies of the first n signals it receives.
func collectSignals(ctx workflow.Context, n int) ([]string, error) {
	ch := workflow.GetSignalChannel(ctx, testSignal)
	var got []string
	for len(got) < n {
		var s string
		ch.Receive(ctx, &s)
		got = append(got, s)
	}
	return got, nil
}

// testProviders knows one provider, "test", whose events become testSignal with the body as it is.
type testProviders struct{}

func (testProviders) Translate(provider string, body []byte) (registry.Signal, error) {
	if provider != "test" {
		return registry.Signal{}, registry.ErrUnknownProvider
	}
	return registry.Signal{Name: testSignal, Arg: string(body)}, nil
}

func (testProviders) CheckWorkflow(string) string { return "" }

// Revive restarts collectors: a closed collector's id takes a new one that waits for one signal.
func (testProviders) Revive(provider, workflowID string, _ registry.Signal) (string, any, bool) {
	if provider != "test" || !strings.HasPrefix(workflowID, revivable) {
		return "", nil, false
	}
	return "collectSignals", 1, true
}

var testTranslators testProviders

type relayHarness struct {
	st    *store.Store
	tc    client.Client
	relay *relay.Relay
	queue string
}

func newRelayHarness(t *testing.T, cfg relay.Config) *relayHarness {
	t.Helper()
	h := &relayHarness{st: store.New(testenv.NewDB(t)), tc: testenv.NewTemporalClient(t), queue: "relay-test-" + uuid.NewString()}
	w := sdkworker.New(h.tc, h.queue, sdkworker.Options{})
	w.RegisterWorkflow(collectSignals)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	h.relay = relay.New(h.st, h.tc, testTranslators, cfg, slog.New(slog.DiscardHandler))
	return h
}

func (h *relayHarness) startCollector(t *testing.T, n int) client.WorkflowRun {
	t.Helper()
	run, err := h.tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: "collector-" + uuid.NewString(), TaskQueue: h.queue, WorkflowExecutionTimeout: time.Minute,
	}, collectSignals, n)
	require.NoError(t, err)
	return run
}

func (h *relayHarness) store(t *testing.T, subject, body string) (eventID string, rowID int64) {
	t.Helper()
	eventID = uuid.NewString()
	rowID, inserted, err := h.st.InsertWebhookEvent(context.Background(), store.NewInboxEvent{
		Provider: "test", EventID: eventID, EventType: "thing.happened", Subject: subject,
		Headers: map[string]string{}, Body: []byte(body),
	})
	require.NoError(t, err)
	require.True(t, inserted)
	return eventID, rowID
}

func (h *relayHarness) status(t *testing.T, eventID string) store.InboxStatus {
	t.Helper()
	st, err := h.st.WebhookEventStatus(context.Background(), "test", eventID)
	require.NoError(t, err)
	return st
}

func TestRelayDeliversRoutedEventsInOrder(t *testing.T) {
	h := newRelayHarness(t, relay.Config{})
	run := h.startCollector(t, 2)
	ctx := context.Background()
	require.NoError(t, h.st.AddRoute(ctx, "test", "thing:1", run.GetID()))
	first, _ := h.store(t, "thing:1", "first")
	second, _ := h.store(t, "thing:1", "second")

	h.relay.SweepOnce(ctx)

	var got []string
	require.NoError(t, run.Get(ctx, &got))
	require.Equal(t, []string{"first", "second"}, got)
	require.Equal(t, store.InboxDelivered, h.status(t, first).Status)
	require.Equal(t, store.InboxDelivered, h.status(t, second).Status)
}

func TestRelayFastPathDeliversANotifiedEvent(t *testing.T) {
	h := newRelayHarness(t, relay.Config{SweepInterval: time.Hour})
	run := h.startCollector(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.relay.Run(ctx)
	require.NoError(t, h.st.AddRoute(ctx, "test", "thing:fast", run.GetID()))
	eventID, rowID := h.store(t, "thing:fast", "fast")

	h.relay.Notify(rowID)

	var got []string
	require.NoError(t, run.Get(ctx, &got))
	require.Equal(t, []string{"fast"}, got)
	require.Eventually(t, func() bool { return h.status(t, eventID).Status == store.InboxDelivered },
		10*time.Second, 50*time.Millisecond)
}

func TestRelayKeepsAnEventUntilItsRouteExists(t *testing.T) {
	h := newRelayHarness(t, relay.Config{MaxBackoff: time.Millisecond})
	run := h.startCollector(t, 1)
	ctx := context.Background()
	eventID, _ := h.store(t, "thing:early", "early")

	h.relay.SweepOnce(ctx)
	st := h.status(t, eventID)
	require.Equal(t, store.InboxPending, st.Status, "an event that overtook its route waits")
	require.Equal(t, 1, st.Attempts)
	require.Contains(t, *st.LastError, "no route")

	require.NoError(t, h.st.AddRoute(ctx, "test", "thing:early", run.GetID()))
	time.Sleep(5 * time.Millisecond) // past the back-off
	h.relay.SweepOnce(ctx)

	var got []string
	require.NoError(t, run.Get(ctx, &got))
	require.Equal(t, []string{"early"}, got)
	require.Equal(t, store.InboxDelivered, h.status(t, eventID).Status)
}

func TestRelayMarksLongUnroutableEventsAndKeepsThem(t *testing.T) {
	h := newRelayHarness(t, relay.Config{UnroutableAfter: time.Nanosecond})
	eventID, _ := h.store(t, "thing:nobody", "orphan")

	h.relay.SweepOnce(context.Background())

	st := h.status(t, eventID)
	require.Equal(t, store.InboxUnroutable, st.Status)
	require.Contains(t, *st.LastError, "thing:nobody")
}

func TestRelayDiscardsEventsForClosedWorkflows(t *testing.T) {
	h := newRelayHarness(t, relay.Config{})
	ctx := context.Background()
	run := h.startCollector(t, 1)
	require.NoError(t, h.st.AddRoute(ctx, "test", "thing:closed", run.GetID()))
	h.store(t, "thing:closed", "last")
	h.relay.SweepOnce(ctx)
	require.NoError(t, run.Get(ctx, nil))

	late, _ := h.store(t, "thing:closed", "too late")
	h.relay.SweepOnce(ctx)

	require.Equal(t, store.InboxDiscarded, h.status(t, late).Status)
}

// revivable prefixes the ids of collectors that testProviders.Revive starts again.
const revivable = "revivable-"

func TestRelayRevivesAClosedWorkflowWhenItsProviderCan(t *testing.T) {
	h := newRelayHarness(t, relay.Config{})
	ctx := context.Background()
	// A revived workflow starts on screenflow's task queue, as the provider's would.
	w := sdkworker.New(h.tc, workflows.TaskQueue, sdkworker.Options{})
	w.RegisterWorkflow(collectSignals)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	id := revivable + uuid.NewString()
	first, err := h.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowExecutionTimeout: time.Minute}, collectSignals, 1)
	require.NoError(t, err)
	require.NoError(t, h.st.AddRoute(ctx, "test", "thing:revivable", id))
	h.store(t, "thing:revivable", "last")
	h.relay.SweepOnce(ctx)
	require.NoError(t, first.Get(ctx, nil))

	late, _ := h.store(t, "thing:revivable", "amendment")
	h.relay.SweepOnce(ctx)

	require.Equal(t, store.InboxDelivered, h.status(t, late).Status, "not discarded")
	var got []string
	require.NoError(t, h.tc.GetWorkflow(ctx, id, "").Get(ctx, &got), "a new run under the same id took it")
	require.Equal(t, []string{"amendment"}, got)
}

func TestRelayKeepsEventsPendingWhileTemporalIsDown(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	// Nothing listens on port 1: Temporal is "down" for this relay.
	down, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	require.NoError(t, err)
	t.Cleanup(down.Close)
	r := relay.New(st, down, testTranslators, relay.Config{SignalTimeout: 500 * time.Millisecond}, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	require.NoError(t, st.AddRoute(ctx, "test", "thing:down", "some-workflow"))
	for _, id := range []string{"down-1", "down-2"} {
		_, _, err := st.InsertWebhookEvent(ctx, store.NewInboxEvent{Provider: "test", EventID: id,
			EventType: "thing.happened", Subject: "thing:down", Headers: map[string]string{}, Body: []byte(id)})
		require.NoError(t, err)
	}

	r.SweepOnce(ctx)

	first, err := st.WebhookEventStatus(ctx, "test", "down-1")
	require.NoError(t, err)
	require.Equal(t, store.InboxPending, first.Status)
	require.Equal(t, 1, first.Attempts)
	second, err := st.WebhookEventStatus(ctx, "test", "down-2")
	require.NoError(t, err)
	require.Equal(t, 0, second.Attempts, "the batch stops at the first failure instead of waiting on every event")
}

func TestRelayStartsScreeningsLeftUnstarted(t *testing.T) {
	h := newRelayHarness(t, relay.Config{StartGrace: time.Nanosecond})
	ctx := context.Background()
	tenant, _, err := h.st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	scr, _, err := h.st.CreateScreening(ctx, store.NewScreening{
		TenantID: tenant.ID,
		Candidate: store.Candidate{Reference: "r1", FirstName: "Ada", LastName: "Lovelace",
			Email: "ada@example.com", DOB: "1990-12-10"},
		Checks: []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}},
	})
	require.NoError(t, err)

	h.relay.SweepOnce(ctx)

	desc, err := h.tc.DescribeWorkflowExecution(ctx, workflows.ScreeningWorkflowID(scr.ID), "")
	require.NoError(t, err)
	require.Equal(t, "ScreeningWorkflow", desc.WorkflowExecutionInfo.Type.Name)
	t.Cleanup(func() {
		_ = h.tc.TerminateWorkflow(context.Background(), workflows.ScreeningWorkflowID(scr.ID), "", "test over")
	})
	again, err := h.st.Screening(ctx, tenant.ID, scr.ID)
	require.NoError(t, err)
	require.NotNil(t, again.WorkflowStartedAt)

	h.relay.SweepOnce(ctx) // nothing left to start; starting twice would be harmless anyway
}
