package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
)

// The inbox's operator tools: list the events of a status, show one, and replay those the relay
// gave up on (unroutable, discarded, unparsed) once whatever stopped them is fixed.

// DefaultInboxListLimit is how many events a listing shows when not told.
const DefaultInboxListLimit = 100

// InboxFilter selects events for an operator's listing or replay.
type InboxFilter struct {
	Status   string // one of the Inbox* statuses
	Provider string // "" for every provider
	Limit    int    // at most this many, newest first; DefaultInboxListLimit when not positive
}

// InboxEntry is an event as operators list it: its ids and delivery state, never its body.
type InboxEntry struct {
	ID           int64      `db:"id"`
	Provider     string     `db:"provider"`
	EventID      string     `db:"event_id"`
	EventType    string     `db:"event_type"`
	Subject      string     `db:"subject"`
	ReceivedAt   time.Time  `db:"received_at"`
	Status       string     `db:"status"`
	Attempts     int        `db:"attempts"`
	LastError    *string    `db:"last_error"`
	DeliveredAt  *time.Time `db:"delivered_at"`
	BodyPurgedAt *time.Time `db:"body_purged_at"`
}

const inboxEntryColumns = `id, provider, event_id, event_type, subject, received_at, status, attempts, last_error,
	delivered_at, body_purged_at`

// InboxEventDetail is an event with its headers and its body opened from the seal: it holds what
// the provider sent, candidate data included, for the caller to mask before showing it.
type InboxEventDetail struct {
	InboxEntry
	Headers map[string]string
	Body    []byte // empty once purged (BodyPurgedAt)
}

// inboxStatuses are the statuses an operator may filter on.
var inboxStatuses = map[string]bool{InboxPending: true, InboxDelivered: true, InboxUnroutable: true,
	InboxDiscarded: true, InboxUnparsed: true}

// ListInboxEvents lists the events of f.Status (and f.Provider), newest first.
func (s *Store) ListInboxEvents(ctx context.Context, f InboxFilter) ([]InboxEntry, error) {
	if !inboxStatuses[f.Status] {
		return nil, fmt.Errorf("store: list inbox events: unknown status %q", f.Status)
	}
	if f.Limit <= 0 {
		f.Limit = DefaultInboxListLimit
	}
	entries := []InboxEntry{}
	err := s.db.SelectContext(ctx, &entries, `SELECT `+inboxEntryColumns+` FROM webhook_events
		WHERE status = $1 AND ($2 = '' OR provider = $2)
		ORDER BY id DESC LIMIT $3`, f.Status, f.Provider, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: list inbox events: %w", err)
	}
	return entries, nil
}

// InboxEvent reads one event, its body opened. ErrNotFound when there is no event id.
func (s *Store) InboxEvent(ctx context.Context, id int64) (InboxEventDetail, error) {
	var row struct {
		InboxEntry
		Headers    []byte `db:"headers"`
		Body       []byte `db:"body"`
		BodySealed bool   `db:"body_sealed"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT `+inboxEntryColumns+`, headers, body, body_sealed
		FROM webhook_events WHERE id = $1`, id)
	if err != nil {
		return InboxEventDetail{}, fmt.Errorf("store: inbox event %d: %w", id, notFound(err))
	}
	d := InboxEventDetail{InboxEntry: row.InboxEntry}
	if err := json.Unmarshal(row.Headers, &d.Headers); err != nil {
		return InboxEventDetail{}, fmt.Errorf("store: inbox event %d headers: %w", id, err)
	}
	if d.Body, err = s.openInboxBody(d.Provider, d.EventID, row.Body, row.BodySealed); err != nil {
		return InboxEventDetail{}, fmt.Errorf("store: inbox event %d: %w", id, err)
	}
	return d, nil
}

func (s *Store) openInboxBody(provider, eventID string, body []byte, sealed bool) ([]byte, error) {
	if !sealed {
		return body, nil
	}
	if s.vault == nil {
		return nil, errNoVault
	}
	opened, err := s.vault.Open(body, inboxBodyAD(provider, eventID))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bodyNotOpened, err)
	}
	return opened, nil
}

// Reparse reads an unparsed event's body again, with the provider's parser of this release, for
// the type and subject the receiver could not read when it stored the event.
type Reparse func(provider string, body []byte) (eventType, subject string, err error)

