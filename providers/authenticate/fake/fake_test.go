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

	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/authenticate/fake"
)

const (
	apiKey      = "test_key"
	companyCode = "company-1"
	hookToken   = "hook-token-123"
	wait        = 5 * time.Second
	tick        = 5 * time.Millisecond
)

var shortRetries = []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond}

// received is one webhook as the receiver accepted it.
type received struct {
	event authenticate.Event
	raw   map[string]any
}

// receiver is a webhook endpoint that checks its URL token and answers as scripted.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	answers  []int      // statuses to answer in turn; 200 once used up
	accepted []received // events answered 2xx, in arrival order
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	t.Helper()
	r := &receiver{t: t, answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// url is what the receiver registers: Authenticate signs nothing, so the token in it is the check.
func (r *receiver) url() string {
	return r.srv.URL + "/webhooks/authenticate/" + hookToken
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
	for name := range req.Header {
		if strings.Contains(strings.ToLower(name), "signature") {
			r.t.Errorf("Authenticate signs nothing, yet the webhook has a %s header", name)
		}
	}
	token, _ := strings.CutPrefix(req.URL.Path, "/webhooks/authenticate/")
	if !authenticate.TokenMatches([]string{hookToken}, token) {
		r.t.Errorf("webhook to %s, not the registered URL", req.URL.Path)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	ev, err := authenticate.ParseEvent(body)
	if err != nil {
		r.t.Errorf("parse webhook: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		r.t.Errorf("decode webhook: %v", err)
	}
	r.mu.Lock()
	status := http.StatusOK
	if len(r.answers) > 0 {
		status, r.answers = r.answers[0], r.answers[1:]
	}
	if status/100 == 2 {
		r.accepted = append(r.accepted, received{ev, raw})
	}
	r.mu.Unlock()
	w.WriteHeader(status)
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.accepted)
}

func (r *receiver) events() []authenticate.Event {
	var events []authenticate.Event
	for _, rc := range r.all() {
		events = append(events, rc.event)
	}
	return events
}

func (r *receiver) count(typ string) int {
	n := 0
	for _, e := range r.events() {
		if e.Event == typ {
			n++
		}
	}
	return n
}

// hasCount returns a condition for require.Eventually: n events of type typ arrived.
func (r *receiver) hasCount(typ string, n int) func() bool {
	return func() bool { return r.count(typ) >= n }
}

// steps describes events as "TYPE" or "TYPE search_status search_id", for comparing sequences.
func steps(events []authenticate.Event) []string {
	var out []string
	for _, e := range events {
		s := e.Event
		if d := e.Order.OrderDetails; d != nil {
			s += " " + d.SearchStatus + " " + d.UniqueIdentifier
		}
		if e.Event == authenticate.EventPDFReportGeneration {
			s += " " + e.Order.Status
		}
		out = append(out, s)
	}
	return out
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

// start serves a fake Authenticate and returns it with a client for it. The fake is closed before
// the receivers created earlier, so that no webhook outlives its test.
func start(t *testing.T, opts fake.Options) (*fake.Server, *authenticate.Client) {
	t.Helper()
	opts.APIKey = apiKey
	opts.CompanyAccessCode = companyCode
	if opts.RetryDelays == nil {
		opts.RetryDelays = shortRetries
	}
	f := fake.New(opts)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	f.SetBaseURL(srv.URL)
	return f, authenticate.NewClient(srv.URL, apiKey, authenticate.Paths{}, srv.Client())
}

func createUser(t *testing.T, c *authenticate.Client) string {
	t.Helper()
	ctx := context.Background()
	code, err := c.CreateUser(ctx, authenticate.CreateUserRequest{FirstName: "Jane", LastName: "Roe", DOB: "03-02-1990", Email: "jane.roe@example.com"})
	require.NoError(t, err)
	require.NoError(t, c.Consent(ctx, authenticate.ConsentRequest{UserAccessCode: code, IsBackgroundDisclosureAccepted: true, FullName: "Jane Roe"}))
	return code
}

// orderCriminal creates a consented user and orders its criminal searches.
func orderCriminal(t *testing.T, c *authenticate.Client) (string, []authenticate.Search) {
	t.Helper()
	code := createUser(t, c)
	searches, err := c.OrderCriminalSearches(context.Background(), code)
	require.NoError(t, err)
	require.Len(t, searches, 3)
	return code, searches
}

func keys(m any) []string {
	obj, _ := m.(map[string]any)
	return slices.Sorted(maps.Keys(obj))
}

func TestSearchesProgressByThemselves(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.url(), SearchDelay: 10 * time.Millisecond})
	code, searches := orderCriminal(t, c)
	require.NoError(t, c.OrderSexOffenderCheck(context.Background(), code))

	require.Eventually(t, r.hasCount(authenticate.EventAllCriminalComplete, 1), wait, tick)
	require.Eventually(t, r.hasCount(authenticate.EventSexOffenderStatusUpdate, 2), wait, tick)

	var criminal []authenticate.Event
	for _, e := range r.events() {
		assert.Equal(t, "user:"+code, e.Subject())
		assert.WithinDuration(t, time.Now(), e.EventDate, wait)
		if e.Event != authenticate.EventSexOffenderStatusUpdate {
			criminal = append(criminal, e)
		}
	}
	var want []string
	for _, status := range []string{"IN_PROGRESS", "COMPLETE"} {
		for _, s := range searches {
			want = append(want, authenticate.EventCriminalStatusUpdate+" "+status+" "+s.UniqueIdentifier)
		}
	}
	want = append(want, authenticate.EventAllCriminalComplete)
	assert.Equal(t, want, steps(criminal), "each step updates every search, in order, then all complete")

	for _, rc := range r.all() {
		assert.Equal(t, []string{"event", "eventDate", "id", "order"}, keys(rc.raw), "Authenticate's envelope")
		order := rc.raw["order"]
		switch rc.event.Event {
		case authenticate.EventAllCriminalComplete:
			assert.Equal(t, []string{"userAccessCode"}, keys(order))
		default:
			assert.Equal(t, []string{"orderDetails", "userAccessCode"}, keys(order))
			details := order.(map[string]any)["orderDetails"]
			assert.Equal(t, []string{"search_status", "search_sub_status", "search_type", "unique_identifier"}, keys(details))
			if d := rc.event.Order.OrderDetails; d.SearchStatus == authenticate.SearchComplete {
				assert.Equal(t, authenticate.SubStatusClear, d.SearchSubStatus)
			} else {
				assert.Empty(t, d.SearchSubStatus)
			}
		}
	}
	soc := r.events()[slices.IndexFunc(r.events(), func(e authenticate.Event) bool {
		return e.Event == authenticate.EventSexOffenderStatusUpdate
	})]
	assert.Equal(t, authenticate.SearchTypeSexOffender, soc.Order.OrderDetails.SearchType)

	tr, err := c.GetTestResult(context.Background(), code)
	require.NoError(t, err)
	assert.Equal(t, authenticate.SearchComplete, tr.Criminal.Status)
	assert.Equal(t, authenticate.SearchComplete, tr.SexOffender.SearchStatus)

	ids := map[string]bool{}
	for _, e := range r.events() {
		ids[e.ID] = true
	}
	assert.Len(t, ids, 9, "every event has its own id")
	for _, d := range deliveries(t, f, 9) {
		assert.Equal(t, 1, d.Attempt)
		assert.Equal(t, http.StatusOK, d.StatusCode)
		assert.Empty(t, d.Err)
		assert.False(t, d.GaveUp)
	}
}

func TestPDFReportWebhooks(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.url(), SearchDelay: -1, PDFDelay: 10 * time.Millisecond, RateLimit: -1})
	ctx := context.Background()
	code, _ := orderCriminal(t, c)
	f.SetRecordFound(true)
	require.NoError(t, f.AdvanceSearches(code))
	require.NoError(t, f.AdvanceSearches(code))
	require.Eventually(t, r.hasCount(authenticate.EventAllCriminalComplete, 1), wait, tick)

	rep, err := c.InitiatePDFReport(ctx, code)
	require.NoError(t, err)
	require.Eventually(t, r.hasCount(authenticate.EventPDFReportGeneration, 2), wait, tick)

	var pdfEvents []received
	for _, rc := range r.all() {
		if rc.event.Event == authenticate.EventPDFReportGeneration {
			pdfEvents = append(pdfEvents, rc)
		}
	}
	initiated, completed := pdfEvents[0], pdfEvents[1]
	assert.Equal(t, authenticate.PDFInitiated, initiated.event.Order.Status)
	assert.Equal(t, rep.ReportUUID, initiated.event.Order.ReportUUID)
	assert.Equal(t, []string{"reportUUID", "status", "userAccessCode"}, keys(initiated.raw["order"]), "no link before COMPLETED")

	assert.Equal(t, authenticate.PDFCompleted, completed.event.Order.Status)
	assert.Equal(t, rep.ReportUUID, completed.event.Order.ReportUUID)
	assert.Equal(t, []string{"expires", "reportLink", "reportUUID", "status", "userAccessCode"}, keys(completed.raw["order"]))
	require.NotNil(t, completed.event.Order.Expires)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), *completed.event.Order.Expires, wait)

	pdf, err := c.DownloadReport(ctx, completed.event.Order.ReportLink)
	require.NoError(t, err, "the webhook's link works")
	want, ok := f.ReportPDF(rep.ReportUUID)
	require.True(t, ok)
	assert.Equal(t, want, pdf)
	assert.Contains(t, string(pdf), "Criminal searches: RECORD_FOUND")
	assert.Contains(t, string(pdf), "Sex offender check: not ordered")

	got, err := c.RetrievePDFReport(ctx, code)
	require.NoError(t, err)
	assert.Equal(t, authenticate.PDFCompleted, got.Status)
	assert.NotEqual(t, completed.event.Order.ReportLink, got.ReportLink)
}

