package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

// piiBody is a provider event that carries candidate PII, as ComplyCube's client.* events do.
const piiBody = `{"type":"client.updated","payload":{"firstName":"Augusta","email":"augusta.king@example.com"}}`

func storePIIEvent(t *testing.T, st *store.Store) int64 {
	t.Helper()
	id, inserted, err := st.InsertWebhookEvent(context.Background(), store.NewInboxEvent{Provider: "test",
		EventID: uuid.NewString(), EventType: "client.updated", Subject: "client:1",
		Headers: map[string]string{"Content-Type": "application/json"}, Body: []byte(piiBody)})
	require.NoError(t, err)
	require.True(t, inserted)
	return id
}

type rawInboxRow struct {
	Body         []byte     `db:"body"`
	BodySealed   bool       `db:"body_sealed"`
	Headers      string     `db:"headers"`
	BodyPurgedAt *time.Time `db:"body_purged_at"`
	EventID      string     `db:"event_id"`
	EventType    string     `db:"event_type"`
	Subject      string     `db:"subject"`
	Status       string     `db:"status"`
	LastError    *string    `db:"last_error"`
}

func rawInboxEvent(t *testing.T, db *sqlx.DB, id int64) rawInboxRow {
	t.Helper()
	var row rawInboxRow
	require.NoError(t, db.Get(&row, `SELECT body, body_sealed, headers::text AS headers, body_purged_at, event_id,
		event_type, subject, status, last_error FROM webhook_events WHERE id = $1`, id))
	return row
}

func TestWebhookBodiesAreSealedAtRestAndOpenedWhenClaimed(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	writer := store.NewInboxWriter(st, store.InboxWriterConfig{})
	t.Cleanup(writer.Close)

	single := storePIIEvent(t, st)
	batched, err := writer.InsertWebhookEvent(ctx, store.NewInboxEvent{Provider: "test",
		EventID: uuid.NewString(), EventType: "client.updated", Subject: "client:2", Headers: map[string]string{},
		Body: []byte(piiBody)})
	require.NoError(t, err)
	require.True(t, batched.Inserted)
	unparsed, err := writer.InsertWebhookEvent(ctx, store.NewInboxEvent{Provider: "test",
		EventID: "unparsed:1", Headers: map[string]string{}, Body: []byte(piiBody + "garbage"), ParseError: "bad"})
	require.NoError(t, err)
	require.True(t, unparsed.Inserted)

	for _, id := range []int64{single, batched.ID, unparsed.ID} {
		row := rawInboxEvent(t, db, id)
		require.True(t, row.BodySealed, "event %d", id)
		require.NotContains(t, string(row.Body), "Augusta", "event %d holds its body in the clear", id)
		require.NotContains(t, string(row.Body), "augusta.king@example.com")
	}

	fast, err := st.ClaimEvents(ctx, []int64{single}, time.Minute)
	require.NoError(t, err)
	require.Len(t, fast, 1)
	require.Equal(t, piiBody, string(fast[0].Body))
	due, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []int64{batched.ID}, eventIDs(due), "unparsed events are never claimed")
	require.Equal(t, piiBody, string(due[0].Body))
}

func TestWebhookBodiesStoredInTheClearBeforeSealingAreStillClaimed(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	// A Store without a vault writes as releases before migration 00011 did.
	id := storePIIEvent(t, store.New(db))
	require.False(t, rawInboxEvent(t, db, id).BodySealed)

	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	claimed, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []int64{id}, eventIDs(claimed))
	require.Equal(t, piiBody, string(claimed[0].Body))
}

func TestAClaimKeepsAnEventWhoseBodyItCannotOpenLeasedForARelayThatCan(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	oldKey, newKey := vault.NewKey(), vault.NewKey()
	// A replica already given the new key seals with it while another still has only the old one.
	sealedWithNew := storePIIEvent(t, store.NewSealed(db, newKeyring(t, newKey, oldKey)))
	sealedWithOld := storePIIEvent(t, store.NewSealed(db, newKeyring(t, oldKey)))

	lagging := store.NewSealed(db, newKeyring(t, oldKey))
	claimed, err := lagging.ClaimDueEvents(ctx, 10, 300*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, []int64{sealedWithOld}, eventIDs(claimed), "the event it can open is not held up")
	require.Equal(t, piiBody, string(claimed[0].Body))
	recorded, err := lagging.RecordOutcomes(ctx, []store.Outcome{{ID: claimed[0].ID, LeaseID: claimed[0].LeaseID,
		Status: store.InboxDelivered, Attempted: true}})
	require.NoError(t, err)
	require.Equal(t, 1, recorded)
	row := rawInboxEvent(t, db, sealedWithNew)
	require.Equal(t, store.InboxPending, row.Status)
	require.NotNil(t, row.LastError)
	require.Contains(t, *row.LastError, "is the key that sealed it loaded?")

	again, err := lagging.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, again, "the event stays leased until its lease ends")

	time.Sleep(400 * time.Millisecond)
	upgraded := store.NewSealed(db, newKeyring(t, newKey, oldKey))
	claimed, err = upgraded.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []int64{sealedWithNew}, eventIDs(claimed))
	require.Equal(t, piiBody, string(claimed[0].Body))
}

