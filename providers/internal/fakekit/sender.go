package fakekit

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Delivery is one attempt to deliver a webhook.
type Delivery struct {
	EventID    string
	Type       string
	Attempt    int // 1 for the first try of a delivery
	StatusCode int // 0 when the request failed
	Err        string
	At         time.Time // when the attempt started
	// GaveUp: the last retry failed, so the event is lost (and, with DisableOnGiveUp, the webhook
	// disabled).
	GaveUp bool
}

// Webhook is one event, encoded once so that every attempt and every duplicate sends the same bytes.
type Webhook struct {
	EventID string
	Type    string
	Body    []byte
}

// SenderOptions configures a Sender.
type SenderOptions struct {
	Name       string // starts every log line, e.g. "fake checkr"
	HTTPClient *http.Client
	Logger     *slog.Logger
	// RetryDelays is the wait before each retry after a non-2xx answer or a transport error; after
	// the last retry fails the event is given up. Empty → no retries.
	RetryDelays []time.Duration
	// Header adds the provider's own headers (a signature of body, say) to every request, which
	// already carries Content-Type: application/json. nil → none.
	Header func(h http.Header, body []byte)
	// RedactURL leaves out of Delivery.Err the URL a transport error quotes, for providers whose
	// webhook URLs carry credentials.
	RedactURL bool
	// InOrder makes every webhook's first attempt wait for the first attempt of the webhook sent
	// before it, so that webhooks arrive in the order they were sent (retries do not hold the
	// queue up).
	InOrder bool
	// DisableOnGiveUp makes a delivery whose last retry fails disable the webhook: nothing is sent
	// and pending retries are abandoned until Enable.
	DisableOnGiveUp bool
}

// notSent stands for a webhook that is not sent: it is closed, so nothing waits for it.
var notSent = func() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Sender delivers a fake's webhooks, each in its own goroutine with the provider's retry schedule,
// keeps the log of every attempt, and misbehaves on request (duplicate and dropped webhooks). Its
// methods are safe for concurrent use and never block on a delivery, so a fake may call them while
// holding its own lock.
type Sender struct {
	opts SenderOptions

	// ctx bounds every delivery; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	// wg counts delivery goroutines, which Close waits for.
	wg sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	disabled  bool
	duplicate bool
	drop      map[string]bool
	// lastTried closes once the first attempt of the webhook sent last is over (InOrder only).
	lastTried  <-chan struct{}
	deliveries []Delivery
}

// NewSender returns a Sender. Close it to cancel its deliveries and wait for their goroutines.
func NewSender(opts SenderOptions) *Sender {
	ctx, cancel := context.WithCancel(context.Background())
	return &Sender{opts: opts, ctx: ctx, cancel: cancel, drop: make(map[string]bool), lastTried: notSent}
}

// Close stops sending, cancels deliveries and their pending retries, and waits for their
// goroutines.
func (s *Sender) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Closing is closed once Close has begun, for callers waiting on a delivery to stop waiting.
func (s *Sender) Closing() <-chan struct{} {
	return s.ctx.Done()
}

// SetDuplicate makes every webhook sent from now on be delivered twice, with the same event id.
func (s *Sender) SetDuplicate(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.duplicate = on
}

// Drop makes events of these types never be sent, as if the webhook were lost. Without arguments
// it sends every type again.
func (s *Sender) Drop(types ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = make(map[string]bool, len(types))
	for _, t := range types {
		s.drop[t] = true
	}
}

// Disabled reports whether a delivery that failed every retry disabled the webhook
// (DisableOnGiveUp).
func (s *Sender) Disabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disabled
}

// Enable enables a webhook that DisableOnGiveUp disabled.
func (s *Sender) Enable() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled = false
}

