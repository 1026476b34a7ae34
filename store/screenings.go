package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Status is the state of a screening or a check, as stored in their status columns and shown by
// the HR API. Checks have one more, StatusAwaitingCredentialing.
type Status string

// Statuses shared by screenings and checks.
const (
	StatusPending    Status = "pending"
	StatusInProgress Status = "in_progress"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusCanceled   Status = "canceled"
	// StatusActionRequired is a check's while the provider waits for the candidate (e.g. Checkr's
	// candidate.id_required); it returns to in_progress when the provider moves on.
	StatusActionRequired Status = "action_required"
)

// IsTerminal reports whether a screening or check in this status can no longer change.
func IsTerminal(status Status) bool {
	return status == StatusCompleted || status == StatusFailed || status == StatusCanceled
}

// ErrIdempotencyConflict means an Idempotency-Key was reused with a different request.
var ErrIdempotencyConflict = errors.New("idempotency key reused with a different request")

// Candidate is the person screened. Every field but the ids is PII.
type Candidate struct {
	ID           string `db:"id"`
	TenantID     string `db:"tenant_id"`
	Reference    string `db:"reference"`
	FirstName    string `db:"first_name"`
	LastName     string `db:"last_name"`
	Email        string `db:"email"`
	DOB          string `db:"dob"` // YYYY-MM-DD
	AddressLine1 string `db:"address_line1"`
	AddressLine2 string `db:"address_line2"`
	City         string `db:"city"`
	State        string `db:"state"`
	PostalCode   string `db:"postal_code"`
	Country      string `db:"country"`
}

// NewCheck is one provider check ordered with a screening.
type NewCheck struct {
	Provider        string
	Type            string
	Options         []byte // a JSON object; nil means {}
	CheckrAccountID string // "" for every check but a Checkr one on an integrated account
}

// NewScreening is what the HR API stores before it starts the workflow.
type NewScreening struct {
	TenantID       string
	IdempotencyKey string // "" when the client sent none
	RequestHash    []byte // tells a retried request from a different one under the same key
	Candidate      Candidate
	Checks         []NewCheck
}

// Screening is one row of screenings.
type Screening struct {
	ID                string     `db:"id"`
	TenantID          string     `db:"tenant_id"`
	CandidateID       string     `db:"candidate_id"`
	Status            Status     `db:"status"`
	Result            *string    `db:"result"`
	WorkflowStartedAt *time.Time `db:"workflow_started_at"`
	CreatedAt         time.Time  `db:"created_at"`
	UpdatedAt         time.Time  `db:"updated_at"`
	CompletedAt       *time.Time `db:"completed_at"`
	// ErasedAt is when the screening's candidate was erased (EraseCandidates): its data is gone.
	ErasedAt *time.Time `db:"erased_at"`
}

// Check is one row of checks.
type Check struct {
	ID               string     `db:"id"`
	ScreeningID      string     `db:"screening_id"`
	Position         int        `db:"position"`
	Provider         string     `db:"provider"`
	Type             string     `db:"check_type"`
	Status           Status     `db:"status"`
	Outcome          *string    `db:"outcome"`
	FailureReason    *string    `db:"failure_reason"`
	ProviderClientID *string    `db:"provider_client_id"`
	ProviderCheckID  *string    `db:"provider_check_id"`
	Options          []byte     `db:"options"`
	CheckrAccountID  *string    `db:"checkr_account_id"`
	InvitationURL    *string    `db:"invitation_url"` // Checkr invitation mode: where the candidate goes
	CreatedAt        time.Time  `db:"created_at"`
	UpdatedAt        time.Time  `db:"updated_at"`
	CompletedAt      *time.Time `db:"completed_at"`
}

// ScreeningDetail is everything the HR API shows about one screening.
type ScreeningDetail struct {
	Screening
	CandidateReference string
	Checks             []Check
	Documents          []Document
	Searches           []Search
	Timeline           []TimelineEntry
}

const screeningColumns = `id, tenant_id, candidate_id, status, result, workflow_started_at, created_at, updated_at, completed_at,
	erased_at`

const checkColumns = `id, screening_id, position, provider, check_type, status, outcome, failure_reason,
	provider_client_id, provider_check_id, options, checkr_account_id, invitation_url, created_at, updated_at, completed_at`

