package checkr

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Name names Checkr in the HR API, webhook paths, routes, the inbox and workflow ids.
const Name = "checkr"

// SignatureHeader carries a webhook's signature: the lowercase hex HMAC-SHA256 of the raw body,
// keyed with the partner application's OAuth client secret (partner apps) or, UNCERTAIN, the
// account's secret API key (direct accounts).
const SignatureHeader = "X-Checkr-Signature"

// Event types, as in an event's "type".
const (
	EventAccountCredentialed = "account.credentialed"
	EventTokenDeauthorized   = "token.deauthorized"

	EventReportCreated           = "report.created"
	EventReportUpdated           = "report.updated"
	EventReportCompleted         = "report.completed"
	EventReportUpgraded          = "report.upgraded"
	EventReportSuspended         = "report.suspended"
	EventReportResumed           = "report.resumed"
	EventReportCanceled          = "report.canceled"
	EventReportDisputed          = "report.disputed"
	EventReportEngaged           = "report.engaged"
	EventReportPreAdverseAction  = "report.pre_adverse_action"
	EventReportPostAdverseAction = "report.post_adverse_action"

	EventInvitationCreated   = "invitation.created"
	EventInvitationCompleted = "invitation.completed"
	EventInvitationExpired   = "invitation.expired"
	EventInvitationDeleted   = "invitation.deleted"

	EventCandidateCreated               = "candidate.created"
	EventCandidateUpdated               = "candidate.updated"
	EventCandidateIDRequired            = "candidate.id_required"
	EventCandidateDriverLicenseRequired = "candidate.driver_license_required"
)

// Subject kinds, the first part of a subject ("report:<id>").
const (
	KindReport     = "report"
	KindInvitation = "invitation"
	KindCandidate  = "candidate"
	KindAccount    = "account"
	KindToken      = "token"
)

// Sign returns the lowercase hex HMAC-SHA256 of body keyed with key.
func Sign(key string, body []byte) string {
	return hex.EncodeToString(mac(key, body))
}

// VerifyAny reports whether signature is Sign(key, body) for one of keys: the partner client
// secret and any direct accounts' API keys, or an old and a new key while one is rotated. Every
// non-empty key is compared, in constant time and without stopping at a match; empty keys are
// skipped, since they would make every forged body valid.
func VerifyAny(keys []string, body []byte, signature string) bool {
	got, err := hex.DecodeString(signature)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	match := 0
	for _, k := range keys {
		if k == "" {
			continue
		}
		match |= subtle.ConstantTimeCompare(got, mac(k, body))
	}
	return match == 1
}

func mac(key string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(key))
	h.Write(body)
	return h.Sum(nil)
}

// TokenFingerprint identifies an access token without storing it: its hex SHA-256. Store it
// beside the (encrypted) token to match token.deauthorized events. An empty token has none ("").
func TokenFingerprint(accessToken string) string {
	if accessToken == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(accessToken))
	return hex.EncodeToString(sum[:])
}

// Event is a webhook notification in Checkr's envelope, {id, object: "event", type, created_at,
// webhook_url, data: {object}, account_id}. Its ID is what de-duplicates repeated deliveries.
// webhook_url is left out: it may embed the receiver's Basic auth credentials.
type Event struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Data      struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
	// AccountID is the account the event is sent for: for partner applications, usually the
	// partner's own account, not the integrated one.
	AccountID string `json:"account_id"`
}