// Deliveries returns every delivery attempt so far, in the order they finished.
func (s *Sender) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// Send starts delivering wh to target unless the sender is closed, target is "", the webhook is
// disabled or Drop named wh's type. The first attempt waits for every channel in after (and, with
// InOrder, for the webhook sent before). The returned channel closes once the first attempt (of
// the second copy, with SetDuplicate) is over, so that later webhooks can be ordered behind this
// one; for a webhook not sent it is closed already.
func (s *Sender) Send(target string, wh Webhook, after ...<-chan struct{}) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	var reason string
	switch {
	case s.closed:
		reason = "server closed"
	case target == "":
		reason = "no webhook URL"
	case s.disabled:
		reason = "webhook disabled"
	case s.drop[wh.Type]:
		reason = "dropped by DropWebhooks"
	}
	if reason != "" {
		s.opts.Logger.Info(s.opts.Name+": webhook not sent", "event_id", wh.EventID, "type", wh.Type, "reason", reason)
		return notSent
	}
	if s.opts.InOrder {
		after = append(slices.Clip(after), s.lastTried)
	}
	tried := s.startLocked(target, wh, after)
	if s.duplicate {
		tried = s.startLocked(target, wh, []<-chan struct{}{tried})
	}
	if s.opts.InOrder {
		s.lastTried = tried
	}
	return tried
}

// startLocked delivers wh in a goroutine. The returned channel closes once the first attempt is
// over. Caller holds s.mu, so that no goroutine starts once Close waits.
func (s *Sender) startLocked(target string, wh Webhook, after []<-chan struct{}) <-chan struct{} {
	firstTried := make(chan struct{})
	s.wg.Go(func() {
		s.deliver(target, wh, after, firstTried)
	})
	return firstTried
}

// deliver tries wh, once every channel in after is closed, until an attempt is answered 2xx or
// the retries run out.
func (s *Sender) deliver(target string, wh Webhook, after []<-chan struct{}, firstTried chan<- struct{}) {
	markTried := sync.OnceFunc(func() { close(firstTried) })
	defer markTried()
	for _, ch := range after {
		select {
		case <-ch:
		case <-s.ctx.Done():
			return
		}
	}
	for attempt := 1; ; attempt++ {
		d := s.attempt(target, wh, attempt)
		closing := s.ctx.Err() != nil
		ok := d.Err == "" && d.StatusCode >= 200 && d.StatusCode <= 299
		// An attempt cut short by Close says nothing about the receiver.
		d.GaveUp = !ok && !closing && attempt > len(s.opts.RetryDelays)
		s.record(d)
		markTried()
		if ok || d.GaveUp || closing {
			return
		}
		select {
		case <-time.After(s.opts.RetryDelays[attempt-1]):
		case <-s.ctx.Done():
			return
		}
		if s.opts.DisableOnGiveUp && s.Disabled() {
			s.opts.Logger.Warn(s.opts.Name+": retry abandoned, webhook disabled", "event_id", wh.EventID, "type", wh.Type)
			return
		}
	}
}

// attempt POSTs wh once.
func (s *Sender) attempt(target string, wh Webhook, n int) Delivery {
	d := Delivery{EventID: wh.EventID, Type: wh.Type, Attempt: n, At: time.Now()}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, target, bytes.NewReader(wh.Body))
	if err != nil {
		d.Err = s.describe(err)
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	if s.opts.Header != nil {
		s.opts.Header(req.Header, wh.Body)
	}
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		d.Err = s.describe(err)
		return d
	}
	// The providers ignore the answer's body; it is read only so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	d.StatusCode = resp.StatusCode
	return d
}

// describe is err's text, without the URL a *url.Error quotes when RedactURL says so.
func (s *Sender) describe(err error) string {
	if ue, ok := err.(*url.Error); ok && s.opts.RedactURL {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

func (s *Sender) record(d Delivery) {
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	if d.GaveUp && s.opts.DisableOnGiveUp {
		s.disabled = true
	}
	s.mu.Unlock()

	attrs := []any{"event_id", d.EventID, "type", d.Type, "attempt", d.Attempt, "status", d.StatusCode}
	switch {
	case d.GaveUp && s.opts.DisableOnGiveUp:
		s.opts.Logger.Error(s.opts.Name+": webhook given up after the last retry; webhook disabled", append(attrs, "error", d.Err)...)
	case d.GaveUp:
		s.opts.Logger.Error(s.opts.Name+": webhook given up after the last retry", append(attrs, "error", d.Err)...)
	case d.Err != "" || d.StatusCode < 200 || d.StatusCode > 299:
		s.opts.Logger.Warn(s.opts.Name+": webhook attempt failed", append(attrs, "error", d.Err)...)
	default:
		s.opts.Logger.Info(s.opts.Name+": webhook delivered", attrs...)
	}
}
