package callbacks

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// received is one callback as the HR platform's endpoint got it.
type received struct {
	ID, Type string
	Sequence int64
	At       time.Time
	Headers  http.Header
	Body     []byte
}

// hrEndpoint is an HR platform's webhook endpoint: it records every callback and answers with
// what answer returns for it, given how many came before (200 when answer is nil).
type hrEndpoint struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(r received, before int) int
}

func newHREndpoint(t *testing.T) *hrEndpoint {
	t.Helper()
	e := &hrEndpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var event struct {
			Type     string `json:"type"`
			Sequence int64  `json:"sequence"`
		}
		_ = json.Unmarshal(body, &event)
		got := received{ID: r.Header.Get("webhook-id"), Type: event.Type, Sequence: event.Sequence,
			At: time.Now(), Headers: r.Header.Clone(), Body: body}
		e.mu.Lock()
		before, answer := len(e.got), e.answer
		e.got = append(e.got, got)
		e.mu.Unlock()
		status := http.StatusOK
		if answer != nil {
			status = answer(got, before)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *hrEndpoint) setAnswer(answer func(r received, before int) int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.answer = answer
}

func (e *hrEndpoint) received() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.got...)
}

type fixture struct {
	st       *store.Store
	tenantID string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	key, err := vault.ParseKey(vault.NewKey())
	require.NoError(t, err)
	v, err := vault.New(key)
	require.NoError(t, err)
	st := store.NewSealed(testenv.NewDB(t), v)
	tenant, _, err := st.CreateTenant(context.Background(), "acme")
	require.NoError(t, err)
	return fixture{st: st, tenantID: tenant.ID}
}

// register stores an endpoint for url directly: the dispatcher's own checks are under test.
func (f fixture) register(t *testing.T, url string, events ...string) (store.WebhookEndpoint, *svix.Webhook) {
	t.Helper()
	if len(events) == 0 {
		events = store.CallbackEventTypes
	}
	e, secret, err := f.st.CreateWebhookEndpoint(context.Background(), store.NewWebhookEndpoint{TenantID: f.tenantID,
		URL: url, EventTypes: events, Enabled: true})
	require.NoError(t, err)
	verifier, err := svix.NewWebhook(secret)
	require.NoError(t, err)
	return e, verifier
}

// screeningWithEvents makes the events of a screening that completes: screening.created,
// check.updated, check.completed, screening.completed.
func (f fixture) screeningWithEvents(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	scr, _, err := f.st.CreateScreening(ctx, store.NewScreening{TenantID: f.tenantID,
		Candidate: store.Candidate{Reference: "r", FirstName: "A", LastName: "B", Email: "a@b.c", DOB: "1990-01-01"},
		Checks:    []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}})
	require.NoError(t, err)
	checks, err := f.st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	_, err = f.st.BeginScreening(ctx, scr.ID)
	require.NoError(t, err)
	require.NoError(t, f.st.SetProviderCheck(ctx, checks[0].ID, "complycube", "cc-"+scr.ID, "cc-"+scr.ID, "wf-"+scr.ID))
	clear := "clear"
	require.NoError(t, f.st.UpdateCheck(ctx, store.CheckUpdate{CheckID: checks[0].ID, Status: store.StatusCompleted, Outcome: &clear}))
	return scr.ID
}

var completingEvents = []string{store.EventScreeningCreated, store.EventCheckUpdated, store.EventCheckCompleted,
	store.EventScreeningCompleted}

