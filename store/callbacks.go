package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// The events of HR callbacks: what a tenant's webhook endpoint may subscribe to.
const (
	EventScreeningCreated    = "screening.created"
	EventScreeningCompleted  = "screening.completed"
	EventScreeningFailed     = "screening.failed"
	EventScreeningCanceled   = "screening.canceled"
	EventCheckUpdated        = "check.updated"
	EventCheckActionRequired = "check.action_required"
	EventCheckCompleted      = "check.completed"
	EventDocumentAvailable   = "document.available"
	// The provider changed a completed check's outcome, and with it perhaps its screening's result.
	EventCheckAmended           = "check.amended"
	EventScreeningResultChanged = "screening.result_changed"
)

// The statuses of a callback delivery.
const (
	CallbackPending   = "pending"   // due at next_attempt_at, or held by a dispatcher
	CallbackDelivered = "delivered" // the endpoint answered 2xx
	CallbackFailed    = "failed"    // given up at the end of its retry window
)

const (
	// webhookSecretPrefix and webhookSecretRandomBytes make a secret in the Standard Webhooks
	// format, 256 bits like the HMAC-SHA256 key it is.
	webhookSecretPrefix      = "whsec_"
	webhookSecretRandomBytes = 32
	// maxDeliveryErrorBytes bounds the error an attempt logs.
	maxDeliveryErrorBytes = 500
)

// CallbackEventTypes lists every event a webhook endpoint may subscribe to.
var CallbackEventTypes = []string{EventScreeningCreated, EventScreeningCompleted, EventScreeningFailed,
	EventScreeningCanceled, EventCheckUpdated, EventCheckActionRequired, EventCheckCompleted, EventDocumentAvailable,
	EventCheckAmended, EventScreeningResultChanged}

// IsCallbackEventType reports whether an endpoint may subscribe to eventType.
func IsCallbackEventType(eventType string) bool {
	return slices.Contains(CallbackEventTypes, eventType)
}

// WebhookEndpoint is a URL of a tenant's that receives the callbacks of the events it subscribes to.
// Its secret is never read back: it is shown once, when created or rotated.
type WebhookEndpoint struct {
	ID         string         `db:"id"`
	TenantID   string         `db:"tenant_id"`
	URL        string         `db:"url"`
	EventTypes pq.StringArray `db:"event_types"`
	Enabled    bool           `db:"enabled"`
	// PreviousSecretExpiresAt is until when the secret replaced by the last rotation still signs.
	PreviousSecretExpiresAt *time.Time `db:"previous_secret_expires_at"`
	FailingSince            *time.Time `db:"failing_since"`
	DisabledReason          *string    `db:"disabled_reason"`
	CreatedAt               time.Time  `db:"created_at"`
	UpdatedAt               time.Time  `db:"updated_at"`
}

const webhookEndpointColumns = `id, tenant_id, url, event_types, enabled, previous_secret_expires_at,
	failing_since, disabled_reason, created_at, updated_at`

// NewWebhookEndpoint is what a tenant registers; URL and EventTypes are validated by the caller.
type NewWebhookEndpoint struct {
	TenantID   string
	URL        string
	EventTypes []string
	Enabled    bool
}

// webhookSecretAD binds an endpoint's sealed secret to its row.
func webhookSecretAD(endpointID string) []byte { return []byte("webhook_endpoints/" + endpointID) }

