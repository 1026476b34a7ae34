package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
)

// ProviderCallState is where a provider call stands, as stored in provider_calls.state.
type ProviderCallState string

// The states of a provider call. Only a pending call becomes succeeded, refused, not_sent or
// lost, and only a lost one becomes reconciled.
const (
	// CallPending: the intent is recorded and the call made or about to be; no answer yet.
	CallPending ProviderCallState = "pending"
	// CallSucceeded: the provider answered with what it created (ProviderCall.Result).
	CallSucceeded ProviderCallState = "succeeded"
	// CallRefused: the provider answered 4xx: it created nothing.
	CallRefused ProviderCallState = "refused"
	// CallNotSent: the request never left (no connection): the provider created nothing.
	CallNotSent ProviderCallState = "not_sent"
	// CallLost: the answer never came (a timeout, a 5xx, a worker killed between the call and
	// recording its answer): the provider may hold a record screenflow does not know.
	CallLost ProviderCallState = "lost"
	// CallReconciled: an operator has dealt with what a lost call may have left at the provider.
	CallReconciled ProviderCallState = "reconciled"
)

// ProviderOperation names one operation of a check at a provider, such as creating the check's
// Authenticate user: its calls are numbered attempts of it.
type ProviderOperation struct {
	CheckID   string
	Provider  string
	Operation string
}

// ProviderCall is one recorded call of a ProviderOperation.
type ProviderCall struct {
	ID           int64             `db:"id"`
	CheckID      string            `db:"check_id"`
	ScreeningID  string            `db:"screening_id"`
	Provider     string            `db:"provider"`
	Operation    string            `db:"operation"`
	Attempt      int               `db:"attempt"`
	State        ProviderCallState `db:"state"`
	Result       *string           `db:"result"`
	StartedAt    time.Time         `db:"started_at"`
	FinishedAt   *time.Time        `db:"finished_at"`
	ReconciledAt *time.Time        `db:"reconciled_at"`
}

const providerCallColumns = `pc.id, pc.check_id, ch.screening_id, pc.provider, pc.operation, pc.attempt, pc.state,
	pc.result, pc.started_at, pc.finished_at, pc.reconciled_at`

// PriorCalls is what the earlier calls of an operation came to.
type PriorCalls struct {
	Lost   int    // calls whose answer was lost, reconciled since or not
	Result string // what the call that succeeded answered; "" when none did
}

// LoseProviderCalls marks the calls of op still pending as lost, each with a timeline entry on its
// check that tells the HR platform and operators, and reports what every earlier call of op came
// to. A call is still pending when the attempt that made it ended without recording an answer.
func (s *Store) LoseProviderCalls(ctx context.Context, op ProviderOperation) (PriorCalls, error) {
	var prior PriorCalls
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var lost []ProviderCall
		err := tx.SelectContext(ctx, &lost, `UPDATE provider_calls pc SET state = 'lost', finished_at = now()
			FROM checks ch
			WHERE ch.id = pc.check_id AND pc.check_id = $1 AND pc.provider = $2 AND pc.operation = $3
			  AND pc.state = 'pending'
			RETURNING `+providerCallColumns, op.CheckID, op.Provider, op.Operation)
		if err != nil {
			return fmt.Errorf("store: lose provider calls: %w", err)
		}
		for _, c := range lost {
			err := appendTimeline(ctx, tx, TimelineEntry{ScreeningID: c.ScreeningID, CheckID: &c.CheckID,
				DedupeKey: "provider_call.lost:" + strconv.FormatInt(c.ID, 10), Kind: "provider.call_lost",
				Detail: fmt.Sprintf("%s %s, attempt %d: the answer was lost; %s may hold a record for this "+
					"candidate that screenflow does not know, until an operator reconciles it",
					c.Provider, c.Operation, c.Attempt, c.Provider),
				OccurredAt: c.StartedAt})
			if err != nil {
				return err
			}
		}
		err = tx.GetContext(ctx, &prior, `SELECT
				count(*) FILTER (WHERE state IN ('lost', 'reconciled')) AS lost,
				COALESCE(max(result) FILTER (WHERE state = 'succeeded'), '') AS result
			FROM provider_calls WHERE check_id = $1 AND provider = $2 AND operation = $3`,
			op.CheckID, op.Provider, op.Operation)
		if err != nil {
			return fmt.Errorf("store: prior provider calls: %w", err)
		}
		return nil
	})
	return prior, err
}