// CreateScreening stores the candidate (sealed, see NewSealed), the screening and its checks in one
// transaction. With an idempotency key already used by this tenant it returns the earlier
// screening and created=false, or ErrIdempotencyConflict when the earlier request differed.
func (s *Store) CreateScreening(ctx context.Context, n NewScreening) (Screening, bool, error) {
	var out Screening
	created := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		candidateID, screeningID := uuid.NewString(), uuid.NewString()
		c := n.Candidate
		var key *string
		if n.IdempotencyKey != "" {
			key = &n.IdempotencyKey
			// Serialises concurrent requests with the same key, so exactly one inserts.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2))`,
				n.TenantID, n.IdempotencyKey); err != nil {
				return fmt.Errorf("store: idempotency lock: %w", err)
			}
			var prior struct {
				ID          string `db:"id"`
				RequestHash []byte `db:"request_hash"`
			}
			err := tx.GetContext(ctx, &prior,
				`SELECT id, request_hash FROM screenings WHERE tenant_id = $1 AND idempotency_key = $2`,
				n.TenantID, n.IdempotencyKey)
			switch {
			case err == nil:
				if !s.sameRequest(n.TenantID, prior.RequestHash, n.RequestHash) {
					return ErrIdempotencyConflict
				}
				return tx.GetContext(ctx, &out, `SELECT `+screeningColumns+` FROM screenings WHERE id = $1`, prior.ID)
			case notFound(err) != ErrNotFound:
				return fmt.Errorf("store: idempotency lookup: %w", err)
			}
		}
		c.ID, c.TenantID = candidateID, n.TenantID
		if err := s.insertCandidate(ctx, tx, c); err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &out, `INSERT INTO screenings
			(id, tenant_id, candidate_id, idempotency_key, request_hash)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+screeningColumns,
			screeningID, n.TenantID, candidateID, key, s.requestFingerprint(n.TenantID, n.RequestHash)); err != nil {
			return fmt.Errorf("store: insert screening: %w", err)
		}
		for i, ch := range n.Checks {
			options := ch.Options
			if options == nil {
				options = []byte("{}")
			}
			var account *string
			if ch.CheckrAccountID != "" {
				account = &ch.CheckrAccountID
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO checks (id, screening_id, position, provider, check_type, options, checkr_account_id)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, uuid.NewString(), screeningID, i, ch.Provider, ch.Type, options, account); err != nil {
				return fmt.Errorf("store: insert check: %w", err)
			}
		}
		if err := appendTimeline(ctx, tx, TimelineEntry{
			ScreeningID: screeningID, DedupeKey: "screening.created", Kind: "screening.created",
			Detail: fmt.Sprintf("%d check(s) ordered", len(n.Checks)), OccurredAt: out.CreatedAt,
		}); err != nil {
			return err
		}
		if err := enqueueScreeningCallback(ctx, tx, screeningID, out.Status, nil); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return Screening{}, false, err
	}
	return out, created, nil
}

// Screening reads one screening of a tenant.
func (s *Store) Screening(ctx context.Context, tenantID, id string) (Screening, error) {
	var out Screening
	if _, err := uuid.Parse(id); err != nil {
		return out, ErrNotFound
	}
	err := s.db.GetContext(ctx, &out,
		`SELECT `+screeningColumns+` FROM screenings WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	if err != nil {
		return out, fmt.Errorf("store: screening: %w", notFound(err))
	}
	return out, nil
}

// ScreeningDetail reads a screening of a tenant with its checks, documents and timeline.
func (s *Store) ScreeningDetail(ctx context.Context, tenantID, id string) (ScreeningDetail, error) {
	scr, err := s.Screening(ctx, tenantID, id)
	if err != nil {
		return ScreeningDetail{}, err
	}
	d := ScreeningDetail{Screening: scr}
	candidate, err := s.candidate(ctx, scr.CandidateID)
	if err != nil {
		return d, err
	}
	d.CandidateReference = candidate.Reference
	if err := s.db.SelectContext(ctx, &d.Checks,
		`SELECT `+checkColumns+` FROM checks WHERE screening_id = $1 ORDER BY position`, id); err != nil {
		return d, fmt.Errorf("store: checks: %w", err)
	}
	if err := s.db.SelectContext(ctx, &d.Documents,
		`SELECT `+documentColumns+` FROM documents WHERE screening_id = $1 ORDER BY created_at, id`, id); err != nil {
		return d, fmt.Errorf("store: documents: %w", err)
	}
	if err := s.db.SelectContext(ctx, &d.Searches, `SELECT `+searchColumns+` FROM check_searches
		WHERE check_id IN (SELECT id FROM checks WHERE screening_id = $1)
		ORDER BY check_id, search_type, unique_identifier`, id); err != nil {
		return d, fmt.Errorf("store: searches: %w", err)
	}
	if err := s.db.SelectContext(ctx, &d.Timeline,
		`SELECT `+timelineColumns+` FROM timeline_entries WHERE screening_id = $1 ORDER BY occurred_at, id`, id); err != nil {
		return d, fmt.Errorf("store: timeline: %w", err)
	}
	return d, nil
}

// ScreeningChecks lists a screening's checks in the order they were ordered.
func (s *Store) ScreeningChecks(ctx context.Context, screeningID string) ([]Check, error) {
	var checks []Check
	if err := s.db.SelectContext(ctx, &checks,
		`SELECT `+checkColumns+` FROM checks WHERE screening_id = $1 ORDER BY position`, screeningID); err != nil {
		return nil, fmt.Errorf("store: screening checks: %w", err)
	}
	return checks, nil
}

