// Package fake is a local ComplyCube: a real HTTP server with the API calls screening uses, that
// completes checks by itself and sends signed webhooks with ComplyCube's retry behaviour. Test
// controls make it misbehave the ways the real one can (duplicate, reordered and lost webhooks,
// failing API calls).
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
	APIKey        string
	WebhookURL    string // where signed webhooks are POSTed; "" → no webhooks sent
	WebhookSecret string // HMAC key for the ComplyCube-Signature header
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
	secret          string
	completionDelay time.Duration
	log             *slog.Logger
	mux             *http.ServeMux
	webhooks        *fakekit.Sender
	timers          *fakekit.Timers // completion timers, by check id

	mu         sync.Mutex
	webhookURL string
	outcome    string
	reorder    bool
	failLeft   int
	failStatus int
	clients    map[string]clientObject
	checks     map[string]complycube.Check
	checkOrder []string                   // check ids, oldest first
	held       map[string]fakekit.Webhook // check.pending held back by ReorderWebhooks, by check id
	reports    map[string][]byte
}

// New returns a fake ComplyCube. Serve it with httptest.NewServer (or any http.Server) and point
// the client at <URL>/v1. Close it to stop its timers and webhook senders.
func New(opts Options) *Server {
	s := &Server{
		apiKey:          opts.APIKey,
		secret:          opts.WebhookSecret,
		completionDelay: opts.CompletionDelay,
		log:             opts.Logger,
		webhookURL:      opts.WebhookURL,
		outcome:         opts.Outcome,
		clients:         make(map[string]clientObject),
		checks:          make(map[string]complycube.Check),
		held:            make(map[string]fakekit.Webhook),
		reports:         make(map[string][]byte),
	}
	if s.completionDelay == 0 {
		s.completionDelay = defaultCompletionDelay
	}
	retryDelays := slices.Clone(opts.RetryDelays)
	if retryDelays == nil {
		retryDelays = defaultRetryDelays
	}
	httpClient := opts.HTTPClient
	if httpClient == nil {
		// ComplyCube gives a receiver 15 s to acknowledge.
		httpClient = &http.Client{Timeout: 15 * time.Second}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.outcome == "" {
		s.outcome = complycube.OutcomeClear
	}
	s.webhooks = fakekit.NewSender(fakekit.SenderOptions{
		Name:        "fake complycube",
		HTTPClient:  httpClient,
		Logger:      s.log,
		RetryDelays: retryDelays,
		Header: func(h http.Header, body []byte) {
			h.Set(complycube.SignatureHeader, complycube.Sign(s.secret, body))
		},
		// ComplyCube disables a webhook whose delivery failed every retry.
		DisableOnGiveUp: true,
	})
	s.timers = fakekit.NewTimers(&s.mu)
	s.mux = s.routes()
	return s
}

// Close stops the completion timers, cancels webhook deliveries and their pending retries, and
// waits for their goroutines.
func (s *Server) Close() {
	s.timers.Close()
	s.webhooks.Close()
}

// SetWebhookURL points webhooks at url ("" stops them). Like registering a webhook anew, it
// enables a webhook that was disabled after failing every retry.
func (s *Server) SetWebhookURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = url
	s.webhooks.Enable()
}

// WebhookDisabled reports whether the webhook was disabled because a delivery failed every retry.
func (s *Server) WebhookDisabled() bool {
	return s.webhooks.Disabled()
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
	s.webhooks.SetDuplicate(on)
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
	s.webhooks.Drop(types...)
}

// FailAPI makes the next n API calls answer status with an error body, before doing anything.
func (s *Server) FailAPI(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.failStatus = n, status
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

// ReportPDF returns the exact bytes GET /reports serves for the check, once it is complete.
func (s *Server) ReportPDF(checkID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pdf, ok := s.reports[checkID]
	return slices.Clone(pdf), ok
}

// Deliveries returns every webhook delivery attempt so far, in the order they finished.
func (s *Server) Deliveries() []Delivery {
	return s.webhooks.Deliveries()
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
	c.Status = complycube.StatusComplete
	c.Result = &complycube.CheckResult{Outcome: outcome}
	c.UpdatedAt = now()
	s.checks[c.ID] = c
	s.reports[c.ID] = reportPDF(c.ID, outcome)

	payload := checkEventPayload{ID: c.ID, Status: c.Status, Outcome: outcome, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	first := s.sendLocked(newWebhook(complycube.EventCheckCompleted, complycube.ResourceCheck, payload))
	second := s.sendLocked(newWebhook(complycube.EventCheckCompleted+"."+outcome, complycube.ResourceCheck, payload))
	s.releaseHeldLocked(c.ID, first, second)
	s.log.Info("fake complycube: check completed", "check_id", c.ID, "outcome", outcome)
}

func (s *Server) failLocked(c complycube.Check) {
	s.timers.StopLocked(c.ID)
	c.Status = complycube.StatusFailed
	c.UpdatedAt = now()
	s.checks[c.ID] = c

	payload := checkEventPayload{ID: c.ID, Status: c.Status, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	failed := s.sendLocked(newWebhook(complycube.EventCheckFailed, complycube.ResourceCheck, payload))
	s.releaseHeldLocked(c.ID, failed)
	s.log.Info("fake complycube: check failed", "check_id", c.ID)
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

// checkEventPayload is what ComplyCube sends for check events other than creation.
type checkEventPayload struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Outcome   string    `json:"outcome,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
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
