package fake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/checkr/fake"
)

const (
	apiKey       = "sk_test_direct"
	clientID     = "partner_client"
	clientSecret = "partner_secret"
	pkg          = "tasker_standard"
	wait         = 5 * time.Second
	tick         = 5 * time.Millisecond
)

var shortRetries = []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond}

// received is one webhook as the receiver accepted it.
type received struct {
	event checkr.Event
	raw   map[string]any
	user  string // Basic auth user name the request carried
}

// receiver is a webhook endpoint that verifies signatures and answers as scripted.
type receiver struct {
	t   *testing.T
	key string
	srv *httptest.Server

	mu       sync.Mutex
	answers  []int      // statuses to answer in turn; 200 once used up
	accepted []received // events answered 2xx, in arrival order
	onEvent  func(checkr.Event)
}

func newReceiver(t *testing.T, key string, answers ...int) *receiver {
	t.Helper()
	r := &receiver{t: t, key: key, answers: answers}
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
	if !checkr.VerifyAny([]string{r.key}, body, req.Header.Get(checkr.SignatureHeader)) {
		r.t.Errorf("webhook with a bad signature: %s", body)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	ev, err := checkr.ParseEvent(body)
	if err != nil {
		r.t.Errorf("parse webhook: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		r.t.Errorf("decode webhook: %v", err)
	}
	user, _, _ := req.BasicAuth()
	r.mu.Lock()
	status := http.StatusOK
	if len(r.answers) > 0 {
		status, r.answers = r.answers[0], r.answers[1:]
	}
	onEvent := r.onEvent
	if status/100 == 2 {
		r.accepted = append(r.accepted, received{ev, raw, user})
	}
	r.mu.Unlock()
	if onEvent != nil && status/100 == 2 {
		onEvent(ev)
	}
	w.WriteHeader(status)
}

// setOnEvent makes the receiver call fn with every event it accepts, before it answers.
func (r *receiver) setOnEvent(fn func(checkr.Event)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onEvent = fn
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.accepted)
}

func (r *receiver) events() []checkr.Event {
	var events []checkr.Event
	for _, rc := range r.all() {
		events = append(events, rc.event)
	}
	return events
}

func (r *receiver) types() []string {
	var types []string
	for _, e := range r.events() {
		types = append(types, e.Type)
	}
	return types
}

// typesOf lists the types of the events about one object (a report, an invitation), in arrival
// order.
func (r *receiver) typesOf(objectID string) []string {
	var types []string
	for _, e := range r.events() {
		if e.Summary().ObjectID == objectID {
			types = append(types, e.Type)
		}
	}
	return types
}

func (r *receiver) count(typ string) int {
	n := 0
	for _, e := range r.events() {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// has returns a condition for require.Eventually: events of every type arrived.
func (r *receiver) has(types ...string) func() bool {
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

func (r *receiver) event(t *testing.T, typ string) received {
	t.Helper()
	for _, rc := range r.all() {
		if rc.event.Type == typ {
			return rc
		}
	}
	t.Fatalf("no %s event among %v", typ, r.types())
	return received{}
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

// start serves a fake Checkr with a direct account (unless opts names a partner app) and returns
// it with a client for the direct account. The fake is closed before the receivers created
// earlier, so that no webhook outlives its test.
func start(t *testing.T, opts fake.Options) (*fake.Server, *checkr.Client) {
	t.Helper()
	if opts.ClientSecret == "" {
		opts.APIKey = apiKey
	}
	if opts.RetryDelays == nil {
		opts.RetryDelays = shortRetries
	}
	f := fake.New(opts)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	f.SetBaseURL(srv.URL)
	return f, checkr.NewClient(srv.URL, opts.APIKey, srv.Client())
}

func createCandidate(t *testing.T, c *checkr.Client) checkr.Candidate {
	t.Helper()
	cd, err := c.CreateCandidate(context.Background(), checkr.CandidateRequest{
		Email: "jane.roe@example.com", FirstName: "Jane", LastName: "Roe", DOB: "1990-02-03",
		SSN: "111-22-3333", Zipcode: "90401", CustomID: "scr_1",
	})
	require.NoError(t, err)
	return cd
}

func createReport(t *testing.T, c *checkr.Client) (checkr.Candidate, checkr.Report) {
	t.Helper()
	cd := createCandidate(t, c)
	rep, err := c.CreateReport(context.Background(), checkr.ReportRequest{Package: pkg, CandidateID: cd.ID})
	require.NoError(t, err)
	return cd, rep
}

func createInvitation(t *testing.T, c *checkr.Client) (checkr.Candidate, checkr.Invitation) {
	t.Helper()
	cd := createCandidate(t, c)
	inv, err := c.CreateInvitation(context.Background(), checkr.InvitationRequest{Package: pkg, CandidateID: cd.ID})
	require.NoError(t, err)
	return cd, inv
}

// reportOf decodes an event's data.object as a report.
func reportOf(t *testing.T, e checkr.Event) checkr.Report {
	t.Helper()
	var r checkr.Report
	require.NoError(t, json.Unmarshal(e.Data.Object, &r))
	return r
}

func TestDirectReportFlow(t *testing.T) {
	r := newReceiver(t, apiKey)
	_, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: 30 * time.Millisecond})
	cd, rep := createReport(t, c)

	require.Eventually(t, r.has(checkr.EventReportCompleted), wait, tick)
	assert.Equal(t, []string{checkr.EventCandidateCreated, checkr.EventReportCreated, checkr.EventReportUpdated, checkr.EventReportCompleted}, r.types())
	assert.Equal(t, []string{checkr.EventReportCreated, checkr.EventReportUpdated, checkr.EventReportCompleted}, r.typesOf(rep.ID))

	created := r.event(t, checkr.EventReportCreated)
	assert.Equal(t, "event", created.raw["object"])
	assert.Equal(t, r.srv.URL, created.raw["webhook_url"])
	assert.Equal(t, fake.DirectAccountID, created.event.AccountID)
	assert.Regexp(t, "^[0-9a-f]{24}$", created.event.ID)
	assert.False(t, created.event.CreatedAt.IsZero())
	var obj map[string]any
	require.NoError(t, json.Unmarshal(created.event.Data.Object, &obj))
	for _, field := range []string{"id", "object", "uri", "status", "result", "package", "candidate_id", "document_ids", "adjudication", "assessment", "created_at", "completed_at"} {
		assert.Contains(t, obj, field, "the seed's report fields")
	}
	assert.Equal(t, "report", obj["object"])
	assert.Equal(t, "/v1/reports/"+rep.ID, obj["uri"])
	assert.Nil(t, obj["result"])
	assert.Nil(t, obj["completed_at"])
	assert.Equal(t, []any{}, obj["document_ids"])
	assert.Equal(t, rep, reportOf(t, created.event), "report.created carries the report as the API answered it")

	updated := reportOf(t, r.event(t, checkr.EventReportUpdated).event)
	assert.Equal(t, checkr.ReportPending, updated.Status)

	completed := r.event(t, checkr.EventReportCompleted).event
	s := completed.Summary()
	assert.Equal(t, rep.ID, s.ObjectID)
	assert.Equal(t, "report", s.ObjectType)
	assert.Equal(t, checkr.ReportComplete, s.Status)
	assert.Equal(t, checkr.ResultClear, s.Result)
	assert.Equal(t, checkr.AssessmentEligible, s.Assessment)
	assert.Empty(t, s.Adjudication)
	require.Len(t, s.DocumentIDs, 1)
	got, err := c.GetReport(context.Background(), rep.ID)
	require.NoError(t, err)
	assert.Equal(t, got, reportOf(t, completed))
	assert.Equal(t, cd.ID, got.CandidateID)

	cand := r.event(t, checkr.EventCandidateCreated)
	assert.Equal(t, checkr.SubjectFor(checkr.KindCandidate, cd.ID), cand.event.Subject())
	assert.Contains(t, string(cand.event.Data.Object), "jane.roe@example.com", "candidate.created carries the candidate, as Checkr's does")
	assert.Contains(t, string(cand.event.Data.Object), "XXX-XX-3333", "with the SSN masked")
	assert.NotContains(t, string(cand.event.Data.Object), "111-22")
	assert.NotContains(t, fmt.Sprintf("%+v", cand.event.Summary()), "jane")
}

func TestInvitationFlow(t *testing.T) {
	r := newReceiver(t, apiKey)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, InvitationDelay: -1, ReportDelay: -1})
	// When invitation.completed arrives, the report it names exists already.
	reportSeen := make(chan error, 1)
	r.setOnEvent(func(e checkr.Event) {
		if e.Type == checkr.EventInvitationCompleted {
			_, err := c.GetReport(context.Background(), e.Summary().ReportID)
			reportSeen <- err
		}
	})
	cd, inv := createInvitation(t, c)
	require.Eventually(t, r.has(checkr.EventInvitationCreated), wait, tick)
	assert.Equal(t, "candidate:"+cd.ID, r.event(t, checkr.EventInvitationCreated).event.Subject(), "routed by its candidate")

	require.NoError(t, f.CompleteInvitation(inv.ID))
	require.Eventually(t, r.has(checkr.EventInvitationCompleted, checkr.EventReportUpdated), wait, tick)
	require.NoError(t, <-reportSeen)

	completed := r.event(t, checkr.EventInvitationCompleted).event
	s := completed.Summary()
	assert.Equal(t, inv.ID, s.ObjectID)
	assert.Equal(t, "invitation", s.ObjectType)
	assert.Equal(t, checkr.InvitationCompleted, s.Status)
	require.NotEmpty(t, s.ReportID)
	var invObj checkr.Invitation
	require.NoError(t, json.Unmarshal(completed.Data.Object, &invObj))
	assert.Equal(t, s.ReportID, invObj.ReportID)
	assert.Equal(t, cd.ID, invObj.CandidateID)

	require.NoError(t, f.CompleteReport(s.ReportID))
	require.Eventually(t, r.has(checkr.EventReportCompleted), wait, tick)
	assert.Equal(t, []string{
		checkr.EventCandidateCreated, checkr.EventInvitationCreated, checkr.EventInvitationCompleted,
		checkr.EventReportCreated, checkr.EventReportUpdated, checkr.EventReportCompleted,
	}, r.types())
	assert.Equal(t, s.ReportID, r.event(t, checkr.EventReportCompleted).event.Summary().ObjectID)
	assert.Equal(t, "candidate:"+cd.ID, r.event(t, checkr.EventReportCompleted).event.Subject(), "routed by its candidate")
	assert.Equal(t, cd.ID, reportOf(t, r.event(t, checkr.EventReportCreated).event).CandidateID)

	assert.ErrorContains(t, f.CompleteInvitation(inv.ID), "already completed")
	assert.ErrorContains(t, f.ExpireInvitation(inv.ID), "already completed")
	assert.ErrorContains(t, f.CompleteInvitation("nope"), "no invitation")
}

func TestInvitationCompletesByItself(t *testing.T) {
	r := newReceiver(t, apiKey)
	_, c := start(t, fake.Options{WebhookURL: r.srv.URL, InvitationDelay: 10 * time.Millisecond, ReportDelay: 10 * time.Millisecond})
	_, inv := createInvitation(t, c)
	require.Eventually(t, r.has(checkr.EventReportCompleted), wait, tick)
	got, err := c.GetInvitation(context.Background(), inv.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.InvitationCompleted, got.Status)
	rep, err := c.GetReport(context.Background(), got.ReportID)
	require.NoError(t, err)
	assert.Equal(t, checkr.ReportComplete, rep.Status)
}

func TestExpireInvitation(t *testing.T) {
	r := newReceiver(t, apiKey)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, InvitationDelay: time.Hour})
	cd, inv := createInvitation(t, c)
	require.NoError(t, f.ExpireInvitation(inv.ID))
	require.Eventually(t, r.has(checkr.EventInvitationExpired), wait, tick)
	e := r.event(t, checkr.EventInvitationExpired).event
	assert.Equal(t, "candidate:"+cd.ID, e.Subject())
	assert.Equal(t, checkr.InvitationExpired, e.Summary().Status)
	assert.Empty(t, e.Summary().ReportID)
	assert.ErrorContains(t, f.CompleteInvitation(inv.ID), "already expired")
	assert.Zero(t, f.ReportsCreated())
}

