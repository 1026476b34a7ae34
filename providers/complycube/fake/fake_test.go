package fake_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/complycube/fake"
)

const (
	apiKey = "test_key"
	secret = "whsec_test"
	wait   = 5 * time.Second
	tick   = 5 * time.Millisecond
)

var shortRetries = []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond}

// receiver is a webhook endpoint that verifies signatures and answers as scripted.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	secret   string             // what signatures are checked with
	answers  []int              // statuses to answer in turn; 200 once used up
	accepted []complycube.Event // events answered 2xx, in arrival order
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	t.Helper()
	r := &receiver{t: t, secret: secret, answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		r.t.Errorf("read webhook: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("webhook sent as %s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
	}
	r.mu.Lock()
	key := r.secret
	r.mu.Unlock()
	if !complycube.VerifySignature(key, body, req.Header.Get(complycube.SignatureHeader)) {
		r.t.Errorf("webhook with a bad signature: %s", body)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	ev, err := complycube.ParseEvent(body)
	if err != nil {
		r.t.Errorf("parse webhook: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	status := http.StatusOK
	if len(r.answers) > 0 {
		status, r.answers = r.answers[0], r.answers[1:]
	}
	if status/100 == 2 {
		r.accepted = append(r.accepted, ev)
	}
	r.mu.Unlock()
	w.WriteHeader(status)
}

func (r *receiver) events() []complycube.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.accepted)
}

func (r *receiver) types() []string {
	var types []string
	for _, e := range r.events() {
		types = append(types, e.Type)
	}
	return types
}

func (r *receiver) hasTypes(types ...string) func() bool {
	return func() bool {
		got := r.types()
		for _, t := range types {
			if !slices.Contains(got, t) {
				return false
			}
		}
		return true
	}
}

func (r *receiver) event(t *testing.T, typ string) complycube.Event {
	t.Helper()
	for _, e := range r.events() {
		if e.Type == typ {
			return e
		}
	}
	t.Fatalf("no %s event among %v", typ, r.types())
	return complycube.Event{}
}

// deliveries waits until the fake recorded n delivery attempts: a receiver sees an attempt before
// the fake records its answer.
func deliveries(t *testing.T, f *fake.Server, n int) []fake.Delivery {
	t.Helper()
	require.Eventually(t, func() bool { return len(f.Deliveries()) >= n }, wait, tick)
	d := f.Deliveries()
	require.Len(t, d, n)
	return d
}

// start serves a fake ComplyCube and returns it with a client for it. The fake is closed before
// the receivers created earlier, so that no webhook outlives its test.
func start(t *testing.T, opts fake.Options) (*fake.Server, *complycube.Client) {
	t.Helper()
	opts.APIKey = apiKey
	opts.WebhookSecret = secret
	if opts.RetryDelays == nil {
		opts.RetryDelays = shortRetries
	}
	f := fake.New(opts)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	return f, complycube.NewClient(srv.URL+"/v1", apiKey, srv.Client())
}

func createClient(t *testing.T, c *complycube.Client) complycube.ClientResource {
	t.Helper()
	cl, err := c.CreateClient(context.Background(), complycube.CreateClientRequest{
		Type:          "person",
		Email:         "jane.roe@example.com",
		PersonDetails: &complycube.PersonDetails{FirstName: "Jane", LastName: "Roe", DOB: "1990-02-03"},
	})
	require.NoError(t, err)
	return cl
}

func createCheck(t *testing.T, c *complycube.Client) (complycube.ClientResource, complycube.Check) {
	t.Helper()
	cl := createClient(t, c)
	ch, err := c.CreateCheck(context.Background(), complycube.CreateCheckRequest{ClientID: cl.ID, Type: "standard_screening_check"})
	require.NoError(t, err)
	return cl, ch
}

type checkPayload struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Outcome   string    `json:"outcome"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func payloadOf(t *testing.T, e complycube.Event) checkPayload {
	t.Helper()
	var p checkPayload
	require.NoError(t, json.Unmarshal(e.Payload, &p))
	return p
}

func TestWebhooksOfACheckArriveSigned(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: 20 * time.Millisecond})
	cl, ch := createCheck(t, c)

	require.Eventually(t, r.hasTypes("client.created", "check.pending", "check.completed", "check.completed.clear"), wait, tick)

	created := r.event(t, "client.created")
	assert.Equal(t, "client", created.ResourceType)
	assert.Equal(t, "client:"+cl.ID, created.Subject())
	assert.Contains(t, string(created.Payload), "jane.roe@example.com", "client.created carries the client, as ComplyCube's does")
	assert.NotContains(t, created.Summary().ResourceID+created.Summary().Status, "jane")

	pending := r.event(t, "check.pending")
	assert.Equal(t, "check", pending.ResourceType)
	assert.Equal(t, "check:"+ch.ID, pending.Subject())
	var pendingCheck complycube.Check
	require.NoError(t, json.Unmarshal(pending.Payload, &pendingCheck))
	assert.Equal(t, ch, pendingCheck, "check.pending carries the check object")

	for _, typ := range []string{"check.completed", "check.completed.clear"} {
		e := r.event(t, typ)
		assert.Equal(t, "check", e.ResourceType)
		assert.Equal(t, "check:"+ch.ID, e.Subject())
		assert.False(t, e.CreatedAt.IsZero())
		p := payloadOf(t, e)
		assert.Equal(t, "complete", p.Status)
		assert.Equal(t, "clear", p.Outcome)
		assert.True(t, p.CreatedAt.Equal(ch.CreatedAt))
		s := e.Summary()
		assert.Equal(t, "clear", s.Outcome)
		assert.True(t, s.OccurredAt.Equal(p.UpdatedAt))
	}

	ids := map[string]bool{}
	for _, e := range r.events() {
		ids[e.ID] = true
	}
	assert.Len(t, ids, 4, "every event has its own id")

	got, err := c.GetCheck(context.Background(), ch.ID)
	require.NoError(t, err)
	assert.Equal(t, "complete", got.Status)
	require.NotNil(t, got.Result)
	assert.Equal(t, "clear", got.Result.Outcome)

	for _, d := range deliveries(t, f, 4) {
		assert.Equal(t, 1, d.Attempt)
		assert.Equal(t, http.StatusOK, d.StatusCode)
		assert.Empty(t, d.Err)
		assert.False(t, d.GaveUp)
	}
}

func TestWebhookRetriedUntilAcknowledged(t *testing.T) {
	r := newReceiver(t, http.StatusInternalServerError, http.StatusInternalServerError)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: -1})
	cl := createClient(t, c)

	require.Eventually(t, func() bool { return len(r.events()) == 1 }, wait, tick)
	assert.Equal(t, "client:"+cl.ID, r.events()[0].Subject())

	got := deliveries(t, f, 3)
	for i, d := range got {
		assert.Equal(t, r.events()[0].ID, d.EventID, "every attempt sends the same event")
		assert.Equal(t, "client.created", d.Type)
		assert.Equal(t, i+1, d.Attempt)
		assert.Equal(t, []int{500, 500, 200}[i], d.StatusCode)
		assert.False(t, d.GaveUp)
	}
	assert.False(t, got[1].At.Before(got[0].At.Add(shortRetries[0])), "the retry waits its delay")
	assert.False(t, f.WebhookDisabled())
}

func TestWebhookGivenUpDisablesTheWebhook(t *testing.T) {
	r := newReceiver(t, 503, 503, 503)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: -1, RetryDelays: []time.Duration{time.Millisecond, time.Millisecond}})
	createClient(t, c)

	require.Eventually(t, f.WebhookDisabled, wait, tick)
	got := deliveries(t, f, 3) // the first try and two retries
	assert.Equal(t, []bool{false, false, true}, []bool{got[0].GaveUp, got[1].GaveUp, got[2].GaveUp})

	createClient(t, c) // not sent: the webhook is disabled
	f.SetWebhookURL(r.srv.URL)
	assert.False(t, f.WebhookDisabled(), "registering the webhook again enables it")
	third := createClient(t, c)
	deliveries(t, f, 4)

	f.Close()
	require.Len(t, r.events(), 1)
	assert.Equal(t, "client:"+third.ID, r.events()[0].Subject())
}

func TestWebhookTransportErrorRetried(t *testing.T) {
	r := newReceiver(t)
	var mu sync.Mutex
	calls := 0
	// A flaky network: the first request never reaches the receiver.
	flaky := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			return nil, io.ErrUnexpectedEOF
		}
		return http.DefaultTransport.RoundTrip(req)
	})}
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: -1, HTTPClient: flaky})
	createClient(t, c)

	require.Eventually(t, func() bool { return len(r.events()) == 1 }, wait, tick)
	got := deliveries(t, f, 2)
	assert.Contains(t, got[0].Err, "unexpected EOF")
	assert.Zero(t, got[0].StatusCode)
	assert.Equal(t, http.StatusOK, got[1].StatusCode)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDuplicateWebhooks(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: -1})
	f.DuplicateWebhooks(true)
	createClient(t, c)

	require.Eventually(t, func() bool { return len(r.events()) == 2 }, wait, tick)
	events := r.events()
	assert.Equal(t, events[0].ID, events[1].ID)
	assert.Equal(t, events[0].Payload, events[1].Payload)
	deliveries(t, f, 2)

	f.DuplicateWebhooks(false)
	createClient(t, c)
	require.Eventually(t, func() bool { return len(r.events()) == 3 }, wait, tick)
	f.Close()
	assert.Len(t, r.events(), 3, "duplicates off again")
}

func TestReorderWebhooks(t *testing.T) {
	indexOf := func(types []string, typ string) int {
		i := slices.Index(types, typ)
		require.GreaterOrEqual(t, i, 0, "%s missing from %v", typ, types)
		return i
	}

	t.Run("completion", func(t *testing.T) {
		r := newReceiver(t)
		f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: -1})
		f.ReorderWebhooks(true)
		_, ch := createCheck(t, c)
		require.Eventually(t, r.hasTypes("client.created"), wait, tick)
		require.NoError(t, f.CompleteCheck(ch.ID, "clear"))

		require.Eventually(t, r.hasTypes("check.pending", "check.completed", "check.completed.clear"), wait, tick)
		types := r.types()
		assert.Greater(t, indexOf(types, "check.pending"), indexOf(types, "check.completed"))
		assert.Greater(t, indexOf(types, "check.pending"), indexOf(types, "check.completed.clear"))
	})

	t.Run("failure", func(t *testing.T) {
		r := newReceiver(t)
		f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: -1})
		f.ReorderWebhooks(true)
		_, ch := createCheck(t, c)
		require.NoError(t, f.FailCheck(ch.ID))

		require.Eventually(t, r.hasTypes("check.pending", "check.failed"), wait, tick)
		types := r.types()
		assert.Greater(t, indexOf(types, "check.pending"), indexOf(types, "check.failed"))
	})
}

func TestDropWebhooks(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: -1})
	f.DropWebhooks("client.created", "check.completed")
	_, ch := createCheck(t, c)
	require.NoError(t, f.CompleteCheck(ch.ID, "clear"))
	require.Eventually(t, r.hasTypes("check.pending", "check.completed.clear"), wait, tick)

	f.DropWebhooks()
	cl := createClient(t, c)
	require.Eventually(t, r.hasTypes("client.created"), wait, tick)
	assert.Equal(t, "client:"+cl.ID, r.event(t, "client.created").Subject(), "only the client created after clearing")

	f.Close()
	assert.ElementsMatch(t, []string{"check.pending", "check.completed.clear", "client.created"}, r.types())
	for _, d := range f.Deliveries() {
		assert.NotEqual(t, "check.completed", d.Type, "a dropped webhook is never tried")
	}
}

func TestCompleteCheckByHand(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: -1})
	_, ch := createCheck(t, c)

	got, err := c.GetCheck(context.Background(), ch.ID)
	require.NoError(t, err)
	assert.Equal(t, "pending", got.Status)
	_, ok := f.ReportPDF(ch.ID)
	assert.False(t, ok)

	assert.ErrorContains(t, f.CompleteCheck(ch.ID, "maybe"), "unknown outcome")
	assert.ErrorContains(t, f.CompleteCheck("nope", "clear"), "no check")
	require.NoError(t, f.CompleteCheck(ch.ID, "match_confirmed"))
	assert.ErrorContains(t, f.CompleteCheck(ch.ID, "clear"), "already complete")
	assert.ErrorContains(t, f.FailCheck(ch.ID), "already complete")

	got, err = c.GetCheck(context.Background(), ch.ID)
	require.NoError(t, err)
	assert.Equal(t, "complete", got.Status)
	require.NotNil(t, got.Result)
	assert.Equal(t, "match_confirmed", got.Result.Outcome)

	require.Eventually(t, r.hasTypes("check.completed", "check.completed.match_confirmed"), wait, tick)
	assert.Equal(t, "match_confirmed", payloadOf(t, r.event(t, "check.completed")).Outcome)

	pdf, ok := f.ReportPDF(ch.ID)
	require.True(t, ok)
	assert.Contains(t, string(pdf), ch.ID+" outcome match_confirmed")
}

func TestFailCheck(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: time.Hour})
	_, ch := createCheck(t, c)
	require.NoError(t, f.FailCheck(ch.ID))
	assert.ErrorContains(t, f.FailCheck(ch.ID), "already failed")

	got, err := c.GetCheck(context.Background(), ch.ID)
	require.NoError(t, err)
	assert.Equal(t, "failed", got.Status)
	assert.Nil(t, got.Result)

	require.Eventually(t, r.hasTypes("check.failed"), wait, tick)
	e := r.event(t, "check.failed")
	assert.Equal(t, "check:"+ch.ID, e.Subject())
	p := payloadOf(t, e)
	assert.Equal(t, "failed", p.Status)
	assert.Empty(t, p.Outcome)

	_, ok := f.ReportPDF(ch.ID)
	assert.False(t, ok)
	_, err = c.GetReport(context.Background(), ch.ID)
	var apiErr *complycube.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
	assert.Equal(t, "resource_not_found", apiErr.Code)
}

func TestChecksCompleteByThemselves(t *testing.T) {
	f, c := start(t, fake.Options{CompletionDelay: 10 * time.Millisecond, Outcome: "attention"})
	_, first := createCheck(t, c)
	f.SetOutcome("rejected")
	_, second := createCheck(t, c)

	outcome := func(id string) func() bool {
		return func() bool {
			got, err := c.GetCheck(context.Background(), id)
			return err == nil && got.Status == "complete"
		}
	}
	require.Eventually(t, outcome(first.ID), wait, tick)
	require.Eventually(t, outcome(second.ID), wait, tick)

	// The outcome is read when the check completes, so both see the one set last.
	for _, id := range []string{first.ID, second.ID} {
		got, err := c.GetCheck(context.Background(), id)
		require.NoError(t, err)
		assert.Equal(t, "rejected", got.Result.Outcome)
		_, ok := f.ReportPDF(id)
		assert.True(t, ok)
	}
	assert.Equal(t, 2, f.ChecksCreated())
}

func TestCloseStopsTimersAndRetries(t *testing.T) {
	r := newReceiver(t, 500, 500, 500, 500)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: time.Hour, RetryDelays: []time.Duration{time.Hour}})
	_, ch := createCheck(t, c)
	require.Eventually(t, func() bool { return len(f.Deliveries()) == 2 }, wait, tick)

	closed := make(chan struct{})
	go func() {
		f.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("Close waited for an hour-long retry or timer")
	}
	got, err := c.GetCheck(context.Background(), ch.ID)
	require.NoError(t, err)
	assert.Equal(t, "pending", got.Status, "the completion timer was stopped")
	f.Close() // twice is fine
}

func TestConcurrentChecks(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: time.Millisecond})
	f.DuplicateWebhooks(true)
	cl := createClient(t, c)

	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := c.CreateCheck(context.Background(), complycube.CreateCheckRequest{ClientID: cl.ID, Type: "identity_check"})
			assert.NoError(t, err)
		})
	}
	wg.Wait()

	require.Eventually(t, func() bool {
		n := 0
		for _, typ := range r.types() {
			if typ == "check.completed.clear" {
				n++
			}
		}
		return n == 2*20
	}, wait, tick)
	list, err := c.ListChecks(context.Background(), cl.ID)
	require.NoError(t, err)
	assert.Len(t, list, n)
	assert.Equal(t, n, f.ChecksCreated())
}

// call sends a raw API request and returns the status and the decoded JSON body.
func call(t *testing.T, srv *httptest.Server, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func TestAPI(t *testing.T) {
	f := fake.New(fake.Options{APIKey: apiKey, CompletionDelay: -1})
	t.Cleanup(f.Close)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)

	status, cl := call(t, srv, "POST", "/v1/clients", apiKey,
		`{"type":"person","email":"jane@example.com","personDetails":{"firstName":"Jane","lastName":"Roe"},"externalId":"x1","metadata":{"k":"v"}}`)
	require.Equal(t, http.StatusOK, status, "ComplyCube answers creations with 200")
	clientID := cl["id"].(string)
	assert.Regexp(t, "^[0-9a-f]{24}$", clientID)

	status, got := call(t, srv, "GET", "/v1/clients/"+clientID, apiKey, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "jane@example.com", got["email"])
	assert.Equal(t, "x1", got["externalId"])
	assert.Equal(t, map[string]any{"firstName": "Jane", "lastName": "Roe"}, got["personDetails"])

	var checkIDs []string
	for range 3 {
		status, ch := call(t, srv, "POST", "/v1/checks", apiKey, `{"clientId":"`+clientID+`","type":"document_check"}`)
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, "pending", ch["status"])
		checkIDs = append(checkIDs, ch["id"].(string))
	}

	status, page := call(t, srv, "GET", "/v1/checks?clientId="+clientID+"&pageSize=2&page=2", apiKey, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, float64(2), page["page"])
	assert.Equal(t, float64(2), page["pageSize"])
	assert.Equal(t, float64(3), page["totalItems"])
	assert.Equal(t, float64(2), page["pages"])
	assert.Len(t, page["items"], 1)
	status, page = call(t, srv, "GET", "/v1/checks?clientId="+clientID+"&page=9", apiKey, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []any{}, page["items"], "a page past the end is empty, not null")
	assert.Equal(t, float64(100), page["pageSize"], "ComplyCube's default page size")
	status, page = call(t, srv, "GET", "/v1/checks?clientId=someone-else", apiKey, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, float64(0), page["totalItems"])

	require.NoError(t, f.CompleteCheck(checkIDs[0], "clear"))
	status, report := call(t, srv, "GET", "/v1/reports?checkId="+checkIDs[0], apiKey, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "application/pdf", report["contentType"])
	assert.NotEmpty(t, report["data"])

	errorCases := []struct {
		name, method, path, key, body string
		status                        int
		typ                           string
	}{
		{"no key", "GET", "/v1/checks/" + checkIDs[0], "", "", 401, "unauthorized"},
		{"wrong key", "GET", "/v1/checks/" + checkIDs[0], "Bearer " + apiKey, "", 401, "unauthorized"},
		{"body not JSON", "POST", "/v1/clients", apiKey, `{"type":`, 400, "invalid_request"},
		{"company", "POST", "/v1/clients", apiKey, `{"type":"company","email":"a@b.c"}`, 400, "invalid_request"},
		{"no email", "POST", "/v1/clients", apiKey, `{"type":"person","personDetails":{"firstName":"A","lastName":"B"}}`, 400, "invalid_request"},
		{"no personDetails", "POST", "/v1/clients", apiKey, `{"type":"person","email":"a@b.c"}`, 400, "invalid_request"},
		{"no last name", "POST", "/v1/clients", apiKey, `{"type":"person","email":"a@b.c","personDetails":{"firstName":"A"}}`, 400, "invalid_request"},
		{"unknown client", "GET", "/v1/clients/5ed3918fbf06f30008e552c9", apiKey, "", 404, "resource_not_found"},
		{"check without clientId", "POST", "/v1/checks", apiKey, `{"type":"document_check"}`, 400, "invalid_request"},
		{"check without type", "POST", "/v1/checks", apiKey, `{"clientId":"` + clientID + `"}`, 400, "invalid_request"},
		{"check of unknown type", "POST", "/v1/checks", apiKey, `{"clientId":"` + clientID + `","type":"palm_reading"}`, 400, "invalid_request"},
		{"check on unknown client", "POST", "/v1/checks", apiKey, `{"clientId":"5ed3918fbf06f30008e552c9","type":"document_check"}`, 404, "resource_not_found"},
		{"unknown check", "GET", "/v1/checks/5ed3918fbf06f30008e552c9", apiKey, "", 404, "resource_not_found"},
		{"pageSize 0", "GET", "/v1/checks?pageSize=0", apiKey, "", 400, "invalid_request"},
		{"pageSize 1001", "GET", "/v1/checks?pageSize=1001", apiKey, "", 400, "invalid_request"},
		{"page 0", "GET", "/v1/checks?page=0", apiKey, "", 400, "invalid_request"},
		{"page not a number", "GET", "/v1/checks?page=two", apiKey, "", 400, "invalid_request"},
		{"report without checkId", "GET", "/v1/reports", apiKey, "", 400, "invalid_request"},
		{"report of unknown check", "GET", "/v1/reports?checkId=nope", apiKey, "", 404, "resource_not_found"},
		{"report of pending check", "GET", "/v1/reports?checkId=" + checkIDs[1], apiKey, "", 404, "resource_not_found"},
		{"unknown route", "GET", "/v1/addresses", apiKey, "", 404, "resource_not_found"},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, srv, tt.method, tt.path, tt.key, tt.body)
			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.typ, body["type"])
			assert.NotEmpty(t, body["message"])
		})
	}

	t.Run("FailAPI comes before authentication", func(t *testing.T) {
		f.FailAPI(2, http.StatusBadGateway)
		for range 2 {
			status, body := call(t, srv, "GET", "/v1/checks/"+checkIDs[0], "", "")
			assert.Equal(t, http.StatusBadGateway, status)
			assert.Equal(t, "internal_server_error", body["type"])
		}
		status, _ := call(t, srv, "GET", "/v1/checks/"+checkIDs[0], apiKey, "")
		assert.Equal(t, http.StatusOK, status)
	})
	assert.Equal(t, 3, f.ChecksCreated(), "failed calls create nothing")
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

// exactPayload decodes a check event's payload keeping every key, to hold it to the documented shape.
func exactPayload(t *testing.T, e complycube.Event) map[string]any {
	t.Helper()
	var p map[string]any
	require.NoError(t, json.Unmarshal(e.Payload, &p))
	return p
}

func TestUpdateCheckSendsCheckUpdated(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: -1})
	_, ch := createCheck(t, c)

	assert.ErrorContains(t, f.UpdateCheck(ch.ID, "complete", "maybe"), "unknown outcome")
	assert.ErrorContains(t, f.UpdateCheck(ch.ID, "failed", "clear"), "no outcome")
	assert.ErrorContains(t, f.UpdateCheck(ch.ID, "pending", ""), "complete or failed")
	assert.ErrorContains(t, f.UpdateCheck("nope", "complete", "clear"), "no check")

	// A pending check completed by check.updated alone.
	require.NoError(t, f.UpdateCheck(ch.ID, "complete", "clear"))
	require.Eventually(t, r.hasTypes("check.updated"), wait, tick)
	e := r.event(t, "check.updated")
	assert.Equal(t, "check", e.ResourceType)
	assert.Equal(t, "check:"+ch.ID, e.Subject())
	p := exactPayload(t, e)
	assert.ElementsMatch(t, []string{"id", "status", "outcome", "createdAt", "updatedAt"}, slices.Collect(maps.Keys(p)))
	assert.Equal(t, "complete", p["status"])
	assert.Equal(t, "clear", p["outcome"])
	s := e.Summary()
	assert.Equal(t, "complete", s.Status)
	assert.Equal(t, "clear", s.Outcome)
	first, ok := f.ReportPDF(ch.ID)
	require.True(t, ok)

	// A completed check whose outcome changes gets a new report.
	require.NoError(t, f.UpdateCheck(ch.ID, "complete", "rejected"))
	require.Eventually(t, func() bool { return len(r.events()) == 4 }, wait, tick) // client, pending, two updates
	got, err := c.GetCheck(context.Background(), ch.ID)
	require.NoError(t, err)
	assert.Equal(t, "rejected", got.Result.Outcome)
	second, ok := f.ReportPDF(ch.ID)
	require.True(t, ok)
	assert.NotEqual(t, first, second)
	assert.Contains(t, string(second), "outcome rejected")

	// Failed: no outcome, no report.
	require.NoError(t, f.UpdateCheck(ch.ID, "failed", ""))
	require.Eventually(t, func() bool { return len(r.events()) == 5 }, wait, tick)
	last := r.events()[4]
	assert.Equal(t, "check.updated", last.Type)
	assert.Equal(t, "failed", payloadOf(t, last).Status)
	assert.NotContains(t, exactPayload(t, last), "outcome", "the outcome is sent only when the status is complete")
	_, ok = f.ReportPDF(ch.ID)
	assert.False(t, ok)
	for _, d := range f.Deliveries() {
		assert.NotEqual(t, "check.completed", d.Type, "a check completed by check.updated sends no check.completed")
	}
}

func TestUpdateCheckReleasesAHeldPending(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: -1})
	f.ReorderWebhooks(true)
	_, ch := createCheck(t, c)
	require.NoError(t, f.UpdateCheck(ch.ID, "complete", "attention"))
	require.Eventually(t, r.hasTypes("check.pending", "check.updated"), wait, tick)
	types := r.types()
	assert.Greater(t, slices.Index(types, "check.pending"), slices.Index(types, "check.updated"))
}

func TestMonitoringAttention(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, CompletionDelay: -1})
	_, ch := createCheck(t, c)
	assert.ErrorContains(t, f.MonitoringAttention(ch.ID), "only a complete check is monitored")
	assert.ErrorContains(t, f.MonitoringAttention("nope"), "no check")
	require.NoError(t, f.CompleteCheck(ch.ID, "clear"))
	clear, _ := f.ReportPDF(ch.ID)

	require.NoError(t, f.MonitoringAttention(ch.ID))
	require.Eventually(t, r.hasTypes("check.monitoring.attention"), wait, tick)
	e := r.event(t, "check.monitoring.attention")
	assert.Equal(t, "check", e.ResourceType)
	assert.Equal(t, "check:"+ch.ID, e.Subject())
	p := exactPayload(t, e)
	assert.ElementsMatch(t, []string{"id", "status", "outcome", "createdAt", "updatedAt"}, slices.Collect(maps.Keys(p)))
	assert.Equal(t, "complete", p["status"])
	assert.Equal(t, "attention", p["outcome"])
	assert.False(t, complycube.IsCheckCompletion(e.Type))

	got, err := c.GetCheck(context.Background(), ch.ID)
	require.NoError(t, err)
	assert.Equal(t, "attention", got.Result.Outcome, "GET /checks/{id} shows the monitoring outcome")
	attention, ok := f.ReportPDF(ch.ID)
	require.True(t, ok)
	assert.NotEqual(t, clear, attention)
}

func TestRegisteredWebhookGetsEventsSignedWithItsOwnSecret(t *testing.T) {
	portal := newReceiver(t)
	registered := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: portal.srv.URL, CompletionDelay: -1})

	hook, err := c.CreateWebhook(context.Background(), complycube.CreateWebhookRequest{
		URL: registered.srv.URL, Enabled: true, Events: []string{"*"}, Description: "screenflow"})
	require.NoError(t, err)
	assert.Regexp(t, "^[0-9a-f]{24}$", hook.ID)
	assert.Regexp(t, "^[0-9a-f]{64}$", hook.Secret)
	assert.NotEqual(t, secret, hook.Secret)
	assert.True(t, hook.Enabled)
	assert.Equal(t, []string{"*"}, hook.Events)
	assert.Equal(t, "screenflow", hook.Description)
	assert.False(t, hook.CreatedAt.IsZero())
	registered.setSecret(hook.Secret)

	cl := createClient(t, c)
	require.Eventually(t, func() bool { return len(portal.events()) == 1 && len(registered.events()) == 1 }, wait, tick)
	assert.Equal(t, portal.events()[0].ID, registered.events()[0].ID, "every webhook gets the event, signed with its own secret")
	assert.Equal(t, "client:"+cl.ID, registered.events()[0].Subject())
	assert.Len(t, deliveries(t, f, 2), 2)

	hooks, err := c.ListWebhooks(context.Background())
	require.NoError(t, err)
	require.Len(t, hooks, 2)
	assert.Equal(t, portal.srv.URL, hooks[0].URL)
	assert.Equal(t, registered.srv.URL, hooks[1].URL)
	for _, h := range hooks {
		assert.Empty(t, h.Secret, "a secret is shown at creation only")
		assert.True(t, h.Enabled)
	}

	// A webhook subscribed to some types gets those only; a disabled one gets nothing.
	typed := newReceiver(t)
	typedHook, err := c.CreateWebhook(context.Background(), complycube.CreateWebhookRequest{
		URL: typed.srv.URL, Enabled: true, Events: []string{"check.pending"}})
	require.NoError(t, err)
	typed.setSecret(typedHook.Secret)
	off := newReceiver(t)
	_, err = c.CreateWebhook(context.Background(), complycube.CreateWebhookRequest{URL: off.srv.URL, Events: []string{"*"}})
	require.NoError(t, err)
	_, err = c.CreateCheck(context.Background(), complycube.CreateCheckRequest{ClientID: cl.ID, Type: "document_check"})
	require.NoError(t, err)
	require.Eventually(t, typed.hasTypes("check.pending"), wait, tick)
	require.Eventually(t, registered.hasTypes("check.pending"), wait, tick)
	f.Close()
	assert.Equal(t, []string{"check.pending"}, typed.types())
	assert.Empty(t, off.events())
}

func TestRegisteredWebhookDisabledAlone(t *testing.T) {
	portal := newReceiver(t)
	failing := newReceiver(t, 500, 500)
	f, c := start(t, fake.Options{WebhookURL: portal.srv.URL, CompletionDelay: -1, RetryDelays: []time.Duration{time.Millisecond}})
	hook, err := c.CreateWebhook(context.Background(), complycube.CreateWebhookRequest{URL: failing.srv.URL, Enabled: true, Events: []string{"*"}})
	require.NoError(t, err)
	failing.setSecret(hook.Secret)
	createClient(t, c)

	require.Eventually(t, f.WebhookDisabled, wait, tick)
	hooks, err := c.ListWebhooks(context.Background())
	require.NoError(t, err)
	require.Len(t, hooks, 2)
	assert.True(t, hooks[0].Enabled, "the other webhook carries on")
	assert.False(t, hooks[1].Enabled, "GET /webhooks shows the webhook disabled")
	createClient(t, c)
	require.Eventually(t, func() bool { return len(portal.events()) == 2 }, wait, tick)
}

func TestWebhooksAPI(t *testing.T) {
	f := fake.New(fake.Options{APIKey: apiKey, CompletionDelay: -1})
	t.Cleanup(f.Close)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)

	status, page := call(t, srv, "GET", "/v1/webhooks", apiKey, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []any{}, page["items"], "the webhook of Options has no URL: none is listed")

	status, hook := call(t, srv, "POST", "/v1/webhooks", apiKey,
		`{"url":"http://127.0.0.1:1/webhooks/complycube","enabled":true,"events":["*"]}`)
	require.Equal(t, http.StatusOK, status, "the fake takes http, for a screenflow on localhost")
	assert.NotEmpty(t, hook["secret"])

	for _, tt := range []struct{ name, body, message string }{
		{"no url", `{"enabled":true,"events":["*"]}`, "'url' must be provided"},
		{"not http(s)", `{"url":"ftp://example.com/x","enabled":true,"events":["*"]}`, "HTTPS"},
		{"relative", `{"url":"/webhooks/complycube","enabled":true,"events":["*"]}`, "HTTPS"},
		{"no events", `{"url":"https://example.com/x","enabled":true}`, "'events' must be provided"},
		{"unknown event", `{"url":"https://example.com/x","enabled":true,"events":["check.teleported"]}`, "unknown event type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, srv, "POST", "/v1/webhooks", apiKey, tt.body)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Equal(t, "invalid_request", body["type"])
			assert.Contains(t, body["message"], tt.message)
		})
	}

	for range 19 {
		status, _ := call(t, srv, "POST", "/v1/webhooks", apiKey, `{"url":"https://example.com/x","events":["*"]}`)
		require.Equal(t, http.StatusOK, status)
	}
	status, body := call(t, srv, "POST", "/v1/webhooks", apiKey, `{"url":"https://example.com/x","events":["*"]}`)
	assert.Equal(t, http.StatusBadRequest, status, "at most 20 webhooks")
	assert.Contains(t, body["message"], "at most 20")

	status, page = call(t, srv, "GET", "/v1/webhooks?pageSize=8&page=3", apiKey, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, float64(20), page["totalItems"])
	assert.Equal(t, float64(3), page["pages"])
	assert.Len(t, page["items"], 4)
}