// ReplayResult is what a replay did with one event.
type ReplayResult struct {
	ID       int64
	Status   string // the event's status before the replay
	Replayed bool
	// Reason says why an event was left as it was.
	Reason string
}

// ReplayInboxEvent hands an event the relay gave up on (unroutable, discarded, unparsed) back to
// it: pending, due now, with no attempts and no error, its route looked up afresh when it is
// claimed. An unparsed event is parsed again first (reparse) and stays unparsed if it still does
// not parse. A pending or delivered event is left alone: the relay has it or its workflow does, so
// a replay never signals anything twice, and replaying an event again before the relay took it
// is a no-op. An event whose body was purged is left alone: there is nothing to deliver.
// ErrNotFound when there is no event id.
func (s *Store) ReplayInboxEvent(ctx context.Context, id int64, reparse Reparse) (ReplayResult, error) {
	var result ReplayResult
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var row struct {
			Provider   string     `db:"provider"`
			EventID    string     `db:"event_id"`
			EventType  string     `db:"event_type"`
			Subject    string     `db:"subject"`
			Status     string     `db:"status"`
			Body       []byte     `db:"body"`
			BodySealed bool       `db:"body_sealed"`
			PurgedAt   *time.Time `db:"body_purged_at"`
		}
		err := tx.GetContext(ctx, &row, `SELECT provider, event_id, event_type, subject, status, body, body_sealed,
			body_purged_at FROM webhook_events WHERE id = $1 FOR UPDATE`, id)
		if err != nil {
			return notFound(err)
		}
		result = ReplayResult{ID: id, Status: row.Status}
		switch {
		case row.Status == InboxPending:
			result.Reason = "already pending: the relay delivers it"
			return nil
		case row.Status == InboxDelivered:
			result.Reason = "already delivered: its workflow has it"
			return nil
		case row.PurgedAt != nil:
			result.Reason = "its body was purged (INBOX_BODY_RETENTION): nothing is left to deliver"
			return nil
		}
		eventType, subject := row.EventType, row.Subject
		if row.Status == InboxUnparsed {
			if reparse == nil {
				result.Reason = "unparsed, and no parser was given to read it again"
				return nil
			}
			body, err := s.openInboxBody(row.Provider, row.EventID, row.Body, row.BodySealed)
			if err != nil {
				return err
			}
			if eventType, subject, err = reparse(row.Provider, body); err != nil {
				result.Reason = "still unparsed: " + err.Error()
				_, err = tx.ExecContext(ctx, `UPDATE webhook_events SET last_error = $2 WHERE id = $1`, id, err.Error())
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_events
			SET status = 'pending', event_type = $2, subject = $3, attempts = 0, next_attempt_at = now(),
			    last_error = NULL, delivered_at = NULL, lease_id = NULL
			WHERE id = $1`, id, eventType, subject)
		result.Replayed = err == nil
		return err
	})
	if err != nil {
		return ReplayResult{}, fmt.Errorf("store: replay inbox event %d: %w", id, err)
	}
	return result, nil
}

// ReplayInboxEvents replays (ReplayInboxEvent) the events f selects, oldest first, each in its own
// transaction: one that cannot be replayed holds up none of the others. f.Limit bounds how many.
func (s *Store) ReplayInboxEvents(ctx context.Context, f InboxFilter, reparse Reparse) ([]ReplayResult, error) {
	if !slices.Contains(ReplayableInboxStatuses, f.Status) {
		return nil, fmt.Errorf("store: replay inbox events: only unroutable, discarded or unparsed events are replayed, not %q", f.Status)
	}
	if f.Limit <= 0 {
		f.Limit = DefaultInboxListLimit
	}
	var ids []int64
	err := s.db.SelectContext(ctx, &ids, `SELECT id FROM webhook_events
		WHERE status = $1 AND ($2 = '' OR provider = $2) AND body_purged_at IS NULL
		ORDER BY id LIMIT $3`, f.Status, f.Provider, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: replay inbox events: %w", err)
	}
	results := make([]ReplayResult, 0, len(ids))
	for _, id := range ids {
		r, err := s.ReplayInboxEvent(ctx, id, reparse)
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}