func TestSuspendAndResume(t *testing.T) {
	r := newReceiver(t, apiKey)
	const delay = 150 * time.Millisecond
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: delay})
	ctx := context.Background()
	_, rep := createReport(t, c)
	require.NoError(t, f.SuspendReport(rep.ID))
	assert.ErrorContains(t, f.SuspendReport(rep.ID), "is suspended")
	assert.ErrorContains(t, f.CompleteReport(rep.ID), "is suspended")

	time.Sleep(2 * delay)
	got, err := c.GetReport(ctx, rep.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.ReportSuspended, got.Status, "a suspended report stops progressing")

	require.NoError(t, f.ResumeReport(rep.ID))
	assert.ErrorContains(t, f.ResumeReport(rep.ID), "is pending")
	require.Eventually(t, r.has(checkr.EventReportCompleted), wait, tick)
	assert.Equal(t, []string{checkr.EventReportCreated, checkr.EventReportUpdated, checkr.EventReportSuspended,
		checkr.EventReportResumed, checkr.EventReportCompleted}, r.typesOf(rep.ID))
	assert.Equal(t, checkr.ReportSuspended, r.event(t, checkr.EventReportSuspended).event.Summary().Status)
	assert.Equal(t, checkr.ReportPending, r.event(t, checkr.EventReportResumed).event.Summary().Status)
}

