// Package store holds screenflow's Postgres repositories. SQL lives here and in migrations only.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // registers the "postgres" driver

	"github.com/screenflow/screenflow/vault"
)

// ErrNotFound is returned when a row does not exist or belongs to another tenant: callers answer
// both the same way so that one tenant cannot learn about another's data.
var ErrNotFound = errors.New("not found")

// Store is the one entry point to the database.
type Store struct {
	db *sqlx.DB
	// vault seals candidate PII and documents at rest; nil only in tests (see NewSealed).
	vault *vault.Vault
	// statements holds the prepared statements of the hot paths, by their text (see prepared).
	statements sync.Map
}

// New wraps an open connection pool.
func New(db *sqlx.DB) *Store { return &Store{db: db} }

// Open connects to databaseURL and checks the connection.
func Open(ctx context.Context, databaseURL string) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: ping: %w", err)
	}
	return db, nil
}

// prepared returns query prepared on the pool. Postgres then parses and plans it once per
// connection instead of at every run, which is most of the cost of a statement as short as the
// inbox's insert: kept for the statements every webhook or delivery runs.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if stmt, ok := s.statements.Load(query); ok {
		return stmt.(*sql.Stmt), nil
	}
	stmt, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("store: prepare: %w", err)
	}
	if earlier, loaded := s.statements.LoadOrStore(query, stmt); loaded {
		stmt.Close()
		return earlier.(*sql.Stmt), nil
	}
	return stmt, nil
}

// DB exposes the pool for health checks.
func (s *Store) DB() *sqlx.DB { return s.db }

// Ping reports whether Postgres answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// inAsyncCommitTx is inTx for writes a crash may lose, because losing them only makes the relay
// do again what it did: its leases and the outcomes of its deliveries. A lost lease or outcome
// leaves the event due again, and a signal delivered twice is ignored by its workflow. Such a
// transaction commits without waiting for its WAL to reach the disk (synchronous_commit off), so
// that the relay neither waits for a flush per claim nor adds flushes that the webhooks' inbox
// inserts, whose commit is what a provider's acknowledgement promises, would wait behind. Postgres
// writes WAL in order: a later synchronous commit makes every earlier one durable too.
func (s *Store) inAsyncCommitTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit TO off`); err != nil {
			return fmt.Errorf("store: asynchronous commit: %w", err)
		}
		return fn(tx)
	})
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
