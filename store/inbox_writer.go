package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Defaults of InboxWriterConfig.
const (
	DefaultInboxBatchSize     = 128
	DefaultInboxFlushInterval = 2 * time.Millisecond
)

// inboxFlushTimeout bounds one batch's commit, so that a hung Postgres cannot stall the writer
// (and its Close) forever. The requests waiting on a batch give up sooner, on their own deadline.
const inboxFlushTimeout = 10 * time.Second

// inboxConcurrentFlushes lets batches be written while earlier ones wait for their commit. With
// one or two, a busy machine that is slow to run the answered requests again left most batches
// with two or three rows. On the load benchmark's stack (serve, worker, Temporal and Postgres on
// 2 CPUs, 32 clients), 8 took ingest from 0.44-0.56x the raw insert to 0.68-0.79x (1 and 2:
// 0.32-0.37x; 16 no better than 8), leaving most of DATABASE_MAX_CONNS to the relay and the API.
const inboxConcurrentFlushes = 8

// ErrInboxWriterClosed is returned for an event submitted after Close.
var ErrInboxWriterClosed = errors.New("store: inbox writer closed")

// InboxWriterConfig sizes the inbox's group commit.
type InboxWriterConfig struct {
	// BatchSize is the most events one transaction commits; 0 means DefaultInboxBatchSize.
	BatchSize int
	// FlushInterval is how long the first event of a batch waits for others before the batch is
	// committed anyway; 0 means DefaultInboxFlushInterval.
	FlushInterval time.Duration
	// AwaitRouteFor parks a routed event (NewInboxEvent.Routed) whose subject has no route yet as it
	// is stored: it is due only when the route is written (addRoute) or after AwaitRouteFor, when the
	// relay marks it unroutable (RELAY_UNROUTABLE_AFTER). Providers send events about resources
	// nobody here created, and each would otherwise cost the relay a claim and a write only to find
	// no route. 0 leaves every event due at once, for the relay to park.
	AwaitRouteFor time.Duration
}

// InboxWriter stores webhook events as InsertWebhookEvent does, but commits the events submitted
// concurrently together, in one statement and one transaction (group commit): a transaction per
// webhook makes every request wait for its own WAL flush. Each caller is still answered only after
// its own event is committed.
type InboxWriter struct {
	store *Store
	cfg   InboxWriterConfig

	// mu guards closed, so that no submission is sent on queue once Close has closed it.
	mu      sync.RWMutex
	closed  bool
	queue   chan *inboxSubmission
	flushes chan struct{} // a slot per batch being committed, inboxConcurrentFlushes at most
	stopped chan struct{} // closed once every submission is answered after Close
}

type inboxSubmission struct {
	event     NewInboxEvent
	submitted time.Time
	// result is buffered, so that a batch is never held up by a caller that stopped waiting.
	result chan inboxResult
}

type inboxResult struct {
	stored StoredEvent
	err    error
}

// StoredEvent is what the inbox writer made of an event.
type StoredEvent struct {
	ID int64
	// Inserted is false for a duplicate, whether the event was already in the table or came twice
	// in one batch.
	Inserted bool
	// AwaitingRoute says the event was parked as it was stored, until its route is written
	// (InboxWriterConfig.AwaitRouteFor): there is nothing to deliver yet.
	AwaitingRoute bool
}

type inboxKey struct{ provider, eventID string }

// NewInboxWriter starts a writer on st; Close stops it.
func NewInboxWriter(st *Store, cfg InboxWriterConfig) *InboxWriter {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultInboxBatchSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultInboxFlushInterval
	}
	w := &InboxWriter{
		store:   st,
		cfg:     cfg,
		queue:   make(chan *inboxSubmission, cfg.BatchSize),
		flushes: make(chan struct{}, inboxConcurrentFlushes),
		stopped: make(chan struct{}),
	}
	go w.run()
	return w
}

// InsertWebhookEvent stores an event once per (provider, event id), with the next batch, and
// returns once that batch is committed. When ctx ends first it returns an error, and the event may
// still be committed: the provider's retry then finds it a duplicate.
func (w *InboxWriter) InsertWebhookEvent(ctx context.Context, e NewInboxEvent) (StoredEvent, error) {
	sub := &inboxSubmission{event: e, submitted: time.Now(), result: make(chan inboxResult, 1)}
	if err := w.submit(ctx, sub); err != nil {
		return StoredEvent{}, err
	}
	select {
	case r := <-sub.result:
		return r.stored, r.err
	case <-ctx.Done():
		return StoredEvent{}, fmt.Errorf("store: insert webhook event: %w", ctx.Err())
	}
}

