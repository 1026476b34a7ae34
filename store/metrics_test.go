package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
)

func TestMetricsCountPendingEventsScreeningsAndChecks(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	ctx := context.Background()
	for _, e := range []store.NewInboxEvent{
		{Provider: "complycube", EventID: "ev-1", EventType: "check.completed", Body: []byte(`{}`)},
		{Provider: "complycube", EventID: "ev-2", EventType: "check.completed", Body: []byte(`{}`)},
		{Provider: "checkr", EventID: "ev-3", EventType: "report.completed", Body: []byte(`{}`)},
		{Provider: "checkr", EventID: "ev-4", Body: []byte(`{`), ParseError: "unexpected end"},
	} {
		_, inserted, err := st.InsertWebhookEvent(ctx, e)
		require.NoError(t, err)
		require.True(t, inserted)
	}
	_, err := db.Exec(`UPDATE webhook_events SET received_at = now() - interval '90 seconds' WHERE event_id = 'ev-1'`)
	require.NoError(t, err)

	pending, err := st.PendingInboxByProvider(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 2, "an unparsed event is not pending")
	require.Equal(t, "checkr", pending[0].Provider)
	require.Equal(t, int64(1), pending[0].Count)
	require.Less(t, pending[0].OldestAgeSeconds, 60.0)
	require.Equal(t, "complycube", pending[1].Provider)
	require.Equal(t, int64(2), pending[1].Count)
	require.InDelta(t, 90, pending[1].OldestAgeSeconds, 30, "the oldest pending event's age")

	newScreening(t, st, "metrics-1", []byte("h1"))
	newScreening(t, st, "metrics-2", []byte("h2"))
	_, err = db.Exec(`UPDATE screenings SET status = 'completed' WHERE idempotency_key = 'metrics-2'`)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE checks SET status = 'completed'
		WHERE screening_id = (SELECT id FROM screenings WHERE idempotency_key = 'metrics-2')`)
	require.NoError(t, err)

	screenings, err := st.ScreeningsByStatus(ctx)
	require.NoError(t, err)
	require.Equal(t, []store.StatusCount{{Status: store.StatusCompleted, Count: 1}, {Status: store.StatusPending, Count: 1}},
		screenings)
	checks, err := st.ChecksByStatus(ctx)
	require.NoError(t, err)
	require.Equal(t, []store.StatusCount{{Provider: "complycube", Status: store.StatusCompleted, Count: 1},
		{Provider: "complycube", Status: store.StatusPending, Count: 1}}, checks)
}
