package relay_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
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
// A body that starts with "info:" is informational, noted under its body; with "info-after:", it is
// a prompt once a thing.prompted event about its subject was stored before it.
type testProviders struct{}

func (testProviders) Translate(provider string, body []byte) (registry.Signal, error) {
	if provider != "test" {
		return registry.Signal{}, registry.ErrUnknownProvider
	}
	sig := registry.Signal{Name: testSignal, Arg: string(body)}
	if strings.HasPrefix(string(body), "info") {
		sig.Informational = true
		sig.Note = &store.EventNote{DedupeKey: "test:" + string(body), Kind: "provider.event", Detail: string(body)}
	}
	if strings.HasPrefix(string(body), "info-after:") {
		sig.PromptAfter = "thing.prompted"
	}
	return sig, nil
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
	db    *sqlx.DB
	st    *store.Store
	tc    client.Client
	relay *relay.Relay
	queue string
}

func newRelayHarness(t testing.TB, cfg relay.Config) *relayHarness {
	t.Helper()
	db := testenv.NewDB(t)
	h := &relayHarness{db: db, st: store.New(db), tc: testenv.NewTemporalClient(t), queue: "relay-test-" + uuid.NewString()}
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

func (h *relayHarness) store(t testing.TB, subject, body string) (eventID string, rowID int64) {
	t.Helper()
	return h.storeTyped(t, "thing.happened", subject, body)
}

func (h *relayHarness) storeTyped(t testing.TB, eventType, subject, body string) (eventID string, rowID int64) {
	t.Helper()
	eventID = uuid.NewString()
	rowID, inserted, err := h.st.InsertWebhookEvent(context.Background(), store.NewInboxEvent{
		Provider: "test", EventID: eventID, EventType: eventType, Subject: subject,
		Headers: map[string]string{}, Body: []byte(body),
	})
	require.NoError(t, err)
	require.True(t, inserted)
	return eventID, rowID
}

func (h *relayHarness) status(t testing.TB, eventID string) store.InboxStatus {
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

func TestRelayDeliversAnEventAsSoonAsItsRouteAppears(t *testing.T) {
	// Past the back-off, still only the route makes the event due again: each look before it
	// would cost a claim and a write and find nothing new.
	h := newRelayHarness(t, relay.Config{MaxBackoff: 5 * time.Millisecond})
	run := h.startCollector(t, 1)
	ctx := context.Background()
	eventID, _ := h.store(t, "thing:early", "early")

	h.relay.SweepOnce(ctx)
	st := h.status(t, eventID)
	require.Equal(t, store.InboxPending, st.Status, "an event that overtook its route waits")
	require.Equal(t, 1, st.Attempts)
	require.Contains(t, *st.LastError, "no route")
	time.Sleep(10 * time.Millisecond)
	h.relay.SweepOnce(ctx)
	require.Equal(t, 1, h.status(t, eventID).Attempts, "nothing to look at again before its route appears")

	require.NoError(t, h.st.AddRoute(ctx, "test", "thing:early", run.GetID()))
	h.relay.SweepOnce(ctx) // the route woke it

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
	// The Temporal UI tells the new run from the check's and finds it by provider.
	desc, err := h.tc.DescribeWorkflow(ctx, id, "")
	require.NoError(t, err)
	summary, err := desc.GetStaticSummary()
	require.NoError(t, err)
	require.Equal(t, "test events after the check finished (collectSignals)", summary)
	providers, ok := desc.TypedSearchAttributes.GetKeywordList(workflows.SearchAttrProvider)
	require.True(t, ok)
	require.Equal(t, []string{"test"}, providers)
}

func TestRelayWaitsOutATemporalOutageInsteadOfTryingEveryEvent(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	// Nothing listens on port 1: Temporal is "down" for this relay.
	down, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	require.NoError(t, err)
	t.Cleanup(down.Close)
	counting := newCountingClient(down, 0)
	const concurrency = 4
	r := relay.New(st, counting, testTranslators, relay.Config{Concurrency: concurrency, SignalTimeout: 300 * time.Millisecond},
		slog.New(slog.DiscardHandler))
	ctx := context.Background()
	const events = 12
	for i := range events {
		subject := fmt.Sprintf("thing:down-%d", i)
		require.NoError(t, st.AddRoute(ctx, "test", subject, fmt.Sprintf("workflow-%d", i)))
		_, _, err := st.InsertWebhookEvent(ctx, store.NewInboxEvent{Provider: "test", EventID: subject,
			EventType: "thing.happened", Subject: subject, Headers: map[string]string{}, Body: []byte(subject)})
		require.NoError(t, err)
	}
	attempts := func() int {
		total := 0
		for i := range events {
			s, err := st.WebhookEventStatus(ctx, "test", fmt.Sprintf("thing:down-%d", i))
			require.NoError(t, err)
			require.Equal(t, store.InboxPending, s.Status)
			total += s.Attempts
		}
		return total
	}

	r.SweepOnce(ctx)

	tried := counting.signals()
	require.GreaterOrEqual(t, tried, 1)
	require.LessOrEqual(t, tried, concurrency, "only the calls already in flight when the first failed")
	require.Equal(t, tried, attempts(), "the events not tried are released without an attempt")

	r.SweepOnce(ctx)

	require.Equal(t, tried, counting.signals(), "paused: no call while Temporal is known to be down")
	require.Equal(t, tried, attempts())
}

func TestRelaySignalsSeveralWorkflowsAtOnceAndEachInOrder(t *testing.T) {
	const concurrency, workflowCount, perWorkflow = 4, 8, 4
	h := newRelayHarness(t, relay.Config{})
	counting := newCountingClient(h.tc, 20*time.Millisecond)
	r := relay.New(h.st, counting, testTranslators, relay.Config{Concurrency: concurrency}, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	runs := make([]client.WorkflowRun, workflowCount)
	for w := range runs {
		runs[w] = h.startCollector(t, perWorkflow)
		require.NoError(t, h.st.AddRoute(ctx, "test", fmt.Sprintf("thing:%d", w), runs[w].GetID()))
	}
	for i := range perWorkflow {
		for w := range runs {
			h.store(t, fmt.Sprintf("thing:%d", w), fmt.Sprintf("event %d", i))
		}
	}

	r.SweepOnce(ctx)

	for _, run := range runs {
		var got []string
		require.NoError(t, run.Get(ctx, &got))
		require.Equal(t, []string{"event 0", "event 1", "event 2", "event 3"}, got)
	}
	most, oneWorkflowOverlapped := counting.concurrency()
	require.Greater(t, most, 1, "several workflows at once")
	require.LessOrEqual(t, most, concurrency)
	require.False(t, oneWorkflowOverlapped, "one workflow's events one at a time")
}

func TestRelayTakesOverEventsWhoseLeaseRanOut(t *testing.T) {
	h := newRelayHarness(t, relay.Config{})
	run := h.startCollector(t, 1)
	ctx := context.Background()
	require.NoError(t, h.st.AddRoute(ctx, "test", "thing:orphaned", run.GetID()))
	eventID, _ := h.store(t, "thing:orphaned", "orphaned")
	// Another relay claims the event and dies before it records anything.
	claimed, err := h.st.ClaimDueEvents(ctx, 10, 500*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, claimed, 1)

	h.relay.SweepOnce(ctx)
	st := h.status(t, eventID)
	require.Equal(t, store.InboxPending, st.Status, "leased to the other relay")
	require.Zero(t, st.Attempts)

	time.Sleep(600 * time.Millisecond)
	h.relay.SweepOnce(ctx)

	var got []string
	require.NoError(t, run.Get(ctx, &got))
	require.Equal(t, []string{"orphaned"}, got)
	require.Equal(t, store.InboxDelivered, h.status(t, eventID).Status)
}

func TestTwoRelaysOnOneDatabaseDeliverEachEventOnce(t *testing.T) {
	const workflowCount, perWorkflow = 10, 10
	h := newRelayHarness(t, relay.Config{})
	counting := newCountingClient(h.tc, 2*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	var relays sync.WaitGroup
	t.Cleanup(relays.Wait)
	t.Cleanup(cancel)
	replicas := make([]*relay.Relay, 2)
	for i := range replicas {
		replicas[i] = relay.New(h.st, counting, testTranslators,
			relay.Config{Concurrency: 4, BatchSize: 5, SweepInterval: 20 * time.Millisecond}, slog.New(slog.DiscardHandler))
		relays.Go(func() { replicas[i].Run(ctx) })
	}
	runs := make([]client.WorkflowRun, workflowCount)
	for w := range runs {
		runs[w] = h.startCollector(t, perWorkflow)
		require.NoError(t, h.st.AddRoute(ctx, "test", fmt.Sprintf("thing:%d", w), runs[w].GetID()))
	}
	var eventIDs []string
	for i := range perWorkflow {
		for w := range runs {
			eventID, rowID := h.store(t, fmt.Sprintf("thing:%d", w), fmt.Sprintf("workflow %d event %d", w, i))
			eventIDs = append(eventIDs, eventID)
			for _, r := range replicas {
				r.Notify(rowID)
			}
		}
	}

	for w, run := range runs {
		var got []string
		require.NoError(t, run.Get(ctx, &got))
		require.Len(t, got, perWorkflow)
		for i := range perWorkflow {
			require.Contains(t, got, fmt.Sprintf("workflow %d event %d", w, i))
		}
	}
	require.Eventually(t, func() bool {
		for _, eventID := range eventIDs {
			if h.status(t, eventID).Status != store.InboxDelivered {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond)
	for _, eventID := range eventIDs {
		require.Equal(t, 1, h.status(t, eventID).Attempts, "recorded once")
	}
	require.Equal(t, workflowCount*perWorkflow, counting.signals(), "no event signalled twice")
}

// countingClient is a Temporal client that counts the signals it sends and how many are in
// flight at once. Each signal takes at least delay, so that concurrent deliveries overlap.
type countingClient struct {
	client.Client
	delay time.Duration

	mu          sync.Mutex
	sent        int
	inFlight    int
	mostAtOnce  int
	perWorkflow map[string]int
	overlapped  bool
}

func newCountingClient(c client.Client, delay time.Duration) *countingClient {
	return &countingClient{Client: c, delay: delay, perWorkflow: map[string]int{}}
}

func (c *countingClient) SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error {
	c.mu.Lock()
	c.sent++
	c.inFlight++
	c.mostAtOnce = max(c.mostAtOnce, c.inFlight)
	c.perWorkflow[workflowID]++
	c.overlapped = c.overlapped || c.perWorkflow[workflowID] > 1
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.perWorkflow[workflowID]--
		c.mu.Unlock()
	}()
	time.Sleep(c.delay)
	return c.Client.SignalWorkflow(ctx, workflowID, runID, signalName, arg)
}

func (c *countingClient) signals() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// concurrency reports the most signals in flight at once, and whether two to one workflow ever were.
func (c *countingClient) concurrency() (most int, oneWorkflowOverlapped bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mostAtOnce, c.overlapped
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

// checkWorkflow creates a screening with one check in progress and starts a collector under the
// check's workflow id, routed from subject.
func (h *relayHarness) checkWorkflow(t *testing.T, subject string, signals int) (store.Check, client.WorkflowRun) {
	t.Helper()
	ctx := context.Background()
	tenant, _, err := h.st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	scr, _, err := h.st.CreateScreening(ctx, store.NewScreening{TenantID: tenant.ID,
		Candidate: store.Candidate{Reference: "r", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", DOB: "1990-12-10"},
		Checks:    []store.NewCheck{{Provider: "test", Type: "thing"}}})
	require.NoError(t, err)
	checks, err := h.st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	check := checks[0]
	require.NoError(t, h.st.UpdateCheck(ctx, store.CheckUpdate{CheckID: check.ID, Status: store.StatusInProgress}))
	run, err := h.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.CheckWorkflowID(scr.ID, "test", check.ID), TaskQueue: h.queue, WorkflowExecutionTimeout: time.Minute,
	}, collectSignals, signals)
	require.NoError(t, err)
	require.NoError(t, h.st.AddRoute(ctx, "test", subject, run.GetID()))
	return check, run
}

func (h *relayHarness) timeline(t *testing.T, check store.Check) map[string]string {
	t.Helper()
	var entries []store.TimelineEntry
	require.NoError(t, h.db.Select(&entries, `SELECT dedupe_key, detail FROM timeline_entries
		WHERE check_id = $1`, check.ID))
	byKey := map[string]string{}
	for _, e := range entries {
		byKey[e.DedupeKey] = e.Detail
	}
	return byKey
}

func TestRelayNotesAnInformationalEventInsteadOfSignallingIt(t *testing.T) {
	h := newRelayHarness(t, relay.Config{})
	check, run := h.checkWorkflow(t, "thing:noted", 1)
	ctx := context.Background()
	progress, _ := h.store(t, "thing:noted", "info:in progress")
	// The provider sends it again under another id: the same note.
	again, _ := h.store(t, "thing:noted", "info:in progress")
	done, _ := h.store(t, "thing:noted", "done")

	h.relay.SweepOnce(ctx)

	var got []string
	require.NoError(t, run.Get(ctx, &got))
	require.Equal(t, []string{"done"}, got, "only the event the workflow acts on is signalled")
	for _, eventID := range []string{progress, again, done} {
		st := h.status(t, eventID)
		require.Equal(t, store.InboxDelivered, st.Status)
		require.Equal(t, 1, st.Attempts)
	}
	require.Equal(t, map[string]string{"test:info:in progress": "info:in progress"}, h.timeline(t, check),
		"the informational event is in the check's timeline once; the signalled one is left to its workflow")
}

func TestRelayNotesAnEventOnlyUnderItsOwnLease(t *testing.T) {
	h := newRelayHarness(t, relay.Config{})
	check, _ := h.checkWorkflow(t, "thing:leased", 1)
	ctx := context.Background()
	eventID, _ := h.store(t, "thing:leased", "info:leased")
	// A relay claims the event and stalls past its lease; this one takes it over and notes it.
	stale, err := h.st.ClaimDueEvents(ctx, 10, 200*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, stale, 1)
	time.Sleep(300 * time.Millisecond)
	h.relay.SweepOnce(ctx)

	recorded, err := h.st.RecordOutcomes(ctx, []store.Outcome{{ID: stale[0].ID, LeaseID: stale[0].LeaseID,
		Status: store.InboxDelivered, Attempted: true, Note: &store.EventNote{ScreeningID: check.ScreeningID,
			CheckID: check.ID, DedupeKey: "test:stale", Kind: "provider.event", Detail: "stale"}}})
	require.NoError(t, err)
	require.Zero(t, recorded, "the stalled relay's lease has ended")
	require.Equal(t, map[string]string{"test:info:leased": "info:leased"}, h.timeline(t, check))
	require.Equal(t, 1, h.status(t, eventID).Attempts)
}

func TestTwoRelaysNoteEachInformationalEventOnce(t *testing.T) {
	const events = 20
	h := newRelayHarness(t, relay.Config{})
	check, run := h.checkWorkflow(t, "thing:shared", 1)
	counting := newCountingClient(h.tc, 0)
	ctx, cancel := context.WithCancel(context.Background())
	var relays sync.WaitGroup
	t.Cleanup(relays.Wait)
	t.Cleanup(cancel)
	replicas := make([]*relay.Relay, 2)
	for i := range replicas {
		replicas[i] = relay.New(h.st, counting, testTranslators,
			relay.Config{Concurrency: 4, BatchSize: 3, SweepInterval: 20 * time.Millisecond}, slog.New(slog.DiscardHandler))
		relays.Go(func() { replicas[i].Run(ctx) })
	}
	var eventIDs []string
	want := map[string]string{}
	for i := range events {
		body := fmt.Sprintf("info:step %d", i)
		eventID, rowID := h.store(t, "thing:shared", body)
		eventIDs, want["test:"+body] = append(eventIDs, eventID), body
		for _, r := range replicas {
			r.Notify(rowID)
		}
	}
	last, _ := h.store(t, "thing:shared", "done")

	var got []string
	require.NoError(t, run.Get(ctx, &got))
	require.Equal(t, []string{"done"}, got)
	require.Eventually(t, func() bool {
		for _, eventID := range append(eventIDs, last) {
			if h.status(t, eventID).Status != store.InboxDelivered {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond)
	for _, eventID := range eventIDs {
		require.Equal(t, 1, h.status(t, eventID).Attempts, "recorded once")
	}
	require.Equal(t, want, h.timeline(t, check))
	require.Equal(t, 1, counting.signals(), "only the event the workflow acts on is signalled")
}

func TestRelaySignalsAnInformationalEventItsWorkflowActsOnAfterAll(t *testing.T) {
	ctx := context.Background()
	t.Run("after the event it prompts after", func(t *testing.T) {
		h := newRelayHarness(t, relay.Config{})
		check, run := h.checkWorkflow(t, "thing:prompted", 2)
		h.store(t, "thing:prompted", "info-after:before")
		h.storeTyped(t, "thing.prompted", "thing:prompted", "prompted")
		h.store(t, "thing:prompted", "info-after:after")

		h.relay.SweepOnce(ctx)

		var got []string
		require.NoError(t, run.Get(ctx, &got))
		require.Equal(t, []string{"prompted", "info-after:after"}, got)
		require.Equal(t, map[string]string{"test:info-after:before": "info-after:before", "test:info-after:after": "info-after:after"},
			h.timeline(t, check), "the signalled one is noted too, once its workflow has it")
	})
	t.Run("once its check has ended", func(t *testing.T) {
		h := newRelayHarness(t, relay.Config{})
		check, run := h.checkWorkflow(t, "thing:ended", 1)
		require.NoError(t, h.st.UpdateCheck(ctx, store.CheckUpdate{CheckID: check.ID, Status: store.StatusCompleted}))
		h.store(t, "thing:ended", "info:late")

		h.relay.SweepOnce(ctx)

		var got []string
		require.NoError(t, run.Get(ctx, &got))
		require.Equal(t, []string{"info:late"}, got, "an ended check's events go to the workflow that amends it")
	})
}
