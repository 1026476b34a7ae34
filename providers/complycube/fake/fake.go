// Package fake is a local ComplyCube: a real HTTP server with the API calls screening uses, that
// completes checks by itself and sends signed webhooks with ComplyCube's retry behaviour, to every
// webhook registered (in Options, as if in ComplyCube's portal, or with POST /webhooks). Test
// controls make it misbehave the ways the real one can (duplicate, reordered and lost webhooks,
// failing API calls) and change checks after they completed (check.updated, monitoring hits).
package fake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/internal/fakekit"
)

const defaultCompletionDelay = 2 * time.Second

// defaultRetryDelays is ComplyCube's schedule (60 s, 120 s, 480 s, ..., 10 retries) in milliseconds
// instead of seconds, so that tests see the real shape without waiting for it.
var defaultRetryDelays = []time.Duration{
	60 * time.Millisecond,
	120 * time.Millisecond,
	480 * time.Millisecond,
	960 * time.Millisecond,
	1920 * time.Millisecond,
	3840 * time.Millisecond,
	7680 * time.Millisecond,
	15360 * time.Millisecond,
	30720 * time.Millisecond,
	61440 * time.Millisecond,
}

// Options configures a fake ComplyCube.
type Options struct {
	// APIKey is the required Authorization value; a wrong or missing one answers 401. Left empty,
	// every call answers 401.
	APIKey string
	// WebhookURL and WebhookSecret are a webhook registered before the fake started, as in
	// ComplyCube's portal: where signed webhooks are POSTed ("" → none), and the HMAC key of their
	// ComplyCube-Signature header. POST /webhooks registers more, each with a secret of its own.
	WebhookURL    string
	WebhookSecret string
	// CompletionDelay is how long a new check stays pending before it completes by itself.
	// 0 → 2 s; negative → never by itself (tests call CompleteCheck).
	CompletionDelay time.Duration
	Outcome         string // outcome of checks that complete by themselves; "" → "clear"
	// RetryDelays is the webhook retry schedule after a non-2xx answer or a transport error; after
	// the last retry fails the webhook is disabled, as ComplyCube does. nil → ComplyCube's
	// schedule scaled down from seconds to milliseconds (60ms, 120ms, 480ms, ... 61.44s).
	RetryDelays []time.Duration
	HTTPClient  *http.Client // for sending webhooks; nil → a client with a 15 s timeout
	Logger      *slog.Logger // nil → discard
}

// Delivery is one attempt to deliver a webhook. GaveUp means the last retry failed: the webhook
// is now disabled.
type Delivery = fakekit.Delivery

// Server is a fake ComplyCube. Its methods are safe for concurrent use.
type Server struct {
	apiKey          string
	completionDelay time.Duration
	log             *slog.Logger
	mux             *http.ServeMux
	timers          *fakekit.Timers // completion timers, by check id
	httpClient      *http.Client    // for the webhooks' senders
	retryDelays     []time.Duration

	mu sync.Mutex
	// endpoints are the registered webhooks, oldest first; the first is the one of Options, whose
	// URL may be "" (then it is not listed and sends nothing).
	endpoints []*endpoint
	closed    bool
	duplicate bool     // every sender's, see DuplicateWebhooks
	dropped   []string // every sender's, see DropWebhooks
	outcome   string
	reorder   bool
	failures  fakekit.Failures
	clients   map[string]clientObject
	// deletedClients are the ids DELETE /clients/{id} deleted, in order (DeletedClients).
	deletedClients []string
	checks         map[string]complycube.Check
	checkOrder     []string                   // check ids, oldest first
	held           map[string]fakekit.Webhook // check.pending held back by ReorderWebhooks, by check id
	reports        map[string][]byte
}

// New returns a fake ComplyCube. Serve it with httptest.NewServer (or any http.Server) and point
// the client at <URL>/v1. Close it to stop its timers and webhook senders.
func New(opts Options) *Server {
	s := &Server{
		apiKey:          opts.APIKey,
		completionDelay: opts.CompletionDelay,
		log:             opts.Logger,
		httpClient:      opts.HTTPClient,
		retryDelays:     slices.Clone(opts.RetryDelays),
		outcome:         opts.Outcome,
		clients:         make(map[string]clientObject),
		checks:          make(map[string]complycube.Check),
		held:            make(map[string]fakekit.Webhook),
		reports:         make(map[string][]byte),
	}
	if s.completionDelay == 0 {
		s.completionDelay = defaultCompletionDelay
	}
	if s.retryDelays == nil {
		s.retryDelays = defaultRetryDelays
	}
	if s.httpClient == nil {
		// ComplyCube gives a receiver 15 s to acknowledge.
		s.httpClient = &http.Client{Timeout: 15 * time.Second}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.outcome == "" {
		s.outcome = complycube.OutcomeClear
	}
	s.endpoints = []*endpoint{s.newEndpointLocked(complycube.Webhook{
		ID: newID(), Description: "registered in the portal", URL: opts.WebhookURL, Enabled: true,
		Events: []string{complycube.AllEvents}, CreatedAt: now(), UpdatedAt: now(),
	}, opts.WebhookSecret)}
	s.timers = fakekit.NewTimers(&s.mu)
	s.mux = s.routes()
	return s
}

// Close stops the completion timers, cancels webhook deliveries and their pending retries, and
// waits for their goroutines.
func (s *Server) Close() {
	s.timers.Close()
	s.mu.Lock()
	s.closed = true
	endpoints := slices.Clone(s.endpoints)
	s.mu.Unlock()
	for _, ep := range endpoints {
		ep.sender.Close()
	}
}

// SetWebhookURL points the webhook of Options at url ("" stops it). Like registering a webhook
// anew, it enables it if it was disabled after failing every retry.
func (s *Server) SetWebhookURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endpoints[0].hook.URL = url
	s.endpoints[0].sender.Enable()
}

