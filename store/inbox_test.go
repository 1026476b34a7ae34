package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
)

func storeEvent(t *testing.T, st *store.Store, subject string) int64 {
	t.Helper()
	id, inserted, err := st.InsertWebhookEvent(context.Background(), store.NewInboxEvent{Provider: "test",
		EventID: uuid.NewString(), EventType: "thing.happened", Subject: subject, Headers: map[string]string{},
		Body: []byte("{}")})
	require.NoError(t, err)
	require.True(t, inserted)
	return id
}

func eventIDs(events []store.InboxEvent) []int64 {
	ids := make([]int64, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

func TestAClaimKeepsOthersOffItsEventsUntilItsLeaseEnds(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	ids := []int64{storeEvent(t, st, "thing:1"), storeEvent(t, st, "thing:1"), storeEvent(t, st, "thing:2")}

	first, err := st.ClaimDueEvents(ctx, 10, 300*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, ids, eventIDs(first))

	again, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, again, "leased events are not due")
	notified, err := st.ClaimEvents(ctx, ids, time.Minute)
	require.NoError(t, err)
	require.Empty(t, notified, "the fast path respects leases too")

	time.Sleep(400 * time.Millisecond) // the first claimant died: its lease runs out
	second, err := st.ClaimEvents(ctx, ids, time.Minute)
	require.NoError(t, err)
	require.Equal(t, ids, eventIDs(second))
	require.NotEqual(t, first[0].LeaseID, second[0].LeaseID)

	delivered := func(events []store.InboxEvent) []store.Outcome {
		var outcomes []store.Outcome
		for _, e := range events {
			outcomes = append(outcomes, store.Outcome{ID: e.ID, LeaseID: e.LeaseID, Status: store.InboxDelivered, Attempted: true})
		}
		return outcomes
	}
	recorded, err := st.RecordOutcomes(ctx, delivered(second))
	require.NoError(t, err)
	require.Equal(t, 3, recorded)

	late := []store.Outcome{{ID: ids[0], LeaseID: first[0].LeaseID, Status: store.InboxPending, Attempted: true,
		RetryAt: time.Now(), Error: "signal: too slow"}}
	recorded, err = st.RecordOutcomes(ctx, late)
	require.NoError(t, err)
	require.Zero(t, recorded, "a lease that ran out records nothing")
	var status string
	var attempts int
	require.NoError(t, st.DB().QueryRowContext(ctx, `SELECT status, attempts FROM webhook_events WHERE id = $1`,
		ids[0]).Scan(&status, &attempts))
	require.Equal(t, store.InboxDelivered, status)
	require.Equal(t, 1, attempts)
}

func TestADeliveryIsDatedWhenTheRelayMadeItNotWhenItWasRecorded(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	ids := []int64{storeEvent(t, st, "thing:1"), storeEvent(t, st, "thing:2")}
	claimed, err := st.ClaimEvents(ctx, ids, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 2)

	recorded, err := st.RecordOutcomes(ctx, []store.Outcome{
		{ID: claimed[0].ID, LeaseID: claimed[0].LeaseID, Status: store.InboxDelivered, Attempted: true,
			DeliveredAt: time.Now().Add(-3 * time.Second)},
		{ID: claimed[1].ID, LeaseID: claimed[1].LeaseID, Status: store.InboxDelivered, Attempted: true},
	})
	require.NoError(t, err)
	require.Equal(t, 2, recorded)
	var earlier, atRecord float64 // seconds before now
	require.NoError(t, st.DB().QueryRowContext(ctx, `SELECT
			extract(epoch FROM now() - (SELECT delivered_at FROM webhook_events WHERE id = $1))::float8,
			extract(epoch FROM now() - (SELECT delivered_at FROM webhook_events WHERE id = $2))::float8`,
		ids[0], ids[1]).Scan(&earlier, &atRecord))
	require.InDelta(t, 3, earlier, 1, "dated when the relay delivered it")
	require.Less(t, atRecord, 1.0, "without a time: dated at the record")
}

func TestARouteWakesTheEventsWaitingForIt(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	id := storeEvent(t, st, "thing:late")
	claimed, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Nil(t, claimed[0].WorkflowID)
	_, err = st.RecordOutcomes(ctx, []store.Outcome{{ID: id, LeaseID: claimed[0].LeaseID, Status: store.InboxPending,
		Attempted: true, RetryAt: time.Now().Add(time.Hour), Error: "no route yet", AwaitingRoute: true}})
	require.NoError(t, err)
	waiting, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, waiting, "backing off")

	require.NoError(t, st.AddRoute(ctx, "test", "thing:late", "workflow-1"))

	woken, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []int64{id}, eventIDs(woken))
	require.Equal(t, "workflow-1", *woken[0].WorkflowID)
}

func TestARouteWrittenWhileItsEventIsClaimedIsFoundWhenTheOutcomeIsRecorded(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	id := storeEvent(t, st, "thing:racing")
	claimed, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Nil(t, claimed[0].WorkflowID, "claimed before the route existed")

	require.NoError(t, st.AddRoute(ctx, "test", "thing:racing", "workflow-1"))
	_, err = st.RecordOutcomes(ctx, []store.Outcome{{ID: id, LeaseID: claimed[0].LeaseID, Status: store.InboxPending,
		Attempted: true, RetryAt: time.Now().Add(time.Hour), Error: "no route yet", AwaitingRoute: true}})
	require.NoError(t, err)

	due, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []int64{id}, eventIDs(due), "due at once, not in an hour")
}