func TestCancelReport(t *testing.T) {
	r := newReceiver(t, apiKey)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: time.Hour})
	_, rep := createReport(t, c)
	_, suspended := createReport(t, c)
	require.NoError(t, f.SuspendReport(suspended.ID))

	require.NoError(t, f.CancelReport(rep.ID))
	require.NoError(t, f.CancelReport(suspended.ID), "a suspended report can be canceled")
	assert.ErrorContains(t, f.CancelReport(rep.ID), "is canceled")
	assert.ErrorContains(t, f.CompleteReport(rep.ID), "is canceled")
	assert.ErrorContains(t, f.ResumeReport(rep.ID), "is canceled")
	assert.ErrorContains(t, f.CancelReport("nope"), "no report")

	require.Eventually(t, func() bool { return r.count(checkr.EventReportCanceled) == 2 }, wait, tick)
	got, err := c.GetReport(context.Background(), rep.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.ReportCanceled, got.Status)
	assert.Empty(t, got.Result)
	assert.Empty(t, got.DocumentIDs)
	assert.Equal(t, checkr.ReportCanceled, r.event(t, checkr.EventReportCanceled).event.Summary().Status)
}

func TestReportsCompleteByThemselves(t *testing.T) {
	f, c := start(t, fake.Options{ReportDelay: 10 * time.Millisecond})
	f.SetResult(checkr.ResultConsider)
	_, rep := createReport(t, c)
	require.Eventually(t, func() bool {
		got, err := c.GetReport(context.Background(), rep.ID)
		return err == nil && got.Status == checkr.ReportComplete
	}, wait, tick)
	got, err := c.GetReport(context.Background(), rep.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.ResultConsider, got.Result)
	assert.Equal(t, checkr.AssessmentReview, got.Assessment)
	pdf, ok := f.DocumentPDF(got.DocumentIDs[0])
	require.True(t, ok)
	assert.Contains(t, string(pdf), "(Result: consider)")
	_, ok = f.DocumentPDF("nope")
	assert.False(t, ok)
}

func TestDuplicateWebhooks(t *testing.T) {
	r := newReceiver(t, apiKey)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: -1})
	f.DuplicateWebhooks(true)
	_, rep := createReport(t, c)
	require.NoError(t, f.CompleteReport(rep.ID))

	require.Eventually(t, func() bool { return len(r.events()) == 8 }, wait, tick)
	ids := map[string]int{}
	for _, e := range r.events() {
		ids[e.ID]++
	}
	assert.Len(t, ids, 4, "four events")
	for id, n := range ids {
		assert.Equal(t, 2, n, "event %s delivered twice with the same id", id)
	}
	types := r.types()
	assert.Equal(t, []string{
		checkr.EventCandidateCreated, checkr.EventCandidateCreated, checkr.EventReportCreated, checkr.EventReportCreated,
		checkr.EventReportUpdated, checkr.EventReportUpdated, checkr.EventReportCompleted, checkr.EventReportCompleted,
	}, types)

	f.DuplicateWebhooks(false)
	createCandidate(t, c)
	require.Eventually(t, func() bool { return r.count(checkr.EventCandidateCreated) == 3 }, wait, tick)
}

func TestReorderWebhooks(t *testing.T) {
	t.Run("report", func(t *testing.T) {
		r := newReceiver(t, apiKey)
		f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: -1})
		f.ReorderWebhooks(true)
		_, rep := createReport(t, c)
		require.Eventually(t, r.has(checkr.EventCandidateCreated), wait, tick)
		time.Sleep(20 * time.Millisecond)
		assert.Empty(t, r.typesOf(rep.ID), "held back until the report ends")

		require.NoError(t, f.CompleteReport(rep.ID))
		require.Eventually(t, r.has(checkr.EventReportCreated, checkr.EventReportUpdated, checkr.EventReportCompleted), wait, tick)
		assert.Equal(t, []string{checkr.EventReportCompleted, checkr.EventReportCreated, checkr.EventReportUpdated}, r.typesOf(rep.ID))
	})
	t.Run("canceled report", func(t *testing.T) {
		r := newReceiver(t, apiKey)
		f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: -1})
		f.ReorderWebhooks(true)
		_, rep := createReport(t, c)
		require.NoError(t, f.CancelReport(rep.ID))
		require.Eventually(t, r.has(checkr.EventReportCreated, checkr.EventReportUpdated), wait, tick)
		assert.Equal(t, []string{checkr.EventReportCanceled, checkr.EventReportCreated, checkr.EventReportUpdated}, r.typesOf(rep.ID))
	})
	t.Run("invitation", func(t *testing.T) {
		r := newReceiver(t, apiKey)
		f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: -1, InvitationDelay: -1})
		f.ReorderWebhooks(true)
		_, inv := createInvitation(t, c)
		require.NoError(t, f.CompleteInvitation(inv.ID))
		require.Eventually(t, r.has(checkr.EventInvitationCreated), wait, tick)
		assert.Equal(t, []string{checkr.EventInvitationCompleted, checkr.EventInvitationCreated}, r.typesOf(inv.ID))

		got, err := c.GetInvitation(context.Background(), inv.ID)
		require.NoError(t, err)
		require.NoError(t, f.CompleteReport(got.ReportID))
		require.Eventually(t, r.has(checkr.EventReportCreated, checkr.EventReportUpdated), wait, tick)
		assert.Equal(t, []string{checkr.EventReportCompleted, checkr.EventReportCreated, checkr.EventReportUpdated}, r.typesOf(got.ReportID))
	})
	t.Run("objects created before are not reordered", func(t *testing.T) {
		r := newReceiver(t, apiKey)
		f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: -1})
		_, rep := createReport(t, c)
		f.ReorderWebhooks(true)
		require.NoError(t, f.CompleteReport(rep.ID))
		require.Eventually(t, r.has(checkr.EventReportCompleted), wait, tick)
		assert.Equal(t, []string{checkr.EventReportCreated, checkr.EventReportUpdated, checkr.EventReportCompleted}, r.typesOf(rep.ID))
	})
}

func TestDropWebhooks(t *testing.T) {
	r := newReceiver(t, apiKey)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: -1})
	f.DropWebhooks(checkr.EventCandidateCreated, checkr.EventReportCompleted)
	_, rep := createReport(t, c)
	require.NoError(t, f.CompleteReport(rep.ID))
	require.Eventually(t, r.has(checkr.EventReportCreated, checkr.EventReportUpdated), wait, tick)

	f.DropWebhooks()
	cd := createCandidate(t, c)
	require.Eventually(t, r.has(checkr.EventCandidateCreated), wait, tick)
	assert.Equal(t, "candidate:"+cd.ID, r.event(t, checkr.EventCandidateCreated).event.Subject(), "only the candidate created after clearing")

	f.Close()
	assert.Equal(t, []string{checkr.EventReportCreated, checkr.EventReportUpdated, checkr.EventCandidateCreated}, r.types())
	for _, d := range f.Deliveries() {
		assert.NotEqual(t, checkr.EventReportCompleted, d.Type, "a dropped webhook is never tried")
	}
	got, err := c.GetReport(context.Background(), rep.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.ReportComplete, got.Status, "the API still shows what the lost webhook said")
}

