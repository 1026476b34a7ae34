package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
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

// ReplaceTimeline adds an entry, or replaces the kind and detail of the one under its dedupe key:
// for an entry that says more about an event than the note the relay wrote of it (EventNote).
func (s *Store) ReplaceTimeline(ctx context.Context, e TimelineEntry) error {
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO timeline_entries (screening_id, check_id, dedupe_key, kind, detail, occurred_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (screening_id, dedupe_key) DO UPDATE SET kind = EXCLUDED.kind, detail = EXCLUDED.detail`,
		e.ScreeningID, e.CheckID, e.DedupeKey, e.Kind, e.Detail, e.OccurredAt)
	if err != nil {
		return fmt.Errorf("store: replace timeline: %w", err)
	}
	return nil
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

// StaleSearchNote ends the timeline entry of a search update that an update newer by the
// provider's time had already replaced.
const StaleSearchNote = " (ignored: older than the status already stored)"

// EventNote is what a provider event leaves in its check's record when the event alone tells it: its
// timeline entry and, for a search update, the search's new state. The relay writes it with the
// event's outcome (Outcome.Note), in the same transaction, so that a workflow need not.
type EventNote struct {
	ScreeningID string
	CheckID     string
	// DedupeKey is the key the check workflow records the event under, so that an event noted by
	// both is in the timeline once.
	DedupeKey  string
	Kind       string
	Detail     string
	OccurredAt time.Time // the provider's time; zero: when it is written
	// Search, when set, is stored unless a newer state of it is (SaveSearch); the entry then says
	// it was ignored.
	Search *Search
}

// writeNotes writes notes in their order. The timeline entries of notes without a search, which
// most are, go in one statement per run of them: the relay records a batch of outcomes at a time,
// and a statement per entry would make its one recorder the slowest step of a delivery.
func writeNotes(ctx context.Context, tx *sqlx.Tx, notes []EventNote) error {
	var run []TimelineEntry
	for _, n := range notes {
		if n.Search == nil {
			run = append(run, n.entry())
			continue
		}
		if err := appendTimelines(ctx, tx, run); err != nil {
			return err
		}
		run = run[:0]
		if err := writeNote(ctx, tx, n); err != nil {
			return err
		}
	}
	return appendTimelines(ctx, tx, run)
}

// entry is the note's timeline entry. A note is written with a batch of outcomes: text Postgres
// refuses would hold the whole batch back, every time it is retried.
func (n EventNote) entry() TimelineEntry {
	entry := TimelineEntry{ScreeningID: n.ScreeningID, CheckID: &n.CheckID, DedupeKey: storable(n.DedupeKey),
		Kind: storable(n.Kind), Detail: storable(n.Detail), OccurredAt: n.OccurredAt}
	if entry.OccurredAt.IsZero() {
		entry.OccurredAt = time.Now()
	}
	return entry
}

// appendTimelines is appendTimeline for many entries of checks, in one statement, in their order.
func appendTimelines(ctx context.Context, tx *sqlx.Tx, entries []TimelineEntry) error {
	if len(entries) == 0 {
		return nil
	}
	n := len(entries)
	screenings, checks, keys, kinds, details := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	occurred := make([]string, n)
	for i, e := range entries {
		screenings[i], checks[i], keys[i], kinds[i], details[i] = e.ScreeningID, *e.CheckID, e.DedupeKey, e.Kind, e.Detail
		occurred[i] = e.OccurredAt.UTC().Format(time.RFC3339Nano)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO timeline_entries (screening_id, check_id, dedupe_key, kind, detail, occurred_at)
		SELECT screening_id, check_id, dedupe_key, kind, detail, occurred_at
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) WITH ORDINALITY
			AS e(screening_id, check_id, dedupe_key, kind, detail, occurred_at, position)
		ORDER BY position
		ON CONFLICT (screening_id, dedupe_key) DO NOTHING`,
		pq.Array(screenings), pq.Array(checks), pq.Array(keys), pq.Array(kinds), pq.Array(details), pq.Array(occurred))
	if err != nil {
		return fmt.Errorf("store: append timeline entries: %w", err)
	}
	return nil
}

func writeNote(ctx context.Context, tx *sqlx.Tx, n EventNote) error {
	entry := n.entry()
	if n.Search != nil {
		search := Search{CheckID: n.CheckID, UniqueIdentifier: storable(n.Search.UniqueIdentifier),
			SearchType: storable(n.Search.SearchType), SearchStatus: storable(n.Search.SearchStatus),
			SearchSubStatus: storable(n.Search.SearchSubStatus), ProviderUpdatedAt: entry.OccurredAt}
		applied, err := saveSearch(ctx, tx, search)
		if err != nil {
			return err
		}
		if !applied {
			entry.Detail += StaleSearchNote
		}
	}
	return appendTimeline(ctx, tx, entry)
}

// storable is s as Postgres text takes it: valid UTF-8 without NUL.
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