func TestPurgeEmptiesTheBodiesOfFinishedEventsAndKeepsTheirRows(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	old := time.Now().Add(-40 * 24 * time.Hour)
	recent := time.Now().Add(-time.Hour)
	cutoff := time.Now().Add(-30 * 24 * time.Hour)

	// status, received_at, delivered_at, whether the purge takes it
	cases := []struct {
		status              string
		received, delivered time.Time
		purged              bool
	}{
		{store.InboxDelivered, old, old, true},
		{store.InboxDelivered, old, old, true},
		{store.InboxDelivered, old, recent, false}, // delivered after a long wait: kept from delivery on
		{store.InboxDiscarded, old, time.Time{}, true},
		{store.InboxUnroutable, old, time.Time{}, true},
		{store.InboxUnparsed, old, time.Time{}, true},
		{store.InboxPending, old, time.Time{}, false}, // not delivered yet: the relay still needs it
		{store.InboxDelivered, recent, recent, false},
	}
	ids := make([]int64, len(cases))
	for i, c := range cases {
		ids[i] = storePIIEvent(t, st)
		var delivered *time.Time
		if !c.delivered.IsZero() {
			delivered = &c.delivered
		}
		_, err := db.Exec(`UPDATE webhook_events SET status = $2, received_at = $3, delivered_at = $4 WHERE id = $1`,
			ids[i], c.status, c.received, delivered)
		require.NoError(t, err)
	}
	before := make([]rawInboxRow, len(cases))
	for i, id := range ids {
		before[i] = rawInboxEvent(t, db, id)
	}

	purged, err := st.PurgeWebhookBodies(ctx, cutoff, 2)
	require.NoError(t, err)
	require.Equal(t, 5, purged, "in batches of 2")

	for i, c := range cases {
		row := rawInboxEvent(t, db, ids[i])
		require.Equal(t, before[i].EventID, row.EventID, "case %d keeps its row", i)
		require.Equal(t, before[i].EventType, row.EventType)
		require.Equal(t, before[i].Subject, row.Subject)
		require.Equal(t, c.status, row.Status)
		if !c.purged {
			require.Equal(t, before[i], row, "case %d is kept whole", i)
			continue
		}
		require.Empty(t, row.Body, "case %d", i)
		require.False(t, row.BodySealed)
		require.JSONEq(t, `{}`, row.Headers)
		require.NotNil(t, row.BodyPurgedAt)
	}

	again, err := st.PurgeWebhookBodies(ctx, cutoff, 2)
	require.NoError(t, err)
	require.Zero(t, again, "purged rows are not purged again")
	_, err = st.PurgeWebhookBodies(ctx, cutoff, 0)
	require.Error(t, err)
}

func TestRotationReSealsWebhookBodiesSoTheOldKeyCanBeRemoved(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	oldKey, newKey := vault.NewKey(), vault.NewKey()
	inTheClear := storePIIEvent(t, store.New(db))
	var sealedWithOld []int64
	for range 4 {
		sealedWithOld = append(sealedWithOld, storePIIEvent(t, store.NewSealed(db, newKeyring(t, oldKey))))
	}
	purged := storePIIEvent(t, store.New(db))
	_, err := db.Exec(`UPDATE webhook_events SET status = 'delivered', delivered_at = now() - interval '1 day' WHERE id = $1`,
		purged)
	require.NoError(t, err)
	n, err := store.New(db).PurgeWebhookBodies(ctx, time.Now(), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	rotating := store.NewSealed(db, newKeyring(t, newKey, oldKey))
	left, err := rotating.NotUnderPrimaryKey(ctx)
	require.NoError(t, err)
	require.Equal(t, store.SealedValues{InboxBodies: 5}, left, "a purged body has nothing to seal")
	resealed, err := rotating.ResealPass(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, store.SealedValues{InboxBodies: 5}, resealed)
	again, err := rotating.ResealPass(ctx, 2)
	require.NoError(t, err)
	require.Zero(t, again.Total())

	after := store.NewSealed(db, newKeyring(t, newKey))
	left, err = after.NotUnderPrimaryKey(ctx)
	require.NoError(t, err)
	require.Zero(t, left.Total())
	row := rawInboxEvent(t, db, inTheClear)
	require.True(t, row.BodySealed)
	require.NotContains(t, string(row.Body), "Augusta")
	claimed, err := after.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Equal(t, append([]int64{inTheClear}, sealedWithOld...), eventIDs(claimed))
	for _, e := range claimed {
		require.Equal(t, piiBody, string(e.Body), "event %d", e.ID)
	}
}

func TestASealedBodyDoesNotOpenWhenMovedToAnotherEvent(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	first, second := storePIIEvent(t, st), storePIIEvent(t, st)
	_, err := db.Exec(`UPDATE webhook_events SET body = (SELECT body FROM webhook_events WHERE id = $1) WHERE id = $2`,
		first, second)
	require.NoError(t, err)

	claimed, err := st.ClaimDueEvents(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []int64{first}, eventIDs(claimed))
}