func TestFailPDF(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.url(), PDFDelay: time.Millisecond, RateLimit: -1})
	ctx := context.Background()
	code := createUser(t, c)
	f.FailPDF(1)

	failed, err := c.InitiatePDFReport(ctx, code)
	require.NoError(t, err)
	require.Eventually(t, r.hasCount(authenticate.EventPDFReportGeneration, 2), wait, tick)
	last := r.all()[1]
	assert.Equal(t, authenticate.PDFFailed, last.event.Order.Status)
	assert.Equal(t, failed.ReportUUID, last.event.Order.ReportUUID)
	assert.Equal(t, []string{"reportUUID", "status", "userAccessCode"}, keys(last.raw["order"]), "no link when FAILED")

	got, err := c.RetrievePDFReport(ctx, code)
	require.NoError(t, err)
	assert.Equal(t, authenticate.PDFReport{ReportUUID: failed.ReportUUID, Status: authenticate.PDFFailed}, got)
	_, ok := f.ReportPDF(failed.ReportUUID)
	assert.False(t, ok)

	next, err := c.InitiatePDFReport(ctx, code)
	require.NoError(t, err, "no rate limit with a negative RateLimit")
	require.Eventually(t, r.hasCount(authenticate.EventPDFReportGeneration, 4), wait, tick)
	assert.Equal(t, []string{
		authenticate.EventPDFReportGeneration + " INITIATED",
		authenticate.EventPDFReportGeneration + " FAILED",
		authenticate.EventPDFReportGeneration + " INITIATED",
		authenticate.EventPDFReportGeneration + " COMPLETED",
	}, steps(r.events()), "only the next report fails")
	_, ok = f.ReportPDF(next.ReportUUID)
	assert.True(t, ok)
	assert.Equal(t, 2, f.PDFRequests(code))
}

