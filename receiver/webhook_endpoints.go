package receiver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/screenflow/screenflow/store"
)

// secretRotationOverlap is how long the secret a rotation replaces still signs callbacks, beside
// the new one: a day for the HR platform to deploy the new secret.
const secretRotationOverlap = 24 * time.Hour

// The page sizes of GET /v1/webhook-endpoints/{id}/deliveries.
const (
	defaultDeliveriesLimit = 50
	maxDeliveriesLimit     = 100
)

// maxEndpointBodyBytes bounds a webhook endpoint request: a URL and a few event types.
const maxEndpointBodyBytes = 16 << 10

// createWebhookEndpointRequest is the body of POST /v1/webhook-endpoints.
type createWebhookEndpointRequest struct {
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled"`
}

// webhookEndpointResponse is an endpoint as the HR API shows it. Secret is there only in the
// answer that created it or rotated it.
type webhookEndpointResponse struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	Enabled    bool     `json:"enabled"`
	// DisabledReason says why the dispatcher disabled the endpoint; null when it did not.
	DisabledReason *string `json:"disabled_reason"`
	// FailingSince is since when every delivery attempt has failed; null when the last succeeded.
	FailingSince *time.Time `json:"failing_since"`
	// PreviousSecretExpiresAt is until when the secret the last rotation replaced still signs.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	Secret                  string     `json:"secret,omitempty"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

func newWebhookEndpointResponse(e store.WebhookEndpoint, secret string) webhookEndpointResponse {
	r := webhookEndpointResponse{ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Enabled: e.Enabled,
		DisabledReason: e.DisabledReason, FailingSince: utc(e.FailingSince), Secret: secret,
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
	if e.PreviousSecretExpiresAt != nil && e.PreviousSecretExpiresAt.After(time.Now()) {
		r.PreviousSecretExpiresAt = utc(e.PreviousSecretExpiresAt)
	}
	return r
}

type webhookEndpointsResponse struct {
	WebhookEndpoints []webhookEndpointResponse `json:"webhook_endpoints"`
}

// createWebhookEndpoint answers POST /v1/webhook-endpoints: 201 with the endpoint and its signing
// secret, shown this once.
func (s *Server) createWebhookEndpoint(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxEndpointBodyBytes)
	var req createWebhookEndpointRequest
	if err := c.ShouldBindJSON(&req); err != nil {
		abortWithError(c, http.StatusBadRequest, "invalid_json",
			"the body must be a JSON object with url, event_types and optionally enabled")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	fields := map[string]string{}
	if err := s.cfg.Callbacks.CheckURL(ctx, req.URL); err != nil {
		fields["url"] = err.Error()
	}
	if message := eventTypesError(req.EventTypes); message != "" {
		fields["event_types"] = message
	}
	if len(fields) > 0 {
		c.AbortWithStatusJSON(http.StatusUnprocessableEntity, errorBody{Error: "validation_failed",
			Message: "the request has invalid fields", Fields: fields})
		return
	}
	enabled := req.Enabled == nil || *req.Enabled
	e, secret, err := s.store.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{TenantID: tenantOf(c).ID,
		URL: req.URL, EventTypes: req.EventTypes, Enabled: enabled})
	if err != nil {
		s.abortWithEndpointError(c, err)
		return
	}
	c.Header("Location", "/v1/webhook-endpoints/"+e.ID)
	c.JSON(http.StatusCreated, newWebhookEndpointResponse(e, secret))
}

// eventTypesError says what is wrong with the event types of a request; "" when nothing is.
func eventTypesError(types []string) string {
	if len(types) == 0 {
		return "must list at least one of: " + strings.Join(store.CallbackEventTypes, ", ")
	}
	seen := map[string]bool{}
	for _, t := range types {
		switch {
		case !store.IsCallbackEventType(t):
			return fmt.Sprintf("%q is not an event; the events are: %s", t, strings.Join(store.CallbackEventTypes, ", "))
		case seen[t]:
			return fmt.Sprintf("%q is listed twice", t)
		}
		seen[t] = true
	}
	return ""
}

// listWebhookEndpoints answers GET /v1/webhook-endpoints: the tenant's endpoints, oldest first.
func (s *Server) listWebhookEndpoints(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	endpoints, err := s.store.WebhookEndpoints(ctx, tenantOf(c).ID)
	if err != nil {
		s.abortWithEndpointError(c, err)
		return
	}
	r := webhookEndpointsResponse{WebhookEndpoints: make([]webhookEndpointResponse, 0, len(endpoints))}
	for _, e := range endpoints {
		r.WebhookEndpoints = append(r.WebhookEndpoints, newWebhookEndpointResponse(e, ""))
	}
	c.JSON(http.StatusOK, r)
}

// getWebhookEndpoint answers GET /v1/webhook-endpoints/{id}.
func (s *Server) getWebhookEndpoint(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	e, err := s.store.WebhookEndpoint(ctx, tenantOf(c).ID, c.Param("id"))
	if err != nil {
		s.abortWithEndpointError(c, err)
		return
	}
	c.JSON(http.StatusOK, newWebhookEndpointResponse(e, ""))
}