// newWebhookSecret is a signing secret in the Standard Webhooks format: whsec_ and the base64 of
// random bytes.
func newWebhookSecret() string {
	key := make([]byte, webhookSecretRandomBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	return webhookSecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// CreateWebhookEndpoint stores an endpoint with a new signing secret, sealed, and returns the
// secret: the only time it is shown.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, n NewWebhookEndpoint) (WebhookEndpoint, string, error) {
	if s.vault == nil {
		return WebhookEndpoint{}, "", errNoVault
	}
	id, secret := uuid.NewString(), newWebhookSecret()
	var e WebhookEndpoint
	err := s.db.GetContext(ctx, &e, `INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, enabled, secret_sealed)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+webhookEndpointColumns,
		id, n.TenantID, n.URL, pq.Array(n.EventTypes), n.Enabled, s.vault.Seal([]byte(secret), webhookSecretAD(id)))
	if err != nil {
		return e, "", fmt.Errorf("store: create webhook endpoint: %w", err)
	}
	return e, secret, nil
}

// WebhookEndpoints lists a tenant's endpoints, oldest first.
func (s *Store) WebhookEndpoints(ctx context.Context, tenantID string) ([]WebhookEndpoint, error) {
	out := []WebhookEndpoint{}
	if err := s.db.SelectContext(ctx, &out, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints
		WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID); err != nil {
		return nil, fmt.Errorf("store: webhook endpoints: %w", err)
	}
	return out, nil
}

// WebhookEndpoint reads one endpoint of a tenant.
func (s *Store) WebhookEndpoint(ctx context.Context, tenantID, id string) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	if _, err := uuid.Parse(id); err != nil {
		return e, ErrNotFound
	}
	if err := s.db.GetContext(ctx, &e, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints
		WHERE id = $1 AND tenant_id = $2`, id, tenantID); err != nil {
		return e, fmt.Errorf("store: webhook endpoint: %w", notFound(err))
	}
	return e, nil
}

// DeleteWebhookEndpoint deletes an endpoint of a tenant with its deliveries and their log.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, tenantID, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return ErrNotFound
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	if err != nil {
		return fmt.Errorf("store: delete webhook endpoint: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("store: delete webhook endpoint: %w", ErrNotFound)
	}
	return nil
}

// RotateWebhookSecret gives an endpoint a new secret and returns it, shown this once. The secret it
// replaces still signs, beside the new one, for overlap: receivers switch over without losing a
// callback. A secret replaced by an earlier rotation stops signing now.
func (s *Store) RotateWebhookSecret(ctx context.Context, tenantID, id string, overlap time.Duration) (WebhookEndpoint, string, error) {
	var e WebhookEndpoint
	if s.vault == nil {
		return e, "", errNoVault
	}
	if _, err := uuid.Parse(id); err != nil {
		return e, "", ErrNotFound
	}
	secret := newWebhookSecret()
	err := s.db.GetContext(ctx, &e, `UPDATE webhook_endpoints
		SET previous_secret_sealed = secret_sealed, previous_secret_expires_at = now() + $3 * interval '1 second',
		    secret_sealed = $4, updated_at = now()
		WHERE id = $1 AND tenant_id = $2 RETURNING `+webhookEndpointColumns,
		id, tenantID, overlap.Seconds(), s.vault.Seal([]byte(secret), webhookSecretAD(id)))
	if err != nil {
		return e, "", fmt.Errorf("store: rotate webhook secret: %w", notFound(err))
	}
	return e, secret, nil
}

// EnableWebhookEndpoint enables an endpoint again, e.g. one the dispatcher disabled after its
// failure budget: its pending deliveries resume, with a new failure budget.
func (s *Store) EnableWebhookEndpoint(ctx context.Context, tenantID, id string) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	if _, err := uuid.Parse(id); err != nil {
		return e, ErrNotFound
	}
	err := s.db.GetContext(ctx, &e, `UPDATE webhook_endpoints
		SET enabled = true, failing_since = NULL, disabled_reason = NULL, updated_at = now()
		WHERE id = $1 AND tenant_id = $2 RETURNING `+webhookEndpointColumns, id, tenantID)
	if err != nil {
		return e, fmt.Errorf("store: enable webhook endpoint: %w", notFound(err))
	}
	return e, nil
}

// callbackEvent is the body of a callback, per Standard Webhooks: type, timestamp and data, with
// the event's id (also its webhook-id header) and its sequence number among its screening's events.
type callbackEvent struct {
	ID        string       `json:"id"`
	Type      string       `json:"type"`
	Timestamp time.Time    `json:"timestamp"`
	Sequence  int64        `json:"sequence"`
	Data      callbackData `json:"data"`
}

// callbackData is what an event says. It carries ids, statuses and links, never candidate data.
type callbackData struct {
	ScreeningID     string        `json:"screening_id"`
	Status          Status        `json:"status,omitempty"`
	Result          *string       `json:"result,omitempty"`
	PreviousResult  *string       `json:"previous_result,omitempty"`
	CheckID         string        `json:"check_id,omitempty"`
	Provider        string        `json:"provider,omitempty"`
	CheckType       string        `json:"check_type,omitempty"`
	Outcome         *string       `json:"outcome,omitempty"`
	PreviousOutcome *string       `json:"previous_outcome,omitempty"`
	FailureReason   *string       `json:"failure_reason,omitempty"`
	Document        *callbackDoc  `json:"document,omitempty"`
	Links           callbackLinks `json:"links"`
}

