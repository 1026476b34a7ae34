package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/screenflow/screenflow/metrics"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

// storeTimeout keeps a webhook's answer well inside ComplyCube's 15 s even when Postgres hangs.
const storeTimeout = 5 * time.Second

// retryAfterSeconds is what a provider is asked to wait when the event could not be stored.
const retryAfterSeconds = "30"

// headersNotStored are credentials a proxy or provider may send; the inbox keeps the rest.
var headersNotStored = map[string]bool{"Authorization": true, "Cookie": true, "Proxy-Authorization": true}

// WebhookObserver is told of every webhook answered: its provider, its event type ("" when none
// was read), its answer (metrics.Answer*) and how long the answer took (metrics.Webhooks is one).
type WebhookObserver interface {
	ObserveWebhook(provider, eventType, answer string, took time.Duration)
}

// webhook is the one handler every provider's endpoint is made of: read the raw body under the
// limit, check that it comes from the provider, parse the envelope, store the event once and
// answer 200; the relay then signals the workflow. A request that is not authentic gets 401 with
// the same body whatever the reason, so a caller learns nothing about why.
func (s *Server) webhook(p registry.Provider) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		eventType, answer := s.receiveWebhook(c, p)
		if s.cfg.Webhooks != nil {
			s.cfg.Webhooks.ObserveWebhook(p.Name(), eventType, answer, time.Since(start))
		}
	}
}

// receiveWebhook answers one webhook and returns its event type and the answer it got.
func (s *Server) receiveWebhook(c *gin.Context, p registry.Provider) (eventType, answer string) {
	body, refused := s.readWebhookBody(c)
	if refused != "" {
		return "", refused
	}
	if !p.VerifyWebhook(c.Request.Header, c.Param("token"), body) {
		abortWithError(c, http.StatusUnauthorized, "unauthorized", "the webhook's signature or token is missing or wrong")
		return "", metrics.AnswerRejectedSignature
	}
	e := store.NewInboxEvent{Provider: p.Name(), Headers: storedHeaders(c.Request.Header), Body: body}
	ev, err := p.ParseWebhook(body)
	if err != nil {
		// Fail open: the provider signed it, so it is kept for operators and acknowledged.
		// Refusing it would only make the provider retry the same bytes, and ComplyCube
		// disables a webhook after ten failures. A retry of the same body is a duplicate.
		sum := sha256.Sum256(body)
		e.EventID, e.ParseError = "unparsed:"+hex.EncodeToString(sum[:]), err.Error()
		s.log.Warn("authentic webhook not understood; stored as unparsed", "provider", p.Name(), "error", err)
	} else {
		e.EventID, e.EventType, e.Subject, e.Routed = ev.ID, ev.Type, ev.Subject, ev.Routed
	}
	return e.EventType, s.storeWebhook(c, registry.Scrub(p, e, c.Param("token")))
}

// readWebhookBody reads the whole body or answers 413 when it is over the limit: a truncated
// event would be stored wrong or fail its signature for a reason nobody could see. refused is the
// answer given when the body was not read, "" when it was.
func (s *Server) readWebhookBody(c *gin.Context) (body []byte, refused string) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxWebhookBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		abortWithError(c, http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("the body is larger than %d bytes", s.cfg.MaxWebhookBytes))
		return nil, metrics.AnswerTooLarge
	case err != nil:
		abortWithError(c, http.StatusBadRequest, "unreadable_body", "the body could not be read")
		return nil, metrics.AnswerBadRequest
	}
	return body, ""
}

// storeWebhook commits the event to the inbox and only then acknowledges it. A duplicate is
// acknowledged too: the provider is retrying something already stored. When Postgres cannot take
// it the provider is asked to retry (fail closed: never acknowledge what is not stored). It returns
// the answer given.
func (s *Server) storeWebhook(c *gin.Context, e store.NewInboxEvent) string {
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	stored, err := s.inbox.InsertWebhookEvent(ctx, e)
	if err != nil {
		s.log.Error("webhook not stored; asking the provider to retry", "provider", e.Provider,
			"event_id", e.EventID, "error", err)
		c.Header("Retry-After", retryAfterSeconds)
		abortWithError(c, http.StatusServiceUnavailable, "unavailable", "the event could not be stored; retry later")
		return metrics.AnswerUnavailable
	}
	status := metrics.AnswerDuplicate
	switch {
	case stored.Inserted && e.ParseError != "":
		status = metrics.AnswerUnparsed
	case stored.Inserted:
		status = metrics.AnswerStored
		// One awaiting its route is delivered once the route is written (store.AddRoute).
		if !stored.AwaitingRoute {
			s.relay.Notify(stored.ID)
		}
	}
	// inbox_event is the row `screenflow inbox show` takes; a duplicate stored none.
	received := []any{"provider", e.Provider, "event_id", e.EventID, "event_type", e.EventType, "subject", e.Subject,
		"status", status}
	if stored.Inserted {
		received = append(received, "inbox_event", stored.ID, "awaiting_route", stored.AwaitingRoute)
	}
	s.log.Info("webhook received", received...)
	c.JSON(http.StatusOK, gin.H{"status": status})
	return status
}

func storedHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for name, values := range h {
		if headersNotStored[name] {
			continue
		}
		out[name] = strings.Join(values, ", ")
	}
	return out
}