func TestWebhookRetriedUntilAcknowledged(t *testing.T) {
	r := newReceiver(t, apiKey, http.StatusInternalServerError, http.StatusInternalServerError)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL})
	createCandidate(t, c)

	require.Eventually(t, func() bool { return len(r.events()) == 1 }, wait, tick)
	got := deliveries(t, f, 3)
	for i, d := range got {
		assert.Equal(t, r.events()[0].ID, d.EventID, "every attempt sends the same event")
		assert.Equal(t, checkr.EventCandidateCreated, d.Type)
		assert.Equal(t, i+1, d.Attempt)
		assert.Equal(t, []int{500, 500, 200}[i], d.StatusCode)
		assert.False(t, d.GaveUp)
	}
	assert.False(t, got[1].At.Before(got[0].At.Add(shortRetries[0])), "the retry waits its delay")
}

func TestWebhookAcknowledgedByAny2xx(t *testing.T) {
	r := newReceiver(t, apiKey, http.StatusNoContent, http.StatusAccepted)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: -1})
	createReport(t, c)
	got := deliveries(t, f, 3)
	for _, d := range got {
		assert.Equal(t, 1, d.Attempt, "no retries")
	}
}

func TestWebhookGivenUpAfterTheDefaultSchedule(t *testing.T) {
	var answers []int
	for range 16 {
		answers = append(answers, http.StatusServiceUnavailable)
	}
	r := newReceiver(t, apiKey, answers...)
	// Not start: it replaces a nil RetryDelays with short retries.
	f := fake.New(fake.Options{APIKey: apiKey, WebhookURL: r.srv.URL})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	createCandidate(t, checkr.NewClient(srv.URL, apiKey, srv.Client()))

	got := deliveries(t, f, 16)
	for i, d := range got {
		assert.Equal(t, i+1, d.Attempt)
		assert.Equal(t, http.StatusServiceUnavailable, d.StatusCode)
		assert.Equal(t, i == 15, d.GaveUp, "16 tries in all: 10 short retries, then 5 long ones")
	}
	assert.GreaterOrEqual(t, got[11].At.Sub(got[10].At), 200*time.Millisecond, "the long retries")
	assert.Less(t, got[10].At.Sub(got[9].At), 200*time.Millisecond, "the short retries")
	assert.Empty(t, r.events())

	// Checkr keeps the URL: the next event is sent.
	createCandidate(t, checkr.NewClient(srv.URL, apiKey, srv.Client()))
	require.Eventually(t, func() bool { return len(r.events()) == 1 }, wait, tick)
}

func TestWebhookTransportErrorRetried(t *testing.T) {
	r := newReceiver(t, apiKey)
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
	u, err := url.Parse(r.srv.URL)
	require.NoError(t, err)
	u.User = url.UserPassword("hook-user", "hook-password")
	f, c := start(t, fake.Options{WebhookURL: u.String(), HTTPClient: flaky})
	createCandidate(t, c)

	require.Eventually(t, func() bool { return len(r.events()) == 1 }, wait, tick)
	got := deliveries(t, f, 2)
	assert.Contains(t, got[0].Err, "unexpected EOF")
	assert.NotContains(t, got[0].Err, "hook-password", "the webhook URL embeds Basic auth")
	assert.Zero(t, got[0].StatusCode)
	assert.Equal(t, http.StatusOK, got[1].StatusCode)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWebhookURLWithBasicAuth(t *testing.T) {
	r := newReceiver(t, apiKey)
	u, err := url.Parse(r.srv.URL + "/hooks/checkr")
	require.NoError(t, err)
	u.User = url.UserPassword("hook-user", "hook-password")
	_, c := start(t, fake.Options{WebhookURL: u.String()})
	createCandidate(t, c)
	require.Eventually(t, func() bool { return len(r.events()) == 1 }, wait, tick)
	assert.Equal(t, "hook-user", r.all()[0].user, "the URL's credentials go with the request")
}

func TestSetWebhookURL(t *testing.T) {
	r := newReceiver(t, apiKey)
	f, c := start(t, fake.Options{})
	createCandidate(t, c)
	assert.Empty(t, f.Deliveries(), "no webhook URL yet")
	f.SetWebhookURL(r.srv.URL)
	createCandidate(t, c)
	require.Eventually(t, func() bool { return len(r.events()) == 1 }, wait, tick)
}

// partner starts a fake with a partner application only, events signed with its client secret.
func partner(t *testing.T, r *receiver, opts fake.Options) (*fake.Server, *checkr.Client) {
	t.Helper()
	opts.ClientID, opts.ClientSecret = clientID, clientSecret
	if r != nil {
		opts.WebhookURL = r.srv.URL
	}
	return start(t, opts)
}

// connect plays the account holder signing up and the partner exchanging the code.
func connect(t *testing.T, f *fake.Server, c *checkr.Client, accountID string) (checkr.Token, *checkr.Client) {
	t.Helper()
	code, id := f.Authorize(accountID)
	tok, err := c.ExchangeToken(context.Background(), clientID, clientSecret, code)
	require.NoError(t, err)
	require.Equal(t, id, tok.CheckrAccountID)
	return tok, c.WithKey(tok.AccessToken)
}

func TestOAuthFlowNestedShape(t *testing.T) {
	r := newReceiver(t, clientSecret)
	f, base := partner(t, r, fake.Options{ReportDelay: -1})
	ctx := context.Background()
	tok, c := connect(t, f, base, "")
	time.Sleep(20 * time.Millisecond)
	assert.Empty(t, r.events(), "no account.credentialed before Checkr credentials the account")

	cd := createCandidate(t, c)
	_, err := c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: cd.ID})
	var apiErr *checkr.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.StatusCode)

	require.NoError(t, f.Credential(tok.CheckrAccountID))
	require.Eventually(t, r.has(checkr.EventAccountCredentialed), wait, tick)
	cred := r.event(t, checkr.EventAccountCredentialed)
	assert.Equal(t, fake.PartnerAccountID, cred.event.AccountID, "the seed's shape: account_id is the partner's")
	assert.JSONEq(t, `{"account":{"id":"`+tok.CheckrAccountID+`"}}`, string(cred.event.Data.Object))
	assert.Equal(t, tok.CheckrAccountID, cred.event.CredentialedAccountID())
	assert.Equal(t, "account:"+tok.CheckrAccountID, cred.event.Subject())

	rep, err := c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: cd.ID})
	require.NoError(t, err)
	require.NoError(t, f.CompleteReport(rep.ID))
	require.Eventually(t, r.has(checkr.EventReportCompleted), wait, tick)
	assert.Equal(t, fake.PartnerAccountID, r.event(t, checkr.EventReportCompleted).event.AccountID,
		"partner events carry the partner's account, as the seed's report.created does")

	require.NoError(t, c.Deauthorize(ctx))
	require.Eventually(t, r.has(checkr.EventTokenDeauthorized), wait, tick)
	deauth := r.event(t, checkr.EventTokenDeauthorized)
	assert.Equal(t, fake.PartnerAccountID, deauth.event.AccountID)
	assert.JSONEq(t, `{"access_code":"`+tok.AccessToken+`"}`, string(deauth.event.Data.Object))
	assert.Equal(t, checkr.TokenFingerprint(tok.AccessToken), deauth.event.DeauthorizedTokenFingerprint())
	assert.Equal(t, "token:"+checkr.TokenFingerprint(tok.AccessToken), deauth.event.Subject())
	assert.NotContains(t, fmt.Sprintf("%+v", deauth.event.Summary()), tok.AccessToken)

	_, err = c.GetReport(ctx, rep.ID)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)

	assert.ErrorContains(t, f.Credential("nope"), "no account")
}