type callbackDoc struct {
	ID          string `json:"id"`
	CheckID     string `json:"check_id"`
	Kind        string `json:"kind"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

type callbackLinks struct {
	Screening string `json:"screening"`
	Document  string `json:"document,omitempty"`
}

func screeningLink(id string) string { return "/v1/screenings/" + id }

// enqueueCallback writes an event about a screening to the outbox, in tx, the transaction of the
// change it reports: one delivery per enabled endpoint of the screening's tenant subscribed to its
// type. Fanning out here rather than at delivery keeps each endpoint's attempts, back-off and log
// on its own row, and decides who receives an event when it happens, not when it is sent. A tenant
// without such an endpoint costs one index lookup and nothing else.
func enqueueCallback(ctx context.Context, tx *sqlx.Tx, eventType string, data callbackData) error {
	var endpoints []string
	if err := tx.SelectContext(ctx, &endpoints, `SELECT e.id FROM webhook_endpoints e
		WHERE e.tenant_id = (SELECT tenant_id FROM screenings WHERE id = $1) AND e.enabled AND $2 = ANY (e.event_types)`,
		data.ScreeningID, eventType); err != nil {
		return fmt.Errorf("store: callback endpoints: %w", err)
	}
	if len(endpoints) == 0 {
		return nil
	}
	// Taking the next number locks the screening's row: its events are numbered in commit order.
	var sequence int64
	if err := tx.GetContext(ctx, &sequence, `UPDATE screenings SET callback_sequence = callback_sequence + 1
		WHERE id = $1 RETURNING callback_sequence`, data.ScreeningID); err != nil {
		return fmt.Errorf("store: callback sequence: %w", err)
	}
	data.Links.Screening = screeningLink(data.ScreeningID)
	event := callbackEvent{ID: "msg_" + strings.ReplaceAll(uuid.NewString(), "-", ""), Type: eventType,
		Timestamp: time.Now().UTC(), Sequence: sequence, Data: data}
	payload, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("store: encode callback: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO callback_deliveries
		(endpoint_id, event_id, event_type, screening_id, sequence, payload)
		SELECT unnest($1::uuid[]), $2, $3, $4, $5, $6`,
		pq.Array(endpoints), event.ID, eventType, data.ScreeningID, sequence, payload); err != nil {
		return fmt.Errorf("store: write callback: %w", err)
	}
	return nil
}

// enqueueScreeningCallback writes the event of a screening created, or that reached a terminal status.
func enqueueScreeningCallback(ctx context.Context, tx *sqlx.Tx, screeningID string, status Status, result *string) error {
	eventType := "screening." + string(status)
	if status == StatusPending {
		eventType = EventScreeningCreated
	}
	return enqueueCallback(ctx, tx, eventType, callbackData{ScreeningID: screeningID, Status: status, Result: result})
}

// enqueueCheckCallback writes the event of a check whose status changed from previous: check.completed
// when it completed, check.action_required when the provider waits for the candidate, check.updated
// otherwise. A write that leaves the status as it was is no event.
func enqueueCheckCallback(ctx context.Context, tx *sqlx.Tx, checkID string, previous Status) error {
	var c Check
	if err := tx.GetContext(ctx, &c, `SELECT `+checkColumns+` FROM checks WHERE id = $1`, checkID); err != nil {
		return fmt.Errorf("store: check for callback: %w", notFound(err))
	}
	if c.Status == previous {
		return nil
	}
	eventType := EventCheckUpdated
	switch c.Status {
	case StatusCompleted:
		eventType = EventCheckCompleted
	case StatusActionRequired:
		eventType = EventCheckActionRequired
	}
	return enqueueCallback(ctx, tx, eventType, callbackData{ScreeningID: c.ScreeningID, Status: c.Status,
		CheckID: c.ID, Provider: c.Provider, CheckType: c.Type, Outcome: c.Outcome, FailureReason: c.FailureReason})
}

