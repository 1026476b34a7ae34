package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
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

var (
	// InboxStatuses are every status an inbox event can have.
	InboxStatuses = []string{InboxPending, InboxDelivered, InboxUnroutable, InboxDiscarded, InboxUnparsed}
	// ReplayableInboxStatuses are those an operator may hand back to the relay (ReplayInboxEvents):
	// the others are delivered, or the relay's to retry.
	ReplayableInboxStatuses = []string{InboxUnroutable, InboxDiscarded, InboxUnparsed}
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
	// Routed says the event goes to the workflow its subject routes to (registry.Envelope.Routed).
	Routed bool
}

// InsertWebhookEvent stores an event once per (provider, event id). inserted is false for a
// duplicate, which is not an error: the provider is retrying something already stored.
func (s *Store) InsertWebhookEvent(ctx context.Context, e NewInboxEvent) (id int64, inserted bool, err error) {
	row, err := s.inboxRow(e)
	if err != nil {
		return 0, false, err
	}
	rows, err := s.db.QueryContext(ctx, `INSERT INTO webhook_events (provider, event_id, event_type, subject, headers, body,
			body_sealed, status, last_error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, '')) ON CONFLICT (provider, event_id) DO NOTHING RETURNING id`,
		e.Provider, e.EventID, e.EventType, e.Subject, row.headers, row.body, row.bodySealed, row.status, e.ParseError)
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
	// LeaseID names the claim that holds the event; its outcome is recorded only under it.
	LeaseID string `db:"lease_id"`
}

// claimEvents is the claim statement for the events that due selects (ids, FOR UPDATE SKIP
// LOCKED): it leases them until now() + lease in one short transaction and returns them in id
// order. Nothing stays locked once it returns: the lease keeps other relays off the events, and
// when it runs out (a relay that died) next_attempt_at has arrived, so the events are due again.
func claimEvents(due string) string {
	return `WITH due AS (` + due + `), claimed AS (
		UPDATE webhook_events e
		SET lease_id = $1, next_attempt_at = now() + make_interval(secs => $2)
		FROM due WHERE e.id = due.id
		RETURNING e.id, e.provider, e.event_id, e.event_type, e.subject, e.body, e.body_sealed, e.received_at,
			e.attempts, e.lease_id
	)
	SELECT c.*, r.workflow_id
	FROM claimed c LEFT JOIN routes r ON r.provider = c.provider AND r.subject = c.subject
	ORDER BY c.id`
}

// The relay's claims: the longest due events ($3 at most), and those of the ids $3 that are due.
var (
	claimDueEvents = claimEvents(`SELECT id FROM webhook_events
		WHERE status = 'pending' AND next_attempt_at <= now()
		ORDER BY next_attempt_at, id
		LIMIT $3
		FOR UPDATE SKIP LOCKED`)
	claimEventsByID = claimEvents(`SELECT id FROM webhook_events
		WHERE id = ANY($3) AND status = 'pending' AND next_attempt_at <= now()
		FOR UPDATE SKIP LOCKED`)
)

// ClaimDueEvents leases up to limit due pending events, the longest due first, their bodies opened
// (see openClaimed).
func (s *Store) ClaimDueEvents(ctx context.Context, limit int, lease time.Duration) ([]InboxEvent, error) {
	events, err := s.claim(ctx, claimDueEvents, lease, limit)
	if err != nil {
		return nil, fmt.Errorf("store: claim due webhook events: %w", err)
	}
	return events, nil
}

// ClaimEvents leases those of the events ids that are pending and due: the relay's fast path for
// events just stored. Their bodies are opened as ClaimDueEvents opens them.
func (s *Store) ClaimEvents(ctx context.Context, ids []int64, lease time.Duration) ([]InboxEvent, error) {
	events, err := s.claim(ctx, claimEventsByID, lease, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("store: claim webhook events: %w", err)
	}
	return events, nil
}

// claim runs a claim statement, prepared, with which as its third parameter.
func (s *Store) claim(ctx context.Context, query string, lease time.Duration, which any) ([]InboxEvent, error) {
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	var events []InboxEvent
	err = s.inAsyncCommitTx(ctx, func(tx *sqlx.Tx) error {
		var rows []claimedRow
		if err := tx.StmtxContext(ctx, stmt).SelectContext(ctx, &rows, uuid.NewString(), lease.Seconds(), which); err != nil {
			return err
		}
		events, err = s.openClaimed(ctx, tx, rows)
		return err
	})
	return events, err
}

// Outcome is what became of a claimed event.
type Outcome struct {
	ID      int64
	LeaseID string
	Status  string // one of the Inbox* statuses
	// Attempted counts the outcome as a delivery attempt. An event released unattempted (its
	// relay is stopping, or Temporal is known to be down) keeps its count and last error.
	Attempted bool
	Error     string    // why it is not delivered yet, or why it was given up
	RetryAt   time.Time // for InboxPending: when to try again
	// AwaitingRoute marks a pending event that had no route when it was claimed: if the route
	// was written while the relay held it, the event is due again at once rather than at RetryAt.
	AwaitingRoute bool
	// Note, for InboxDelivered, is what the event leaves in its check's record: written with the
	// outcome, in its transaction, and only when the outcome is recorded.
	Note *EventNote
	// DeliveredAt, for InboxDelivered, is when the event was delivered, on the relay's clock. The
	// relay records outcomes in batches, a while later: delivered_at is set that long before the
	// record, on Postgres's clock, as received_at is. Zero: the time of the record.
	DeliveredAt time.Time
}