func TestOAuthFlowAccountShape(t *testing.T) {
	r := newReceiver(t, clientSecret)
	f, base := partner(t, r, fake.Options{ReportDelay: -1, CredentialedShape: fake.ShapeAccount})
	tok, c := connect(t, f, base, "")
	require.NoError(t, f.Credential(tok.CheckrAccountID))
	cd, rep := createReport(t, c)
	require.Eventually(t, r.has(checkr.EventAccountCredentialed, checkr.EventReportUpdated), wait, tick)

	cred := r.event(t, checkr.EventAccountCredentialed)
	assert.Equal(t, tok.CheckrAccountID, cred.event.AccountID, "the reference integration's shape: account_id is the integrated account")
	var obj map[string]any
	require.NoError(t, json.Unmarshal(cred.event.Data.Object, &obj))
	assert.Equal(t, "account", obj["object"])
	assert.Equal(t, tok.CheckrAccountID, obj["id"])
	assert.NotNil(t, obj["completed_at"])
	assert.Equal(t, tok.CheckrAccountID, cred.event.CredentialedAccountID(), "the same id as in the nested shape")
	assert.Equal(t, tok.CheckrAccountID, cred.event.Summary().ObjectID)

	created := r.event(t, checkr.EventReportCreated).event
	assert.Equal(t, tok.CheckrAccountID, created.AccountID)
	assert.Equal(t, rep.ID, created.Summary().ObjectID)
	assert.Equal(t, "candidate:"+cd.ID, created.Subject())
}

func TestCredentialOnTokenExchange(t *testing.T) {
	t.Run("on: the event's first attempt is over before the exchange answers", func(t *testing.T) {
		// Like Checkr's reference integration, the receiver answers 404 while it does not know the
		// account, so that Checkr retries.
		r := newReceiver(t, clientSecret, http.StatusNotFound)
		f, base := partner(t, r, fake.Options{})
		code, accountID := f.Authorize("")
		require.NoError(t, f.Credential(accountID)) // before the partner knows the account
		first := deliveries(t, f, 2)
		assert.Equal(t, []int{http.StatusNotFound, http.StatusOK}, []int{first[0].StatusCode, first[1].StatusCode}, "refused, then retried")

		f.CredentialOnTokenExchange(true)
		tok, err := base.ExchangeToken(context.Background(), clientID, clientSecret, code)
		require.NoError(t, err)
		got := f.Deliveries()
		require.Len(t, got, 3, "the second account.credentialed was tried before the answer")
		assert.Equal(t, checkr.EventAccountCredentialed, got[2].Type)
		assert.Equal(t, 1, got[2].Attempt)
		assert.NotEqual(t, got[0].EventID, got[2].EventID, "a new event")

		require.Eventually(t, func() bool { return r.count(checkr.EventAccountCredentialed) == 2 }, wait, tick)
		for _, e := range r.events() {
			assert.Equal(t, tok.CheckrAccountID, e.CredentialedAccountID())
		}
		_, rep := createReport(t, base.WithKey(tok.AccessToken))
		assert.NotEmpty(t, rep.ID, "a pre-credentialed account orders at once")
	})
	t.Run("off: the exchange sends nothing", func(t *testing.T) {
		r := newReceiver(t, clientSecret)
		f, base := partner(t, r, fake.Options{})
		code, accountID := f.Authorize("")
		require.NoError(t, f.Credential(accountID))
		require.Eventually(t, func() bool { return len(r.events()) == 1 }, wait, tick)
		_, err := base.ExchangeToken(context.Background(), clientID, clientSecret, code)
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond)
		assert.Len(t, r.events(), 1)
	})
	t.Run("on, but the account is not credentialed", func(t *testing.T) {
		r := newReceiver(t, clientSecret)
		f, base := partner(t, r, fake.Options{})
		f.CredentialOnTokenExchange(true)
		connect(t, f, base, "")
		time.Sleep(20 * time.Millisecond)
		assert.Empty(t, r.events())
	})
}

func TestEventsSignedWithAPIKeyWithoutPartnerApp(t *testing.T) {
	// newReceiver's key is apiKey: direct accounts' events are signed with the API key when there
	// is no partner app, and with the client secret when there is.
	r := newReceiver(t, apiKey)
	_, c := start(t, fake.Options{WebhookURL: r.srv.URL})
	createCandidate(t, c)
	require.Eventually(t, func() bool { return len(r.events()) == 1 }, wait, tick)

	both := newReceiver(t, clientSecret)
	f := fake.New(fake.Options{APIKey: apiKey, ClientID: clientID, ClientSecret: clientSecret, WebhookURL: both.srv.URL, RetryDelays: shortRetries})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	createCandidate(t, checkr.NewClient(srv.URL, apiKey, srv.Client()))
	require.Eventually(t, func() bool { return len(both.events()) == 1 }, wait, tick)
}

func TestCloseStopsTimersAndRetries(t *testing.T) {
	r := newReceiver(t, apiKey, 500, 500, 500, 500)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: time.Hour, InvitationDelay: time.Hour,
		RetryDelays: []time.Duration{time.Hour}})
	_, rep := createReport(t, c)
	_, inv := createInvitation(t, c)
	// Five events, each tried once: four answered 500 wait an hour for their retry.
	deliveries(t, f, 5)

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
	got, err := c.GetReport(context.Background(), rep.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.ReportPending, got.Status, "the report timer was stopped")
	gotInv, err := c.GetInvitation(context.Background(), inv.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.InvitationPending, gotInv.Status, "the invitation timer was stopped")

	// Calls served after Close start nothing that outlives it.
	createReport(t, c)
	f.Close() // twice is fine
	assert.Len(t, f.Deliveries(), 5)
}

