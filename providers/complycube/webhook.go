package complycube

import (
	"bytes"
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
	EventCheckPending             = "check.pending"
	EventCheckCompleted           = "check.completed"
	EventCheckFailed              = "check.failed"
	EventCheckUpdated             = "check.updated"
	EventCheckMonitoringAttention = "check.monitoring.attention"
	EventClientCreated            = "client.created"
)

// AllEvents, as a webhook's events, subscribes it to every event type.
const AllEvents = "*"

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
	return VerifySignatureAny([]string{secret}, body, signature)
}

// VerifySignatureAny reports whether signature is Sign(secret, body) for one of secrets: while a
// webhook secret is rotated, events signed with the old one are still in flight. Every secret is
// tried, so that the time taken does not tell which one matched. Empty secrets never verify.
func VerifySignatureAny(secrets []string, body []byte, signature string) bool {
	if signature == "" {
		return false
	}
	got, err := hex.DecodeString(signature)
	if err != nil {
		return false
	}
	ok := false
	for _, secret := range secrets {
		if secret != "" && hmac.Equal(got, mac(secret, body)) {
			ok = true
		}
	}
	return ok
}

// ParseSecrets reads a list of webhook secrets separated by commas, newest first, as
// COMPLYCUBE_WEBHOOK_SECRET holds them while a secret is rotated. Blanks around a secret and empty
// items are dropped. ComplyCube's secrets have no commas or blanks in them.
func ParseSecrets(list string) []string {
	var secrets []string
	for item := range strings.SplitSeq(list, ",") {
		if secret := strings.TrimSpace(item); secret != "" {
			secrets = append(secrets, secret)
		}
	}
	return secrets
}

func mac(secret string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return h.Sum(nil)
}

// Event is a webhook notification. Its ID is what de-duplicates repeated deliveries. Read it with
// ParseEvent, which reads CreatedAt leniently; it is encoded as ComplyCube sends it.
type Event struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	ResourceType string          `json:"resourceType"`
	Payload      json.RawMessage `json:"payload"`
	CreatedAt    time.Time       `json:"createdAt"` // zero when the event's createdAt could not be read
}

// ParseEvent decodes a webhook body. Unknown event types are not an error: ComplyCube adds types,
// and the receiver decides what to ignore. Nor is a createdAt of another shape (see
// ParseTimestamp): it is the zero time.
func ParseEvent(body []byte) (Event, error) {
	var wire struct {
		ID           string          `json:"id"`
		Type         string          `json:"type"`
		ResourceType string          `json:"resourceType"`
		Payload      json.RawMessage `json:"payload"`
		CreatedAt    json.RawMessage `json:"createdAt"`
	}
	// One decoding, which webhooks pay for twice (receiver and relay): whether the body is an
	// object at all is told by the error, or by a null that decodes into nothing.
	err := json.Unmarshal(body, &wire)
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr) && typeErr.Field == "":
		return Event{}, fmt.Errorf("complycube: body is not a JSON object: %w", err)
	case err != nil:
		return Event{}, fmt.Errorf("complycube: decode event: %w", err)
	case string(bytes.TrimSpace(body)) == "null":
		return Event{}, errors.New("complycube: body is not a JSON object: null")
	}
	e := Event{ID: wire.ID, Type: wire.Type, ResourceType: wire.ResourceType, Payload: wire.Payload,
		CreatedAt: ParseTimestamp(wire.CreatedAt)}
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
	Status       string // payload.status, if any
	Outcome      string // payload.outcome, else payload.result.outcome, if any
	// OccurredAt is payload.updatedAt, else payload.createdAt, else the event's createdAt, the first
	// that ParseTimestamp can read; zero when none can.
	OccurredAt time.Time
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
	for _, ts := range []json.RawMessage{d.UpdatedAt, d.CreatedAt} {
		if t := ParseTimestamp(ts); !t.IsZero() {
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
	// Raw, for ParseTimestamp: a number or an odd string must not stop the others being read.
	CreatedAt json.RawMessage `json:"createdAt"`
	UpdatedAt json.RawMessage `json:"updatedAt"`
}

func (e Event) digest() payloadDigest {
	var d payloadDigest
	// Best effort: a payload of another shape leaves the fields it lacks empty (json fills the
	// fields it can), and that must not make an otherwise valid event unusable.
	_ = json.Unmarshal(e.Payload, &d)
	return d
}