func (w *InboxWriter) submit(ctx context.Context, sub *inboxSubmission) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrInboxWriterClosed
	}
	select {
	case w.queue <- sub:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store: insert webhook event: %w", ctx.Err())
	}
}

// Close refuses new events, commits the ones already submitted, and returns once all of them
// are answered.
func (w *InboxWriter) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	<-w.stopped
}

// run gathers submissions into batches: a batch is committed when it is full or FlushInterval
// after its first event was submitted, whichever comes first. It waits for a free commit slot
// before it starts a batch, so that the events submitted meanwhile join that batch.
func (w *InboxWriter) run() {
	var committing sync.WaitGroup
	defer close(w.stopped)
	defer committing.Wait()
	for {
		w.flushes <- struct{}{}
		first, ok := <-w.queue
		if !ok {
			return
		}
		batch := w.gather(first)
		committing.Go(func() {
			defer func() { <-w.flushes }()
			w.commit(batch)
		})
	}
}

func (w *InboxWriter) gather(first *inboxSubmission) []*inboxSubmission {
	batch := []*inboxSubmission{first}
	timer := time.NewTimer(time.Until(first.submitted.Add(w.cfg.FlushInterval)))
	defer timer.Stop()
	for len(batch) < w.cfg.BatchSize {
		select {
		case sub, ok := <-w.queue:
			if !ok {
				return batch
			}
			batch = append(batch, sub)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// commit stores a batch and answers each of its submissions. A repeat of an event earlier in the
// batch is answered as a duplicate once that earlier one is committed, and with its error if it
// is not: a repeat must never be acknowledged for an event that is not stored.
func (w *InboxWriter) commit(batch []*inboxSubmission) {
	ctx, cancel := context.WithTimeout(context.Background(), inboxFlushTimeout)
	defer cancel()
	var unique []*inboxSubmission
	repeats := map[inboxKey][]*inboxSubmission{}
	for _, sub := range batch {
		k := inboxKey{sub.event.Provider, sub.event.EventID}
		if _, seen := repeats[k]; seen {
			repeats[k] = append(repeats[k], sub)
			continue
		}
		repeats[k] = nil
		unique = append(unique, sub)
	}

	results := w.store.insertWebhookEvents(ctx, unique, w.cfg.AwaitRouteFor)
	for i, sub := range unique {
		sub.result <- results[i]
		for _, repeat := range repeats[inboxKey{sub.event.Provider, sub.event.EventID}] {
			repeat.result <- inboxResult{err: results[i].err}
		}
	}
}

// insertWebhookEvents stores events with distinct keys in one statement and returns their results
// in order. When the statement fails, each event is stored on its own, unparked, so that a row
// Postgres refuses fails only its own request and not its batch-mates'.
func (s *Store) insertWebhookEvents(ctx context.Context, events []*inboxSubmission, awaitRouteFor time.Duration) []inboxResult {
	results := make([]inboxResult, len(events))
	stored, err := s.insertWebhookEventBatch(ctx, events, awaitRouteFor)
	if err != nil {
		for i, sub := range events {
			r := &results[i]
			r.stored.ID, r.stored.Inserted, r.err = s.InsertWebhookEvent(ctx, sub.event)
		}
		return results
	}
	for i, sub := range events {
		results[i].stored = stored[inboxKey{sub.event.Provider, sub.event.EventID}]
	}
	return results
}

// insertWebhookEvents stores a batch of events, one array parameter per column, parking the routed
// ones whose subject has no route for $11 seconds (see insertWebhookEventBatch). OFFSET 0 keeps
// the look for the route in its subquery, run once per event rather than once per use.
const insertWebhookEvents = `INSERT INTO webhook_events (provider, event_id, event_type, subject, headers, body,
		body_sealed, status, last_error, next_attempt_at)
	SELECT provider, event_id, event_type, subject, headers::jsonb, body, body_sealed, status,
		CASE WHEN awaiting OR NOT routed THEN NULLIF(last_error, '') END,
		CASE WHEN awaiting THEN now() + make_interval(secs => $11) ELSE now() END
	FROM (SELECT e.*, e.routed AND NOT EXISTS (
			SELECT 1 FROM routes r WHERE r.provider = e.provider AND r.subject = e.subject) AS awaiting
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::boolean[],
			$8::text[], $9::text[], $10::boolean[])
			AS e(provider, event_id, event_type, subject, headers, body, body_sealed, status, last_error, routed)
		OFFSET 0) e
	ON CONFLICT (provider, event_id) DO NOTHING
	RETURNING id, provider, event_id, next_attempt_at > now() AS awaiting_route`

// lockRoutesToAwait takes the share lock of the routes of the subjects ($1 providers, $2 subjects)
// in key order, as every parker takes them (routeParkLock).
var lockRoutesToAwait = `SELECT ` + fmt.Sprintf(routeParkLock, "provider", "subject") + `
	FROM (SELECT DISTINCT provider, subject FROM unnest($1::text[], $2::text[]) AS r(provider, subject)) routes
	ORDER BY hashtext(provider || '/' || subject)`

// insertWebhookEventBatch is InsertWebhookEvent for many rows: one prepared statement whose text
// does not depend on the batch's size. Routed events whose subject has no route are parked for
// awaitRouteFor (InboxWriterConfig.AwaitRouteFor): the statement then runs in a transaction that
// first takes the share lock of their routes, so that a route written meanwhile is either seen or
// wakes them (addRoute). It returns the rows inserted; an event absent from them was already
// stored.
func (s *Store) insertWebhookEventBatch(ctx context.Context, events []*inboxSubmission, awaitRouteFor time.Duration) (map[inboxKey]StoredEvent, error) {
	n := len(events)
	providers, eventIDs, types, subjects := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	headers, statuses, lastErrors := make([]string, n), make([]string, n), make([]string, n)
	bodies, sealed, routed := make([][]byte, n), make([]bool, n), make([]bool, n)
	var parkProviders, parkSubjects []string
	for i, sub := range events {
		e := sub.event
		row, err := s.inboxRow(e)
		if err != nil {
			return nil, err
		}
		providers[i], eventIDs[i], types[i], subjects[i] = e.Provider, e.EventID, e.EventType, e.Subject
		headers[i], bodies[i], sealed[i] = string(row.headers), row.body, row.bodySealed
		statuses[i], lastErrors[i] = row.status, e.ParseError
		if awaitRouteFor > 0 && e.Routed && row.status == InboxPending {
			routed[i], lastErrors[i] = true, AwaitingRouteError(e.Subject)
			parkProviders, parkSubjects = append(parkProviders, e.Provider), append(parkSubjects, e.Subject)
		}
	}
	args := []any{pq.StringArray(providers), pq.StringArray(eventIDs), pq.StringArray(types), pq.StringArray(subjects),
		pq.StringArray(headers), pq.ByteaArray(bodies), pq.BoolArray(sealed), pq.StringArray(statuses),
		pq.StringArray(lastErrors), pq.BoolArray(routed), awaitRouteFor.Seconds()}
	insert, err := s.prepared(ctx, insertWebhookEvents)
	if err != nil {
		return nil, err
	}
	if len(parkProviders) == 0 {
		return insertEventRows(ctx, insert, args)
	}
	lock, err := s.prepared(ctx, lockRoutesToAwait)
	if err != nil {
		return nil, err
	}
	var stored map[inboxKey]StoredEvent
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		// In a statement of its own: the insert's snapshot must come after the locks are held.
		if _, err := tx.StmtContext(ctx, lock).ExecContext(ctx, pq.StringArray(parkProviders), pq.StringArray(parkSubjects)); err != nil {
			return fmt.Errorf("store: lock routes of events that may await them: %w", err)
		}
		stored, err = insertEventRows(ctx, tx.StmtContext(ctx, insert), args)
		return err
	})
	return stored, err
}

// insertEventRows runs insertWebhookEvents, prepared as stmt, and returns the rows it inserted.
func insertEventRows(ctx context.Context, stmt *sql.Stmt, args []any) (map[inboxKey]StoredEvent, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("store: insert webhook events: %w", err)
	}
	defer rows.Close()
	stored := map[inboxKey]StoredEvent{}
	for rows.Next() {
		e := StoredEvent{Inserted: true}
		var k inboxKey
		if err := rows.Scan(&e.ID, &k.provider, &k.eventID, &e.AwaitingRoute); err != nil {
			return nil, fmt.Errorf("store: insert webhook events: %w", err)
		}
		stored[k] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: insert webhook events: %w", err)
	}
	return stored, nil
}

// AwaitingRouteError is the last_error of an event parked to await its route.
func AwaitingRouteError(subject string) string {
	return fmt.Sprintf("no route for subject %q yet", subject)
}
