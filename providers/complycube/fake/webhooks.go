package fake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/internal/fakekit"
)

func newWebhook(typ, resourceType string, payload any) fakekit.Webhook {
	ev := complycube.Event{
		ID:           newID(),
		Type:         typ,
		ResourceType: resourceType,
		Payload:      fakekit.MustJSON(payload),
		CreatedAt:    now(),
	}
	return fakekit.Webhook{EventID: ev.ID, Type: ev.Type, Body: fakekit.MustJSON(ev)}
}

// sendLocked starts delivering wh to every enabled webhook that subscribes to its type, each
// signed with that webhook's secret; see fakekit.Sender.Send. The returned channel closes once
// every first attempt is over. Caller holds s.mu.
func (s *Server) sendLocked(wh fakekit.Webhook, after ...<-chan struct{}) <-chan struct{} {
	var tried []<-chan struct{}
	for _, ep := range s.endpoints {
		if ep.hook.URL != "" && ep.hook.Enabled && ep.subscribes(wh.Type) {
			tried = append(tried, ep.sender.Send(ep.hook.URL, wh, after...))
		}
	}
	switch len(tried) {
	case 0:
		return sentNowhere
	case 1:
		return tried[0]
	}
	all := make(chan struct{})
	go func() {
		// Each closes once its first attempt is over or its sender is closed.
		for _, ch := range tried {
			<-ch
		}
		close(all)
	}()
	return all
}

// sentNowhere stands for a webhook no endpoint takes: it is closed, so nothing waits for it.
var sentNowhere = func() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// endpoint is one registered webhook: where events go and the secret that signs them, with its
// own deliveries, retries and disabled state, as ComplyCube keeps them per webhook.
type endpoint struct {
	hook   complycube.Webhook // as GET /webhooks shows it, without the secret
	sender *fakekit.Sender
}

func (ep *endpoint) subscribes(eventType string) bool {
	return slices.Contains(ep.hook.Events, complycube.AllEvents) || slices.Contains(ep.hook.Events, eventType)
}

// newEndpointLocked makes the sender of a new webhook, misbehaving as the others do. Caller holds
// s.mu (or is New).
func (s *Server) newEndpointLocked(hook complycube.Webhook, secret string) *endpoint {
	sender := fakekit.NewSender(fakekit.SenderOptions{
		Name:        "fake complycube",
		HTTPClient:  s.httpClient,
		Logger:      s.log,
		RetryDelays: s.retryDelays,
		Header: func(h http.Header, body []byte) {
			h.Set(complycube.SignatureHeader, complycube.Sign(secret, body))
		},
		// ComplyCube disables a webhook whose delivery failed every retry.
		DisableOnGiveUp: true,
	})
	sender.SetDuplicate(s.duplicate)
	sender.Drop(s.dropped...)
	return &endpoint{hook: hook, sender: sender}
}

// maxWebhooks is how many webhooks ComplyCube keeps per account.
const maxWebhooks = 20

// eventTypes are the event types a webhook can subscribe to, besides "*".
var eventTypes = []string{
	"workflow.session.started", "workflow.session.cancelled", "workflow.session.processing",
	"workflow.session.completed", "workflow.session.updated",
	"check.pending", "check.completed", "check.completed.clear", "check.completed.attention",
	"check.completed.rejected", "check.completed.match_confirmed", "check.monitoring.attention",
	"check.failed", "check.updated",
	"client.created", "client.updated", "client.deleted",
	"document.created", "document.updated", "document.updated.image_uploaded",
	"document.updated.image_deleted", "document.deleted",
	"address.created", "address.updated", "address.deleted",
}

// createWebhook registers a webhook and answers it with its secret, the only time the secret is
// shown. From then on every event it subscribes to is sent to it, signed with that secret.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var req complycube.CreateWebhookRequest
	if !decodeBody(w, r, &req) {
		return
	}
	// ComplyCube takes HTTPS only; the fake takes http too, for a screenflow on localhost.
	u, err := url.Parse(req.URL)
	switch {
	case req.URL == "":
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'url' must be provided")
		return
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'url' must be an HTTPS URL")
		return
	case len(req.Events) == 0:
		writeError(w, http.StatusBadRequest, errInvalidRequest, "'events' must be provided")
		return
	}
	for _, e := range req.Events {
		if e != complycube.AllEvents && !slices.Contains(eventTypes, e) {
			writeError(w, http.StatusBadRequest, errInvalidRequest, fmt.Sprintf("'events' has an unknown event type %q", e))
			return
		}
	}
	t := now()
	hook := complycube.Webhook{ID: newID(), Description: req.Description, URL: req.URL, Enabled: req.Enabled,
		Events: slices.Clone(req.Events), CreatedAt: t, UpdatedAt: t}
	secret := newSecret()

	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, errInternal, "the fake is closed")
		return
	case len(s.listedLocked()) >= maxWebhooks:
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, errInvalidRequest, fmt.Sprintf("An account has at most %d webhooks", maxWebhooks))
		return
	}
	s.endpoints = append(s.endpoints, s.newEndpointLocked(hook, secret))
	s.mu.Unlock()
	s.log.Info("fake complycube: webhook registered", "webhook_id", hook.ID, "url", hook.URL)

	hook.Secret = secret
	// ComplyCube answers creations with 200, not 201.
	writeJSON(w, http.StatusOK, hook)
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	listed := s.listedLocked()
	s.mu.Unlock()
	writePage(w, r, listed)
}

// listedLocked is the registered webhooks as GET /webhooks shows them: without secrets, disabled
// once a delivery failed every retry, and without the Options one while it has no URL.
func (s *Server) listedLocked() []complycube.Webhook {
	listed := []complycube.Webhook{}
	for _, ep := range s.endpoints {
		if ep.hook.URL == "" {
			continue
		}
		hook := ep.hook
		hook.Enabled = hook.Enabled && !ep.sender.Disabled()
		listed = append(listed, hook)
	}
	return listed
}

// newSecret returns a webhook secret: 32 random bytes in hex, which ComplyCube's SDKs would read
// as any other string.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
