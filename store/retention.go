package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// SetScreeningRetention sets how long the tenant's candidates are kept after their last screening
// finished; 0 gives the tenant the deployment's default (SCREENING_RETENTION) back. ErrNotFound when
// there is no such tenant.
func (s *Store) SetScreeningRetention(ctx context.Context, tenantID string, retention time.Duration) error {
	if _, err := uuid.Parse(tenantID); err != nil {
		return fmt.Errorf("store: set screening retention: %w", ErrNotFound)
	}
	if retention < 0 {
		return fmt.Errorf("store: set screening retention: %v is negative", retention)
	}
	var microseconds *int64
	if retention > 0 {
		us := retention.Microseconds()
		microseconds = &us
	}
	res, err := s.db.ExecContext(ctx, `UPDATE tenants
		SET screening_retention = $2::bigint * interval '1 microsecond' WHERE id = $1`, tenantID, microseconds)
	if err != nil {
		return fmt.Errorf("store: set screening retention: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("store: set screening retention: %w", ErrNotFound)
	}
	return nil
}

// ScreeningRetention is the tenant's own retention; 0 when it has none and the default applies.
func (s *Store) ScreeningRetention(ctx context.Context, tenantID string) (time.Duration, error) {
	if _, err := uuid.Parse(tenantID); err != nil {
		return 0, fmt.Errorf("store: screening retention: %w", ErrNotFound)
	}
	var microseconds *int64
	err := s.db.GetContext(ctx, &microseconds, `SELECT (extract(epoch FROM screening_retention) * 1000000)::bigint
		FROM tenants WHERE id = $1`, tenantID)
	if err != nil {
		return 0, fmt.Errorf("store: screening retention: %w", notFound(err))
	}
	if microseconds == nil {
		return 0, nil
	}
	return time.Duration(*microseconds) * time.Microsecond, nil
}

// ExpiredCandidate is a candidate whose retention has run out: ids only.
type ExpiredCandidate struct {
	ID       string `db:"id"`
	TenantID string `db:"tenant_id"`
}

// ExpiredCandidates lists, by id after the given one ("" to start), up to limit candidates not
// erased yet whose screenings have all finished (completed, failed or canceled), the last longer
// ago than their tenant's retention, or defaultRetention for a tenant without one. A candidate
// with a screening still running, or without any, is kept.
func (s *Store) ExpiredCandidates(ctx context.Context, defaultRetention time.Duration, after string, limit int) ([]ExpiredCandidate, error) {
	if after == "" {
		after = uuid.Nil.String()
	}
	out := []ExpiredCandidate{}
	err := s.db.SelectContext(ctx, &out, `SELECT c.id, c.tenant_id
		FROM candidates c JOIN tenants t ON t.id = c.tenant_id
		WHERE c.id > $1 AND c.erased_at IS NULL
		  AND EXISTS (SELECT 1 FROM screenings s WHERE s.candidate_id = c.id)
		  AND NOT EXISTS (SELECT 1 FROM screenings s WHERE s.candidate_id = c.id
		      AND (s.status NOT IN ('completed', 'failed', 'canceled')
		           OR coalesce(s.completed_at, s.updated_at)
		              > now() - coalesce(t.screening_retention, $2::bigint * interval '1 microsecond')))
		ORDER BY c.id
		LIMIT $3`, after, defaultRetention.Microseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: expired candidates: %w", err)
	}
	return out, nil
}