// MarkWorkflowStarted records that the screening's workflow exists, so the relay stops trying to start it.
func (s *Store) MarkWorkflowStarted(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx,
		`UPDATE screenings SET workflow_started_at = now() WHERE id = $1 AND workflow_started_at IS NULL`, id)
	if err != nil {
		return fmt.Errorf("store: mark workflow started: %w", err)
	}
	return nil
}

// UnstartedScreenings lists screenings whose workflow could not be started yet and that were
// created before olderThan, oldest first.
func (s *Store) UnstartedScreenings(ctx context.Context, olderThan time.Time, limit int) ([]Screening, error) {
	var out []Screening
	err := s.db.SelectContext(ctx, &out, `SELECT `+screeningColumns+` FROM screenings
		WHERE workflow_started_at IS NULL AND status = 'pending' AND created_at < $1
		ORDER BY created_at LIMIT $2`, olderThan, limit)
	if err != nil {
		return nil, fmt.Errorf("store: unstarted screenings: %w", err)
	}
	return out, nil
}

// BeginScreening marks a screening in progress when its workflow starts. It reports false when
// the screening already finished: canceled while its workflow was being started, which must then
// order nothing.
func (s *Store) BeginScreening(ctx context.Context, id string) (bool, error) {
	begun := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE screenings SET status = 'in_progress', updated_at = now()
			WHERE id = $1 AND status IN ('pending', 'in_progress')`, id)
		if err != nil {
			return fmt.Errorf("store: begin screening: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		begun = true
		return appendTimeline(ctx, tx, TimelineEntry{ScreeningID: id, DedupeKey: "screening.started",
			Kind: "screening.started", Detail: "checks started", OccurredAt: time.Now()})
	})
	return begun, err
}

// SetScreeningConclusion writes the status its workflow concludes a screening with (a terminal one
// also sets completed_at and is reported to the tenant's callbacks), and its timeline entry unless
// entry.Kind is "". A screening already terminal keeps its state, so that a late or retried write
// cannot reopen it, and the entry is added only when the screening has the status written: a check's last write may
// have settled it before its workflow concluded (settleIfAllCompleted), and a cancellation that
// came after that does not show in its timeline. When both say completed, its result is derived
// again from its checks' outcomes, which a check may have amended since.
func (s *Store) SetScreeningConclusion(ctx context.Context, id string, status Status, result *string, entry TimelineEntry) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var stored Status
		var storedResult *string
		err := tx.QueryRowxContext(ctx, `UPDATE screenings
			SET status = $2, result = COALESCE($3, result), updated_at = now(),
			    completed_at = CASE WHEN $2 IN ('completed', 'failed', 'canceled') THEN now() END
			WHERE id = $1 AND status NOT IN ('completed', 'failed', 'canceled')
			RETURNING status, result`, id, status, result).Scan(&stored, &storedResult)
		if err == nil && IsTerminal(stored) {
			if err := enqueueScreeningCallback(ctx, tx, id, stored, storedResult); err != nil {
				return err
			}
		}
		if notFound(err) == ErrNotFound {
			if err := tx.GetContext(ctx, &stored, `SELECT status FROM screenings WHERE id = $1 FOR UPDATE`, id); err != nil {
				return fmt.Errorf("store: set screening conclusion: %w", notFound(err))
			}
			if stored == StatusCompleted && status == StatusCompleted {
				if err := rederiveSettled(ctx, tx, id); err != nil {
					return err
				}
			}
		} else if err != nil {
			return fmt.Errorf("store: set screening conclusion: %w", err)
		}
		if stored != status || entry.Kind == "" {
			return nil
		}
		entry.ScreeningID = id
		return appendTimeline(ctx, tx, entry)
	})
}

// CancelUnstarted cancels a screening whose workflow was never started. It reports false when the
// workflow has started (then Temporal must cancel it) or the screening is already terminal.
func (s *Store) CancelUnstarted(ctx context.Context, id string) (bool, error) {
	var canceled bool
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE screenings
			SET status = 'canceled', updated_at = now(), completed_at = now()
			WHERE id = $1 AND status = 'pending' AND workflow_started_at IS NULL`, id)
		if err != nil {
			return fmt.Errorf("store: cancel unstarted: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		canceled = true
		if _, err := tx.ExecContext(ctx, `UPDATE checks SET status = 'canceled', updated_at = now(), completed_at = now()
			WHERE screening_id = $1 AND status NOT IN ('completed', 'failed', 'canceled')`, id); err != nil {
			return fmt.Errorf("store: cancel checks: %w", err)
		}
		if err := enqueueScreeningCallback(ctx, tx, id, StatusCanceled, nil); err != nil {
			return err
		}
		return appendTimeline(ctx, tx, TimelineEntry{ScreeningID: id, DedupeKey: "screening.canceled",
			Kind: "screening.canceled", Detail: "canceled before it started", OccurredAt: time.Now()})
	})
	return canceled, err
}