func TestCloseUnblocksTokenExchange(t *testing.T) {
	// A receiver that never answers: the exchange waits for the event's first attempt.
	block := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	t.Cleanup(hook.Close)
	t.Cleanup(func() { close(block) })
	f, base := partner(t, nil, fake.Options{WebhookURL: hook.URL})
	code, accountID := f.Authorize("")
	f.CredentialOnTokenExchange(true)
	require.NoError(t, f.Credential(accountID))

	done := make(chan error, 1)
	go func() {
		_, err := base.ExchangeToken(context.Background(), clientID, clientSecret, code)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	f.Close()
	select {
	case err := <-done:
		assert.NoError(t, err, "the exchange still answers")
	case <-time.After(wait):
		t.Fatal("the token exchange outlived Close")
	}
}

func TestConcurrentReports(t *testing.T) {
	r := newReceiver(t, apiKey)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: time.Millisecond, InvitationDelay: time.Millisecond})
	f.DuplicateWebhooks(true)
	cd := createCandidate(t, c)

	const n = 10
	var wg sync.WaitGroup
	for i := range 2 * n {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = c.CreateReport(context.Background(), checkr.ReportRequest{Package: pkg, CandidateID: cd.ID})
			} else {
				_, err = c.CreateInvitation(context.Background(), checkr.InvitationRequest{Package: pkg, CandidateID: cd.ID})
			}
			assert.NoError(t, err)
			_, err = c.ListReports(context.Background(), cd.ID)
			assert.NoError(t, err)
			f.Deliveries()
		})
	}
	wg.Wait()

	require.Eventually(t, func() bool { return r.count(checkr.EventReportCompleted) == 2*2*n }, wait, tick)
	reports, err := c.ListReports(context.Background(), cd.ID)
	require.NoError(t, err)
	assert.Len(t, reports, 2*n)
	assert.Equal(t, 2*n, f.ReportsCreated())
	invitations, err := c.ListInvitations(context.Background(), cd.ID)
	require.NoError(t, err)
	assert.Len(t, invitations, n)
}

