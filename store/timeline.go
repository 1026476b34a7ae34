package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// TimelineEntry is one line of a screening's history as the HR API shows it.
type TimelineEntry struct {
	ID          int64     `db:"id"`
	ScreeningID string    `db:"screening_id"`
	CheckID     *string   `db:"check_id"`
	DedupeKey   string    `db:"dedupe_key"`
	Kind        string    `db:"kind"`
	Detail      string    `db:"detail"`
	OccurredAt  time.Time `db:"occurred_at"`
	RecordedAt  time.Time `db:"recorded_at"`
}

const timelineColumns = `id, screening_id, check_id, dedupe_key, kind, detail, occurred_at, recorded_at`

// AppendTimeline adds an entry once per (screening, dedupe key).
func (s *Store) AppendTimeline(ctx context.Context, e TimelineEntry) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return appendTimeline(ctx, tx, e) })
}

func appendTimeline(ctx context.Context, tx *sqlx.Tx, e TimelineEntry) error {
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now()
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO timeline_entries (screening_id, check_id, dedupe_key, kind, detail, occurred_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (screening_id, dedupe_key) DO NOTHING`,
		e.ScreeningID, e.CheckID, e.DedupeKey, e.Kind, e.Detail, e.OccurredAt)
	if err != nil {
		return fmt.Errorf("store: append timeline: %w", err)
	}
	return nil
}
