package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/screenflow/screenflow/providers/checkr"
)

// webhook is one event before it is sent. Its object is encoded when the event happens, so that
// it shows the object as it was then.
type webhook struct {
	eventID   string
	typ       string
	createdAt time.Time
	accountID string
	object    json.RawMessage
}

func newWebhook(typ, accountID string, object any) webhook {
	return webhook{eventID: newID(), typ: typ, createdAt: now(), accountID: accountID, object: mustJSON(object)}
}

// envelope is Checkr's event envelope.
type envelope struct {
	ID         string    `json:"id"`
	Object     string    `json:"object"`
	Type       string    `json:"type"`
	CreatedAt  time.Time `json:"created_at"`
	WebhookURL string    `json:"webhook_url"`
	Data       struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
	AccountID string `json:"account_id"`
}

// mustJSON encodes the fake's own types, which always encode; a failure is a bug in the fake.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fake checkr: encode %T: %v", v, err))
	}
	return b
}

// notSent stands for a webhook that is not sent: it is closed, so nothing waits for it.
var notSent = func() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// sendLocked starts delivering wh unless webhooks are off or drop its type. The body is encoded
// once, so that every attempt and every duplicate sends the same bytes. Its first attempt waits for
// the first attempt of the webhook sent before it, so that webhooks arrive in the order they were
// sent (retries do not hold the queue up). The returned channel closes once the first attempt (of
// the second copy, with DuplicateWebhooks) is over. Caller holds s.mu.
func (s *Server) sendLocked(wh webhook) <-chan struct{} {
	var reason string
	switch {
	case s.closed:
		reason = "server closed"
	case s.webhookURL == "":
		reason = "no webhook URL"
	case s.drop[wh.typ]:
		reason = "dropped by DropWebhooks"
	}
	if reason != "" {
		s.log.Info("fake checkr: webhook not sent", "event_id", wh.eventID, "type", wh.typ, "reason", reason)
		return notSent
	}
	env := envelope{
		ID:         wh.eventID,
		Object:     "event",
		Type:       wh.typ,
		CreatedAt:  wh.createdAt,
		WebhookURL: s.webhookURL,
		AccountID:  wh.accountID,
	}
	env.Data.Object = wh.object
	body := mustJSON(env)
	s.lastTried = s.startLocked(s.webhookURL, wh, body, s.lastTried)
	if s.duplicate {
		s.lastTried = s.startLocked(s.webhookURL, wh, body, s.lastTried)
	}
	return s.lastTried
}

// startLocked delivers body in a goroutine once after is closed. The returned channel closes once
// the first attempt is over.
func (s *Server) startLocked(target string, wh webhook, body []byte, after <-chan struct{}) <-chan struct{} {
	firstTried := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.deliver(target, wh, body, after, firstTried)
	}()
	return firstTried
}

// deliver tries the event until an attempt is answered 2xx or the retries run out. Checkr keeps a
// webhook URL that fails (it removes one only after 60 days of failures), so later events are
// still sent.
func (s *Server) deliver(target string, wh webhook, body []byte, after <-chan struct{}, firstTried chan<- struct{}) {
	markTried := sync.OnceFunc(func() { close(firstTried) })
	defer markTried()
	select {
	case <-after:
	case <-s.ctx.Done():
		return
	}
	for attempt := 1; ; attempt++ {
		d := s.attempt(target, wh, body, attempt)
		closing := s.ctx.Err() != nil
		ok := d.Err == "" && d.StatusCode >= 200 && d.StatusCode <= 299
		// An attempt cut short by Close says nothing about the receiver.
		d.GaveUp = !ok && !closing && attempt > len(s.retryDelays)
		s.record(d)
		markTried()
		if ok || d.GaveUp || closing {
			return
		}
		select {
		case <-time.After(s.retryDelays[attempt-1]):
		case <-s.ctx.Done():
			return
		}
	}
}

// attempt POSTs the event once, signed with X-Checkr-Signature. Basic auth embedded in the
// webhook URL goes with the request (net/http sends a URL's user info).
func (s *Server) attempt(target string, wh webhook, body []byte, n int) Delivery {
	d := Delivery{EventID: wh.eventID, Type: wh.typ, Attempt: n, At: time.Now()}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		d.Err = describe(err)
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(checkr.SignatureHeader, checkr.Sign(s.signingKey, body))
	resp, err := s.httpClient.Do(req)
	if err != nil {
		d.Err = describe(err)
		return d
	}
	// Checkr ignores the answer's body; it is read only so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	d.StatusCode = resp.StatusCode
	return d
}

// describe leaves out the URL a *url.Error quotes: the webhook URL may embed Basic auth.
func describe(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

func (s *Server) record(d Delivery) {
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()

	attrs := []any{"event_id", d.EventID, "type", d.Type, "attempt", d.Attempt, "status", d.StatusCode}
	switch {
	case d.GaveUp:
		s.log.Error("fake checkr: webhook given up after the last retry", append(attrs, "error", d.Err)...)
	case d.Err != "" || d.StatusCode < 200 || d.StatusCode > 299:
		s.log.Warn("fake checkr: webhook attempt failed", append(attrs, "error", d.Err)...)
	default:
		s.log.Info("fake checkr: webhook delivered", attrs...)
	}
}
