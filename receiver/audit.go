package receiver

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/screenflow/screenflow/store"
)

// The page sizes of GET /v1/audit-events.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// recordRead records in the audit log that the request's API key read what it names. It runs
// before the answer's body is sent and fails closed: when the event cannot be recorded, the
// request gets 503 and the data stays unread.
func (s *Server) recordRead(c *gin.Context, action store.AuditAction, screeningID string, documentID *string) bool {
	tenant := tenantOf(c)
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	err := s.store.RecordAuditEvent(ctx, store.NewAuditEvent{TenantID: tenant.ID, KeyID: tenant.KeyID,
		Action: action, ScreeningID: screeningID, DocumentID: documentID})
	if err != nil {
		s.log.Error("audit event not recorded, read refused", "route", c.FullPath(), "tenant_id", tenant.ID, "error", err)
		unavailable(c, "the read could not be recorded in the audit log; retry later")
		return false
	}
	return true
}

type auditEventResponse struct {
	ID          int64             `json:"id"`
	Action      store.AuditAction `json:"action"`
	KeyID       string            `json:"key_id"`
	ScreeningID string            `json:"screening_id"`
	DocumentID  *string           `json:"document_id"`
	CandidateID *string           `json:"candidate_id,omitempty"` // candidate.erased only
	OccurredAt  time.Time         `json:"occurred_at"`
}

type auditEventsResponse struct {
	Events []auditEventResponse `json:"events"`
	// NextBefore is the before parameter of the next page; null on the last page.
	NextBefore *int64 `json:"next_before"`
}

// listAuditEvents answers GET /v1/audit-events: the authenticated tenant's audit events, newest
// first, a page of ?limit= (default 100, at most 1000) older than ?before=<id>, optionally only
// those of ?screening_id=.
func (s *Server) listAuditEvents(c *gin.Context) {
	q, fields := auditQueryOf(c, tenantOf(c).ID)
	if len(fields) > 0 {
		c.AbortWithStatusJSON(http.StatusBadRequest, errorBody{Error: "invalid_query",
			Message: "the query has invalid parameters", Fields: fields})
		return
	}
	limit := q.Limit
	// One more than the page tells whether there is a next page.
	q.Limit++
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	events, err := s.store.AuditEvents(ctx, q)
	if err != nil {
		s.abortWithStoreError(c, err)
		return
	}
	var r auditEventsResponse
	events, r.NextBefore = page(events, limit, func(e store.AuditEvent) int64 { return e.ID })
	r.Events = make([]auditEventResponse, 0, len(events))
	for _, e := range events {
		r.Events = append(r.Events, auditEventResponse{ID: e.ID, Action: e.Action, KeyID: e.KeyID,
			ScreeningID: e.ScreeningID, DocumentID: e.DocumentID, CandidateID: e.CandidateID, OccurredAt: e.OccurredAt.UTC()})
	}
	c.JSON(http.StatusOK, r)
}

// auditQueryOf reads the query parameters of GET /v1/audit-events, with an error message per
// invalid one.
func auditQueryOf(c *gin.Context, tenantID string) (store.AuditQuery, map[string]string) {
	q := store.AuditQuery{TenantID: tenantID, Limit: defaultAuditLimit}
	fields := map[string]string{}
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditLimit {
			fields["limit"] = fmt.Sprintf("must be a whole number from 1 to %d", maxAuditLimit)
		}
		q.Limit = n
	}
	if v, ok := c.GetQuery("before"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			fields["before"] = "must be the id of an audit event, e.g. the next_before of the previous page"
		}
		q.Before = n
	}
	if v, ok := c.GetQuery("screening_id"); ok {
		id, err := uuid.Parse(v)
		if err != nil {
			fields["screening_id"] = "must be a screening id (a UUID)"
		}
		q.ScreeningID = id.String()
	}
	return q, fields
}

// page cuts a list read with one item more than limit, newest first, to the page it answers, and
// returns the id to pass as before for the next page: nil when there is none.
func page[T any](items []T, limit int, id func(T) int64) ([]T, *int64) {
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	next := id(items[limit-1])
	return items, &next
}
