package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/screenflow/screenflow/internal/bearer"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

// The operator API: the inbox's events for screenflow's own operators, never for HR platforms.
// It lives beside the HR API but is not part of its contract (openapi.yaml): tenant API keys do
// not reach it, and it exists only when OPERATOR_API_KEY is set.

// maxInboxListLimit bounds one listing or one replay by status.
const maxInboxListLimit = 1000

// registerOperatorRoutes adds the operator API behind the operator key.
func (s *Server) registerOperatorRoutes(r *gin.Engine) {
	ops := r.Group("/v1/operator", s.authenticateOperator)
	ops.GET("/inbox", s.listInbox)
	ops.GET("/inbox/:id", s.showInboxEvent)
	ops.POST("/inbox/:id/replay", s.replayInboxEvent)
	ops.POST("/inbox/replay", s.replayInboxEvents)
}

// authenticateOperator lets a request through only with "Authorization: Bearer <OPERATOR_API_KEY>".
func (s *Server) authenticateOperator(c *gin.Context) {
	if !bearer.Matches(c.GetHeader("Authorization"), s.cfg.OperatorAPIKey) {
		unauthorized(c, "send the operator API key as \"Authorization: Bearer <key>\"")
		return
	}
	c.Next()
}

// auditOperator logs what an operator did. The audit log (audit_events) records what a tenant's
// key did with a tenant's screening; an operator acts for no tenant and on inbox events, so its
// record is this log line: the action and the events' ids, never what they hold.
func (s *Server) auditOperator(c *gin.Context, action string, attrs ...any) {
	s.log.Info("operator audit", append([]any{"action", action, "route", c.FullPath()}, attrs...)...)
}

// InboxEntryResponse is an event as the operator API and `screenflow inbox` show it: ids and
// delivery state, no body.
type InboxEntryResponse struct {
	ID           int64      `json:"id"`
	Provider     string     `json:"provider"`
	EventID      string     `json:"event_id"`
	EventType    string     `json:"event_type"`
	Subject      string     `json:"subject"`
	ReceivedAt   time.Time  `json:"received_at"`
	Status       string     `json:"status"`
	Attempts     int        `json:"attempts"`
	LastError    *string    `json:"last_error"`
	DeliveredAt  *time.Time `json:"delivered_at"`
	BodyPurgedAt *time.Time `json:"body_purged_at"`
}

// NewInboxEntryResponse presents a listed event.
func NewInboxEntryResponse(e store.InboxEntry) InboxEntryResponse {
	return InboxEntryResponse{ID: e.ID, Provider: e.Provider, EventID: e.EventID, EventType: e.EventType,
		Subject: e.Subject, ReceivedAt: e.ReceivedAt.UTC(), Status: e.Status, Attempts: e.Attempts,
		LastError: e.LastError, DeliveredAt: utc(e.DeliveredAt), BodyPurgedAt: utc(e.BodyPurgedAt)}
}

// MaskedInboxEvent is an event with its headers and body masked (MaskInboxEvent).
type MaskedInboxEvent struct {
	InboxEntryResponse
	Headers map[string]string `json:"headers"`
	// Body is the body's JSON with every value masked but ids, types, statuses and times; null
	// when the body is purged or not JSON, which BodyNote then says.
	Body     json.RawMessage `json:"body"`
	BodyNote string          `json:"body_note,omitempty"`
}

// Masked value stand-ins.
const (
	maskedSecret = "[secret]"
	maskedValue  = "[masked]"
)

// MaskInboxEvent presents an event for an operator whose screen may end up in a ticket: header
// values that may be credentials (signatures, tokens, keys) are replaced, and in the body every
// value is masked except those that only identify and date the event and its resources (ids,
// types, statuses, times), which is what finding out why it was not delivered takes. Bodies hold
// candidate PII (names, dates of birth, addresses) under keys that change with the providers, so
// what is kept is a list of harmless keys rather than a list of the dangerous ones.
func MaskInboxEvent(d store.InboxEventDetail) MaskedInboxEvent {
	m := MaskedInboxEvent{InboxEntryResponse: NewInboxEntryResponse(d.InboxEntry), Headers: map[string]string{}}
	for name, value := range d.Headers {
		if isSecretName(name) {
			value = maskedSecret
		}
		m.Headers[name] = value
	}
	switch {
	case d.BodyPurgedAt != nil:
		m.BodyNote = "the body was purged after INBOX_BODY_RETENTION"
	case len(d.Body) == 0:
		m.BodyNote = "the body is empty"
	default:
		dec := json.NewDecoder(bytes.NewReader(d.Body))
		dec.UseNumber()
		var body any
		if err := dec.Decode(&body); err != nil {
			m.BodyNote = fmt.Sprintf("the body is not JSON (%d bytes): not shown", len(d.Body))
			break
		}
		masked, err := json.Marshal(maskValue("", body))
		if err != nil {
			m.BodyNote = "the body could not be masked: not shown"
			break
		}
		m.Body = masked
		m.BodyNote = "values other than ids, types, statuses and times are masked"
	}
	return m
}

