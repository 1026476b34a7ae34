package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/screenflow/screenflow/providers/complycube"
)

// webhook is one event, encoded once so that every attempt and every duplicate sends the same bytes.
type webhook struct {
	eventID string
	typ     string
	body    []byte
}

func newWebhook(typ, resourceType string, payload any) webhook {
	ev := complycube.Event{
		ID:           newID(),
		Type:         typ,
		ResourceType: resourceType,
		Payload:      mustJSON(payload),
		CreatedAt:    now(),
	}
	return webhook{eventID: ev.ID, typ: ev.Type, body: mustJSON(ev)}
}

// mustJSON encodes the fake's own types, which always encode; a failure is a bug in the fake.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fake complycube: encode %T: %v", v, err))
	}
	return b
}

// notSent stands for a webhook that is not sent: it is closed, so nothing waits for it.
var notSent = func() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// sendLocked starts delivering wh unless webhooks are off, disabled or drop its type. The first
// attempt waits for every channel in after. The returned channel closes once the first attempt
// (of the last copy, with DuplicateWebhooks) is over, so that later webhooks can be ordered
// behind this one. Caller holds s.mu.
func (s *Server) sendLocked(wh webhook, after ...<-chan struct{}) <-chan struct{} {
	var reason string
	switch {
	case s.closed:
		reason = "server closed"
	case s.webhookURL == "":
		reason = "no webhook URL"
	case s.webhookDisabled:
		reason = "webhook disabled"
	case s.drop[wh.typ]:
		reason = "dropped by DropWebhooks"
	}
	if reason != "" {
		s.log.Info("fake complycube: webhook not sent", "event_id", wh.eventID, "type", wh.typ, "reason", reason)
		return notSent
	}
	first := s.startLocked(s.webhookURL, wh, after)
	if !s.duplicate {
		return first
	}
	return s.startLocked(s.webhookURL, wh, []<-chan struct{}{first})
}

func (s *Server) startLocked(url string, wh webhook, after []<-chan struct{}) <-chan struct{} {
	firstTried := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.deliver(url, wh, after, firstTried)
	}()
	return firstTried
}

// deliver tries wh until an attempt is answered 2xx or the retries run out, which disables the
// webhook as ComplyCube does.
func (s *Server) deliver(url string, wh webhook, after []<-chan struct{}, firstTried chan<- struct{}) {
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
		d := s.attempt(url, wh, attempt)
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
		if s.WebhookDisabled() {
			s.log.Warn("fake complycube: retry abandoned, webhook disabled", "event_id", wh.eventID, "type", wh.typ)
			return
		}
	}
}

func (s *Server) attempt(url string, wh webhook, n int) Delivery {
	d := Delivery{EventID: wh.eventID, Type: wh.typ, Attempt: n, At: time.Now()}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, url, bytes.NewReader(wh.body))
	if err != nil {
		d.Err = err.Error()
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(complycube.SignatureHeader, complycube.Sign(s.secret, wh.body))
	resp, err := s.httpClient.Do(req)
	if err != nil {
		d.Err = err.Error()
		return d
	}
	// ComplyCube ignores the answer's body; it is read only so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	d.StatusCode = resp.StatusCode
	return d
}

func (s *Server) record(d Delivery) {
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	if d.GaveUp {
		s.webhookDisabled = true
	}
	s.mu.Unlock()

	attrs := []any{"event_id", d.EventID, "type", d.Type, "attempt", d.Attempt, "status", d.StatusCode}
	switch {
	case d.GaveUp:
		s.log.Error("fake complycube: webhook given up after the last retry; webhook disabled", append(attrs, "error", d.Err)...)
	case d.Err != "" || d.StatusCode < 200 || d.StatusCode > 299:
		s.log.Warn("fake complycube: webhook attempt failed", append(attrs, "error", d.Err)...)
	default:
		s.log.Info("fake complycube: webhook delivered", attrs...)
	}
}
