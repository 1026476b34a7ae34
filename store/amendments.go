package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Amendments: what a provider says about a check after it completed (a later outcome, a
// monitoring hit, an upgraded report) changes the completed check, and then the result of its
// completed screening. Every provider's amendments use these. UpdateCheck and SetScreeningConclusion
// leave terminal rows alone on purpose, so that a retried or late write of the check workflow
// cannot reopen them; these are the only writes that change a completed check or screening, and
// only their outcome and result.

// CheckAmendment is a completed check's new outcome, as the provider says it now.
type CheckAmendment struct {
	CheckID string
	Outcome string
	// Reason ends the timeline entry, e.g. "ComplyCube says so after check.monitoring.attention".
	Reason string
	// DedupeKey names this change of the provider's check, so that a retried write adds one entry.
	DedupeKey  string
	OccurredAt time.Time
}

// AmendCheckOutcome sets a completed check's outcome and adds the timeline entry, keyed by
// a.DedupeKey, that says what it was before, in one transaction. applied reports that the
// amendment is in effect: made now, or by an earlier call with the same DedupeKey, so that a retry
// after a lost answer learns the same as the first call. A check that already has this outcome
// otherwise, or that is not completed (a failed or canceled check stays as it ended), is left alone.
func (s *Store) AmendCheckOutcome(ctx context.Context, a CheckAmendment) (applied bool, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var row struct {
			ScreeningID string  `db:"screening_id"`
			Status      Status  `db:"status"`
			Outcome     *string `db:"outcome"`
		}
		if err := tx.GetContext(ctx, &row, `SELECT screening_id, status, outcome FROM checks WHERE id = $1 FOR NO KEY UPDATE`,
			a.CheckID); err != nil {
			return fmt.Errorf("store: amend check: %w", notFound(err))
		}
		previous := ""
		if row.Outcome != nil {
			previous = *row.Outcome
		}
		if row.Status != StatusCompleted {
			return nil
		}
		if previous == a.Outcome {
			err := tx.GetContext(ctx, &applied, `SELECT EXISTS (SELECT 1 FROM timeline_entries
				WHERE screening_id = $1 AND dedupe_key = $2)`, row.ScreeningID, a.DedupeKey)
			if err != nil {
				return fmt.Errorf("store: amend check: %w", err)
			}
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE checks SET outcome = $2, updated_at = now() WHERE id = $1`,
			a.CheckID, a.Outcome); err != nil {
			return fmt.Errorf("store: amend check: %w", err)
		}
		applied = true
		if err := appendTimeline(ctx, tx, TimelineEntry{ScreeningID: row.ScreeningID, CheckID: &a.CheckID,
			DedupeKey: a.DedupeKey, Kind: "check.amended", OccurredAt: a.OccurredAt,
			Detail: fmt.Sprintf("outcome changed from %s to %s: %s", orNone(previous), a.Outcome, a.Reason)}); err != nil {
			return err
		}
		return enqueueAmendedCheckCallback(ctx, tx, a.CheckID, previous)
	})
	return applied, err
}

// RederiveScreeningResult derives a completed screening's result again from its checks' outcomes
// (ConcludeScreening: clear when every one is clear, otherwise consider) and, when it
// changed, stores it with a timeline entry ending in reason. running is true while the screening
// has not ended: its workflow will write the result then, from the outcomes its checks returned.
// A failed or canceled screening has no result and is left alone.
func (s *Store) RederiveScreeningResult(ctx context.Context, screeningID, reason, dedupeKey string) (running bool, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var row struct {
			Status Status  `db:"status"`
			Result *string `db:"result"`
		}
		if err := tx.GetContext(ctx, &row, `SELECT status, result FROM screenings WHERE id = $1 FOR UPDATE`,
			screeningID); err != nil {
			return fmt.Errorf("store: rederive screening result: %w", notFound(err))
		}
		if !IsTerminal(row.Status) {
			running = true
			return nil
		}
		if row.Status != StatusCompleted {
			return nil
		}
		checks, err := checkConclusions(ctx, tx, screeningID)
		if err != nil {
			return err
		}
		status, result, _ := ConcludeScreening(checks)
		if previous := ptrOr(row.Result); status == StatusCompleted && result != previous {
			return storeChangedResult(ctx, tx, screeningID, previous, result, reason, dedupeKey)
		}
		return nil
	})
	return running, err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
