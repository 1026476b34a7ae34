package fake

import (
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

// sendLocked starts delivering wh to the webhook URL; see fakekit.Sender.Send. Caller holds s.mu.
func (s *Server) sendLocked(wh fakekit.Webhook, after ...<-chan struct{}) <-chan struct{} {
	return s.webhooks.Send(s.webhookURL, wh, after...)
}