// enqueueAmendedCheckCallback writes the event of a completed check whose outcome the provider
// changed from previous.
func enqueueAmendedCheckCallback(ctx context.Context, tx *sqlx.Tx, checkID, previous string) error {
	var c Check
	if err := tx.GetContext(ctx, &c, `SELECT `+checkColumns+` FROM checks WHERE id = $1`, checkID); err != nil {
		return fmt.Errorf("store: check for callback: %w", notFound(err))
	}
	return enqueueCallback(ctx, tx, EventCheckAmended, callbackData{ScreeningID: c.ScreeningID, Status: c.Status,
		CheckID: c.ID, Provider: c.Provider, CheckType: c.Type, Outcome: c.Outcome, PreviousOutcome: optional(previous)})
}

// enqueueResultChangedCallback writes the event of a completed screening whose result an amended
// check changed from previous.
func enqueueResultChangedCallback(ctx context.Context, tx *sqlx.Tx, screeningID, result, previous string) error {
	return enqueueCallback(ctx, tx, EventScreeningResultChanged, callbackData{ScreeningID: screeningID,
		Status: StatusCompleted, Result: &result, PreviousResult: optional(previous)})
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// enqueueDocumentCallback writes the event of a document just stored.
func enqueueDocumentCallback(ctx context.Context, tx *sqlx.Tx, d Document) error {
	return enqueueCallback(ctx, tx, EventDocumentAvailable, callbackData{ScreeningID: d.ScreeningID, CheckID: d.CheckID,
		Document: &callbackDoc{ID: d.ID, CheckID: d.CheckID, Kind: d.Kind, ContentType: d.ContentType, Size: d.Size, SHA256: d.SHA256},
		Links:    callbackLinks{Document: screeningLink(d.ScreeningID) + "/documents/" + d.ID}})
}

// CallbackDelivery is one event's delivery to one endpoint, with its attempts: the delivery log.
type CallbackDelivery struct {
	ID             int64      `db:"id"`
	EndpointID     string     `db:"endpoint_id"`
	EventID        string     `db:"event_id"`
	EventType      string     `db:"event_type"`
	ScreeningID    string     `db:"screening_id"`
	Sequence       int64      `db:"sequence"`
	Status         string     `db:"status"`
	Attempts       int        `db:"attempts"`
	NextAttemptAt  time.Time  `db:"next_attempt_at"`
	LastStatusCode *int       `db:"last_status_code"`
	LastError      *string    `db:"last_error"`
	CreatedAt      time.Time  `db:"created_at"`
	DeliveredAt    *time.Time `db:"delivered_at"`
	Log            []CallbackAttemptLog
}

const callbackDeliveryColumns = `id, endpoint_id, event_id, event_type, screening_id, sequence, status, attempts,
	next_attempt_at, last_status_code, last_error, created_at, delivered_at`

// CallbackAttemptLog is one attempt of a delivery.
type CallbackAttemptLog struct {
	DeliveryID  int64     `db:"delivery_id"`
	AttemptedAt time.Time `db:"attempted_at"`
	DurationMS  int       `db:"duration_ms"`
	StatusCode  *int      `db:"status_code"`
	Error       *string   `db:"error"`
}

// CallbackDeliveries lists deliveries to an endpoint of a tenant, newest first, with their
// attempts: up to limit of those older than before (0 for the newest).
func (s *Store) CallbackDeliveries(ctx context.Context, tenantID, endpointID string, before int64, limit int) ([]CallbackDelivery, error) {
	if _, err := s.WebhookEndpoint(ctx, tenantID, endpointID); err != nil {
		return nil, err
	}
	deliveries := []CallbackDelivery{}
	if err := s.db.SelectContext(ctx, &deliveries, `SELECT `+callbackDeliveryColumns+` FROM callback_deliveries
		WHERE endpoint_id = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, endpointID, before, limit); err != nil {
		return nil, fmt.Errorf("store: callback deliveries: %w", err)
	}
	if err := s.attachAttempts(ctx, deliveries); err != nil {
		return nil, err
	}
	return deliveries, nil
}

func (s *Store) attachAttempts(ctx context.Context, deliveries []CallbackDelivery) error {
	ids := make([]int64, len(deliveries))
	byID := make(map[int64]*CallbackDelivery, len(deliveries))
	for i := range deliveries {
		ids[i], byID[deliveries[i].ID] = deliveries[i].ID, &deliveries[i]
		deliveries[i].Log = []CallbackAttemptLog{}
	}
	var attempts []CallbackAttemptLog
	if err := s.db.SelectContext(ctx, &attempts, `SELECT delivery_id, attempted_at, duration_ms, status_code, error
		FROM callback_attempts WHERE delivery_id = ANY ($1) ORDER BY id`, pq.Array(ids)); err != nil {
		return fmt.Errorf("store: callback attempts: %w", err)
	}
	for _, a := range attempts {
		byID[a.DeliveryID].Log = append(byID[a.DeliveryID].Log, a)
	}
	return nil
}

// RedeliverCallback makes a delivery to an endpoint of a tenant due now, whatever became of it,
// with the same webhook-id and body and a new retry window. It still waits for its screening's
// earlier deliveries to the endpoint, and holds back later ones until it is delivered or given up.
func (s *Store) RedeliverCallback(ctx context.Context, tenantID, endpointID string, deliveryID int64) (CallbackDelivery, error) {
	var d CallbackDelivery
	if _, err := s.WebhookEndpoint(ctx, tenantID, endpointID); err != nil {
		return d, err
	}
	if err := s.db.GetContext(ctx, &d, `UPDATE callback_deliveries
		SET status = 'pending', next_attempt_at = now(), lease_id = NULL, pending_since = now(), delivered_at = NULL
		WHERE id = $1 AND endpoint_id = $2 RETURNING `+callbackDeliveryColumns, deliveryID, endpointID); err != nil {
		return d, fmt.Errorf("store: redeliver callback: %w", notFound(err))
	}
	withLog := []CallbackDelivery{d}
	err := s.attachAttempts(ctx, withLog)
	return withLog[0], err
}

// DueCallback is a delivery a dispatcher leased: what to send, where, and signed with which secrets.
type DueCallback struct {
	ID           int64     `db:"id"`
	LeaseID      string    `db:"lease_id"`
	EndpointID   string    `db:"endpoint_id"`
	EventID      string    `db:"event_id"`
	ScreeningID  string    `db:"screening_id"`
	Payload      []byte    `db:"payload"`
	Attempts     int       `db:"attempts"`
	PendingSince time.Time `db:"pending_since"`
	URL          string    `db:"url"`
	// Secrets sign the delivery: the endpoint's secret, then the one its last rotation replaced
	// while that still signs.
	Secrets []string `db:"-"`

	SecretSealed         []byte `db:"secret_sealed"`
	PreviousSecretSealed []byte `db:"previous_secret_sealed"`
}

// ClaimDueCallbacks leases up to limit due deliveries to enabled endpoints, the longest due first,
// for lease. A delivery is due only when no earlier delivery of its screening to its endpoint is
// pending, so that each endpoint receives a screening's events in order; several dispatchers may
// claim at once, each taking rows the others do not hold.
func (s *Store) ClaimDueCallbacks(ctx context.Context, limit int, lease time.Duration) ([]DueCallback, error) {
	var due []DueCallback
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var claimed []DueCallback
		err := tx.SelectContext(ctx, &claimed, `WITH claimed AS (
				UPDATE callback_deliveries d SET lease_id = $1, next_attempt_at = now() + $2 * interval '1 second'
				WHERE d.id IN (SELECT c.id FROM callback_deliveries c
					JOIN webhook_endpoints e ON e.id = c.endpoint_id AND e.enabled
					WHERE c.status = 'pending' AND c.next_attempt_at <= now()
					  AND NOT EXISTS (SELECT 1 FROM callback_deliveries p
						WHERE p.endpoint_id = c.endpoint_id AND p.screening_id = c.screening_id
						  AND p.status = 'pending' AND p.sequence < c.sequence)
					ORDER BY c.next_attempt_at, c.id LIMIT $3
					FOR UPDATE OF c SKIP LOCKED)
				RETURNING d.id, d.lease_id, d.endpoint_id, d.event_id, d.screening_id, d.payload, d.attempts, d.pending_since)
			SELECT c.*, e.url, e.secret_sealed,
				CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret_sealed END AS previous_secret_sealed
			FROM claimed c JOIN webhook_endpoints e ON e.id = c.endpoint_id
			ORDER BY c.id`, uuid.NewString(), lease.Seconds(), limit)
		if err != nil {
			return err
		}
		if len(claimed) > 0 && s.vault == nil {
			return errNoVault
		}
		// A delivery whose endpoint's secret does not open stays leased, with the reason, and is due
		// again when its lease ends (a replica not given a new key yet cannot open what the others
		// sealed with it). Failing the claim instead would hold up every endpoint's deliveries.
		var unopened []int64
		for _, d := range claimed {
			if err := s.openSecrets(&d); err != nil {
				unopened = append(unopened, d.ID)
				continue
			}
			due = append(due, d)
		}
		if len(unopened) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE callback_deliveries SET last_error = $2 WHERE id = ANY($1)`,
				pq.Array(unopened), secretNotOpened); err != nil {
				return fmt.Errorf("note callback secrets not opened: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim due callbacks: %w", err)
	}
	return due, nil
}

// secretNotOpened is the last_error of a delivery whose endpoint's signing secret does not open.
const secretNotOpened = "the endpoint's signing secret cannot be opened: is the key that sealed it loaded? (SCREENFLOW_ENCRYPTION_OLD_KEYS)"

func (s *Store) openSecrets(d *DueCallback) error {
	if s.vault == nil {
		return errNoVault
	}
	for _, sealed := range [][]byte{d.SecretSealed, d.PreviousSecretSealed} {
		if sealed == nil {
			continue
		}
		secret, err := s.vault.Open(sealed, webhookSecretAD(d.EndpointID))
		if err != nil {
			return fmt.Errorf("store: webhook endpoint %s secret: %w", d.EndpointID, err)
		}
		d.Secrets = append(d.Secrets, string(secret))
	}
	d.SecretSealed, d.PreviousSecretSealed = nil, nil
	return nil
}

// CallbackAttempt is the outcome of one attempt to deliver a claimed callback.
type CallbackAttempt struct {
	DeliveryID  int64
	LeaseID     string
	EndpointID  string
	AttemptedAt time.Time
	Duration    time.Duration
	StatusCode  int    // 0 when no response came
	Error       string // "" when delivered
	Delivered   bool
	// RetryAt is when to try again a delivery not delivered; zero gives it up.
	RetryAt time.Time
	// FailureBudget: an endpoint whose attempts have all failed for longer is disabled.
	FailureBudget time.Duration
}

// RecordCallbackAttempt logs an attempt and updates its delivery and endpoint: delivered, due again
// at RetryAt, or given up. An attempt whose lease is no longer the delivery's (it ran out and
// another dispatcher claimed it, or it was redelivered) is not recorded, so a slow dispatcher
// cannot overwrite a newer outcome. A success ends the endpoint's failing streak; a failure that
// makes the streak longer than FailureBudget disables the endpoint. It reports whether the
// endpoint is disabled after a failed attempt.
func (s *Store) RecordCallbackAttempt(ctx context.Context, a CallbackAttempt) (disabled bool, err error) {
	status, retryAt := CallbackPending, a.RetryAt
	switch {
	case a.Delivered:
		status, retryAt = CallbackDelivered, a.AttemptedAt
	case a.RetryAt.IsZero():
		status, retryAt = CallbackFailed, a.AttemptedAt
	}
	var statusCode *int
	if a.StatusCode != 0 {
		statusCode = &a.StatusCode
	}
	var attemptError *string
	if a.Error != "" {
		truncated := a.Error[:min(len(a.Error), maxDeliveryErrorBytes)]
		attemptError = &truncated
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `WITH updated AS (
				UPDATE callback_deliveries SET status = $3, next_attempt_at = $4, lease_id = NULL, attempts = attempts + 1,
					last_status_code = $5, last_error = $6,
					delivered_at = CASE WHEN $3 = 'delivered' THEN $7::timestamptz END
				WHERE id = $1 AND lease_id = $2 RETURNING id)
			INSERT INTO callback_attempts (delivery_id, attempted_at, duration_ms, status_code, error)
			SELECT id, $7, $8, $5, $6 FROM updated`,
			a.DeliveryID, a.LeaseID, status, retryAt, statusCode, attemptError, a.AttemptedAt, a.Duration.Milliseconds())
		if err != nil {
			return fmt.Errorf("store: record callback attempt: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		if a.Delivered {
			_, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL
				WHERE id = $1 AND failing_since IS NOT NULL`, a.EndpointID)
			if err != nil {
				return fmt.Errorf("store: endpoint succeeded: %w", err)
			}
			return nil
		}
		err = tx.GetContext(ctx, &disabled, `UPDATE webhook_endpoints
			SET failing_since = COALESCE(failing_since, $2),
			    enabled = enabled AND COALESCE(failing_since, $2) > $2 - $3 * interval '1 second',
			    disabled_reason = CASE WHEN enabled AND COALESCE(failing_since, $2) <= $2 - $3 * interval '1 second'
			        THEN 'every delivery failed since ' || to_char(COALESCE(failing_since, $2) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
			        ELSE disabled_reason END,
			    updated_at = now()
			WHERE id = $1 RETURNING NOT enabled`,
			a.EndpointID, a.AttemptedAt, a.FailureBudget.Seconds())
		if err != nil {
			return fmt.Errorf("store: endpoint failed: %w", notFound(err))
		}
		return nil
	})
	return disabled, err
}

// webhookSecretsNotUnder is the condition on webhook_endpoints of a row with a secret not sealed
// under the key of prefix (of length prefixLength): its secret, or the previous one while it
// still signs.
func webhookSecretsNotUnder(prefix, prefixLength string) string {
	return `(substring(secret_sealed FROM 1 FOR ` + prefixLength + `) <> ` + prefix + `
		OR (previous_secret_sealed IS NOT NULL AND previous_secret_expires_at > now()
			AND substring(previous_secret_sealed FROM 1 FOR ` + prefixLength + `) <> ` + prefix + `))`
}

// resealWebhookSecrets re-seals the secrets of webhook endpoints; a previous secret that no longer
// signs is dropped rather than re-sealed.
func (s *Store) resealWebhookSecrets(ctx context.Context, tx *sqlx.Tx, after string, limit int) (int, string, error) {
	var rows []struct {
		ID             string `db:"id"`
		Secret         []byte `db:"secret_sealed"`
		PreviousSecret []byte `db:"previous_secret_sealed"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT id, secret_sealed,
			CASE WHEN previous_secret_expires_at > now() THEN previous_secret_sealed END AS previous_secret_sealed
		FROM webhook_endpoints WHERE id > $1 AND `+webhookSecretsNotUnder("$2", "$4")+`
		ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`,
		after, s.vault.PrimaryPrefix(), limit, len(s.vault.PrimaryPrefix())); err != nil {
		return 0, "", fmt.Errorf("store: webhook secrets to re-seal: %w", err)
	}
	for _, row := range rows {
		resealed := make([][]byte, 2)
		for i, sealed := range [][]byte{row.Secret, row.PreviousSecret} {
			if sealed == nil {
				continue
			}
			secret, err := s.vault.Open(sealed, webhookSecretAD(row.ID))
			if err != nil {
				return 0, "", fmt.Errorf("store: webhook endpoint %s secret: %w (is the key that sealed it loaded?)", row.ID, err)
			}
			resealed[i] = s.vault.Seal(secret, webhookSecretAD(row.ID))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET secret_sealed = $2, previous_secret_sealed = $3,
				previous_secret_expires_at = CASE WHEN $3::bytea IS NULL THEN NULL ELSE previous_secret_expires_at END
			WHERE id = $1`, row.ID, resealed[0], resealed[1]); err != nil {
			return 0, "", fmt.Errorf("store: re-seal webhook endpoint %s secret: %w", row.ID, err)
		}
	}
	if len(rows) == 0 {
		return 0, "", nil
	}
	return len(rows), rows[len(rows)-1].ID, nil
}

// PurgeCallbackDeliveries deletes, with their attempts, up to limit deliveries that finished
// (delivered or given up) before cutoff, oldest first, and returns how many it deleted. A pending
// delivery is kept however old: it still waits for its endpoint. A finished delivery's
// next_attempt_at is the time of its last attempt.
func (s *Store) PurgeCallbackDeliveries(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM callback_deliveries WHERE id IN (
			SELECT id FROM callback_deliveries WHERE status <> 'pending' AND next_attempt_at < $1 ORDER BY id LIMIT $2)`,
		cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("store: purge callback deliveries: %w", err)
	}
	return res.RowsAffected()
}
