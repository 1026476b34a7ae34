package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Screening results.
const (
	ResultClear    = "clear"    // every check completed with a clear outcome
	ResultConsider = "consider" // some check completed with another outcome: a person must look
)

// outcomeClear is the outcome of a check that found nothing.
const outcomeClear = "clear"

// CheckConclusion is what a screening's conclusion reads of one of its checks.
type CheckConclusion struct {
	Provider      string `db:"provider"`
	Status        Status `db:"status"`
	Outcome       string `db:"outcome"`
	FailureReason string `db:"failure_reason"`
}

// ConcludeScreening derives a screening's status from its finished checks, in their order: failed
// if a check failed, canceled if one was canceled, else completed, with result clear only when
// every outcome is clear. It is the one rule: the screening workflow concludes with it, and so does
// a check's last write when it settles the screening (settleIfAllCompleted).
func ConcludeScreening(checks []CheckConclusion) (status Status, result, detail string) {
	result = ResultClear
	for _, c := range checks {
		switch c.Status {
		case StatusFailed:
			return StatusFailed, "", fmt.Sprintf("%s check failed: %s", c.Provider, c.FailureReason)
		case StatusCanceled:
			detail = c.Provider + " check canceled"
			if c.FailureReason != "" {
				detail += ": " + c.FailureReason
			}
			return StatusCanceled, "", detail
		}
		if c.Outcome != outcomeClear {
			result = ResultConsider
		}
	}
	return StatusCompleted, result, "result " + result
}

// settleIfAllCompleted concludes a running screening in the transaction that completed one of its
// checks, once every one of its checks has completed, as its workflow will conclude it: the
// screening's state is in Postgres without waiting for the workflow to hear from its checks. The
// workflow's own write then finds it settled (SetScreeningConclusion). A screening with a failed or
// canceled check is left to its workflow, which alone knows a cancellation was asked for and the
// order of its checks.
func settleIfAllCompleted(ctx context.Context, tx *sqlx.Tx, screeningID string) error {
	// Locking the screening serializes the last writes of its checks: the second sees the first.
	var status Status
	if err := tx.GetContext(ctx, &status, `SELECT status FROM screenings WHERE id = $1 FOR UPDATE`, screeningID); err != nil {
		return fmt.Errorf("store: settle screening: %w", notFound(err))
	}
	if status != StatusInProgress {
		return nil
	}
	checks, err := checkConclusions(ctx, tx, screeningID)
	if err != nil {
		return err
	}
	for _, c := range checks {
		if c.Status != StatusCompleted {
			return nil
		}
	}
	settled, result, detail := ConcludeScreening(checks)
	if _, err := tx.ExecContext(ctx, `UPDATE screenings
		SET status = $2, result = $3, updated_at = now(), completed_at = now()
		WHERE id = $1`, screeningID, settled, result); err != nil {
		return fmt.Errorf("store: settle screening: %w", err)
	}
	if err := enqueueScreeningCallback(ctx, tx, screeningID, settled, &result); err != nil {
		return err
	}
	kind := "screening." + string(settled)
	return appendTimeline(ctx, tx, TimelineEntry{ScreeningID: screeningID, DedupeKey: kind, Kind: kind, Detail: detail,
		OccurredAt: time.Now()})
}

// rederiveSettled derives a completed screening's result again from its checks' outcomes with
// ConcludeScreening, and stores it with a timeline entry when it changed.
func rederiveSettled(ctx context.Context, tx *sqlx.Tx, screeningID string) error {
	var previous *string
	if err := tx.GetContext(ctx, &previous, `SELECT result FROM screenings WHERE id = $1`, screeningID); err != nil {
		return fmt.Errorf("store: derive screening result: %w", notFound(err))
	}
	checks, err := checkConclusions(ctx, tx, screeningID)
	if err != nil {
		return err
	}
	status, result, _ := ConcludeScreening(checks)
	if status != StatusCompleted || (previous != nil && *previous == result) {
		return nil
	}
	return storeChangedResult(ctx, tx, screeningID, ptrOr(previous), result,
		"a check's outcome was amended as the screening concluded", "screening.result_changed:concluded:"+result)
}

// storeChangedResult stores a completed screening's new result, with its timeline entry (keyed by
// dedupeKey, ending in reason) and its callback: the one write of an amended result.
func storeChangedResult(ctx context.Context, tx *sqlx.Tx, screeningID, previous, result, reason, dedupeKey string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE screenings SET result = $2, updated_at = now() WHERE id = $1`,
		screeningID, result); err != nil {
		return fmt.Errorf("store: derive screening result: %w", err)
	}
	if err := appendTimeline(ctx, tx, TimelineEntry{ScreeningID: screeningID, DedupeKey: dedupeKey,
		Kind: "screening.result_changed", OccurredAt: time.Now(),
		Detail: fmt.Sprintf("result changed from %s to %s: %s", orNone(previous), result, reason)}); err != nil {
		return err
	}
	return enqueueResultChangedCallback(ctx, tx, screeningID, result, previous)
}

func ptrOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func checkConclusions(ctx context.Context, tx *sqlx.Tx, screeningID string) ([]CheckConclusion, error) {
	var checks []CheckConclusion
	if err := tx.SelectContext(ctx, &checks, `SELECT provider, status, COALESCE(outcome, '') AS outcome,
			COALESCE(failure_reason, '') AS failure_reason
		FROM checks WHERE screening_id = $1`, screeningID); err != nil {
		return nil, fmt.Errorf("store: read the screening's checks: %w", err)
	}
	return checks, nil
}