func TestDuplicateWebhooks(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.url(), SearchDelay: -1})
	f.DuplicateWebhooks(true)
	code, _ := orderCriminal(t, c)
	require.NoError(t, f.AdvanceSearches(code))

	require.Eventually(t, func() bool { return len(r.events()) == 6 }, wait, tick)
	events := r.events()
	for i := 0; i < 6; i += 2 {
		assert.Equal(t, events[i], events[i+1], "a duplicate is the same event, id included")
	}
	deliveries(t, f, 6)

	f.DuplicateWebhooks(false)
	require.NoError(t, f.AdvanceSearches(code))
	require.Eventually(t, r.hasCount(authenticate.EventAllCriminalComplete, 1), wait, tick)
	f.Close()
	assert.Len(t, r.events(), 10, "duplicates off again: 3 updates and all complete")
}

func TestReorderWebhooks(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.url(), SearchDelay: -1})
	f.ReorderWebhooks(true)
	code, s := orderCriminal(t, c)
	require.NoError(t, f.AdvanceSearches(code))
	require.NoError(t, f.AdvanceSearches(code))

	require.Eventually(t, func() bool { return len(r.events()) == 7 }, wait, tick)
	update := authenticate.EventCriminalStatusUpdate
	assert.Equal(t, []string{
		update + " IN_PROGRESS " + s[2].UniqueIdentifier,
		update + " IN_PROGRESS " + s[1].UniqueIdentifier,
		update + " IN_PROGRESS " + s[0].UniqueIdentifier,
		update + " COMPLETE " + s[2].UniqueIdentifier,
		update + " COMPLETE " + s[1].UniqueIdentifier,
		authenticate.EventAllCriminalComplete,
		update + " COMPLETE " + s[0].UniqueIdentifier,
	}, steps(r.events()))
}

