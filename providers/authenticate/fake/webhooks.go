package fake

import (
	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/internal/fakekit"
)

// newWebhook builds an event in Authenticate's envelope, {id, event, eventDate, order}.
func newWebhook(typ string, order authenticate.Order) fakekit.Webhook {
	ev := authenticate.Event{ID: newUUID(), Event: typ, EventDate: now(), Order: order}
	return fakekit.Webhook{EventID: ev.ID, Type: ev.Event, Body: fakekit.MustJSON(ev)}
}

// sendLocked starts delivering wh to the webhook URL, after the webhooks sent before it; see
// fakekit.Sender.Send. Caller holds s.mu.
func (s *Server) sendLocked(wh fakekit.Webhook) {
	s.webhooks.Send(s.webhookURL, wh)
}