// WebhookDisabled reports whether a webhook was disabled because a delivery failed every retry.
func (s *Server) WebhookDisabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.endpoints, func(ep *endpoint) bool { return ep.sender.Disabled() })
}

// SetOutcome sets the outcome of checks that complete by themselves from now on; "" → "clear".
func (s *Server) SetOutcome(outcome string) {
	if outcome == "" {
		outcome = complycube.OutcomeClear
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcome = outcome
}

// DuplicateWebhooks makes every webhook from now on be delivered twice, with the same event id.
func (s *Server) DuplicateWebhooks(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.duplicate = on
	for _, ep := range s.endpoints {
		ep.sender.SetDuplicate(on)
	}
}

// ReorderWebhooks makes checks created from now on send check.pending only after the events that
// end them (check.completed, check.completed.<outcome>, check.failed) were first tried.
func (s *Server) ReorderWebhooks(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reorder = on
}

// DropWebhooks makes events of these types never be sent, as if the webhook were lost. Without
// arguments it sends every type again.
func (s *Server) DropWebhooks(types ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped = slices.Clone(types)
	for _, ep := range s.endpoints {
		ep.sender.Drop(types...)
	}
}

// FailAPI makes the next n API calls answer status with an error body, before doing anything.
func (s *Server) FailAPI(n int, status int) {
	s.failures.Inject(n, status, nil)
}

// FailAPIWithBody is FailAPI with body as the error answers' body: one a provider may send, such as
// a message echoing the request's data.
func (s *Server) FailAPIWithBody(n, status int, body []byte) {
	s.failures.Inject(n, status, body)
}

// CompleteCheck completes a pending check now with outcome and sends its webhooks.
func (s *Server) CompleteCheck(checkID, outcome string) error {
	if !slices.Contains(complycube.Outcomes, outcome) {
		return fmt.Errorf("fake complycube: unknown outcome %q", outcome)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.pendingCheckLocked(checkID)
	if err != nil {
		return err
	}
	s.completeLocked(c, outcome)
	return nil
}

// FailCheck fails a pending check now and sends check.failed.
func (s *Server) FailCheck(checkID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.pendingCheckLocked(checkID)
	if err != nil {
		return err
	}
	s.failLocked(c)
	return nil
}

// UpdateCheck changes a check, pending or not, to status complete with outcome, or to failed (with
// no outcome), as a review or a re-run at ComplyCube does, and sends check.updated with the check's
// id, status, outcome and times. It sends nothing else: a check completed this way sends no
// check.completed. A complete check's report is made anew for its outcome; a failed one has none.
func (s *Server) UpdateCheck(checkID, status, outcome string) error {
	switch {
	case status == complycube.StatusComplete && !slices.Contains(complycube.Outcomes, outcome):
		return fmt.Errorf("fake complycube: unknown outcome %q", outcome)
	case status == complycube.StatusFailed && outcome != "":
		return fmt.Errorf("fake complycube: a failed check has no outcome, not %q", outcome)
	case status != complycube.StatusComplete && status != complycube.StatusFailed:
		return fmt.Errorf("fake complycube: a check is updated to complete or failed, not %q", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.checks[checkID]
	if !ok {
		return fmt.Errorf("fake complycube: no check %q", checkID)
	}
	s.timers.StopLocked(c.ID)
	c = s.setStateLocked(c, status, outcome)
	updated := s.sendLocked(newWebhook(complycube.EventCheckUpdated, complycube.ResourceCheck, eventPayload(c)))
	s.releaseHeldLocked(c.ID, updated)
	s.log.Info("fake complycube: check updated", "check_id", c.ID, "status", status, "outcome", outcome)
	return nil
}

// MonitoringAttention is a monitoring hit on a completed check: its outcome becomes attention, its
// report is made anew, and check.monitoring.attention is sent with the check's id, status, outcome
// and times. ComplyCube monitors checks created with monitoring on; the fake does not hold a check
// to that.
func (s *Server) MonitoringAttention(checkID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.checks[checkID]
	if !ok {
		return fmt.Errorf("fake complycube: no check %q", checkID)
	}
	if c.Status != complycube.StatusComplete {
		return fmt.Errorf("fake complycube: check %s is %s: only a complete check is monitored", checkID, c.Status)
	}
	c = s.setStateLocked(c, complycube.StatusComplete, complycube.OutcomeAttention)
	s.sendLocked(newWebhook(complycube.EventCheckMonitoringAttention, complycube.ResourceCheck, eventPayload(c)))
	s.log.Info("fake complycube: monitoring hit", "check_id", c.ID)
	return nil
}

// ReportPDF returns the exact bytes GET /reports serves for the check, once it is complete.
func (s *Server) ReportPDF(checkID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pdf, ok := s.reports[checkID]
	return slices.Clone(pdf), ok
}

// Deliveries returns every webhook delivery attempt so far, in the order they finished; with
// several webhooks registered, those to every webhook by when they started.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	endpoints := slices.Clone(s.endpoints)
	s.mu.Unlock()
	if len(endpoints) == 1 {
		return endpoints[0].sender.Deliveries()
	}
	var all []Delivery
	for _, ep := range endpoints {
		all = append(all, ep.sender.Deliveries()...)
	}
	slices.SortStableFunc(all, func(a, b Delivery) int { return a.At.Compare(b.At) })
	return all
}

// ClientsCreated returns how many clients POST /clients created.
func (s *Server) ClientsCreated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// DeletedClients returns the ids of the clients DELETE /clients/{id} deleted, in order.
func (s *Server) DeletedClients() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deletedClients)
}

// ChecksCreated returns how many checks POST /checks created.
func (s *Server) ChecksCreated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.checks)
}

