package store

import (
	"context"
	"fmt"
)

// PendingInbox is what the inbox holds for one provider that the relay has not delivered yet.
type PendingInbox struct {
	Provider string `db:"provider"`
	Count    int64  `db:"pending"`
	// OldestAgeSeconds is how long the oldest pending event has waited, on Postgres's clock
	// (the one that stamped received_at), so that a skewed scraper's clock does not move it.
	OldestAgeSeconds float64 `db:"oldest_age_seconds"`
}

// PendingInboxByProvider counts the pending events of each provider that has any, and the age of
// its oldest. It reads the partial index on pending events only, so it stays cheap however large
// the delivered history grows.
func (s *Store) PendingInboxByProvider(ctx context.Context) ([]PendingInbox, error) {
	var rows []PendingInbox
	err := s.db.SelectContext(ctx, &rows, `
		SELECT provider, count(*) AS pending,
		       extract(epoch FROM now() - min(received_at))::float8 AS oldest_age_seconds
		FROM webhook_events WHERE status = 'pending' GROUP BY provider ORDER BY provider`)
	if err != nil {
		return nil, fmt.Errorf("store: pending inbox: %w", err)
	}
	return rows, nil
}

// StatusCount is how many screenings or checks are in one status; Provider is "" for screenings.
type StatusCount struct {
	Provider string `db:"provider"`
	Status   Status `db:"status"`
	Count    int64  `db:"count"`
}

// ScreeningsByStatus counts the screenings in each status that has any.
func (s *Store) ScreeningsByStatus(ctx context.Context) ([]StatusCount, error) {
	var rows []StatusCount
	err := s.db.SelectContext(ctx, &rows, `
		SELECT '' AS provider, status, count(*) AS count FROM screenings GROUP BY status ORDER BY status`)
	if err != nil {
		return nil, fmt.Errorf("store: screenings by status: %w", err)
	}
	return rows, nil
}

// ChecksByStatus counts the checks of each provider in each status that has any.
func (s *Store) ChecksByStatus(ctx context.Context) ([]StatusCount, error) {
	var rows []StatusCount
	err := s.db.SelectContext(ctx, &rows, `
		SELECT provider, status, count(*) AS count FROM checks GROUP BY provider, status ORDER BY provider, status`)
	if err != nil {
		return nil, fmt.Errorf("store: checks by status: %w", err)
	}
	return rows, nil
}