// recordOutcomes records the outcomes of claimed events under their leases (see RecordOutcomes).
const recordOutcomes = `UPDATE webhook_events e
	SET status = o.status,
	    attempts = e.attempts + CASE WHEN o.attempted THEN 1 ELSE 0 END,
	    next_attempt_at = CASE
	        WHEN o.awaiting_route AND EXISTS (SELECT 1 FROM routes r WHERE r.provider = e.provider AND r.subject = e.subject)
	            THEN now()
	        ELSE coalesce(nullif(o.retry_at, '')::timestamptz, e.next_attempt_at) END,
	    last_error = CASE WHEN o.status = 'delivered' THEN NULL ELSE coalesce(nullif(o.error, ''), e.last_error) END,
	    delivered_at = CASE WHEN o.status = 'delivered' THEN now() - make_interval(secs => o.delivered_ago) ELSE e.delivered_at END,
	    lease_id = NULL
	FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bool[], $5::text[], $6::text[], $7::bool[], $8::float8[])
		AS o(id, lease_id, status, attempted, retry_at, error, awaiting_route, delivered_ago)
	WHERE e.id = o.id AND e.lease_id = o.lease_id AND e.status = 'pending'
	RETURNING e.id`

// RecordOutcomes records outcomes of claimed events in one statement and ends their leases. An
// outcome whose lease is no longer the event's (it ran out and another relay claimed the event)
// is skipped, so a slow relay cannot overwrite a newer outcome. The notes of the outcomes recorded
// are written in the same transaction. It returns how many it recorded.
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []Outcome) (int, error) {
	n := len(outcomes)
	ids, leases, statuses := make([]int64, n), make([]string, n), make([]string, n)
	attempted, awaitingRoute := make([]bool, n), make([]bool, n)
	var parked []int64
	retryAt, errs := make([]string, n), make([]string, n)
	deliveredAgo := make([]float64, n)
	for i, o := range outcomes {
		switch o.Status {
		case InboxPending, InboxDelivered, InboxUnroutable, InboxDiscarded:
		default:
			return 0, fmt.Errorf("store: unknown inbox outcome %q", o.Status)
		}
		if o.Status == InboxPending && o.RetryAt.IsZero() {
			return 0, fmt.Errorf("store: pending outcome of event %d without a retry time", o.ID)
		}
		if o.Note != nil && o.Status != InboxDelivered {
			return 0, fmt.Errorf("store: %s outcome of event %d with a note", o.Status, o.ID)
		}
		ids[i], leases[i], statuses[i] = o.ID, o.LeaseID, o.Status
		attempted[i], awaitingRoute[i], errs[i] = o.Attempted, o.AwaitingRoute, o.Error
		if o.AwaitingRoute {
			parked = append(parked, o.ID)
		}
		if !o.RetryAt.IsZero() {
			retryAt[i] = o.RetryAt.UTC().Format(time.RFC3339Nano)
		}
		if !o.DeliveredAt.IsZero() {
			deliveredAgo[i] = max(time.Since(o.DeliveredAt).Seconds(), 0)
		}
	}
	record, err := s.prepared(ctx, recordOutcomes)
	if err != nil {
		return 0, err
	}
	var recorded []int64
	err = s.inAsyncCommitTx(ctx, func(tx *sqlx.Tx) error {
		// A route being written now is committed before the statement below looks for it, so an
		// event is never parked past a route that woke it before it was stored (addRoute). In
		// key order, as every parker takes them.
		if len(parked) > 0 {
			if _, err := tx.ExecContext(ctx, `SELECT `+fmt.Sprintf(routeParkLock, "provider", "subject")+`
				FROM (SELECT DISTINCT provider, subject FROM webhook_events WHERE id = ANY($1)) routes
				ORDER BY hashtext(provider || '/' || subject)`, pq.Array(parked)); err != nil {
				return fmt.Errorf("store: lock routes of events awaiting them: %w", err)
			}
		}
		err := tx.StmtxContext(ctx, record).SelectContext(ctx, &recorded, pq.Array(ids), pq.Array(leases),
			pq.Array(statuses), pq.Array(attempted), pq.Array(retryAt), pq.Array(errs), pq.Array(awaitingRoute),
			pq.Array(deliveredAgo))
		if err != nil {
			return fmt.Errorf("store: record webhook event outcomes: %w", err)
		}
		// Only with an outcome recorded under its lease: another relay's claim notes the event
		// itself. In the order of the outcomes, in which each workflow's events came.
		isRecorded := make(map[int64]bool, len(recorded))
		for _, id := range recorded {
			isRecorded[id] = true
		}
		var notes []EventNote
		for _, o := range outcomes {
			if o.Note != nil && isRecorded[o.ID] {
				notes = append(notes, *o.Note)
			}
		}
		return writeNotes(ctx, tx, notes)
	})
	if err != nil {
		return 0, err
	}
	return len(recorded), nil
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