func TestDropWebhooks(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.url(), SearchDelay: -1})
	f.DropWebhooks(authenticate.EventAllCriminalComplete, authenticate.EventSexOffenderStatusUpdate)
	code, _ := orderCriminal(t, c)
	require.NoError(t, c.OrderSexOffenderCheck(context.Background(), code))
	require.NoError(t, f.AdvanceSearches(code))
	require.NoError(t, f.AdvanceSearches(code))
	require.Eventually(t, r.hasCount(authenticate.EventCriminalStatusUpdate, 6), wait, tick)

	f.DropWebhooks()
	second, _ := orderCriminal(t, c)
	require.NoError(t, f.AdvanceSearches(second))
	require.NoError(t, f.AdvanceSearches(second))
	require.Eventually(t, r.hasCount(authenticate.EventAllCriminalComplete, 1), wait, tick)

	f.Close()
	assert.Equal(t, 12, r.count(authenticate.EventCriminalStatusUpdate))
	assert.Zero(t, r.count(authenticate.EventSexOffenderStatusUpdate))
	for _, e := range r.events() {
		if e.Event == authenticate.EventAllCriminalComplete {
			assert.Equal(t, "user:"+second, e.Subject(), "only the user whose searches ended after clearing")
		}
	}
	for _, d := range f.Deliveries() {
		assert.NotEqual(t, authenticate.EventSexOffenderStatusUpdate, d.Type, "a dropped webhook is never tried")
	}
}

func TestWebhookRetriedUntilAcknowledged(t *testing.T) {
	r := newReceiver(t, http.StatusInternalServerError, http.StatusInternalServerError)
	f, c := start(t, fake.Options{WebhookURL: r.url(), PDFDelay: time.Hour})
	code := createUser(t, c)
	_, err := c.InitiatePDFReport(context.Background(), code)
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(r.events()) == 1 }, wait, tick)
	got := deliveries(t, f, 3)
	for i, d := range got {
		assert.Equal(t, r.events()[0].ID, d.EventID, "every attempt sends the same event")
		assert.Equal(t, authenticate.EventPDFReportGeneration, d.Type)
		assert.Equal(t, i+1, d.Attempt)
		assert.Equal(t, []int{500, 500, 200}[i], d.StatusCode)
		assert.False(t, d.GaveUp)
	}
	assert.False(t, got[1].At.Before(got[0].At.Add(shortRetries[0])), "the retry waits its delay")
}