// maskValue masks v, found under key, and what it holds.
func maskValue(key string, v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, inner := range v {
			out[k] = maskValue(k, inner)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, inner := range v {
			out[i] = maskValue(key, inner)
		}
		return out
	case nil, bool:
		return v
	}
	switch {
	case isSecretName(key):
		return maskedSecret
	case isIdentifyingKey(key):
		return v
	}
	return maskedValue
}

// isSecretName tells a header or field that may hold a credential.
func isSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"signature", "token", "secret", "password", "authorization", "cookie", "apikey",
		"api-key", "api_key", "credential", "companyaccesscode", "company_access_code"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// identifyingKeys hold no candidate data: the event's and its resources' ids, kinds and states.
// userAccessCode is Authenticate's id of the user an event is about, the event's subject.
var identifyingKeys = map[string]bool{"id": true, "type": true, "event": true, "action": true, "status": true,
	"result": true, "outcome": true, "object": true, "stage": true, "package": true, "adjudication": true,
	"resource_type": true, "resourcetype": true, "useraccesscode": true, "timestamp": true}

// isIdentifyingKey tells a field kept unmasked: one of identifyingKeys, an id (…_id, …Id) or a time
// (…_at, …At, …Date; a date of birth is "dob" or "birthDate", which stay masked).
func isIdentifyingKey(key string) bool {
	k := strings.ToLower(key)
	if strings.Contains(k, "birth") {
		return false
	}
	return identifyingKeys[k] || strings.HasSuffix(k, "_id") || strings.HasSuffix(key, "Id") ||
		strings.HasSuffix(k, "_at") || strings.HasSuffix(key, "At") || strings.HasSuffix(key, "Date")
}

// Reparse parses an unparsed event's body again with its provider's parser (store.Reparse).
func Reparse(providers *registry.Registry) store.Reparse {
	return func(provider string, body []byte) (string, string, error) {
		p, ok := providers.Get(provider)
		if !ok {
			return "", "", fmt.Errorf("provider %q is not configured", provider)
		}
		ev, err := p.ParseWebhook(body)
		if err != nil {
			return "", "", err
		}
		return ev.Type, ev.Subject, nil
	}
}

// ReplayResponse is what a replay did with each event.
type ReplayResponse struct {
	Results []ReplayResultResponse `json:"results"`
}

// ReplayResultResponse is what a replay did with one event.
type ReplayResultResponse struct {
	ID       int64  `json:"id"`
	Status   string `json:"status"` // before the replay
	Replayed bool   `json:"replayed"`
	Reason   string `json:"reason,omitempty"`
}

// NewReplayResponse presents the results of a replay.
func NewReplayResponse(results []store.ReplayResult) ReplayResponse {
	r := ReplayResponse{Results: make([]ReplayResultResponse, 0, len(results))}
	for _, res := range results {
		r.Results = append(r.Results, ReplayResultResponse{ID: res.ID, Status: res.Status, Replayed: res.Replayed,
			Reason: res.Reason})
	}
	return r
}

// inboxFilterOf reads ?status= (required), ?provider= and ?limit=, with an error message per
// invalid one.
func (s *Server) inboxFilterOf(c *gin.Context) (store.InboxFilter, map[string]string) {
	f := store.InboxFilter{Status: c.Query("status"), Provider: c.Query("provider"), Limit: store.DefaultInboxListLimit}
	fields := map[string]string{}
	if !slices.Contains(store.InboxStatuses, f.Status) {
		fields["status"] = "must be one of " + strings.Join(store.InboxStatuses, ", ")
	}
	if _, ok := s.cfg.Providers.Get(f.Provider); f.Provider != "" && !ok {
		fields["provider"] = "must be a configured provider: " + strings.Join(s.cfg.Providers.Names(), ", ")
	}
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxInboxListLimit {
			fields["limit"] = fmt.Sprintf("must be a whole number from 1 to %d", maxInboxListLimit)
		}
		f.Limit = n
	}
	return f, fields
}

