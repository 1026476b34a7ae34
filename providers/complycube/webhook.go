package complycube

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Name names ComplyCube in the HR API, webhook paths, routes, the inbox and workflow ids.
const Name = "complycube"

// SignatureHeader carries a webhook's signature. ComplyCube's SDKs verify the signature but the
// header name is only seen in integrations, so it is kept in one place.
const SignatureHeader = "ComplyCube-Signature"

// Event types the check workflows act on.
const (
	EventCheckPending   = "check.pending"
	EventCheckCompleted = "check.completed"
	EventCheckFailed    = "check.failed"
	EventCheckUpdated   = "check.updated"
	EventClientCreated  = "client.created"
)

// Resource types, as in an event's resourceType.
const (
	ResourceCheck  = "check"
	ResourceClient = "client"
)

// IsCheckCompletion reports whether eventType says a check completed: "check.completed" and
// "check.completed.<outcome>". A monitoring hit ("check.monitoring.attention") is not one.
func IsCheckCompletion(eventType string) bool {
	return eventType == EventCheckCompleted || strings.HasPrefix(eventType, EventCheckCompleted+".")
}

// Sign returns the lowercase hex HMAC-SHA256 of body keyed with secret.
func Sign(secret string, body []byte) string {
	return hex.EncodeToString(mac(secret, body))
}

// VerifySignature reports whether signature is Sign(secret, body), compared in constant time.
// An empty secret never verifies: it would make every forged body valid.
func VerifySignature(secret string, body []byte, signature string) bool {
	if secret == "" || signature == "" {
		return false
	}
	got, err := hex.DecodeString(signature)
	if err != nil {
		return false
	}
	return hmac.Equal(got, mac(secret, body))
}

func mac(secret string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return h.Sum(nil)
}

// Event is a webhook notification. Its ID is what de-duplicates repeated deliveries.
type Event struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	ResourceType string          `json:"resourceType"`
	Payload      json.RawMessage `json:"payload"`
	CreatedAt    time.Time       `json:"createdAt"`
}

// ParseEvent decodes a webhook body. Unknown event types are not an error: ComplyCube adds types,
// and the receiver decides what to ignore.
func ParseEvent(body []byte) (Event, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Event{}, fmt.Errorf("complycube: body is not a JSON object: %w", err)
	}
	if fields == nil {
		return Event{}, errors.New("complycube: body is not a JSON object: null")
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, fmt.Errorf("complycube: decode event: %w", err)
	}
	if e.ID == "" {
		return Event{}, errors.New(`complycube: event has no "id"`)
	}
	if e.Type == "" {
		return Event{}, errors.New(`complycube: event has no "type"`)
	}
	return e, nil
}

// SubjectFor builds the subject string the same way Subject does, for writing routes.
func SubjectFor(resourceType, id string) string {
	return resourceType + ":" + id
}

// Subject names the resource the event is about, for routing, e.g. "check:5ed3918f...". It is ""
// when the payload has no id.
func (e Event) Subject() string {
	rt := e.resourceType()
	id := e.digest().ID
	if rt == "" || id == "" {
		return ""
	}
	return SubjectFor(rt, id)
}

// Summary is the PII-free digest of an event that may travel into workflow history: client and
// document payloads carry personal data, so only these fields are kept.
type Summary struct {
	EventID      string
	Type         string
	ResourceType string
	ResourceID   string
	Status       string    // payload.status, if any
	Outcome      string    // payload.outcome, else payload.result.outcome, if any
	OccurredAt   time.Time // payload.updatedAt, else payload.createdAt, else event createdAt
}

// Summary digests the event without its personal data.
func (e Event) Summary() Summary {
	d := e.digest()
	s := Summary{
		EventID:      e.ID,
		Type:         e.Type,
		ResourceType: e.resourceType(),
		ResourceID:   d.ID,
		Status:       d.Status,
		Outcome:      d.Outcome,
		OccurredAt:   e.CreatedAt,
	}
	// A check.updated payload carries the changed fields of the check object, where the outcome
	// sits in result.
	if s.Outcome == "" && d.Result != nil {
		s.Outcome = d.Result.Outcome
	}
	for _, ts := range []string{d.UpdatedAt, d.CreatedAt} {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			s.OccurredAt = t
			break
		}
	}
	return s
}

// resourceType falls back to the type's first segment ("check.completed.clear" → "check") for
// events that leave resourceType out.
func (e Event) resourceType() string {
	if e.ResourceType != "" {
		return e.ResourceType
	}
	rt, _, _ := strings.Cut(e.Type, ".")
	return rt
}

// payloadDigest names the only payload fields ever read, so that personal data is never decoded.
type payloadDigest struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Outcome string `json:"outcome"`
	Result  *struct {
		Outcome string `json:"outcome"`
	} `json:"result"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

func (e Event) digest() payloadDigest {
	var d payloadDigest
	// Best effort: a payload of another shape leaves the fields it lacks empty (json fills the
	// fields it can), and that must not make an otherwise valid event unusable.
	_ = json.Unmarshal(e.Payload, &d)
	return d
}
