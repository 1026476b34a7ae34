package authenticate

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Name names Authenticate in the HR API, webhook paths, routes, the inbox and workflow ids.
const Name = "authenticate"

// Event types, as in an event's "event".
const (
	EventUserPIIUpdate             = "USER_PII_UPDATE"
	EventSelfVerificationTryStatus = "SELF_VERIFICATION_TRY_STATUS"
	EventCriminalStatusUpdate      = "CRIMINAL_REQUEST_STATUS_UPDATE"
	EventAllCriminalComplete       = "ALL_CRIMINAL_REQUESTS_COMPLETE"
	EventUploadIDReview            = "UPLOAD_ID_ENHANCED_REVIEW_STATUS"
	EventUploadPassportReview      = "UPLOAD_PASSPORT_ENHANCED_REVIEW_STATUS"
	EventPDFReportGeneration       = "USER_PDF_REPORT_GENERATION"
	EventSexOffenderStatusUpdate   = "SEX_OFFENDER_CHECK_STATUS_UPDATE"
	EventMonitoringRecordFound     = "MONITORING_RECORD_FOUND"
)

// Stages of a PDF report.
const (
	PDFInitiated = "INITIATED"
	PDFCompleted = "COMPLETED"
	PDFFailed    = "FAILED"
)

// Search statuses. A criminal result's status is PENDING until every search is COMPLETE.
const (
	SearchPending    = "PENDING"
	SearchInProgress = "IN_PROGRESS"
	SearchComplete   = "COMPLETE"
)

// Event is a webhook notification, in the envelope every Authenticate event shares.
type Event struct {
	// ID is Authenticate's "id". Its documentation never says it is unique per event (every sample
	// shows "string"): it may name the user or the order, so it does not de-duplicate; Key does.
	ID        string    `json:"id"`
	Event     string    `json:"event"`
	EventDate time.Time `json:"eventDate"`
	Order     Order     `json:"order"`
	// Key de-duplicates deliveries: the hex SHA-256 of the raw body, set by ParseEvent. A retry
	// resends the same bytes and so has the same key, while two different events cannot share
	// one, whatever their ids.
	Key string `json:"-"`
}

// Order is an event's "order": which fields are set depends on the event type.
type Order struct {
	UserAccessCode     string     `json:"userAccessCode"`
	Status             string     `json:"status,omitempty"`
	VerificationMethod string     `json:"verificationMethod,omitempty"`
	OrderDetails       *Search    `json:"orderDetails,omitempty"`
	ReportUUID         string     `json:"reportUUID,omitempty"`
	ReportLink         string     `json:"reportLink,omitempty"`
	Expires            *time.Time `json:"expires,omitempty"`
}

// ParseEvent decodes a webhook body. Unknown event types are not an error: Authenticate adds
// types, and the receiver decides what to ignore. Dates in another format than RFC 3339 are left
// zero rather than refused: the event is still worth storing.
func ParseEvent(body []byte) (Event, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Event{}, fmt.Errorf("authenticate: body is not a JSON object: %w", err)
	}
	if fields == nil {
		return Event{}, errors.New("authenticate: body is not a JSON object: null")
	}
	// The dates are read apart, as raw JSON, so that a bad one cannot fail the whole decode.
	var w struct {
		ID        string          `json:"id"`
		Event     string          `json:"event"`
		EventDate json.RawMessage `json:"eventDate"`
		Order     *struct {
			Order
			Expires json.RawMessage `json:"expires"`
		} `json:"order"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return Event{}, fmt.Errorf("authenticate: decode event: %w", err)
	}
	switch {
	case w.ID == "":
		return Event{}, errors.New(`authenticate: event has no "id"`)
	case w.Event == "":
		return Event{}, errors.New(`authenticate: event has no "event"`)
	case w.Order == nil || w.Order.UserAccessCode == "":
		return Event{}, errors.New(`authenticate: event has no "order.userAccessCode"`)
	}
	e := Event{ID: w.ID, Event: w.Event, Order: w.Order.Order, Key: BodyKey(body)}
	e.EventDate, _ = parseTime(w.EventDate)
	if t, ok := parseTime(w.Order.Expires); ok {
		e.Order.Expires = &t
	}
	return e, nil
}

// BodyKey is the de-duplication key of a webhook body: its hex SHA-256 (see Event.Key).
func BodyKey(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func parseTime(raw json.RawMessage) (time.Time, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// SubjectFor builds the subject string the same way Subject does, for writing routes.
func SubjectFor(userAccessCode string) string {
	return "user:" + userAccessCode
}

// Subject names the user the event is about, for routing: every Authenticate event is about one.
func (e Event) Subject() string {
	return SubjectFor(e.Order.UserAccessCode)
}

// Summary is what of an event may travel into workflow history: no PII, and no reportLink (a
// bearer link to a PDF about a person; activities read it from the stored event instead).
type Summary struct {
	EventID            string // Event.Key, the de-duplication key: not Authenticate's "id"
	Type               string
	OccurredAt         time.Time // eventDate
	Status             string    // order.status: a PDF stage or a verification status
	VerificationMethod string
	ReportUUID         string
	Expires            time.Time // when the report link expires; zero when there is none
	Search             *Search   // order.orderDetails of search status updates
}

// Summary digests the event without its personal data and report link.
func (e Event) Summary() Summary {
	s := Summary{
		EventID:            e.Key,
		Type:               e.Event,
		OccurredAt:         e.EventDate,
		Status:             e.Order.Status,
		VerificationMethod: e.Order.VerificationMethod,
		ReportUUID:         e.Order.ReportUUID,
	}
	if e.Order.Expires != nil {
		s.Expires = *e.Order.Expires
	}
	// A copy, so that the summary does not alias the event.
	if e.Order.OrderDetails != nil {
		search := *e.Order.OrderDetails
		s.Search = &search
	}
	return s
}

// TokenMatches reports whether got is one of the expected webhook URL tokens. Authenticate does
// not sign webhooks, so an unguessable token in the registered URL is what tells its requests
// apart; several are accepted so that a token can be rotated (register the new one, then drop the
// old one once Authenticate has stopped using it). Every expected token is compared, in constant
// time over SHA-256 digests, which hides the tokens' lengths as well as their content and which
// one matched. An empty token never matches: it would let every request in.
func TokenMatches(expected []string, got string) bool {
	g := sha256.Sum256([]byte(got))
	match := 0
	for _, token := range expected {
		e := sha256.Sum256([]byte(token))
		match |= subtle.ConstantTimeCompare(e[:], g[:]) & notEmpty(token)
	}
	return match == 1
}

func notEmpty(s string) int {
	if s == "" {
		return 0
	}
	return 1
}

// Describe is the search's state in words, for a timeline: type, identifier, status, sub-status.
func (s Search) Describe() string {
	d := fmt.Sprintf("%s %s: %s", s.SearchType, s.UniqueIdentifier, s.SearchStatus)
	if s.SearchSubStatus != "" {
		d += " (" + s.SearchSubStatus + ")"
	}
	return d
}

// Describe is the event in words, for a timeline: its type and what it says.
func (s Summary) Describe() string {
	d := s.Type
	switch {
	case s.Search != nil:
		d += ": " + s.Search.Describe()
	case s.ReportUUID != "":
		d += fmt.Sprintf(": report %s %s", s.ReportUUID, s.Status)
	case s.Status != "" && s.VerificationMethod != "":
		d += fmt.Sprintf(": %s (%s)", s.Status, s.VerificationMethod)
	case s.Status != "":
		d += ": " + s.Status
	}
	return d
}