func invalidQuery(c *gin.Context, fields map[string]string) {
	c.AbortWithStatusJSON(http.StatusBadRequest, errorBody{Error: "invalid_query",
		Message: "the query has invalid parameters", Fields: fields})
}

func (s *Server) abortWithInboxError(c *gin.Context, err error) {
	if errors.Is(err, store.ErrNotFound) {
		abortWithError(c, http.StatusNotFound, "not_found", "no inbox event has this id")
		return
	}
	s.abortWithStoreError(c, err)
}

// inboxEventID reads the :id of an inbox route; it answers 404 itself for one that names no event.
func inboxEventID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		abortWithError(c, http.StatusNotFound, "not_found", "no inbox event has this id")
		return 0, false
	}
	return id, true
}

// listInbox answers GET /v1/operator/inbox?status=&provider=&limit=: the events of a status,
// newest first, without their bodies.
func (s *Server) listInbox(c *gin.Context) {
	f, fields := s.inboxFilterOf(c)
	if len(fields) > 0 {
		invalidQuery(c, fields)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	entries, err := s.store.ListInboxEvents(ctx, f)
	if err != nil {
		s.abortWithStoreError(c, err)
		return
	}
	s.auditOperator(c, "inbox.listed", "status", f.Status, "provider", f.Provider, "events", len(entries))
	out := make([]InboxEntryResponse, 0, len(entries))
	for _, e := range entries {
		out = append(out, NewInboxEntryResponse(e))
	}
	c.JSON(http.StatusOK, gin.H{"events": out})
}

// showInboxEvent answers GET /v1/operator/inbox/{id}: one event with its headers and body, masked
// (MaskInboxEvent).
func (s *Server) showInboxEvent(c *gin.Context) {
	id, ok := inboxEventID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	d, err := s.store.InboxEvent(ctx, id)
	if err != nil {
		s.abortWithInboxError(c, err)
		return
	}
	s.auditOperator(c, "inbox.shown", "inbox_event", id, "provider", d.Provider, "event_id", d.EventID)
	c.JSON(http.StatusOK, MaskInboxEvent(d))
}

// replayInboxEvent answers POST /v1/operator/inbox/{id}/replay (store.ReplayInboxEvent).
func (s *Server) replayInboxEvent(c *gin.Context) {
	id, ok := inboxEventID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	r, err := s.store.ReplayInboxEvent(ctx, id, Reparse(s.cfg.Providers))
	if err != nil {
		s.abortWithInboxError(c, err)
		return
	}
	s.replayed(c, []store.ReplayResult{r})
}

// replayInboxEvents answers POST /v1/operator/inbox/replay?status=&provider=&limit=: replays the
// oldest events of an unroutable, discarded or unparsed status (store.ReplayInboxEvents).
func (s *Server) replayInboxEvents(c *gin.Context) {
	f, fields := s.inboxFilterOf(c)
	if !slices.Contains(store.ReplayableInboxStatuses, f.Status) {
		fields["status"] = "must be one of " + strings.Join(store.ReplayableInboxStatuses, ", ") +
			": the others are not the relay's to retry"
	}
	if len(fields) > 0 {
		invalidQuery(c, fields)
		return
	}
	// One short transaction per event: a bound for many rather than the single-event timeout.
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*storeTimeout)
	defer cancel()
	results, err := s.store.ReplayInboxEvents(ctx, f, Reparse(s.cfg.Providers))
	if err != nil && len(results) == 0 {
		s.abortWithStoreError(c, err)
		return
	}
	if err != nil {
		// What was replayed stays replayed: report it, and that the rest was not reached.
		s.log.Warn("operator replay stopped early", "replayed", len(results), "error", err)
	}
	s.replayed(c, results)
}

// replayed audits a replay, asks the relay to deliver what it put back at once, and answers.
func (s *Server) replayed(c *gin.Context, results []store.ReplayResult) {
	var ids []int64
	for _, r := range results {
		if r.Replayed {
			ids = append(ids, r.ID)
			s.relay.Notify(r.ID)
		}
	}
	s.auditOperator(c, "inbox.replayed", "inbox_events", ids, "left_alone", len(results)-len(ids))
	c.JSON(http.StatusOK, NewReplayResponse(results))
}
