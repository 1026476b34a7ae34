package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
)

// TestPurgeInboxBodiesKeepsBodiesWithinTheirRetention: an event delivered two hours ago loses its
// body under a retention of an hour, and keeps its row; one delivered now keeps its body.
func TestPurgeInboxBodiesKeepsBodiesWithinTheirRetention(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	ctx := context.Background()
	for _, eventID := range []string{"old", "new"} {
		_, _, err := st.InsertWebhookEvent(ctx, store.NewInboxEvent{Provider: "complycube", EventID: eventID,
			EventType: "check.completed", Body: []byte(`{"id":"` + eventID + `"}`)})
		require.NoError(t, err)
	}
	_, err := db.Exec(`UPDATE webhook_events SET status = 'delivered',
		delivered_at = CASE event_id WHEN 'old' THEN now() - interval '2 hours' ELSE now() END`)
	require.NoError(t, err)

	purge := &activities.Purge{Store: st}
	purged, err := purge.PurgeInboxBodies(ctx, activities.PurgeInboxBodiesInput{Retention: time.Hour, BatchSize: 10})
	require.NoError(t, err)
	require.Equal(t, 1, purged)

	var rows []struct {
		EventID string `db:"event_id"`
		Emptied bool   `db:"emptied"`
	}
	require.NoError(t, db.Select(&rows, `SELECT event_id, body_purged_at IS NOT NULL AND length(body) = 0 AS emptied
		FROM webhook_events ORDER BY event_id`))
	require.Equal(t, []struct {
		EventID string `db:"event_id"`
		Emptied bool   `db:"emptied"`
	}{{"new", false}, {"old", true}}, rows)
}

func TestExpiredCandidatesAppliesTheDefaultRetention(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	scr, _, err := st.CreateScreening(ctx, store.NewScreening{TenantID: tenant.ID,
		Candidate: store.Candidate{Reference: "emp-1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com",
			DOB: "1990-12-10"},
		Checks: []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}})
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE screenings SET status = 'completed', completed_at = now() - interval '2 hours' WHERE id = $1`, scr.ID)
	require.NoError(t, err)

	purge := &activities.Purge{Store: st}
	expired, err := purge.ExpiredCandidates(ctx, activities.ExpiredCandidatesInput{DefaultRetention: time.Hour, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []store.ExpiredCandidate{{ID: scr.CandidateID, TenantID: tenant.ID}}, expired)
	expired, err = purge.ExpiredCandidates(ctx, activities.ExpiredCandidatesInput{DefaultRetention: 3 * time.Hour, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, expired)
}
