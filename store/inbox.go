package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Inbox event statuses.
const (
	InboxPending    = "pending"    // stored, not handed to a workflow yet
	InboxDelivered  = "delivered"  // signalled to the workflow its subject routes to
	InboxUnroutable = "unroutable" // no route appeared for its subject in time; kept for inspection
	InboxDiscarded  = "discarded"  // its workflow had already closed
	// InboxUnparsed is an authentic body that could not be read as an event: kept, with the
	// reason in last_error, never delivered until it is replayed after a fix.
	InboxUnparsed = "unparsed"
)

// NewInboxEvent is a verified webhook as received.
type NewInboxEvent struct {
	Provider  string
	EventID   string
	EventType string
	Subject   string
	Headers   map[string]string
	Body      []byte
	// ParseError, when set, stores the event as InboxUnparsed with this reason.
	ParseError string
}

// InsertWebhookEvent stores an event once per (provider, event id). inserted is false for a
// duplicate, which is not an error: the provider is retrying something already stored.
func (s *Store) InsertWebhookEvent(ctx context.Context, e NewInboxEvent) (id int64, inserted bool, err error) {
	headers, err := json.Marshal(e.Headers)
	if err != nil {
		return 0, false, fmt.Errorf("store: encode headers: %w", err)
	}
	status, lastError := InboxPending, (*string)(nil)
	if e.ParseError != "" {
		status, lastError = InboxUnparsed, &e.ParseError
	}
	rows, err := s.db.QueryContext(ctx, `INSERT INTO webhook_events (provider, event_id, event_type, subject, headers, body,
			status, last_error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (provider, event_id) DO NOTHING RETURNING id`,
		e.Provider, e.EventID, e.EventType, e.Subject, headers, e.Body, status, lastError)
	if err != nil {
		return 0, false, fmt.Errorf("store: insert webhook event: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return 0, false, fmt.Errorf("store: insert webhook event: %w", err)
		}
		inserted = true
	}
	if err := rows.Err(); err != nil {
		return 0, false, fmt.Errorf("store: insert webhook event: %w", err)
	}
	return id, inserted, nil
}

// InboxEvent is a stored webhook claimed for delivery, with the workflow its subject routes to.
type InboxEvent struct {
	ID         int64     `db:"id"`
	Provider   string    `db:"provider"`
	EventID    string    `db:"event_id"`
	EventType  string    `db:"event_type"`
	Subject    string    `db:"subject"`
	Body       []byte    `db:"body"`
	ReceivedAt time.Time `db:"received_at"`
	Attempts   int       `db:"attempts"`
	WorkflowID *string   `db:"workflow_id"`
}

// Disposition is what the relay decided for a claimed event.
type Disposition struct {
	Status  string    // one of the Inbox* statuses
	Error   string    // why it is not delivered yet, or why it was given up
	RetryAt time.Time // for InboxPending: when to try again
	// StopBatch ends the batch after this event, leaving the rest untouched for a later sweep:
	// when Temporal is down there is no point in waiting for it once per event.
	StopBatch bool
}

// ProcessDueEvents claims up to limit pending events that are due (only eventID when it is not 0),
// oldest first, calls handle for each while holding their row locks, and records each disposition.
// FOR UPDATE SKIP LOCKED lets the fast path and any number of sweepers run at once without
// handing one event over twice at the same time. It returns how many events were handled.
func (s *Store) ProcessDueEvents(ctx context.Context, eventID int64, limit int,
	handle func(context.Context, InboxEvent) Disposition) (int, error) {
	handled := 0
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var events []InboxEvent
		err := tx.SelectContext(ctx, &events, `SELECT e.id, e.provider, e.event_id, e.event_type, e.subject,
				e.body, e.received_at, e.attempts, r.workflow_id
			FROM webhook_events e
			LEFT JOIN routes r ON r.provider = e.provider AND r.subject = e.subject
			WHERE e.status = 'pending' AND e.next_attempt_at <= now() AND ($1 = 0 OR e.id = $1)
			ORDER BY e.id
			LIMIT $2
			FOR UPDATE OF e SKIP LOCKED`, eventID, limit)
		if err != nil {
			return fmt.Errorf("store: claim webhook events: %w", err)
		}
		for _, e := range events {
			d := handle(ctx, e)
			if err := recordDisposition(ctx, tx, e.ID, d); err != nil {
				return err
			}
			handled++
			if d.StopBatch {
				break
			}
		}
		return nil
	})
	return handled, err
}

func recordDisposition(ctx context.Context, tx *sqlx.Tx, id int64, d Disposition) error {
	var err error
	switch d.Status {
	case InboxDelivered:
		_, err = tx.ExecContext(ctx, `UPDATE webhook_events
			SET status = 'delivered', attempts = attempts + 1, delivered_at = now(), last_error = NULL
			WHERE id = $1`, id)
	case InboxPending:
		_, err = tx.ExecContext(ctx, `UPDATE webhook_events
			SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1`,
			id, d.RetryAt, d.Error)
	case InboxUnroutable, InboxDiscarded:
		_, err = tx.ExecContext(ctx, `UPDATE webhook_events
			SET status = $2, attempts = attempts + 1, last_error = $3 WHERE id = $1`, id, d.Status, d.Error)
	default:
		return fmt.Errorf("store: unknown inbox disposition %q", d.Status)
	}
	if err != nil {
		return fmt.Errorf("store: record disposition: %w", err)
	}
	return nil
}

// InboxStatus is an event's delivery state, for operators and tests.
type InboxStatus struct {
	ID          int64      `db:"id"`
	Status      string     `db:"status"`
	Attempts    int        `db:"attempts"`
	LastError   *string    `db:"last_error"`
	DeliveredAt *time.Time `db:"delivered_at"`
}

// WebhookEventStatus reads the delivery state of a stored event.
func (s *Store) WebhookEventStatus(ctx context.Context, provider, eventID string) (InboxStatus, error) {
	var st InboxStatus
	err := s.db.GetContext(ctx, &st, `SELECT id, status, attempts, last_error, delivered_at
		FROM webhook_events WHERE provider = $1 AND event_id = $2`, provider, eventID)
	if err != nil {
		return st, fmt.Errorf("store: webhook event status: %w", notFound(err))
	}
	return st, nil
}
