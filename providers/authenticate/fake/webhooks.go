package fake

import (
	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/internal/fakekit"
)

// Webhook is one event the fake sent, with the exact bytes of its body.
type Webhook = fakekit.Webhook

// newWebhookLocked builds an event in Authenticate's envelope, {id, event, eventDate, order}. Its
// id is its own unless ShareEventID set one for every event. Caller holds s.mu.
func (s *Server) newWebhookLocked(typ string, order authenticate.Order) fakekit.Webhook {
	id := s.sharedEventID
	if id == "" {
		id = newUUID()
	}
	ev := authenticate.Event{ID: id, Event: typ, EventDate: now(), Order: order}
	return fakekit.Webhook{EventID: ev.ID, Type: ev.Event, Body: fakekit.MustJSON(ev)}
}

// sendLocked starts delivering wh to the webhook URL, after the webhooks sent before it; see
// fakekit.Sender.Send. Caller holds s.mu.
func (s *Server) sendLocked(wh fakekit.Webhook) {
	s.sent = append(s.sent, wh)
	s.webhooks.Send(s.webhookURL, wh)
}