// call sends a raw request and returns the status and the body.
func call(t *testing.T, srv *httptest.Server, method, path, user, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, "")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, nil
	}
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func TestAPI(t *testing.T) {
	f := fake.New(fake.Options{APIKey: apiKey, ClientID: clientID, ClientSecret: clientSecret, ReportDelay: -1, InvitationDelay: -1})
	t.Cleanup(f.Close)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)

	status, cand := call(t, srv, "POST", "/v1/candidates", apiKey,
		`{"email":"jane@example.com","first_name":"Jane","ssn":"111223333","custom_id":"scr_9","no_middle_name":true}`)
	require.Equal(t, http.StatusCreated, status)
	candID := cand["id"].(string)
	assert.Equal(t, "candidate", cand["object"])
	assert.Equal(t, "XXX-XX-3333", cand["ssn"])
	assert.Nil(t, cand["last_name"], "missing fields are null")

	var reportIDs []string
	for range 3 {
		status, rep := call(t, srv, "POST", "/v1/reports", apiKey, `{"package":"`+pkg+`","candidate_id":"`+candID+`"}`)
		require.Equal(t, http.StatusCreated, status, "Checkr answers report creation with 201")
		reportIDs = append(reportIDs, rep["id"].(string))
	}

	status, page := call(t, srv, "GET", "/v1/reports?candidate_id="+candID+"&per_page=2", apiKey, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "list", page["object"])
	assert.Equal(t, float64(3), page["count"])
	assert.Len(t, page["data"], 2)
	assert.Nil(t, page["previous_href"])
	next, ok := page["next_href"].(string)
	require.True(t, ok)
	nextURL, err := url.Parse(next)
	require.NoError(t, err)
	assert.Equal(t, "2", nextURL.Query().Get("page"))
	assert.Equal(t, candID, nextURL.Query().Get("candidate_id"))
	status, page = call(t, srv, "GET", nextURL.RequestURI(), apiKey, "")
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, page["data"], 1)
	assert.Nil(t, page["next_href"])
	assert.NotNil(t, page["previous_href"])
	status, page = call(t, srv, "GET", "/v1/reports?candidate_id="+candID, apiKey, "")
	require.Equal(t, http.StatusOK, status)
	first := page["data"].([]any)[0].(map[string]any)
	assert.Equal(t, reportIDs[2], first["id"], "newest first")
	status, page = call(t, srv, "GET", "/v1/candidates?custom_id=nobody", apiKey, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []any{}, page["data"], "an empty list, not null")

	require.NoError(t, f.CompleteReport(reportIDs[0]))
	_, rep := call(t, srv, "GET", "/v1/reports/"+reportIDs[0], apiKey, "")
	docID := rep["document_ids"].([]any)[0].(string)
	status, doc := call(t, srv, "GET", "/v1/documents/"+docID, apiKey, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "pdf_report", doc["type"])
	assert.Equal(t, "application/pdf", doc["content_type"])
	assert.True(t, strings.HasPrefix(doc["download_uri"].(string), "http://"+srv.Listener.Addr().String()+"/downloads/"+docID+"?token="),
		"without SetBaseURL, links start with the URL the request was sent to")

	t.Run("download", func(t *testing.T) {
		resp, err := srv.Client().Get(doc["download_uri"].(string))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
		want, _ := f.DocumentPDF(docID)
		assert.Equal(t, want, body)

		f.FailAPI(1, http.StatusInternalServerError)
		resp, err = srv.Client().Get(doc["download_uri"].(string))
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "FailAPI leaves downloads alone")
		f.FailAPI(0, 0)

		resp, err = srv.Client().Get(srv.URL + "/downloads/" + docID + "?token=guess")
		require.NoError(t, err)
		body, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.Contains(t, string(body), "AccessDenied")
	})

	t.Run("token exchange as a form", func(t *testing.T) {
		code, accountID := f.Authorize("")
		resp, err := srv.Client().PostForm(srv.URL+"/oauth/tokens", url.Values{
			"client_id": {clientID}, "client_secret": {clientSecret}, "code": {code},
		})
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		var tok map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
		assert.Equal(t, accountID, tok["checkr_account_id"])
		assert.Equal(t, "read_write", tok["scope"])

		status, _ := call(t, srv, "POST", "/oauth/deauthorize", tok["access_token"], "")
		assert.Equal(t, http.StatusNoContent, status)
	})

	errorCases := []struct {
		name, method, path, user, body string
		status                         int
	}{
		{"no auth", "GET", "/v1/reports/" + reportIDs[0], "", "", 401},
		{"wrong key", "GET", "/v1/reports/" + reportIDs[0], "sk_wrong", "", 401},
		{"client secret is not a key", "GET", "/v1/reports/" + reportIDs[0], clientSecret, "", 401},
		{"body not JSON", "POST", "/v1/candidates", apiKey, `{"email":`, 400},
		{"no email", "POST", "/v1/candidates", apiKey, `{"first_name":"A"}`, 400},
		{"bad email", "POST", "/v1/candidates", apiKey, `{"email":"nope"}`, 400},
		{"bad dob", "POST", "/v1/candidates", apiKey, `{"email":"a@b.c","dob":"03/02/1990"}`, 400},
		{"unknown candidate", "GET", "/v1/candidates/e44aa283528e6fde7d542194", apiKey, "", 404},
		{"report without package", "POST", "/v1/reports", apiKey, `{"candidate_id":"` + candID + `"}`, 400},
		{"report without candidate", "POST", "/v1/reports", apiKey, `{"package":"p"}`, 400},
		{"report on unknown candidate", "POST", "/v1/reports", apiKey, `{"package":"p","candidate_id":"nope"}`, 404},
		{"invitation without package", "POST", "/v1/invitations", apiKey, `{"candidate_id":"` + candID + `"}`, 400},
		{"invitation on unknown candidate", "POST", "/v1/invitations", apiKey, `{"package":"p","candidate_id":"nope"}`, 404},
		{"unknown report", "GET", "/v1/reports/nope", apiKey, "", 404},
		{"unknown invitation", "GET", "/v1/invitations/nope", apiKey, "", 404},
		{"unknown document", "GET", "/v1/documents/nope", apiKey, "", 404},
		{"per_page 0", "GET", "/v1/reports?per_page=0", apiKey, "", 400},
		{"per_page 101", "GET", "/v1/reports?per_page=101", apiKey, "", 400},
		{"page 0", "GET", "/v1/candidates?page=0", apiKey, "", 400},
		{"unknown route", "GET", "/v1/webhooks", apiKey, "", 404},
		{"token exchange without code", "POST", "/oauth/tokens", "", `{"client_id":"` + clientID + `","client_secret":"` + clientSecret + `"}`, 400},
		{"token exchange with a bad body", "POST", "/oauth/tokens", "", `{`, 400},
		{"deauthorize with the API key", "POST", "/oauth/deauthorize", apiKey, "", 401},
		{"deauthorize without auth", "POST", "/oauth/deauthorize", "", "", 401},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, srv, tt.method, tt.path, tt.user, tt.body)
			assert.Equal(t, tt.status, status)
			assert.NotEmpty(t, body["error"], "Checkr's error shape")
			assert.NotContains(t, fmt.Sprint(body["error"]), "jane")
		})
	}

	t.Run("Bearer is not Basic", func(t *testing.T) {
		req, err := http.NewRequest("GET", srv.URL+"/v1/reports/"+reportIDs[0], nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	t.Run("FailAPI comes before authentication", func(t *testing.T) {
		f.FailAPI(2, http.StatusBadGateway)
		for range 2 {
			status, body := call(t, srv, "GET", "/v1/reports/"+reportIDs[0], "", "")
			assert.Equal(t, http.StatusBadGateway, status)
			assert.NotEmpty(t, body["error"])
		}
		status, _ := call(t, srv, "GET", "/v1/reports/"+reportIDs[0], apiKey, "")
		assert.Equal(t, http.StatusOK, status)
	})

	t.Run("apply page", func(t *testing.T) {
		_, inv := call(t, srv, "POST", "/v1/invitations", apiKey, `{"package":"`+pkg+`","candidate_id":"`+candID+`"}`)
		resp, err := srv.Client().Get(inv["invitation_url"].(string))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, string(body), inv["id"].(string))
		resp, err = srv.Client().Get(srv.URL + "/apply/nope")
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	})

	assert.Equal(t, 3, f.ReportsCreated(), "failed calls create nothing")
	assert.Equal(t, 1, f.CandidatesCreated())
}

func TestControlErrors(t *testing.T) {
	f, c := start(t, fake.Options{ReportDelay: -1, InvitationDelay: -1})
	_, rep := createReport(t, c)
	require.NoError(t, f.CompleteReport(rep.ID))
	for name, err := range map[string]error{
		"complete twice":      f.CompleteReport(rep.ID),
		"suspend complete":    f.SuspendReport(rep.ID),
		"resume complete":     f.ResumeReport(rep.ID),
		"cancel complete":     f.CancelReport(rep.ID),
		"complete unknown":    f.CompleteReport("nope"),
		"expire unknown":      f.ExpireInvitation("nope"),
		"credential direct":   f.Credential(fake.DirectAccountID),
		"credential unknown":  f.Credential("nope"),
		"complete invitation": f.CompleteInvitation("nope"),
	} {
		assert.Error(t, err, name)
	}
}

func TestUnknownCredentialedShapePanics(t *testing.T) {
	assert.PanicsWithValue(t, `fake checkr: CredentialedShape "Account" is neither "nested" nor "account"`, func() {
		fake.New(fake.Options{CredentialedShape: "Account"})
	})
}

// syncBuffer is a log sink that several goroutines write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogsCarryNoSecretsOrPII(t *testing.T) {
	r := newReceiver(t, clientSecret, http.StatusInternalServerError)
	u, err := url.Parse(r.srv.URL)
	require.NoError(t, err)
	u.User = url.UserPassword("hook-user", "hook-password")
	var logs syncBuffer
	f := fake.New(fake.Options{
		APIKey: apiKey, ClientID: clientID, ClientSecret: clientSecret, WebhookURL: u.String(),
		ReportDelay: -1, InvitationDelay: -1, RetryDelays: shortRetries,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	base := checkr.NewClient(srv.URL, apiKey, srv.Client())
	ctx := context.Background()

	code, accountID := f.Authorize("")
	tok, err := base.ExchangeToken(ctx, clientID, clientSecret, code)
	require.NoError(t, err)
	require.NoError(t, f.Credential(accountID))
	c := base.WithKey(tok.AccessToken)
	_, rep := createReport(t, c)
	require.NoError(t, f.CompleteReport(rep.ID))
	rep, err = c.GetReport(ctx, rep.ID)
	require.NoError(t, err)
	doc, err := c.GetDocument(ctx, rep.DocumentIDs[0])
	require.NoError(t, err)
	_, err = c.Download(ctx, doc.DownloadURI)
	require.NoError(t, err)
	require.NoError(t, c.Deauthorize(ctx))
	require.Eventually(t, r.has(checkr.EventTokenDeauthorized), wait, tick)
	f.Close()

	out := logs.String()
	require.Contains(t, out, "report completed", "the fake logged")
	link, err := url.Parse(doc.DownloadURI)
	require.NoError(t, err)
	for _, secret := range []string{
		apiKey, clientSecret, code, tok.AccessToken, link.Query().Get("token"), "hook-password",
		"jane", "Roe", "1990-02-03", "3333", "90401",
	} {
		assert.NotContains(t, out, secret)
	}
	for _, d := range f.Deliveries() {
		assert.NotContains(t, d.Err, "hook-password")
	}
}

// envelopeKeys checks an event has the seeds' envelope: {id, object: "event", type, created_at,
// webhook_url, data: {object}, account_id}.
func envelopeKeys(t *testing.T, rc received) {
	t.Helper()
	for _, k := range []string{"id", "object", "type", "created_at", "webhook_url", "data", "account_id"} {
		assert.Contains(t, rc.raw, k, rc.event.Type)
	}
	assert.Equal(t, "event", rc.raw["object"])
	assert.Contains(t, rc.raw["data"], "object")
}

func TestEventsAfterAReportCompleted(t *testing.T) {
	r := newReceiver(t, apiKey)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: -1})
	ctx := context.Background()
	cd, rep := createReport(t, c)
	assert.ErrorContains(t, f.UpgradeReport(rep.ID), "is pending", "only a complete report is upgraded")
	require.NoError(t, f.CompleteReport(rep.ID))
	done, err := c.GetReport(ctx, rep.ID)
	require.NoError(t, err)

	f.SetResult(checkr.ResultConsider)
	require.NoError(t, f.UpgradeReport(rep.ID))
	require.Eventually(t, r.has(checkr.EventReportUpgraded), wait, tick)
	up := r.event(t, checkr.EventReportUpgraded)
	envelopeKeys(t, up)
	assert.Equal(t, "candidate:"+cd.ID, up.event.Subject())
	upgraded := reportOf(t, up.event)
	assert.Equal(t, checkr.ReportComplete, upgraded.Status)
	assert.Equal(t, checkr.ResultConsider, upgraded.Result)
	assert.Equal(t, checkr.AssessmentReview, upgraded.Assessment)
	require.Len(t, upgraded.DocumentIDs, 2, "the upgraded report's document is added")
	assert.Equal(t, done.DocumentIDs[0], upgraded.DocumentIDs[0])
	first, ok := f.DocumentPDF(upgraded.DocumentIDs[0])
	require.True(t, ok)
	second, ok := f.DocumentPDF(upgraded.DocumentIDs[1])
	require.True(t, ok)
	assert.NotEqual(t, first, second)
	got, err := c.GetReport(ctx, rep.ID)
	require.NoError(t, err)
	assert.Equal(t, upgraded, got, "the API answers the upgraded report")

	require.NoError(t, f.AdjudicateReport(rep.ID, checkr.AdjudicationPreAdverseAction))
	require.NoError(t, f.DisputeReport(rep.ID))
	require.NoError(t, f.AdjudicateReport(rep.ID, checkr.AdjudicationPostAdverseAction), "a disputed report can be adjudicated")
	require.NoError(t, f.AdjudicateReport(rep.ID, checkr.AdjudicationEngaged))
	require.Eventually(t, r.has(checkr.EventReportEngaged), wait, tick)
	assert.Equal(t, []string{checkr.EventReportCreated, checkr.EventReportUpdated, checkr.EventReportCompleted,
		checkr.EventReportUpgraded, checkr.EventReportPreAdverseAction, checkr.EventReportDisputed,
		checkr.EventReportPostAdverseAction, checkr.EventReportEngaged}, r.typesOf(rep.ID))
	pre := r.event(t, checkr.EventReportPreAdverseAction)
	envelopeKeys(t, pre)
	assert.Equal(t, checkr.AdjudicationPreAdverseAction, pre.event.Summary().Adjudication)
	assert.Equal(t, checkr.ReportDispute, r.event(t, checkr.EventReportDisputed).event.Summary().Status)
	got, err = c.GetReport(ctx, rep.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.ReportDispute, got.Status)
	assert.Equal(t, checkr.AdjudicationEngaged, got.Adjudication)

	assert.ErrorContains(t, f.AdjudicateReport(rep.ID, "approved"), "unknown adjudication")
	assert.ErrorContains(t, f.DisputeReport(rep.ID), "is dispute")
	assert.ErrorContains(t, f.UpgradeReport("nope"), "no report")
}

