package fake

import (
	"encoding/json"
	"time"

	"github.com/screenflow/screenflow/providers/internal/fakekit"
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
	return webhook{eventID: newID(), typ: typ, createdAt: now(), accountID: accountID, object: fakekit.MustJSON(object)}
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

// sendLocked starts delivering wh, in Checkr's envelope naming the webhook URL it goes to, after
// the webhooks sent before it; see fakekit.Sender.Send for the channel it returns. Caller holds
// s.mu.
func (s *Server) sendLocked(wh webhook) <-chan struct{} {
	env := envelope{
		ID:         wh.eventID,
		Object:     "event",
		Type:       wh.typ,
		CreatedAt:  wh.createdAt,
		WebhookURL: s.webhookURL,
		AccountID:  wh.accountID,
	}
	env.Data.Object = wh.object
	return s.webhooks.Send(s.webhookURL, fakekit.Webhook{EventID: wh.eventID, Type: wh.typ, Body: fakekit.MustJSON(env)})
}