// RecordProviderCall records the intent of a call of op, pending, as its next attempt, and returns
// the call's id. It is written before the call is made, so that an answer lost on the way is found.
func (s *Store) RecordProviderCall(ctx context.Context, op ProviderOperation) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		// Locking the check numbers the attempts of two overlapping activity attempts one after
		// the other instead of failing one on the unique attempt number.
		var locked string
		if err := tx.GetContext(ctx, &locked, `SELECT id FROM checks WHERE id = $1 FOR UPDATE`, op.CheckID); err != nil {
			return fmt.Errorf("store: record provider call: %w", notFound(err))
		}
		err := tx.GetContext(ctx, &id, `INSERT INTO provider_calls (check_id, provider, operation, attempt)
			SELECT $1::uuid, $2::text, $3::text, COALESCE(max(attempt), 0) + 1
			FROM provider_calls WHERE check_id = $1 AND provider = $2 AND operation = $3
			RETURNING id`, op.CheckID, op.Provider, op.Operation)
		if err != nil {
			return fmt.Errorf("store: record provider call: %w", err)
		}
		return nil
	})
	return id, err
}

// FinishProviderCall records the answer to a pending call: succeeded with result, refused, or
// not_sent. It reports false when the call was no longer pending: a later attempt found it and
// marked it lost. The call then stays lost, and keeps result, so that the operator who reconciles
// it knows what the provider created.
func (s *Store) FinishProviderCall(ctx context.Context, id int64, state ProviderCallState, result string) (bool, error) {
	switch state {
	case CallSucceeded, CallRefused, CallNotSent:
	default:
		return false, fmt.Errorf("store: finish provider call: %q is not an answer", state)
	}
	var now ProviderCallState
	err := s.db.GetContext(ctx, &now, `UPDATE provider_calls
		SET state = CASE WHEN state = 'pending' THEN $2 ELSE state END,
		    result = COALESCE(NULLIF($3, ''), result),
		    finished_at = CASE WHEN state = 'pending' THEN now() ELSE finished_at END
		WHERE id = $1
		RETURNING state`, id, state, result)
	if err != nil {
		return false, fmt.Errorf("store: finish provider call: %w", notFound(err))
	}
	return now == state, nil
}

// LostProviderCalls lists the lost calls no operator has reconciled yet, oldest first.
func (s *Store) LostProviderCalls(ctx context.Context) ([]ProviderCall, error) {
	var calls []ProviderCall
	err := s.db.SelectContext(ctx, &calls, `SELECT `+providerCallColumns+`
		FROM provider_calls pc JOIN checks ch ON ch.id = pc.check_id
		WHERE pc.state = 'lost'
		ORDER BY pc.started_at, pc.id`)
	if err != nil {
		return nil, fmt.Errorf("store: lost provider calls: %w", err)
	}
	return calls, nil
}

// ReconcileProviderCall marks a lost call reconciled, with a timeline entry on its check. A call
// that is not lost (unknown, never lost, or reconciled already) is ErrNotFound.
func (s *Store) ReconcileProviderCall(ctx context.Context, id int64) (ProviderCall, error) {
	var c ProviderCall
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &c, `UPDATE provider_calls pc SET state = 'reconciled', reconciled_at = now()
			FROM checks ch
			WHERE ch.id = pc.check_id AND pc.id = $1 AND pc.state = 'lost'
			RETURNING `+providerCallColumns, id)
		if err != nil {
			return fmt.Errorf("store: reconcile provider call %d: %w", id, notFound(err))
		}
		return appendTimeline(ctx, tx, TimelineEntry{ScreeningID: c.ScreeningID, CheckID: &c.CheckID,
			DedupeKey: "provider_call.reconciled:" + strconv.FormatInt(c.ID, 10), Kind: "provider.call_reconciled",
			Detail: fmt.Sprintf("%s %s, attempt %d: what its lost answer may have left at %s was reconciled by an operator",
				c.Provider, c.Operation, c.Attempt, c.Provider)})
	})
	return c, err
}
