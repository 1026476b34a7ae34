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

	"github.com/screenflow/screenflow/providers/authenticate"
)

// webhook is one event, encoded once so that every attempt and every duplicate sends the same bytes.
type webhook struct {
	eventID string
	typ     string
	body    []byte
}

// newWebhook builds an event in Authenticate's envelope, {id, event, eventDate, order}.
func newWebhook(typ string, order authenticate.Order) webhook {
	ev := authenticate.Event{ID: newUUID(), Event: typ, EventDate: now(), Order: order}
	return webhook{eventID: ev.ID, typ: ev.Event, body: mustJSON(ev)}
}

// mustJSON encodes the fake's own types, which always encode; a failure is a bug in the fake.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fake authenticate: encode %T: %v", v, err))
	}
	return b
}

// notSent stands for a webhook that is not sent: it is closed, so nothing waits for it.
var notSent = func() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// sendLocked starts delivering wh unless webhooks are off or drop its type. Its first attempt
// waits for the first attempt of the webhook sent before it, so that webhooks arrive in the
// order they were sent (retries do not hold the queue up). Caller holds s.mu.
func (s *Server) sendLocked(wh webhook) {
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
		s.log.Info("fake authenticate: webhook not sent", "event_id", wh.eventID, "type", wh.typ, "reason", reason)
		return
	}
	s.lastTried = s.startLocked(s.webhookURL, wh, s.lastTried)
	if s.duplicate {
		s.lastTried = s.startLocked(s.webhookURL, wh, s.lastTried)
	}
}

// startLocked delivers wh in a goroutine once after is closed. The returned channel closes once
// the first attempt is over.
func (s *Server) startLocked(target string, wh webhook, after <-chan struct{}) <-chan struct{} {
	firstTried := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.deliver(target, wh, after, firstTried)
	}()
	return firstTried
}

// deliver tries wh until an attempt is answered 2xx or the retries run out. Authenticate
// documents no retry policy; RetryDelays stands in for it.
func (s *Server) deliver(target string, wh webhook, after <-chan struct{}, firstTried chan<- struct{}) {
	markTried := sync.OnceFunc(func() { close(firstTried) })
	defer markTried()
	select {
	case <-after:
	case <-s.ctx.Done():
		return
	}
	for attempt := 1; ; attempt++ {
		d := s.attempt(target, wh, attempt)
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

// attempt POSTs the event once. Authenticate signs nothing: the receiver knows it by the token in
// the URL it registered.
func (s *Server) attempt(target string, wh webhook, n int) Delivery {
	d := Delivery{EventID: wh.eventID, Type: wh.typ, Attempt: n, At: time.Now()}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, target, bytes.NewReader(wh.body))
	if err != nil {
		d.Err = describe(err)
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.httpClient.Do(req)
	if err != nil {
		d.Err = describe(err)
		return d
	}
	// The answer's body is read only so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	d.StatusCode = resp.StatusCode
	return d
}

// describe leaves out the URL a *url.Error quotes: the webhook URL carries the receiver's token.
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
		s.log.Error("fake authenticate: webhook given up after the last retry", append(attrs, "error", d.Err)...)
	case d.Err != "" || d.StatusCode < 200 || d.StatusCode > 299:
		s.log.Warn("fake authenticate: webhook attempt failed", append(attrs, "error", d.Err)...)
	default:
		s.log.Info("fake authenticate: webhook delivered", attrs...)
	}
}