func TestCandidateAskedForMore(t *testing.T) {
	r := newReceiver(t, apiKey)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, ReportDelay: -1})
	cd, _ := createReport(t, c)
	require.NoError(t, f.RequireCandidateID(cd.ID))
	require.NoError(t, f.RequireDriverLicense(cd.ID))
	require.Eventually(t, r.has(checkr.EventCandidateIDRequired, checkr.EventCandidateDriverLicenseRequired), wait, tick)
	for _, typ := range []string{checkr.EventCandidateIDRequired, checkr.EventCandidateDriverLicenseRequired} {
		rc := r.event(t, typ)
		envelopeKeys(t, rc)
		assert.Equal(t, "candidate:"+cd.ID, rc.event.Subject())
		assert.Contains(t, string(rc.event.Data.Object), "jane.roe@example.com", "the candidate, as Checkr sends it")
		assert.NotContains(t, fmt.Sprintf("%+v", rc.event.Summary()), "jane")
	}
	assert.ErrorContains(t, f.RequireCandidateID("nope"), "no candidate")
	assert.ErrorContains(t, f.RequireDriverLicense("nope"), "no candidate")
}

func TestDeleteInvitation(t *testing.T) {
	r := newReceiver(t, apiKey)
	f, c := start(t, fake.Options{WebhookURL: r.srv.URL, InvitationDelay: -1})
	cd, inv := createInvitation(t, c)
	require.NoError(t, f.DeleteInvitation(inv.ID))
	require.Eventually(t, r.has(checkr.EventInvitationDeleted), wait, tick)
	rc := r.event(t, checkr.EventInvitationDeleted)
	envelopeKeys(t, rc)
	assert.Equal(t, "candidate:"+cd.ID, rc.event.Subject())
	assert.Equal(t, checkr.InvitationDeleted, rc.event.Summary().Status)
	got, err := c.GetInvitation(context.Background(), inv.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.InvitationDeleted, got.Status)
	assert.NotNil(t, got.DeletedAt)
	assert.ErrorContains(t, f.CompleteInvitation(inv.ID), "already deleted")
	assert.ErrorContains(t, f.DeleteInvitation(inv.ID), "already deleted")
	assert.Zero(t, f.ReportsCreated())
}

func TestRevokeAccessFromTheDashboard(t *testing.T) {
	r := newReceiver(t, clientSecret)
	f, base := partner(t, r, fake.Options{ReportDelay: -1})
	tok, c := connect(t, f, base, "")
	require.NoError(t, f.RevokeAccess(tok.CheckrAccountID))
	require.Eventually(t, r.has(checkr.EventTokenDeauthorized), wait, tick)
	rc := r.event(t, checkr.EventTokenDeauthorized)
	envelopeKeys(t, rc)
	assert.Equal(t, checkr.TokenFingerprint(tok.AccessToken), rc.event.DeauthorizedTokenFingerprint())
	_, _, err := c.FindCandidate(context.Background(), "x")
	var apiErr *checkr.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode, "the token is revoked")
	assert.ErrorContains(t, f.RevokeAccess(tok.CheckrAccountID), "no live access token")
}
