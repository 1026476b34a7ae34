package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
)

// never is a flush interval no test waits for: a batch it commits was committed because it filled.
const never = time.Hour

// answerTimeout fails a test whose submission is never answered, instead of hanging it.
const answerTimeout = 30 * time.Second

func inboxEvent(eventID string) store.NewInboxEvent {
	return store.NewInboxEvent{Provider: "complycube", EventID: eventID, EventType: "check.completed.clear",
		Subject: "check:5ed3918fbf06f30008e552c9", Headers: map[string]string{"Content-Type": "application/json"},
		Body: []byte(`{"id":"` + eventID + `"}`)}
}

type inboxAnswer struct {
	event         store.NewInboxEvent
	id            int64
	inserted      bool
	awaitingRoute bool
	err           error
}

// submitAll submits the events at once, each from its own goroutine, and returns their answers in
// the events' order.
func submitAll(t *testing.T, w *store.InboxWriter, events ...store.NewInboxEvent) []inboxAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), answerTimeout)
	defer cancel()
	answers := make([]inboxAnswer, len(events))
	var wg sync.WaitGroup
	for i, e := range events {
		wg.Go(func() {
			a := &answers[i]
			a.event = e
			var stored store.StoredEvent
			stored, a.err = w.InsertWebhookEvent(ctx, e)
			a.id, a.inserted, a.awaitingRoute = stored.ID, stored.Inserted, stored.AwaitingRoute
		})
	}
	wg.Wait()
	return answers
}

type storedInboxRow struct {
	ID            int64   `db:"id"`
	EventID       string  `db:"event_id"`
	Body          []byte  `db:"body"`
	Status        string  `db:"status"`
	LastError     *string `db:"last_error"`
	Headers       string  `db:"headers"`
	Subject       string  `db:"subject"`
	EventType     string  `db:"event_type"`
	TransactionID string  `db:"transaction_id"`
}

func storedInboxRows(t *testing.T, db *sqlx.DB) map[string]storedInboxRow {
	t.Helper()
	var rows []storedInboxRow
	require.NoError(t, db.Select(&rows, `SELECT id, event_id, body, status, last_error, headers::text AS headers,
		subject, event_type, xmin::text AS transaction_id FROM webhook_events`))
	byEventID := map[string]storedInboxRow{}
	for _, r := range rows {
		byEventID[r.EventID] = r
	}
	return byEventID
}

func newInboxWriter(t *testing.T, db *sqlx.DB, cfg store.InboxWriterConfig) *store.InboxWriter {
	w := store.NewInboxWriter(store.New(db), cfg)
	t.Cleanup(w.Close)
	return w
}

