package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

// giveUp stores an event and has the relay give up on it with status, as the relay does: claimed,
// then its outcome recorded under the claim's lease.
func giveUp(t *testing.T, st *store.Store, provider, subject, status string) int64 {
	t.Helper()
	ctx := context.Background()
	id, inserted, err := st.InsertWebhookEvent(ctx, store.NewInboxEvent{Provider: provider, EventID: uuid.NewString(),
		EventType: "client.updated", Subject: subject, Headers: map[string]string{"X-Signature": "sig"}, Body: []byte(piiBody)})
	require.NoError(t, err)
	require.True(t, inserted)
	claimed, err := st.ClaimEvents(ctx, []int64{id}, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	n, err := st.RecordOutcomes(ctx, []store.Outcome{{ID: id, LeaseID: claimed[0].LeaseID, Status: status,
		Attempted: true, Error: "no route for subject " + subject}})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	return id
}

func TestInboxToolsListAndShowEventsOfAStatus(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	unroutable := giveUp(t, st, "test", "client:1", store.InboxUnroutable)
	giveUp(t, st, "other", "client:2", store.InboxUnroutable)
	discarded := giveUp(t, st, "test", "client:3", store.InboxDiscarded)

	listed, err := st.ListInboxEvents(ctx, store.InboxFilter{Status: store.InboxUnroutable, Provider: "test"})
	require.NoError(t, err)
	require.Len(t, listed, 1)
	e := listed[0]
	require.Equal(t, unroutable, e.ID)
	require.Equal(t, "test", e.Provider)
	require.Equal(t, "client:1", e.Subject)
	require.Equal(t, 1, e.Attempts)
	require.Equal(t, "no route for subject client:1", *e.LastError)

	all, err := st.ListInboxEvents(ctx, store.InboxFilter{Status: store.InboxUnroutable})
	require.NoError(t, err)
	require.Len(t, all, 2)
	limited, err := st.ListInboxEvents(ctx, store.InboxFilter{Status: store.InboxUnroutable, Limit: 1})
	require.NoError(t, err)
	require.Len(t, limited, 1)
	require.Greater(t, limited[0].ID, unroutable, "newest first")
	_, err = st.ListInboxEvents(ctx, store.InboxFilter{Status: "lost"})
	require.Error(t, err)

	shown, err := st.InboxEvent(ctx, discarded)
	require.NoError(t, err)
	require.Equal(t, store.InboxDiscarded, shown.Status)
	require.JSONEq(t, piiBody, string(shown.Body), "the body is opened from its seal")
	require.Equal(t, map[string]string{"X-Signature": "sig"}, shown.Headers)
	_, err = st.InboxEvent(ctx, discarded+1000)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestInboxReplayHandsAnEventBackToTheRelayOnce(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	id := giveUp(t, st, "test", "client:late", store.InboxUnroutable)

	r, err := st.ReplayInboxEvent(ctx, id, nil)
	require.NoError(t, err)
	require.Equal(t, store.ReplayResult{ID: id, Status: store.InboxUnroutable, Replayed: true}, r)
	replayed := rawInboxEvent(t, db, id)
	require.Equal(t, store.InboxPending, replayed.Status)
	require.Nil(t, replayed.LastError)
	var attempts int
	require.NoError(t, db.Get(&attempts, `SELECT attempts FROM webhook_events WHERE id = $1`, id))
	require.Zero(t, attempts)

	again, err := st.ReplayInboxEvent(ctx, id, nil)
	require.NoError(t, err)
	require.False(t, again.Replayed, "replaying it twice is a no-op the second time")
	require.Equal(t, store.InboxPending, again.Status)

	// The route appeared since the relay gave up: the claim finds it.
	require.NoError(t, st.AddRoute(ctx, "test", "client:late", "workflow-late"))
	claimed, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Equal(t, "workflow-late", *claimed[0].WorkflowID)
	_, err = st.RecordOutcomes(ctx, []store.Outcome{{ID: id, LeaseID: claimed[0].LeaseID, Status: store.InboxDelivered, Attempted: true}})
	require.NoError(t, err)

	delivered, err := st.ReplayInboxEvent(ctx, id, nil)
	require.NoError(t, err)
	require.False(t, delivered.Replayed, "a delivered event is never signalled again")
	require.Equal(t, store.InboxDelivered, rawInboxEvent(t, db, id).Status)

	_, err = st.ReplayInboxEvent(ctx, id+1000, nil)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestInboxReplayParsesAnUnparsedEventAgain(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	id, _, err := st.InsertWebhookEvent(ctx, store.NewInboxEvent{Provider: "test", EventID: "unparsed:1",
		Headers: map[string]string{}, Body: []byte(piiBody), ParseError: "unknown envelope"})
	require.NoError(t, err)

	var parsedBody []byte
	stillBroken := func(string, []byte) (string, string, error) { return "", "", errors.New("still unknown") }
	r, err := st.ReplayInboxEvent(ctx, id, stillBroken)
	require.NoError(t, err)
	require.False(t, r.Replayed)
	row := rawInboxEvent(t, db, id)
	require.Equal(t, store.InboxUnparsed, row.Status)
	require.Equal(t, "still unknown", *row.LastError)

	fixed := func(provider string, body []byte) (string, string, error) {
		parsedBody = body
		return "client.updated", "client:9", nil
	}
	r, err = st.ReplayInboxEvent(ctx, id, fixed)
	require.NoError(t, err)
	require.True(t, r.Replayed)
	require.JSONEq(t, piiBody, string(parsedBody), "the parser reads the body opened from its seal")
	row = rawInboxEvent(t, db, id)
	require.Equal(t, store.InboxPending, row.Status)
	require.Equal(t, "client.updated", row.EventType)
	require.Equal(t, "client:9", row.Subject)
}

func TestInboxReplayOfAStatusTakesOnlyItsEvents(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	first := giveUp(t, st, "test", "client:1", store.InboxUnroutable)
	second := giveUp(t, st, "test", "client:2", store.InboxUnroutable)
	other := giveUp(t, st, "other", "client:3", store.InboxUnroutable)
	discarded := giveUp(t, st, "test", "client:4", store.InboxDiscarded)
	purged := giveUp(t, st, "test", "client:5", store.InboxUnroutable)
	_, err := db.Exec(`UPDATE webhook_events SET body = '', body_sealed = false, body_purged_at = now() WHERE id = $1`, purged)
	require.NoError(t, err)

	results, err := st.ReplayInboxEvents(ctx, store.InboxFilter{Status: store.InboxUnroutable, Provider: "test"}, nil)
	require.NoError(t, err)
	require.Equal(t, []store.ReplayResult{{ID: first, Status: store.InboxUnroutable, Replayed: true},
		{ID: second, Status: store.InboxUnroutable, Replayed: true}}, results)
	require.Equal(t, store.InboxUnroutable, rawInboxEvent(t, db, other).Status)
	require.Equal(t, store.InboxDiscarded, rawInboxEvent(t, db, discarded).Status)
	require.Equal(t, store.InboxUnroutable, rawInboxEvent(t, db, purged).Status, "a purged body has nothing to deliver")

	again, err := st.ReplayInboxEvents(ctx, store.InboxFilter{Status: store.InboxUnroutable, Provider: "test"}, nil)
	require.NoError(t, err)
	require.Empty(t, again, "a second replay finds nothing to do")

	r, err := st.ReplayInboxEvent(ctx, purged, nil)
	require.NoError(t, err)
	require.False(t, r.Replayed)
	require.Contains(t, r.Reason, "purged")

	_, err = st.ReplayInboxEvents(ctx, store.InboxFilter{Status: store.InboxPending}, nil)
	require.Error(t, err, "pending events are the relay's already")
}