func TestWebhookGivenUpAfterTheDefaultSchedule(t *testing.T) {
	r := newReceiver(t, 503, 503, 503, 503, 503)
	// Not start: it replaces a nil RetryDelays with short retries.
	f := fake.New(fake.Options{APIKey: apiKey, WebhookURL: r.url(), PDFDelay: time.Hour})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	c := authenticate.NewClient(srv.URL, apiKey, authenticate.Paths{}, srv.Client())
	code := createUser(t, c)
	_, err := c.InitiatePDFReport(context.Background(), code)
	require.NoError(t, err)

	got := deliveries(t, f, 5)
	for i, d := range got {
		assert.Equal(t, i+1, d.Attempt)
		assert.Equal(t, http.StatusServiceUnavailable, d.StatusCode)
		assert.Equal(t, i == 4, d.GaveUp, "five tries in all")
	}
	assert.Empty(t, r.events())
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
	f, c := start(t, fake.Options{WebhookURL: r.url(), PDFDelay: time.Hour, HTTPClient: flaky})
	_, err := c.InitiatePDFReport(context.Background(), createUser(t, c))
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(r.events()) == 1 }, wait, tick)
	got := deliveries(t, f, 2)
	assert.Contains(t, got[0].Err, "unexpected EOF")
	assert.NotContains(t, got[0].Err, hookToken, "the webhook URL carries the receiver's token")
	assert.Zero(t, got[0].StatusCode)
	assert.Equal(t, http.StatusOK, got[1].StatusCode)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWebhookURLRegistered(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{SearchDelay: -1})
	code, _ := orderCriminal(t, c)
	require.NoError(t, f.AdvanceSearches(code))
	assert.Empty(t, f.Deliveries(), "no webhook URL yet")

	require.NoError(t, c.RegisterWebhook(context.Background(), companyCode, r.url()))
	require.NoError(t, f.AdvanceSearches(code))
	require.Eventually(t, r.hasCount(authenticate.EventAllCriminalComplete, 1), wait, tick)
	assert.Len(t, r.events(), 4)
}

func TestCloseStopsTimersAndRetries(t *testing.T) {
	r := newReceiver(t, 500, 500, 500, 500)
	f, c := start(t, fake.Options{WebhookURL: r.url(), SearchDelay: time.Hour, PDFDelay: time.Hour, RetryDelays: []time.Duration{time.Hour}})
	code, _ := orderCriminal(t, c)
	_, err := c.InitiatePDFReport(context.Background(), code)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(f.Deliveries()) == 1 }, wait, tick)

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
	tr, err := c.GetTestResult(context.Background(), code)
	require.NoError(t, err)
	assert.Equal(t, authenticate.SearchPending, tr.Criminal.Status, "the step timers were stopped")
	for _, s := range tr.Criminal.Searches {
		assert.Equal(t, authenticate.SearchPending, s.SearchStatus)
	}

	// Calls served after Close start nothing that outlives it.
	second := createUser(t, c)
	_, err = c.OrderCriminalSearches(context.Background(), second)
	require.NoError(t, err)
	f.Close() // twice is fine
	assert.Len(t, f.Deliveries(), 1)
}

