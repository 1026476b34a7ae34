package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Webhook bodies are sealed at rest, all of them: which provider events carry PII (ComplyCube
// client.*, Checkr candidate.*, Authenticate USER_PII_UPDATE, ...) changes with the providers, and
// sealing 1-2 KB costs microseconds. Headers are not sealed: the receiver keeps no credentials in
// them, and the purge empties them with the body.

// inboxBodyAD binds a sealed body to its event. The row's id is not known before the insert, so
// the event's unique key stands for it: a body moved to another event does not open.
func inboxBodyAD(provider, eventID string) []byte {
	return []byte("webhook_events/" + provider + "\x00" + eventID)
}

// inboxRow is what the inbox stores beside the event's own fields.
type inboxRow struct {
	headers    []byte
	body       []byte
	bodySealed bool
	// status is unparsed when the event has a ParseError, which is then its last_error.
	status string
}

// inboxRow seals the event's body when the store has a vault; without one (tests that are not
// about encryption) the body is stored in the clear, as before migration 00011.
func (s *Store) inboxRow(e NewInboxEvent) (inboxRow, error) {
	headers, err := json.Marshal(e.Headers)
	if err != nil {
		return inboxRow{}, fmt.Errorf("store: encode headers: %w", err)
	}
	row := inboxRow{headers: headers, body: e.Body, status: InboxPending}
	if s.vault != nil {
		row.body, row.bodySealed = s.vault.Seal(e.Body, inboxBodyAD(e.Provider, e.EventID)), true
	}
	if e.ParseError != "" {
		row.status = InboxUnparsed
	}
	return row, nil
}

// claimedRow is a claimed event as the claim returns it, its body possibly sealed.
type claimedRow struct {
	InboxEvent
	BodySealed bool `db:"body_sealed"`
}

// bodyNotOpened is the last_error of a claimed event whose body could not be opened.
const bodyNotOpened = "the body cannot be opened: is the key that sealed it loaded? (SCREENFLOW_ENCRYPTION_OLD_KEYS)"

// openClaimed opens the bodies of claimed events, for the relay to read them in the clear. An event
// whose body does not open is not returned: it stays leased, so it is due again when its lease
// ends, when another relay, or this one once given the key, may open it (a replica not yet given a
// new primary key cannot open what the others sealed with it). Its last_error says why, for
// operators. Failing the whole claim instead would hold up every event leased with it.
func (s *Store) openClaimed(ctx context.Context, tx *sqlx.Tx, rows []claimedRow) ([]InboxEvent, error) {
	events := make([]InboxEvent, 0, len(rows))
	var unopened []int64
	for _, row := range rows {
		e := row.InboxEvent
		if row.BodySealed {
			if s.vault == nil {
				unopened = append(unopened, e.ID)
				continue
			}
			body, err := s.vault.Open(e.Body, inboxBodyAD(e.Provider, e.EventID))
			if err != nil {
				unopened = append(unopened, e.ID)
				continue
			}
			e.Body = body
		}
		events = append(events, e)
	}
	if len(unopened) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_events SET last_error = $2 WHERE id = ANY($1)`,
			pq.Array(unopened), bodyNotOpened); err != nil {
			return nil, fmt.Errorf("store: note webhook bodies not opened: %w", err)
		}
	}
	return events, nil
}

// purgedBody is the SET clause that empties an event's body and headers and keeps its row:
// the retention purge and an erasure both leave an event so.
const purgedBody = `body = '', body_sealed = false, headers = '{}', body_purged_at = now()`

// PurgeWebhookBodies empties the body and headers of the events that reached a final status
// (delivered, discarded, unroutable, unparsed) before finishedBefore: delivered before it, or, for
// the others, received before it. The rows stay, with their ids, type, subject, status and times,
// for audit; body_purged_at says when their body went. Each batch of at most batch rows is one
// short statement that skips rows locked by others, which a later purge takes. It returns how
// many it purged.
func (s *Store) PurgeWebhookBodies(ctx context.Context, finishedBefore time.Time, batch int) (int, error) {
	if batch <= 0 {
		return 0, fmt.Errorf("store: purge webhook bodies: batch %d is not positive", batch)
	}
	total := 0
	for {
		// The conditions are those of the webhook_events_body_kept index, which this reads in order.
		res, err := s.db.ExecContext(ctx, `WITH finished AS (
				SELECT id FROM webhook_events
				WHERE status <> 'pending' AND body_purged_at IS NULL
					AND coalesce(delivered_at, received_at) < $1
				ORDER BY coalesce(delivered_at, received_at), id
				LIMIT $2
				FOR UPDATE SKIP LOCKED)
			UPDATE webhook_events e
			SET `+purgedBody+`
			FROM finished WHERE e.id = finished.id`, finishedBefore, batch)
		if err != nil {
			return total, fmt.Errorf("store: purge webhook bodies: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: purge webhook bodies: %w", err)
		}
		total += int(n)
		if int(n) < batch {
			return total, nil
		}
	}
}

// resealInboxBodies re-seals under the primary key the bodies sealed under another key, and seals
// those stored in the clear before migration 00011. Purged bodies are empty and left alone.
func (s *Store) resealInboxBodies(ctx context.Context, tx *sqlx.Tx, after string, limit int) (int, string, error) {
	afterID, err := strconv.ParseInt(after, 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("store: webhook events cursor %q: %w", after, err)
	}
	var rows []struct {
		ID       int64  `db:"id"`
		Provider string `db:"provider"`
		EventID  string `db:"event_id"`
		Body     []byte `db:"body"`
		Sealed   bool   `db:"body_sealed"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT id, provider, event_id, body, body_sealed FROM webhook_events
		WHERE id > $1 AND body_purged_at IS NULL AND (NOT body_sealed OR substring(body FROM 1 FOR $4) <> $2)
		ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`,
		afterID, s.vault.PrimaryPrefix(), limit, len(s.vault.PrimaryPrefix())); err != nil {
		return 0, "", fmt.Errorf("store: webhook bodies to re-seal: %w", err)
	}
	for _, row := range rows {
		ad := inboxBodyAD(row.Provider, row.EventID)
		body := row.Body
		if row.Sealed {
			if body, err = s.vault.Open(row.Body, ad); err != nil {
				return 0, "", fmt.Errorf("store: webhook event %d body: %w (is the key that sealed it loaded?)", row.ID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_events SET body = $2, body_sealed = true WHERE id = $1`,
			row.ID, s.vault.Seal(body, ad)); err != nil {
			return 0, "", fmt.Errorf("store: re-seal webhook event %d body: %w", row.ID, err)
		}
	}
	if len(rows) == 0 {
		return 0, "", nil
	}
	return len(rows), strconv.FormatInt(rows[len(rows)-1].ID, 10), nil
}
