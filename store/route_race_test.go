package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
)

// TestARouteCommittedAfterTheOutcomeLooksForItStillWakesItsEvent is the race the relay met under
// load: an event claimed before its route existed, whose outcome (no route yet, look again only
// when it is to be marked unroutable) is recorded while the route's transaction is still open, so
// that the outcome's own look for the route cannot see it. The route must take the event back, or
// it waits out RELAY_UNROUTABLE_AFTER.
func TestARouteCommittedAfterTheOutcomeLooksForItStillWakesItsEvent(t *testing.T) {
	st := New(testenv.NewDB(t))
	ctx := context.Background()
	id, _, err := st.InsertWebhookEvent(ctx, NewInboxEvent{Provider: "test", EventID: uuid.NewString(),
		EventType: "thing.happened", Subject: "thing:overtaken", Headers: map[string]string{}, Body: []byte("{}")})
	require.NoError(t, err)
	claimed, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1)

	tx, err := st.db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, addRoute(ctx, tx, "test", "thing:overtaken", "workflow-1"))
	recorded := make(chan error, 1)
	go func() {
		_, err := st.RecordOutcomes(ctx, []Outcome{{ID: id, LeaseID: claimed[0].LeaseID, Status: InboxPending,
			Attempted: true, RetryAt: time.Now().Add(time.Hour), Error: "no route yet", AwaitingRoute: true}})
		recorded <- err
	}()
	// Give the outcome time to run its statement against the uncommitted route.
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, tx.Commit())
	require.NoError(t, <-recorded)

	due, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, due, 1, "due at once, not when it is to be marked unroutable")
	require.Equal(t, id, due[0].ID)
	require.Equal(t, "workflow-1", *due[0].WorkflowID)
}

// TestAnEventStoredAfterItsRouteWokeEventsIsNotParkedPastIt is the other order: the route's
// transaction has woken its events before this one was stored, and commits after the relay found
// no route for it. Parking the event waits for that commit and then sees the route.
func TestAnEventStoredAfterItsRouteWokeEventsIsNotParkedPastIt(t *testing.T) {
	st := New(testenv.NewDB(t))
	ctx := context.Background()
	tx, err := st.db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, addRoute(ctx, tx, "test", "thing:late", "workflow-1"))

	id, _, err := st.InsertWebhookEvent(ctx, NewInboxEvent{Provider: "test", EventID: uuid.NewString(),
		EventType: "thing.happened", Subject: "thing:late", Headers: map[string]string{}, Body: []byte("{}")})
	require.NoError(t, err)
	claimed, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Nil(t, claimed[0].WorkflowID, "the route is not committed yet: the relay finds none")
	recorded := make(chan error, 1)
	go func() {
		_, err := st.RecordOutcomes(ctx, []Outcome{{ID: id, LeaseID: claimed[0].LeaseID, Status: InboxPending,
			Attempted: true, RetryAt: time.Now().Add(time.Hour), Error: "no route yet", AwaitingRoute: true}})
		recorded <- err
	}()
	select {
	case err := <-recorded:
		t.Fatalf("the event was parked while its route's transaction was open: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, tx.Commit())
	require.NoError(t, <-recorded)

	due, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, due, 1, "due at once, not when it is to be marked unroutable")
	require.Equal(t, id, due[0].ID)
	require.Equal(t, "workflow-1", *due[0].WorkflowID)
}

// TestAnEventStoredWhileItsRouteIsWrittenIsNotParkedPastIt: the inbox writer parks an event whose
// subject has no route as it stores it. Stored while a route's transaction is open, after that
// transaction woke its events, the event would miss both the route and the wake. Its batch waits
// for the route's transaction instead, and then finds the route.
func TestAnEventStoredWhileItsRouteIsWrittenIsNotParkedPastIt(t *testing.T) {
	st := New(testenv.NewDB(t))
	ctx := context.Background()
	writer := NewInboxWriter(st, InboxWriterConfig{AwaitRouteFor: time.Hour})
	t.Cleanup(writer.Close)
	tx, err := st.db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, addRoute(ctx, tx, "test", "thing:raced", "workflow-1"))

	type answer struct {
		stored StoredEvent
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		stored, err := writer.InsertWebhookEvent(ctx, NewInboxEvent{Provider: "test", EventID: uuid.NewString(),
			EventType: "thing.happened", Subject: "thing:raced", Headers: map[string]string{}, Body: []byte("{}"), Routed: true})
		answered <- answer{stored, err}
	}()
	select {
	case a := <-answered:
		t.Fatalf("the event was stored while its route's transaction was open: %+v", a)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, tx.Commit())
	a := <-answered
	require.NoError(t, a.err)
	require.True(t, a.stored.Inserted)
	require.False(t, a.stored.AwaitingRoute, "stored after the route committed: nothing to await")

	due, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.Equal(t, a.stored.ID, due[0].ID)
	require.Equal(t, "workflow-1", *due[0].WorkflowID)
}