// ParseEvent decodes a webhook body. Unknown event types are not an error: Checkr adds types, and
// the receiver decides what to ignore. A created_at in another format than RFC 3339 is left zero
// rather than refused: the event is still worth storing.
func ParseEvent(body []byte) (Event, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Event{}, fmt.Errorf("checkr: body is not a JSON object: %w", err)
	}
	if fields == nil {
		return Event{}, errors.New("checkr: body is not a JSON object: null")
	}
	var w struct {
		ID        string          `json:"id"`
		Object    string          `json:"object"`
		Type      string          `json:"type"`
		CreatedAt json.RawMessage `json:"created_at"`
		Data      *struct {
			Object json.RawMessage `json:"object"`
		} `json:"data"`
		AccountID string `json:"account_id"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return Event{}, fmt.Errorf("checkr: decode event: %w", err)
	}
	if w.ID == "" {
		return Event{}, errors.New(`checkr: event has no "id"`)
	}
	if w.Type == "" {
		return Event{}, errors.New(`checkr: event has no "type"`)
	}
	e := Event{ID: w.ID, Object: w.Object, Type: w.Type, AccountID: w.AccountID}
	if w.Data != nil {
		e.Data.Object = w.Data.Object
	}
	var ts string
	if json.Unmarshal(w.CreatedAt, &ts) == nil {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			e.CreatedAt = t
		}
	}
	return e, nil
}

// CredentialedAccountID returns, for account.credentialed, the integrated account that Checkr
// credentialed, in either documented shape: when data.object is the account itself ({"object":
// "account", "id": ...}, Checkr's reference integration), its id; otherwise the seed's
// data.object.account.id. The top-level account_id is never used: partner applications receive
// events with their own account there. It is "" for other types and when the event names no
// account.
func (e Event) CredentialedAccountID() string {
	if e.Type != EventAccountCredentialed {
		return ""
	}
	d := e.digest()
	switch {
	case d.Object == KindAccount:
		return d.ID
	case d.Account != nil:
		return d.Account.ID
	}
	return ""
}

// DeauthorizedTokenFingerprint returns, for token.deauthorized, TokenFingerprint of the revoked
// access token, data.object.access_code (data.object.access_token in Checkr's older OAuth
// reference). account_id is the partner's and must not be used to find the integration. It is ""
// for other types and when the event carries no token.
func (e Event) DeauthorizedTokenFingerprint() string {
	if e.Type != EventTokenDeauthorized {
		return ""
	}
	var o struct {
		AccessCode            string `json:"access_code"`
		AccessToken           string `json:"access_token"`
		AccessCodeFingerprint string `json:"access_code_sha256"`
	}
	_ = json.Unmarshal(e.Data.Object, &o)
	switch {
	case o.AccessCode != "":
		return TokenFingerprint(o.AccessCode)
	case o.AccessToken != "":
		return TokenFingerprint(o.AccessToken)
	case isFingerprint(o.AccessCodeFingerprint):
		// The body as the inbox stores it: ScrubAccessCode put the fingerprint there.
		return o.AccessCodeFingerprint
	}
	return ""
}

// accessCodeFingerprintField is where ScrubAccessCode puts the fingerprint of the token it removes.
// Checkr sends no such field; the name says what it holds.
const accessCodeFingerprintField = "access_code_sha256"

// tokenFields are the data.object fields that carry an access token (see DeauthorizedTokenFingerprint).
var tokenFields = []string{"access_code", "access_token"}

// ScrubAccessCode returns body without the access token its data.object carries (token.deauthorized
// names the token it revokes), with the token's fingerprint in its place, so that the event still
// has the same DeauthorizedTokenFingerprint and Subject: screenflow needs the fingerprint, never the
// token. Any other body, and one that is not a JSON object, is returned as it is. The result is
// valid JSON but not the signed bytes: its keys are sorted and compacted.
func ScrubAccessCode(body []byte) []byte {
	if !bytes.Contains(body, []byte(`"access_`)) {
		return body
	}
	var event, data, object map[string]json.RawMessage
	if json.Unmarshal(body, &event) != nil || json.Unmarshal(event["data"], &data) != nil ||
		json.Unmarshal(data["object"], &object) != nil || object == nil {
		return body
	}
	fingerprint := ""
	for _, field := range tokenFields {
		var token string
		if raw, ok := object[field]; ok {
			_ = json.Unmarshal(raw, &token)
			if fingerprint == "" {
				fingerprint = TokenFingerprint(token)
			}
			delete(object, field)
		}
	}
	if fingerprint == "" {
		return body
	}
	// Marshalling a string and maps of JSON that just decoded cannot fail.
	object[accessCodeFingerprintField], _ = json.Marshal(fingerprint)
	data["object"], _ = json.Marshal(object)
	event["data"], _ = json.Marshal(data)
	scrubbed, _ := json.Marshal(event)
	return scrubbed
}

