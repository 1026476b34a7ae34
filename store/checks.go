package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Check reads one check by id.
func (s *Store) Check(ctx context.Context, id string) (Check, error) {
	var c Check
	if err := s.db.GetContext(ctx, &c, `SELECT `+checkColumns+` FROM checks WHERE id = $1`, id); err != nil {
		return c, fmt.Errorf("store: check: %w", notFound(err))
	}
	return c, nil
}

// CandidateForCheck reads the PII of the candidate a check is about, opened (candidates.go).
func (s *Store) CandidateForCheck(ctx context.Context, checkID string) (Candidate, error) {
	return s.candidateForCheck(ctx, checkID)
}

// SetProviderClient records the provider's id for the candidate and routes the provider's events
// about it to workflowID, in one transaction.
func (s *Store) SetProviderClient(ctx context.Context, checkID, provider, clientID, subject, workflowID string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE checks SET provider_client_id = $2, updated_at = now() WHERE id = $1`,
			checkID, clientID)
		if err != nil {
			return fmt.Errorf("store: set provider client: %w", err)
		}
		// The route last, as in SetProviderCheck.
		return addRoute(ctx, tx, provider, subject, workflowID)
	})
}

// SetProviderCheck records the provider's id for the check, routes its events to workflowID and
// marks the check in progress, in one transaction.
func (s *Store) SetProviderCheck(ctx context.Context, checkID, provider, providerCheckID, subject, workflowID string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var previous Status
		err := tx.GetContext(ctx, &previous, `WITH previous AS (SELECT id, status FROM checks WHERE id = $1 FOR NO KEY UPDATE)
			UPDATE checks c
			SET provider_check_id = $2, updated_at = now(),
			    status = CASE WHEN c.status = 'pending' THEN 'in_progress' ELSE c.status END
			FROM previous p WHERE c.id = p.id
			RETURNING p.status`, checkID, providerCheckID)
		switch {
		case notFound(err) == ErrNotFound:
		case err != nil:
			return fmt.Errorf("store: set provider check: %w", err)
		default:
			if err := enqueueCheckCallback(ctx, tx, checkID, previous); err != nil {
				return err
			}
		}
		// The route last, so that the transaction commits right after it wakes the events that
		// overtook it: one stored between the wake and the commit is not woken (addRoute).
		return addRoute(ctx, tx, provider, subject, workflowID)
	})
}

// AddRoute routes a provider's events about subject to workflowID. Writing the same route again is
// a no-op; a subject already routed elsewhere is an error, since events would go astray.
func (s *Store) AddRoute(ctx context.Context, provider, subject, workflowID string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return addRoute(ctx, tx, provider, subject, workflowID) })
}

// routeLock takes, until the end of the transaction, the lock of the route of the subject
// (provider, subject) that addRoute holds while it writes the route and wakes the events awaiting
// it, and that whatever parks an event to await its route holds in share mode (routeParkLock)
// before it looks for the route: whichever comes second sees what the first committed. Advisory
// locks of two keys are apart from the one-key ones screenflow takes elsewhere; the first key,
// 7601, names these.
const (
	routeLock     = `pg_advisory_xact_lock(7601, hashtext(%s || '/' || %s))`
	routeParkLock = `pg_advisory_xact_lock_shared(7601, hashtext(%s || '/' || %s))`
)

func addRoute(ctx context.Context, tx *sqlx.Tx, provider, subject, workflowID string) error {
	if _, err := tx.ExecContext(ctx, `SELECT `+fmt.Sprintf(routeLock, "$1::text", "$2::text"), provider, subject); err != nil {
		return fmt.Errorf("store: lock route: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO routes (provider, subject, workflow_id) VALUES ($1, $2, $3)
		ON CONFLICT (provider, subject) DO NOTHING`, provider, subject, workflowID)
	if err != nil {
		return fmt.Errorf("store: add route: %w", err)
	}
	added, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: add route: %w", err)
	}
	var existing string
	if err := tx.GetContext(ctx, &existing,
		`SELECT workflow_id FROM routes WHERE provider = $1 AND subject = $2`, provider, subject); err != nil {
		return fmt.Errorf("store: read route: %w", err)
	}
	if existing != workflowID {
		return fmt.Errorf("store: %s subject %s is already routed to %s", provider, subject, existing)
	}
	if added == 0 {
		return nil
	}
	// Events that overtook their route wait for it (the relay looks at them again only to mark
	// them unroutable after RELAY_UNROUTABLE_AFTER); the new route makes them due now. One a relay
	// holds is taken back too: that relay found no route, so it signalled nothing, and its
	// outcome, under a lease that is no longer the event's, is not recorded (an event addressed to
	// its workflow without a route may then be signalled twice, which the workflow ignores).
	// Leaving it to the relay would race: its outcome's look for the route may run before this
	// transaction commits. An event stored after this statement, parked as it is stored
	// (InboxWriter) or by a relay that found no route (RecordOutcomes), is parked only once this
	// transaction has ended, by routeLock, and its parking then sees the route.
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_events SET next_attempt_at = now(), lease_id = NULL
		WHERE provider = $1 AND subject = $2 AND status = 'pending'`, provider, subject); err != nil {
		return fmt.Errorf("store: wake events awaiting route: %w", err)
	}
	return nil
}

// Route returns the workflow that waits for events about subject.
func (s *Store) Route(ctx context.Context, provider, subject string) (string, error) {
	var workflowID string
	err := s.db.GetContext(ctx, &workflowID,
		`SELECT workflow_id FROM routes WHERE provider = $1 AND subject = $2`, provider, subject)
	if err != nil {
		return "", fmt.Errorf("store: route: %w", notFound(err))
	}
	return workflowID, nil
}

// CheckUpdate is a change of a check's state, written with the timeline entry that explains it.
type CheckUpdate struct {
	CheckID       string
	Status        Status
	Outcome       *string
	FailureReason *string
	Timeline      TimelineEntry
}

// UpdateCheck writes a check's new state and its timeline entry. A terminal check keeps its state:
// a retried or late write cannot reopen it. The write that completes a screening's last check
// settles the screening too (settleIfAllCompleted).
//
// The check's row is locked FOR NO KEY UPDATE, as the UPDATE itself would lock it: FOR UPDATE
// would also hold off the foreign-key checks of rows that name the check (timeline entries the
// relay writes) while this transaction waits for the screening's row, a deadlock.
func (s *Store) UpdateCheck(ctx context.Context, u CheckUpdate) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var screeningID string
		var previous Status
		err := tx.QueryRowxContext(ctx, `WITH previous AS (SELECT id, status FROM checks WHERE id = $1 FOR NO KEY UPDATE)
			UPDATE checks c
			SET status = $2, outcome = COALESCE($3, c.outcome), failure_reason = COALESCE($4, c.failure_reason),
			    updated_at = now(),
			    completed_at = CASE WHEN $2 IN ('completed', 'failed', 'canceled') THEN now() END
			FROM previous p
			WHERE c.id = p.id AND p.status NOT IN ('completed', 'failed', 'canceled')
			RETURNING c.screening_id, p.status`, u.CheckID, u.Status, u.Outcome, u.FailureReason).Scan(&screeningID, &previous)
		changed := err == nil
		if changed {
			if err := enqueueCheckCallback(ctx, tx, u.CheckID, previous); err != nil {
				return err
			}
		}
		if notFound(err) == ErrNotFound {
			if err := tx.GetContext(ctx, &screeningID, `SELECT screening_id FROM checks WHERE id = $1`, u.CheckID); err != nil {
				return fmt.Errorf("store: update check: %w", notFound(err))
			}
		} else if err != nil {
			return fmt.Errorf("store: update check: %w", err)
		}
		if u.Timeline.Kind != "" {
			entry := u.Timeline
			entry.ScreeningID = screeningID
			entry.CheckID = &u.CheckID
			if err := appendTimeline(ctx, tx, entry); err != nil {
				return err
			}
		}
		// A write that finds the check completed already (StoreReport completes a ComplyCube
		// check before its workflow writes it) leaves the screening to the write that completed it.
		if !changed || u.Status != StatusCompleted {
			return nil
		}
		return settleIfAllCompleted(ctx, tx, screeningID)
	})
}

// NoteSuffices reports whether an event that its check workflow would only record can be noted
// instead of signalled: the check has not ended (an ended check's events go to its amendment
// workflow, which acts on each), and no event of type promptAfter ("" for none) about the same
// subject was stored before it (after one, the workflow acts on this event too).
func (s *Store) NoteSuffices(ctx context.Context, checkID string, e InboxEvent, promptAfter string) (bool, error) {
	var suffices bool
	err := s.db.GetContext(ctx, &suffices, `SELECT
		EXISTS (SELECT 1 FROM checks WHERE id = $1 AND status NOT IN ('completed', 'failed', 'canceled'))
		AND NOT EXISTS (SELECT 1 FROM webhook_events
			WHERE $2 <> '' AND provider = $3 AND subject = $4 AND event_type = $2 AND id < $5)`,
		checkID, promptAfter, e.Provider, e.Subject, e.ID)
	if err != nil {
		return false, fmt.Errorf("store: note suffices: %w", err)
	}
	return suffices, nil
}