func (s *Server) pendingCheckLocked(checkID string) (complycube.Check, error) {
	c, ok := s.checks[checkID]
	if !ok {
		return complycube.Check{}, fmt.Errorf("fake complycube: no check %q", checkID)
	}
	if c.Status != complycube.StatusPending {
		return complycube.Check{}, fmt.Errorf("fake complycube: check %s is already %s", checkID, c.Status)
	}
	return c, nil
}

// scheduleCompletionLocked arms the timer that completes a new check by itself.
func (s *Server) scheduleCompletionLocked(checkID string) {
	if s.completionDelay < 0 {
		return
	}
	s.timers.ArmLocked(checkID, s.completionDelay, func() {
		if c, ok := s.checks[checkID]; ok && c.Status == complycube.StatusPending {
			s.completeLocked(c, s.outcome)
		}
	})
}

func (s *Server) completeLocked(c complycube.Check, outcome string) {
	s.timers.StopLocked(c.ID)
	c = s.setStateLocked(c, complycube.StatusComplete, outcome)
	payload := eventPayload(c)
	first := s.sendLocked(newWebhook(complycube.EventCheckCompleted, complycube.ResourceCheck, payload))
	second := s.sendLocked(newWebhook(complycube.EventCheckCompleted+"."+outcome, complycube.ResourceCheck, payload))
	s.releaseHeldLocked(c.ID, first, second)
	s.log.Info("fake complycube: check completed", "check_id", c.ID, "outcome", outcome)
}

func (s *Server) failLocked(c complycube.Check) {
	s.timers.StopLocked(c.ID)
	c = s.setStateLocked(c, complycube.StatusFailed, "")
	failed := s.sendLocked(newWebhook(complycube.EventCheckFailed, complycube.ResourceCheck, eventPayload(c)))
	s.releaseHeldLocked(c.ID, failed)
	s.log.Info("fake complycube: check failed", "check_id", c.ID)
}

// setStateLocked records the check's new status and outcome, and its report: one for the outcome
// of a complete check, none for another status.
func (s *Server) setStateLocked(c complycube.Check, status, outcome string) complycube.Check {
	c.Status, c.Result, c.UpdatedAt = status, nil, now()
	delete(s.reports, c.ID)
	if status == complycube.StatusComplete {
		c.Result = &complycube.CheckResult{Outcome: outcome}
		s.reports[c.ID] = reportPDF(c.ID, outcome)
	}
	s.checks[c.ID] = c
	return c
}

// releaseHeldLocked sends the check.pending that ReorderWebhooks held back, after the events in
// after were first tried.
func (s *Server) releaseHeldLocked(checkID string, after ...<-chan struct{}) {
	wh, ok := s.held[checkID]
	if !ok {
		return
	}
	delete(s.held, checkID)
	s.sendLocked(wh, after...)
}

// checkEventPayload is what ComplyCube sends for check events other than creation: the outcome
// only when the status is complete.
type checkEventPayload struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Outcome   string    `json:"outcome,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func eventPayload(c complycube.Check) checkEventPayload {
	p := checkEventPayload{ID: c.ID, Status: c.Status, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if c.Result != nil {
		p.Outcome = c.Result.Outcome
	}
	return p
}

// newID returns an id shaped like ComplyCube's: 24 hex digits.
func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// now is the current time at ComplyCube's millisecond precision.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Millisecond)
}