func TestInboxWriterAnswersEachConcurrentSubmitterAfterItsBatchCommits(t *testing.T) {
	db := testenv.NewDB(t)
	const batchSize, submitters = 16, 200
	w := newInboxWriter(t, db, store.InboxWriterConfig{BatchSize: batchSize, FlushInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), answerTimeout)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, submitters)
	for i := range submitters {
		wg.Go(func() {
			eventID := fmt.Sprintf("evt-%d", i)
			answer, err := w.InsertWebhookEvent(ctx, inboxEvent(eventID))
			if err != nil || !answer.Inserted {
				errs <- fmt.Errorf("%s: inserted %v, error %v", eventID, answer.Inserted, err)
				return
			}
			id := answer.ID
			// Read through another connection of the pool: only a committed row is visible there.
			var stored string
			if err := db.GetContext(ctx, &stored, `SELECT event_id FROM webhook_events WHERE id = $1`, id); err != nil {
				errs <- fmt.Errorf("%s answered as stored with id %d before it was committed: %w", eventID, id, err)
				return
			}
			if stored != eventID {
				errs <- fmt.Errorf("%s answered with the id of %s", eventID, stored)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	rows := storedInboxRows(t, db)
	require.Len(t, rows, submitters)
	perTransaction := map[string]int{}
	for _, r := range rows {
		perTransaction[r.TransactionID]++
	}
	for tx, n := range perTransaction {
		require.LessOrEqual(t, n, batchSize, "transaction %s", tx)
	}
	require.Less(t, len(perTransaction), submitters/2, "concurrent events should share transactions")
}

func TestInboxWriterStoresRowsAsTheSingleRowInsertDoes(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	w := newInboxWriter(t, db, store.InboxWriterConfig{BatchSize: 2, FlushInterval: never})
	parsed, unparsed := inboxEvent("batched-parsed"), inboxEvent("batched-unparsed")
	unparsed.EventType, unparsed.Subject, unparsed.ParseError = "", "", "unexpected end of JSON input"
	for _, a := range submitAll(t, w, parsed, unparsed) {
		require.NoError(t, a.err)
		require.True(t, a.inserted)
	}
	for _, e := range []store.NewInboxEvent{parsed, unparsed} {
		e.EventID = "single-" + e.EventID
		_, inserted, err := st.InsertWebhookEvent(context.Background(), e)
		require.NoError(t, err)
		require.True(t, inserted)
	}

	rows := storedInboxRows(t, db)
	for _, eventID := range []string{"batched-parsed", "batched-unparsed"} {
		batched, single := rows[eventID], rows["single-"+eventID]
		single.ID, single.EventID, single.TransactionID = batched.ID, batched.EventID, batched.TransactionID
		require.Equal(t, single, batched)
	}
	require.Equal(t, store.InboxPending, rows["batched-parsed"].Status)
	require.Nil(t, rows["batched-parsed"].LastError)
	require.Equal(t, store.InboxUnparsed, rows["batched-unparsed"].Status)
	require.Equal(t, "unexpected end of JSON input", *rows["batched-unparsed"].LastError)
}

func TestInboxWriterCommitsABatchWhenItFills(t *testing.T) {
	db := testenv.NewDB(t)
	w := newInboxWriter(t, db, store.InboxWriterConfig{BatchSize: 4, FlushInterval: never})

	answers := submitAll(t, w, inboxEvent("a"), inboxEvent("b"), inboxEvent("c"), inboxEvent("d"))
	for _, a := range answers {
		require.NoError(t, a.err, a.event.EventID)
		require.True(t, a.inserted, a.event.EventID)
	}
	rows := storedInboxRows(t, db)
	require.Len(t, rows, 4)
	require.Equal(t, rows["a"].TransactionID, rows["d"].TransactionID, "one batch, one transaction")
}

func TestInboxWriterCommitsAPartialBatchAfterTheFlushInterval(t *testing.T) {
	db := testenv.NewDB(t)
	const interval = 200 * time.Millisecond
	w := newInboxWriter(t, db, store.InboxWriterConfig{BatchSize: 100, FlushInterval: interval})

	start := time.Now()
	answers := submitAll(t, w, inboxEvent("alone"))
	require.NoError(t, answers[0].err)
	require.True(t, answers[0].inserted)
	require.GreaterOrEqual(t, time.Since(start), interval, "committed before the interval with the batch not full")
	require.Contains(t, storedInboxRows(t, db), "alone")
}

func TestInboxWriterAnswersDuplicateForAnEventAlreadyStored(t *testing.T) {
	db := testenv.NewDB(t)
	_, inserted, err := store.New(db).InsertWebhookEvent(context.Background(), inboxEvent("stored-before"))
	require.NoError(t, err)
	require.True(t, inserted)
	w := newInboxWriter(t, db, store.InboxWriterConfig{BatchSize: 3, FlushInterval: never})

	retried := inboxEvent("stored-before")
	retried.Body = []byte(`{"a":"different body"}`)
	answers := submitAll(t, w, retried, inboxEvent("new-1"), inboxEvent("new-2"))
	require.NoError(t, answers[0].err)
	require.False(t, answers[0].inserted)
	require.True(t, answers[1].inserted)
	require.True(t, answers[2].inserted)
	require.Equal(t, `{"id":"stored-before"}`, string(storedInboxRows(t, db)["stored-before"].Body), "the first copy is kept")

	again := submitAll(t, w, inboxEvent("new-1"), inboxEvent("new-2"), inboxEvent("new-3"))
	require.False(t, again[0].inserted)
	require.False(t, again[1].inserted)
	require.True(t, again[2].inserted)
}

func TestInboxWriterStoresAnEventRepeatedInOneBatchOnce(t *testing.T) {
	db := testenv.NewDB(t)
	w := newInboxWriter(t, db, store.InboxWriterConfig{BatchSize: 3, FlushInterval: never})
	first, repeat := inboxEvent("twice"), inboxEvent("twice")
	repeat.Body = []byte(`{"id":"twice","retry":true}`)

	answers := submitAll(t, w, first, repeat, inboxEvent("other"))
	for _, a := range answers {
		require.NoError(t, a.err)
	}
	require.True(t, answers[2].inserted)
	require.NotEqual(t, answers[0].inserted, answers[1].inserted, "exactly one copy is stored")
	stored := answers[0]
	if answers[1].inserted {
		stored = answers[1]
	}
	rows := storedInboxRows(t, db)
	require.Len(t, rows, 2)
	require.Equal(t, stored.id, rows["twice"].ID)
	require.Equal(t, string(stored.event.Body), string(rows["twice"].Body))
}

func TestInboxWriterPoisonRowFailsOnlyItself(t *testing.T) {
	db := testenv.NewDB(t)
	w := newInboxWriter(t, db, store.InboxWriterConfig{BatchSize: 4, FlushInterval: never})
	// Postgres refuses a NUL character in text.
	poison := inboxEvent("poison\x00")

	answers := submitAll(t, w, inboxEvent("good-1"), poison, poison, inboxEvent("good-2"))
	require.NoError(t, answers[0].err)
	require.True(t, answers[0].inserted)
	require.Error(t, answers[1].err)
	require.Error(t, answers[2].err, "a repeat of an event that was not stored is not acknowledged as a duplicate")
	require.NoError(t, answers[3].err)
	require.True(t, answers[3].inserted)
	rows := storedInboxRows(t, db)
	require.Len(t, rows, 2)
	require.Contains(t, rows, "good-1")
	require.Contains(t, rows, "good-2")
}

func TestInboxWriterSubmitterWhoseContextEndsGetsAnError(t *testing.T) {
	db := testenv.NewDB(t)
	w := newInboxWriter(t, db, store.InboxWriterConfig{BatchSize: 2, FlushInterval: never})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := w.InsertWebhookEvent(ctx, inboxEvent("gave-up"))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// The batch it was in still commits once it fills, for the submitters that are waiting.
	answers := submitAll(t, w, inboxEvent("waited"))
	require.NoError(t, answers[0].err)
	require.True(t, answers[0].inserted)
	require.Contains(t, storedInboxRows(t, db), "waited")
}

func TestInboxWriterCloseCommitsWhatWasSubmitted(t *testing.T) {
	db := testenv.NewDB(t)
	w := store.NewInboxWriter(store.New(db), store.InboxWriterConfig{BatchSize: 100, FlushInterval: never})

	answered := make(chan []inboxAnswer)
	go func() { answered <- submitAll(t, w, inboxEvent("a"), inboxEvent("b"), inboxEvent("c")) }()
	// Long enough for three goroutines to hand over their events, which then wait for the batch
	// to fill or for the interval, neither of which comes.
	time.Sleep(200 * time.Millisecond)
	w.Close()

	for _, a := range <-answered {
		require.NoError(t, a.err, a.event.EventID)
		require.True(t, a.inserted, a.event.EventID)
	}
	require.Len(t, storedInboxRows(t, db), 3)

	_, err := w.InsertWebhookEvent(context.Background(), inboxEvent("late"))
	require.ErrorIs(t, err, store.ErrInboxWriterClosed)
	w.Close()
}

// TestInboxWriterParksRoutedEventsWithoutARoute: a routed event whose subject has no route is
// stored awaiting it, with the reason, and is not due until the route is written; one whose route
// exists, one the relay routes itself (not Routed) and an unparsed one are stored as before.
func TestInboxWriterParksRoutedEventsWithoutARoute(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	ctx := t.Context()
	require.NoError(t, st.AddRoute(ctx, "complycube", "check:routed", "workflow-routed"))
	w := newInboxWriter(t, db, store.InboxWriterConfig{AwaitRouteFor: time.Hour})

	event := func(eventID, subject string, routed bool) store.NewInboxEvent {
		e := inboxEvent(eventID)
		e.Subject, e.Routed = subject, routed
		return e
	}
	early, routed, addressed := event("early", "check:early", true), event("routed", "check:routed", true),
		event("addressed", "account:a1", false)
	unparsed := event("unparsed", "", true)
	unparsed.ParseError = "bad"
	answers := submitAll(t, w, early, routed, addressed, unparsed)
	for _, a := range answers {
		require.NoError(t, a.err, a.event.EventID)
		require.True(t, a.inserted, a.event.EventID)
	}
	require.Equal(t, []bool{true, false, false, false},
		[]bool{answers[0].awaitingRoute, answers[1].awaitingRoute, answers[2].awaitingRoute, answers[3].awaitingRoute})
	rows := storedInboxRows(t, db)
	require.Equal(t, `no route for subject "check:early" yet`, *rows["early"].LastError)
	require.Nil(t, rows["routed"].LastError)
	require.Equal(t, "bad", *rows["unparsed"].LastError)

	due, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.ElementsMatch(t, []int64{answers[1].id, answers[2].id}, []int64{due[0].ID, due[1].ID})
	require.Len(t, due, 2, "the parked and the unparsed events are not due")

	require.NoError(t, st.AddRoute(ctx, "complycube", "check:early", "workflow-early"))
	woken, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, woken, 1)
	require.Equal(t, answers[0].id, woken[0].ID)
	require.Equal(t, "workflow-early", *woken[0].WorkflowID)
}
