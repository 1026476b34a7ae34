package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Search is one of a check's searches at the provider, e.g. a county criminal search.
type Search struct {
	CheckID           string    `db:"check_id"`
	UniqueIdentifier  string    `db:"unique_identifier"`
	SearchType        string    `db:"search_type"`
	SearchStatus      string    `db:"search_status"`
	SearchSubStatus   string    `db:"search_sub_status"`
	ProviderUpdatedAt time.Time `db:"provider_updated_at"`
}

const searchColumns = `check_id, unique_identifier, search_type, search_status, search_sub_status, provider_updated_at`

// SaveSearch keeps a search's newest state: an update older than the one stored changes nothing,
// because providers do not deliver in order. It reports whether the update was applied.
func (s *Store) SaveSearch(ctx context.Context, sr Search) (bool, error) {
	return saveSearch(ctx, s.db, sr)
}

func saveSearch(ctx context.Context, db sqlx.ExecerContext, sr Search) (bool, error) {
	res, err := db.ExecContext(ctx, `INSERT INTO check_searches (`+searchColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (check_id, unique_identifier) DO UPDATE
		SET search_type = EXCLUDED.search_type, search_status = EXCLUDED.search_status,
		    search_sub_status = EXCLUDED.search_sub_status, provider_updated_at = EXCLUDED.provider_updated_at
		WHERE check_searches.provider_updated_at <= EXCLUDED.provider_updated_at`,
		sr.CheckID, sr.UniqueIdentifier, sr.SearchType, sr.SearchStatus, sr.SearchSubStatus, sr.ProviderUpdatedAt)
	if err != nil {
		return false, fmt.Errorf("store: save search: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: save search: %w", err)
	}
	return n > 0, nil
}

// Searches lists a check's searches.
func (s *Store) Searches(ctx context.Context, checkID string) ([]Search, error) {
	var out []Search
	if err := s.db.SelectContext(ctx, &out, `SELECT `+searchColumns+` FROM check_searches WHERE check_id = $1
		ORDER BY search_type, unique_identifier`, checkID); err != nil {
		return nil, fmt.Errorf("store: searches: %w", err)
	}
	return out, nil
}

// Orders a check may place once.
const (
	OrderCriminal    = "criminal"
	OrderSexOffender = "sex_offender"
)

// Ordered reports whether the check already placed the order.
func (s *Store) Ordered(ctx context.Context, checkID, order string) (bool, error) {
	column, err := orderColumn(order)
	if err != nil {
		return false, err
	}
	var ordered bool
	if err := s.db.GetContext(ctx, &ordered, `SELECT `+column+` IS NOT NULL FROM checks WHERE id = $1`, checkID); err != nil {
		return false, fmt.Errorf("store: ordered: %w", notFound(err))
	}
	return ordered, nil
}

// MarkOrdered records that the check placed the order.
func (s *Store) MarkOrdered(ctx context.Context, checkID, order string) error {
	column, err := orderColumn(order)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE checks SET `+column+` = COALESCE(`+column+`, now()), updated_at = now()
		WHERE id = $1`, checkID); err != nil {
		return fmt.Errorf("store: mark ordered: %w", err)
	}
	return nil
}

func orderColumn(order string) (string, error) {
	switch order {
	case OrderCriminal:
		return "criminal_ordered_at", nil
	case OrderSexOffender:
		return "sex_offender_ordered_at", nil
	}
	return "", fmt.Errorf("store: unknown order %q", order)
}