func TestConcurrentUsers(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.url(), SearchDelay: time.Millisecond, PDFDelay: time.Millisecond})
	f.DuplicateWebhooks(true)

	const n = 10
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			ctx := context.Background()
			code, err := c.CreateUser(ctx, authenticate.CreateUserRequest{FirstName: "A", LastName: "B", DOB: "01-01-2000", Email: "a@b.c"})
			if !assert.NoError(t, err) {
				return
			}
			assert.NoError(t, c.Consent(ctx, authenticate.ConsentRequest{UserAccessCode: code, IsBackgroundDisclosureAccepted: true, FullName: "A B"}))
			_, err = c.OrderCriminalSearches(ctx, code)
			assert.NoError(t, err)
			_, err = c.InitiatePDFReport(ctx, code)
			assert.NoError(t, err)
		})
	}
	wg.Wait()

	require.Eventually(t, r.hasCount(authenticate.EventAllCriminalComplete, 2*n), wait, tick)
	require.Eventually(t, r.hasCount(authenticate.EventPDFReportGeneration, 2*2*n), wait, tick)
	assert.Equal(t, n, f.UsersCreated())
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
	f := fake.New(fake.Options{APIKey: apiKey, CompanyAccessCode: companyCode, SearchDelay: -1, PDFDelay: time.Millisecond})
	t.Cleanup(f.Close)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	bearer := "Bearer " + apiKey

	status, created := call(t, srv, "POST", "/user/create", bearer,
		`{"firstName":"Jane","lastName":"Roe","dob":"03-02-1990","email":"jane@example.com","ssn":"123456789"}`)
	require.Equal(t, http.StatusOK, status)
	code := created["userAccessCode"].(string)
	assert.Regexp(t, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", code)
	user := `{"userAccessCode":"` + code + `"}`

	status, _ = call(t, srv, "POST", "/user/consent", bearer, `{"userAccessCode":"`+code+`","isBackgroundDisclosureAccepted":true,"fullName":"Jane Roe"}`)
	require.Equal(t, http.StatusOK, status)
	status, body := call(t, srv, "POST", "/user/consent", bearer, `{"userAccessCode":"`+code+`","isBackgroundDisclosureAccepted":true,"fullName":"Jane Roe"}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "Consent has already been recorded", body["errorMessage"])

	status, _ = call(t, srv, "POST", "/identity/request/criminal/report/seven", bearer, user)
	require.Equal(t, http.StatusOK, status)
	status, tr := call(t, srv, "POST", "/user/getTestResult", bearer, user)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{"criminal", "sexOffender", "userAccessCode"}, keys(tr))
	assert.Nil(t, tr["sexOffender"], "never ordered")

	status, rep := call(t, srv, "POST", "/user/initiate/pdf/report", bearer, user)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{"reportUUID", "status"}, keys(rep), "no link or expiry before COMPLETED")

	t.Run("report links need no key and are not failed by FailAPI", func(t *testing.T) {
		var link string
		require.Eventually(t, func() bool {
			status, got := call(t, srv, "POST", "/user/retrieve/pdf/report", bearer, user)
			link, _ = got["reportLink"].(string)
			return status == http.StatusOK && got["status"] == authenticate.PDFCompleted
		}, wait, tick)
		assert.True(t, strings.HasPrefix(link, srv.URL+"/reports/"+rep["reportUUID"].(string)+"?token="),
			"without SetBaseURL, links start with the URL the request was sent to")
		f.FailAPI(1, http.StatusServiceUnavailable)
		resp, err := srv.Client().Get(link)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
		status, _ := call(t, srv, "POST", "/user/getTestResult", bearer, user)
		assert.Equal(t, http.StatusServiceUnavailable, status, "the failure is left for the next API call")
	})

	errorCases := []struct {
		name, method, path, key, body string
		status                        int
	}{
		{"no key", "POST", "/user/getTestResult", "", user, 401},
		{"key without Bearer", "POST", "/user/getTestResult", apiKey, user, 401},
		{"wrong key", "POST", "/user/getTestResult", "Bearer nope", user, 401},
		{"body not JSON", "POST", "/user/create", bearer, `{"firstName":`, 400},
		{"no first name", "POST", "/user/create", bearer, `{"lastName":"Roe","dob":"03-02-1990","email":"a@b.c"}`, 400},
		{"no email", "POST", "/user/create", bearer, `{"firstName":"Jane","lastName":"Roe","dob":"03-02-1990"}`, 400},
		{"bad email", "POST", "/user/create", bearer, `{"firstName":"Jane","lastName":"Roe","dob":"03-02-1990","email":"jane"}`, 400},
		{"dob as ISO date", "POST", "/user/create", bearer, `{"firstName":"Jane","lastName":"Roe","dob":"1990-02-03","email":"a@b.c"}`, 400},
		{"consent not accepted", "POST", "/user/consent", bearer, `{"userAccessCode":"` + code + `","fullName":"Jane Roe"}`, 400},
		{"consent without name", "POST", "/user/consent", bearer, `{"userAccessCode":"` + code + `","isBackgroundDisclosureAccepted":true}`, 400},
		{"consent of unknown user", "POST", "/user/consent", bearer, `{"userAccessCode":"nope","isBackgroundDisclosureAccepted":true,"fullName":"A"}`, 404},
		{"no userAccessCode", "POST", "/user/getTestResult", bearer, `{}`, 400},
		{"unknown user", "POST", "/user/getTestResult", bearer, `{"userAccessCode":"nope"}`, 404},
		{"criminal searches twice", "POST", "/identity/request/criminal/report/seven", bearer, user, 400},
		{"PDF within the rate limit", "POST", "/user/initiate/pdf/report", bearer, user, 429},
		{"webhook without company code", "POST", "/company/webhook", bearer, `{"webhookURL":"https://h.example.com/x"}`, 400},
		{"webhook with wrong company code", "POST", "/company/webhook", bearer, `{"companyAccessCode":"other","webhookURL":"https://h.example.com/x"}`, 403},
		{"webhook URL not absolute", "POST", "/company/webhook", bearer, `{"companyAccessCode":"` + companyCode + `","webhookURL":"/x"}`, 400},
		{"webhook URL not http", "POST", "/company/webhook", bearer, `{"companyAccessCode":"` + companyCode + `","webhookURL":"ftp://h.example.com/x"}`, 400},
		{"GET on a POST call", "GET", "/user/create", bearer, "", 404},
		{"unknown route", "POST", "/user/teleport", bearer, user, 404},
		{"report with a wrong token", "GET", "/reports/" + rep["reportUUID"].(string) + "?token=guess", "", "", 404},
		{"report without a token", "GET", "/reports/" + rep["reportUUID"].(string), "", "", 404},
		{"unknown report", "GET", "/reports/nope?token=guess", "", "", 404},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, srv, tt.method, tt.path, tt.key, tt.body)
			assert.Equal(t, tt.status, status)
			assert.NotEmpty(t, body["errorMessage"])
			for _, pii := range []string{"Jane", "Roe", "1990", "a@b.c"} {
				assert.NotContains(t, body["errorMessage"], pii, "errors name fields, not values")
			}
		})
	}

	t.Run("FailAPI comes before authentication", func(t *testing.T) {
		f.FailAPI(2, http.StatusBadGateway)
		for range 2 {
			status, body := call(t, srv, "POST", "/user/getTestResult", "", user)
			assert.Equal(t, http.StatusBadGateway, status)
			assert.NotEmpty(t, body["errorMessage"])
		}
		status, _ := call(t, srv, "POST", "/user/getTestResult", bearer, user)
		assert.Equal(t, http.StatusOK, status)
	})
	assert.Equal(t, 1, f.UsersCreated(), "failed calls create nothing")
	assert.Equal(t, 1, f.PDFRequests(code))
	assert.Zero(t, f.PDFRequests("nope"))
}

func TestAdvanceSearchesErrors(t *testing.T) {
	f, c := start(t, fake.Options{SearchDelay: -1})
	assert.ErrorContains(t, f.AdvanceSearches("nope"), "no user")
	code := createUser(t, c)
	assert.ErrorContains(t, f.AdvanceSearches(code), "no search ordered")
	require.NoError(t, c.OrderSexOffenderCheck(context.Background(), code))
	require.NoError(t, f.AdvanceSearches(code))
	require.NoError(t, f.AdvanceSearches(code))
	assert.ErrorContains(t, f.AdvanceSearches(code), "already complete")
}

func TestUserPIIUpdateAndMonitoringEventsInTheSeedsShape(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.url(), SearchDelay: -1})
	code, _ := orderCriminal(t, c)
	require.Error(t, f.FindMonitoringRecord(code), "monitoring follows completed searches")
	require.Error(t, f.SendUserPIIUpdate("nobody"))

	require.NoError(t, f.SendUserPIIUpdate(code))
	require.NoError(t, f.SendMonitoringRecordFound(code))
	require.Eventually(t, r.hasCount(authenticate.EventMonitoringRecordFound, 1), wait, tick)
	tr, err := c.GetTestResult(context.Background(), code)
	require.NoError(t, err)
	for _, s := range tr.Criminal.Searches {
		assert.Empty(t, s.SearchSubStatus, "a bare notice changes nothing in the API")
	}

	require.NoError(t, f.AdvanceSearches(code))
	require.NoError(t, f.AdvanceSearches(code))
	require.NoError(t, f.FindMonitoringRecord(code))
	require.Eventually(t, r.hasCount(authenticate.EventMonitoringRecordFound, 2), wait, tick)
	tr, err = c.GetTestResult(context.Background(), code)
	require.NoError(t, err)
	assert.Equal(t, authenticate.SubStatusRecordFound, tr.Criminal.Searches[0].SearchSubStatus, "monitoring's record is in the API")

	for _, rc := range r.all() {
		if rc.event.Event != authenticate.EventUserPIIUpdate && rc.event.Event != authenticate.EventMonitoringRecordFound {
			continue
		}
		// The documentation's USER_PII_UPDATE sample, without its trailing comma; monitoring has
		// no sample and shares the envelope.
		assert.Equal(t, []string{"event", "eventDate", "id", "order"}, keys(rc.raw))
		assert.Equal(t, []string{"userAccessCode"}, keys(rc.raw["order"]))
		assert.Equal(t, "user:"+code, rc.event.Subject())
	}
	assert.Equal(t, 1, r.count(authenticate.EventUserPIIUpdate))
}

func TestShareEventID(t *testing.T) {
	r := newReceiver(t)
	f, c := start(t, fake.Options{WebhookURL: r.url(), SearchDelay: -1})
	f.ShareEventID("order-1")
	code, _ := orderCriminal(t, c)
	require.NoError(t, f.AdvanceSearches(code))
	require.NoError(t, f.AdvanceSearches(code))
	require.Eventually(t, r.hasCount(authenticate.EventAllCriminalComplete, 1), wait, tick)

	sent := f.Sent()
	require.Len(t, sent, 7)
	bodies := map[string]bool{}
	for _, wh := range sent {
		e, err := authenticate.ParseEvent(wh.Body)
		require.NoError(t, err)
		assert.Equal(t, "order-1", e.ID)
		assert.Equal(t, "order-1", wh.EventID)
		bodies[string(wh.Body)] = true
	}
	assert.Len(t, bodies, 7, "one id, seven different events")

	f.ShareEventID("")
	require.NoError(t, f.SendUserPIIUpdate(code))
	last := f.Sent()[7]
	assert.NotEqual(t, "order-1", last.EventID, "each event has its own id again")
}

func TestLoseUserAnswers(t *testing.T) {
	f, c := start(t, fake.Options{SearchDelay: -1})
	f.LoseUserAnswers(1)
	req := authenticate.CreateUserRequest{FirstName: "Jane", LastName: "Roe", DOB: "03-02-1990", Email: "jane.roe@example.com"}

	_, err := c.CreateUser(context.Background(), req)
	var apiErr *authenticate.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusGatewayTimeout, apiErr.StatusCode)
	assert.True(t, apiErr.Retryable())
	assert.Equal(t, 1, f.UsersCreated(), "the user was created although its answer was lost")

	code, err := c.CreateUser(context.Background(), req)
	require.NoError(t, err)
	assert.NotEmpty(t, code, "only the next n answers are lost")
	assert.Equal(t, 2, f.UsersCreated())
}