// deleteWebhookEndpoint answers DELETE /v1/webhook-endpoints/{id}: 204; its pending deliveries
// are dropped and its delivery log deleted.
func (s *Server) deleteWebhookEndpoint(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	if err := s.store.DeleteWebhookEndpoint(ctx, tenantOf(c).ID, c.Param("id")); err != nil {
		s.abortWithEndpointError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// rotateWebhookSecret answers POST /v1/webhook-endpoints/{id}/rotate-secret: the endpoint with its
// new secret, shown this once. For secretRotationOverlap, callbacks carry a signature by each.
func (s *Server) rotateWebhookSecret(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	e, secret, err := s.store.RotateWebhookSecret(ctx, tenantOf(c).ID, c.Param("id"), secretRotationOverlap)
	if err != nil {
		s.abortWithEndpointError(c, err)
		return
	}
	c.JSON(http.StatusOK, newWebhookEndpointResponse(e, secret))
}

// enableWebhookEndpoint answers POST /v1/webhook-endpoints/{id}/enable: an endpoint created
// disabled, or disabled after its failure budget, receives callbacks again, its pending ones first.
func (s *Server) enableWebhookEndpoint(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	e, err := s.store.EnableWebhookEndpoint(ctx, tenantOf(c).ID, c.Param("id"))
	if err != nil {
		s.abortWithEndpointError(c, err)
		return
	}
	c.JSON(http.StatusOK, newWebhookEndpointResponse(e, ""))
}

// deliveryResponse is one event's delivery to an endpoint, with its attempts.
type deliveryResponse struct {
	ID          int64  `json:"id"`
	WebhookID   string `json:"webhook_id"`
	EventType   string `json:"event_type"`
	ScreeningID string `json:"screening_id"`
	Sequence    int64  `json:"sequence"`
	// Status is pending, delivered or failed (given up).
	Status string `json:"status"`
	// NextAttemptAt is when a pending delivery is tried next; null otherwise.
	NextAttemptAt  *time.Time        `json:"next_attempt_at"`
	LastStatusCode *int              `json:"last_status_code"`
	LastError      *string           `json:"last_error"`
	CreatedAt      time.Time         `json:"created_at"`
	DeliveredAt    *time.Time        `json:"delivered_at"`
	Attempts       []attemptResponse `json:"attempts"`
}

type attemptResponse struct {
	AttemptedAt time.Time `json:"attempted_at"`
	DurationMS  int       `json:"duration_ms"`
	// StatusCode is null when no answer came (refused, timed out).
	StatusCode *int    `json:"status_code"`
	Error      *string `json:"error"`
}

type deliveriesResponse struct {
	Deliveries []deliveryResponse `json:"deliveries"`
	// NextBefore is the before parameter of the next page; null on the last page.
	NextBefore *int64 `json:"next_before"`
}

func newDeliveryResponse(d store.CallbackDelivery) deliveryResponse {
	r := deliveryResponse{ID: d.ID, WebhookID: d.EventID, EventType: d.EventType, ScreeningID: d.ScreeningID,
		Sequence: d.Sequence, Status: d.Status, LastStatusCode: d.LastStatusCode, LastError: d.LastError,
		CreatedAt: d.CreatedAt.UTC(), DeliveredAt: utc(d.DeliveredAt), Attempts: make([]attemptResponse, 0, len(d.Log))}
	if d.Status == store.CallbackPending {
		r.NextAttemptAt = utc(&d.NextAttemptAt)
	}
	for _, a := range d.Log {
		r.Attempts = append(r.Attempts, attemptResponse{AttemptedAt: a.AttemptedAt.UTC(), DurationMS: a.DurationMS,
			StatusCode: a.StatusCode, Error: a.Error})
	}
	return r
}

// listDeliveries answers GET /v1/webhook-endpoints/{id}/deliveries: the endpoint's delivery log,
// newest first, a page of ?limit= (default 50, at most 100) older than ?before=<delivery id>.
func (s *Server) listDeliveries(c *gin.Context) {
	limit, before, fields := defaultDeliveriesLimit, int64(0), map[string]string{}
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDeliveriesLimit {
			fields["limit"] = fmt.Sprintf("must be a whole number from 1 to %d", maxDeliveriesLimit)
		}
		limit = n
	}
	if v, ok := c.GetQuery("before"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			fields["before"] = "must be a delivery id"
		}
		before = n
	}
	if len(fields) > 0 {
		c.AbortWithStatusJSON(http.StatusBadRequest, errorBody{Error: "invalid_query",
			Message: "the query has invalid parameters", Fields: fields})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	// One more than the page tells whether there is a next page.
	deliveries, err := s.store.CallbackDeliveries(ctx, tenantOf(c).ID, c.Param("id"), before, limit+1)
	if err != nil {
		s.abortWithEndpointError(c, err)
		return
	}
	var r deliveriesResponse
	deliveries, r.NextBefore = page(deliveries, limit, func(d store.CallbackDelivery) int64 { return d.ID })
	r.Deliveries = make([]deliveryResponse, 0, len(deliveries))
	for _, d := range deliveries {
		r.Deliveries = append(r.Deliveries, newDeliveryResponse(d))
	}
	c.JSON(http.StatusOK, r)
}

// redeliver answers POST /v1/webhook-endpoints/{id}/deliveries/{delivery_id}/redeliver: 202, the
// delivery is due again now with the same webhook-id and body, whatever became of it before.
func (s *Server) redeliver(c *gin.Context) {
	deliveryID, err := strconv.ParseInt(c.Param("delivery_id"), 10, 64)
	if err != nil {
		s.abortWithEndpointError(c, store.ErrNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	d, err := s.store.RedeliverCallback(ctx, tenantOf(c).ID, c.Param("id"), deliveryID)
	if err != nil {
		s.abortWithEndpointError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, newDeliveryResponse(d))
}

// abortWithEndpointError answers 404 for an endpoint or delivery that does not exist or is another
// tenant's, and 503 when Postgres failed.
func (s *Server) abortWithEndpointError(c *gin.Context, err error) {
	if errors.Is(err, store.ErrNotFound) {
		abortWithError(c, http.StatusNotFound, "not_found", "no such webhook endpoint or delivery")
		return
	}
	s.log.Error("store call failed", "route", c.FullPath(), "error", err)
	unavailable(c, "the request could not be completed; retry later")
}