func isFingerprint(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// SubjectFor builds the subject string the same way Subject does, for writing routes.
func SubjectFor(kind, id string) string {
	return kind + ":" + id
}

// Subject names what the event is about, for routing: "candidate:<id>" for report.* and
// invitation.* events whose object names its candidate (candidate_id), "report:<id>" and
// "invitation:<id>" for those that do not, "candidate:<id>" for candidate.*, "account:<integrated
// account id>" for account.credentialed, "token:<fingerprint>" for token.deauthorized. It is "" for
// other types and when the event lacks the id.
//
// Reports and invitations route by their candidate because screenflow routes a candidate as soon as
// it creates one, before any report or invitation exists: an invitation's report is created by
// Checkr when the candidate completes it, and its events must reach the check even when
// invitation.completed, which names the report, is lost or late.
func (e Event) Subject() string {
	var kind, id string
	switch e.Type {
	case EventAccountCredentialed:
		kind, id = KindAccount, e.CredentialedAccountID()
	case EventTokenDeauthorized:
		kind, id = KindToken, e.DeauthorizedTokenFingerprint()
	default:
		kind, _, _ = strings.Cut(e.Type, ".")
		d := e.digest()
		switch kind {
		case KindReport, KindInvitation:
			id = d.ID
			if d.CandidateID != "" {
				kind, id = KindCandidate, d.CandidateID
			}
		case KindCandidate:
			id = d.ID
		default:
			return ""
		}
	}
	if id == "" {
		return ""
	}
	return SubjectFor(kind, id)
}

// Summary is what of an event may travel into workflow history: never candidate personal data
// (candidate.* payloads carry it) and never the access_code of token.deauthorized.
type Summary struct {
	EventID      string
	Type         string
	CreatedAt    time.Time
	ObjectID     string // data.object.id; for account.credentialed the integrated account id
	ObjectType   string // data.object.object: report, invitation, candidate, account, ...
	Status       string // report or invitation status
	Result       string
	Assessment   string
	Adjudication string
	ReportID     string // invitation.completed names the report it ordered (data.object.report_id)
	DocumentIDs  []string
}

// Summary digests the event without its personal data and secrets.
func (e Event) Summary() Summary {
	d := e.digest()
	s := Summary{
		EventID:      e.ID,
		Type:         e.Type,
		CreatedAt:    e.CreatedAt,
		ObjectID:     d.ID,
		ObjectType:   d.Object,
		Status:       d.Status,
		Result:       d.Result,
		Assessment:   d.Assessment,
		Adjudication: d.Adjudication,
		ReportID:     d.ReportID,
		DocumentIDs:  d.DocumentIDs,
	}
	switch e.Type {
	case EventAccountCredentialed:
		// The seed's shape has no object type and no id of its own.
		s.ObjectID, s.ObjectType = e.CredentialedAccountID(), KindAccount
	case EventTokenDeauthorized:
		s.ObjectID, s.ObjectType = "", ""
	}
	if strings.HasPrefix(e.Type, KindCandidate+".") {
		// A candidate has no status, result or report of its own; whatever such fields hold is
		// not ours to carry along.
		s = Summary{EventID: s.EventID, Type: s.Type, CreatedAt: s.CreatedAt, ObjectID: s.ObjectID, ObjectType: s.ObjectType}
	}
	return s
}

// objectDigest names the only data.object fields Summary and Subject read, so that personal data
// and secrets are never decoded.
type objectDigest struct {
	ID           string   `json:"id"`
	Object       string   `json:"object"`
	Status       string   `json:"status"`
	Result       string   `json:"result"`
	Assessment   string   `json:"assessment"`
	Adjudication string   `json:"adjudication"`
	ReportID     string   `json:"report_id"`
	CandidateID  string   `json:"candidate_id"`
	DocumentIDs  []string `json:"document_ids"`
	Account      *struct {
		ID string `json:"id"`
	} `json:"account"`
}

func (e Event) digest() objectDigest {
	var d objectDigest
	// Best effort: an object of another shape leaves the fields it lacks empty (json fills the
	// fields it can), and that must not make an otherwise valid event unusable.
	_ = json.Unmarshal(e.Data.Object, &d)
	return d
}

// Describe is the event in words, for a timeline: its type and the status it reports.
func (s Summary) Describe() string {
	if s.Status == "" {
		return s.Type
	}
	return s.Type + ": " + s.Status
}