func testConfig() Config {
	return Config{Policy: Policy{AllowHTTP: true, AllowPrivate: true}, Timeout: 2 * time.Second,
		FirstRetry: 100 * time.Millisecond, MaxBackoff: time.Second, SweepInterval: 20 * time.Millisecond}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runDispatchers runs n dispatchers, as n serve replicas would, until the test ends.
func runDispatchers(t *testing.T, st *store.Store, cfg Config, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { NewDispatcher(st, cfg, quietLog()).Run(ctx) })
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

func TestCallbacksArriveSignedInOrderPerScreeningAcrossReplicas(t *testing.T) {
	f := newFixture(t)
	hr := newHREndpoint(t)
	_, verifier := f.register(t, hr.URL)
	screenings := []string{f.screeningWithEvents(t), f.screeningWithEvents(t), f.screeningWithEvents(t)}
	runDispatchers(t, f.st, testConfig(), 3)

	require.Eventually(t, func() bool { return len(hr.received()) >= 4*len(screenings) }, 10*time.Second, 20*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	got := hr.received()
	require.Len(t, got, 4*len(screenings), "each event once")
	byScreening := map[string][]string{}
	for _, r := range got {
		require.NoError(t, verifier.Verify(r.Body, r.Headers), "verified by an independent Standard Webhooks implementation")
		require.Equal(t, "application/json", r.Headers.Get("Content-Type"))
		var event struct {
			ID   string `json:"id"`
			Data struct {
				ScreeningID string `json:"screening_id"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &event))
		require.Equal(t, r.ID, event.ID, "the webhook-id is the event's id")
		byScreening[event.Data.ScreeningID] = append(byScreening[event.Data.ScreeningID], r.Type)
	}
	for _, id := range screenings {
		require.Equal(t, completingEvents, byScreening[id], "screening %s in order", id)
	}
}

func TestAFailedCallbackIsRetriedWithBackOffAndTheSameID(t *testing.T) {
	f := newFixture(t)
	hr := newHREndpoint(t)
	hr.setAnswer(func(_ received, before int) int {
		if before < 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	endpoint, verifier := f.register(t, hr.URL, store.EventScreeningCreated)
	f.screeningWithEvents(t)
	cfg := testConfig()
	cfg.FirstRetry = 200 * time.Millisecond
	runDispatchers(t, f.st, cfg, 1)

	require.Eventually(t, func() bool { return len(hr.received()) == 4 }, 10*time.Second, 20*time.Millisecond)
	got := hr.received()
	for i, r := range got {
		require.Equal(t, got[0].ID, r.ID, "every attempt carries the event's webhook-id")
		require.Equal(t, got[0].Body, r.Body)
		require.NoError(t, verifier.Verify(r.Body, r.Headers))
		if i > 0 {
			// The wait doubles per failure from FirstRetry, less a jitter of up to half.
			least := cfg.FirstRetry << (i - 1) / 2
			require.GreaterOrEqual(t, r.At.Sub(got[i-1].At), least, "attempt %d came too soon", i+1)
		}
	}

	var deliveries []store.CallbackDelivery
	require.Eventually(t, func() bool {
		var err error
		deliveries, err = f.st.CallbackDeliveries(context.Background(), f.tenantID, endpoint.ID, 0, 10)
		require.NoError(t, err)
		return len(deliveries) == 1 && deliveries[0].Status == store.CallbackDelivered
	}, 5*time.Second, 20*time.Millisecond)
	log := deliveries[0].Log
	require.Len(t, log, 4)
	for i, want := range []int{503, 503, 503, 204} {
		require.Equal(t, want, *log[i].StatusCode)
	}
	require.Equal(t, "answered 503", *log[0].Error)
	require.Nil(t, log[3].Error)
	require.Equal(t, 4, deliveries[0].Attempts)
}

func TestAnEndpointFailingForLongerThanItsBudgetIsDisabledAndCanBeEnabledAgain(t *testing.T) {
	f := newFixture(t)
	hr := newHREndpoint(t)
	hr.setAnswer(func(received, int) int { return http.StatusInternalServerError })
	endpoint, _ := f.register(t, hr.URL)
	f.screeningWithEvents(t)
	cfg := testConfig()
	cfg.FirstRetry, cfg.MaxBackoff, cfg.FailureBudget = 50*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond
	runDispatchers(t, f.st, cfg, 1)

	var disabled store.WebhookEndpoint
	require.Eventually(t, func() bool {
		var err error
		disabled, err = f.st.WebhookEndpoint(context.Background(), f.tenantID, endpoint.ID)
		require.NoError(t, err)
		return !disabled.Enabled
	}, 10*time.Second, 20*time.Millisecond)
	require.NotNil(t, disabled.DisabledReason)
	require.Contains(t, *disabled.DisabledReason, "every delivery failed since")
	attempts := len(hr.received())
	require.GreaterOrEqual(t, attempts, 3)
	for _, r := range hr.received() {
		require.Equal(t, store.EventScreeningCreated, r.Type, "the next event waits for the first")
	}
	time.Sleep(400 * time.Millisecond)
	require.Len(t, hr.received(), attempts, "nothing is sent to a disabled endpoint")

	hr.setAnswer(nil)
	_, err := f.st.EnableWebhookEndpoint(context.Background(), f.tenantID, endpoint.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(hr.received()) == attempts+len(completingEvents) }, 10*time.Second, 20*time.Millisecond)
	var types []string
	for _, r := range hr.received()[attempts:] {
		types = append(types, r.Type)
	}
	require.Equal(t, completingEvents, types, "its pending events resume in order")
}

func TestADeliveryGivenUpLetsItsScreeningsNextEventThrough(t *testing.T) {
	f := newFixture(t)
	hr := newHREndpoint(t)
	hr.setAnswer(func(r received, _ int) int {
		if r.Type == store.EventScreeningCreated {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	endpoint, _ := f.register(t, hr.URL)
	f.screeningWithEvents(t)
	cfg := testConfig()
	cfg.RetryWindow = 300 * time.Millisecond
	runDispatchers(t, f.st, cfg, 1)

	later := func() []string {
		var types []string
		for _, r := range hr.received() {
			if r.Type != store.EventScreeningCreated {
				types = append(types, r.Type)
			}
		}
		return types
	}
	require.Eventually(t, func() bool { return len(later()) == len(completingEvents)-1 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, completingEvents[1:], later())
	deliveries, err := f.st.CallbackDeliveries(context.Background(), f.tenantID, endpoint.ID, 0, 10)
	require.NoError(t, err)
	first := deliveries[len(deliveries)-1]
	require.Equal(t, store.EventScreeningCreated, first.EventType)
	require.Equal(t, store.CallbackFailed, first.Status, "given up at the end of its retry window")
	require.NotEmpty(t, first.Log)
	require.Equal(t, len(hr.received())-len(completingEvents)+1, len(first.Log), "every attempt is in the log")
}

func TestARedeliveryResendsTheSameCallback(t *testing.T) {
	f := newFixture(t)
	hr := newHREndpoint(t)
	endpoint, verifier := f.register(t, hr.URL, store.EventScreeningCompleted)
	f.screeningWithEvents(t)
	runDispatchers(t, f.st, testConfig(), 1)
	require.Eventually(t, func() bool { return len(hr.received()) == 1 }, 10*time.Second, 20*time.Millisecond)

	var deliveries []store.CallbackDelivery
	var err error
	require.Eventually(t, func() bool {
		deliveries, err = f.st.CallbackDeliveries(context.Background(), f.tenantID, endpoint.ID, 0, 10)
		require.NoError(t, err)
		return deliveries[0].Status == store.CallbackDelivered
	}, 5*time.Second, 20*time.Millisecond)
	_, err = f.st.RedeliverCallback(context.Background(), f.tenantID, endpoint.ID, deliveries[0].ID)
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(hr.received()) == 2 }, 10*time.Second, 20*time.Millisecond)
	got := hr.received()
	require.Equal(t, got[0].ID, got[1].ID)
	require.Equal(t, got[0].Body, got[1].Body)
	require.NoError(t, verifier.Verify(got[1].Body, got[1].Headers))
}

func TestTheDispatcherRefusesInsideAddressesAtConnectTime(t *testing.T) {
	f := newFixture(t)
	hr := newHREndpoint(t)
	_, port, err := net.SplitHostPort(hr.Listener.Addr().String())
	require.NoError(t, err)
	// Registered while the name resolved elsewhere, say: now localhost resolves to 127.0.0.1.
	endpoint, _ := f.register(t, "http://localhost:"+port+"/callbacks", store.EventScreeningCreated)
	f.screeningWithEvents(t)
	cfg := testConfig()
	cfg.Policy.AllowPrivate = false
	runDispatchers(t, f.st, cfg, 1)

	var deliveries []store.CallbackDelivery
	require.Eventually(t, func() bool {
		deliveries, err = f.st.CallbackDeliveries(context.Background(), f.tenantID, endpoint.ID, 0, 10)
		require.NoError(t, err)
		return len(deliveries) == 1 && len(deliveries[0].Log) >= 2
	}, 10*time.Second, 20*time.Millisecond)
	require.Empty(t, hr.received(), "nothing reached the inside address")
	require.Contains(t, *deliveries[0].Log[0].Error, ErrRefusedAddress.Error())
	require.Nil(t, deliveries[0].Log[0].StatusCode)
	require.NotContains(t, *deliveries[0].Log[0].Error, "/callbacks", "the logged error does not repeat the URL")
}

func TestBackoffDoublesUpToItsCapWithJitter(t *testing.T) {
	d := &Dispatcher{cfg: Config{FirstRetry: 5 * time.Second, MaxBackoff: 2 * time.Hour}.withDefaults()}
	for attempt, ceiling := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 5: 80 * time.Second,
		11: 5120 * time.Second, 12: 2 * time.Hour, 40: 2 * time.Hour, 1000: 2 * time.Hour} {
		for range 50 {
			wait := d.backoff(attempt)
			require.LessOrEqual(t, wait, ceiling, "attempt %d", attempt)
			require.GreaterOrEqual(t, wait, ceiling/2, "attempt %d", attempt)
		}
	}
	var total time.Duration
	attempts := 0
	for total < DefaultRetryWindow {
		attempts++
		total += d.backoff(attempts)
	}
	require.Less(t, attempts, 40, "a day of retries is a bounded number of attempts")
}

func TestTheDeliveryLogKeepsFinishedDeliveriesForItsRetentionAndPendingOnesAlways(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ok := newHREndpoint(t)
	gone := newHREndpoint(t)
	gone.setAnswer(func(received, int) int { return http.StatusGone })
	delivered, _ := f.register(t, ok.URL, store.EventScreeningCreated)
	givenUp, _ := f.register(t, gone.URL, store.EventScreeningCreated)
	waiting, _ := f.register(t, newHREndpoint(t).URL, store.EventScreeningCreated)
	f.screeningWithEvents(t)
	// A disabled endpoint's delivery waits, pending, until the endpoint is enabled again.
	_, err := f.st.DB().ExecContext(ctx, `UPDATE webhook_endpoints SET enabled = false WHERE id = $1`, waiting.ID)
	require.NoError(t, err)

	cfg := testConfig()
	cfg.RetryWindow = time.Nanosecond
	d := NewDispatcher(f.st, cfg, quietLog())
	status := func(endpointID string) string {
		deliveries, err := f.st.CallbackDeliveries(ctx, f.tenantID, endpointID, 0, 10)
		require.NoError(t, err)
		if len(deliveries) == 0 {
			return "purged"
		}
		return deliveries[0].Status
	}
	_, err = d.DeliverDue(ctx)
	require.NoError(t, err)
	require.Equal(t, store.CallbackDelivered, status(delivered.ID))
	require.Equal(t, store.CallbackFailed, status(givenUp.ID), "its first failure is past the retry window")
	require.Equal(t, store.CallbackPending, status(waiting.ID))

	n, err := d.PurgeLog(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing finished longer than the retention ago")

	cfg.LogRetention = time.Millisecond
	time.Sleep(10 * time.Millisecond)
	n, err = NewDispatcher(f.st, cfg, quietLog()).PurgeLog(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "the delivered and the given-up delivery")
	require.Equal(t, "purged", status(delivered.ID))
	require.Equal(t, "purged", status(givenUp.ID))
	require.Equal(t, store.CallbackPending, status(waiting.ID), "a pending delivery waits for its endpoint however old")
	var logged int
	require.NoError(t, f.st.DB().GetContext(ctx, &logged, `SELECT count(*) FROM callback_attempts`))
	require.Zero(t, logged, "the purged deliveries' attempts went with them")
}
