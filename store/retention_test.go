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
)

// screeningFinished creates a screening of a new candidate of the tenant with the given status,
// finished (or, when running, last updated) that long ago, and returns the candidate's id.
func screeningFinished(t *testing.T, db *sqlx.DB, st *store.Store, tenantID string, status store.Status, ago time.Duration) string {
	t.Helper()
	scr, _, err := st.CreateScreening(context.Background(), store.NewScreening{TenantID: tenantID,
		Candidate: store.Candidate{Reference: "emp-" + uuid.NewString(), FirstName: "Ada", LastName: "Lovelace",
			Email: "ada@example.com", DOB: "1990-12-10"},
		Checks: []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}})
	require.NoError(t, err)
	setScreening(t, db, scr.ID, status, ago)
	return scr.CandidateID
}

func setScreening(t *testing.T, db *sqlx.DB, screeningID string, status store.Status, ago time.Duration) {
	t.Helper()
	_, err := db.Exec(`UPDATE screenings SET status = $2, updated_at = now() - $3::bigint * interval '1 microsecond',
		completed_at = CASE WHEN $2 IN ('completed', 'failed', 'canceled') THEN now() - $3::bigint * interval '1 microsecond' END
		WHERE id = $1`, screeningID, status, ago.Microseconds())
	require.NoError(t, err)
}

func expiredIDs(t *testing.T, st *store.Store, defaultRetention time.Duration) []string {
	t.Helper()
	expired, err := st.ExpiredCandidates(context.Background(), defaultRetention, "", 100)
	require.NoError(t, err)
	ids := []string{}
	for _, c := range expired {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestExpiredCandidatesFollowTheTenantsRetentionOrTheDefault(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	ctx := context.Background()
	short, _, err := st.CreateTenant(ctx, "short retention")
	require.NoError(t, err)
	require.NoError(t, st.SetScreeningRetention(ctx, short.ID, time.Hour))
	usual, _, err := st.CreateTenant(ctx, "default retention")
	require.NoError(t, err)
	const defaultRetention = 24 * time.Hour

	shortExpired := screeningFinished(t, db, st, short.ID, store.StatusCompleted, 2*time.Hour)
	shortFailedExpired := screeningFinished(t, db, st, short.ID, store.StatusFailed, 2*time.Hour)
	shortRecent := screeningFinished(t, db, st, short.ID, store.StatusCanceled, 30*time.Minute)
	usualWithin := screeningFinished(t, db, st, usual.ID, store.StatusCompleted, 2*time.Hour)
	usualExpired := screeningFinished(t, db, st, usual.ID, store.StatusCanceled, 48*time.Hour)

	require.ElementsMatch(t, []string{shortExpired, shortFailedExpired, usualExpired}, expiredIDs(t, st, defaultRetention))
	require.NotContains(t, expiredIDs(t, st, defaultRetention), shortRecent)
	require.NotContains(t, expiredIDs(t, st, defaultRetention), usualWithin)

	require.NoError(t, st.SetScreeningRetention(ctx, short.ID, 0), "back to the default")
	require.ElementsMatch(t, []string{usualExpired}, expiredIDs(t, st, defaultRetention))
	require.NoError(t, st.SetScreeningRetention(ctx, usual.ID, time.Hour))
	require.ElementsMatch(t, []string{usualExpired, usualWithin}, expiredIDs(t, st, defaultRetention))
}

func TestExpiredCandidatesKeepUnfinishedScreenings(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	tenant, _, err := st.CreateTenant(context.Background(), "acme")
	require.NoError(t, err)

	running := screeningFinished(t, db, st, tenant.ID, store.StatusInProgress, 72*time.Hour)
	pending := screeningFinished(t, db, st, tenant.ID, store.StatusPending, 72*time.Hour)
	// A candidate with one screening finished long ago and another still running, or finished
	// lately: the last finish counts, and only once every screening has finished.
	twoScreenings := screeningFinished(t, db, st, tenant.ID, store.StatusCompleted, 72*time.Hour)
	second := uuid.NewString()
	_, err = db.Exec(`INSERT INTO screenings (id, tenant_id, candidate_id, status) VALUES ($1, $2, $3, 'in_progress')`,
		second, tenant.ID, twoScreenings)
	require.NoError(t, err)

	require.Empty(t, expiredIDs(t, st, time.Hour))
	setScreening(t, db, second, store.StatusCompleted, 30*time.Minute)
	require.Empty(t, expiredIDs(t, st, time.Hour), "its last screening finished within the retention")
	setScreening(t, db, second, store.StatusCompleted, 2*time.Hour)
	require.Equal(t, []string{twoScreenings}, expiredIDs(t, st, time.Hour))
	require.NotContains(t, expiredIDs(t, st, time.Hour), running)
	require.NotContains(t, expiredIDs(t, st, time.Hour), pending)
}

func TestExpiredCandidatesSkipErasedOnesAndPage(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	var all []string
	for range 5 {
		all = append(all, screeningFinished(t, db, st, tenant.ID, store.StatusCompleted, 2*time.Hour))
	}
	erased := all[2]
	_, err = st.EraseCandidates(ctx, store.Erasure{TenantID: tenant.ID, KeyID: store.RetentionKeyID, CandidateIDs: []string{erased}})
	require.NoError(t, err)

	var paged []string
	after := ""
	for {
		page, err := st.ExpiredCandidates(ctx, time.Hour, after, 2)
		require.NoError(t, err)
		for _, c := range page {
			require.Equal(t, tenant.ID, c.TenantID)
			paged = append(paged, c.ID)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	require.Len(t, paged, 4)
	require.NotContains(t, paged, erased)
	require.ElementsMatch(t, append(append([]string{}, all[:2]...), all[3:]...), paged)
}

func TestSetScreeningRetention(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)

	retention, err := st.ScreeningRetention(ctx, tenant.ID)
	require.NoError(t, err)
	require.Zero(t, retention, "a new tenant takes the default")
	require.NoError(t, st.SetScreeningRetention(ctx, tenant.ID, 2160*time.Hour+1500*time.Millisecond))
	retention, err = st.ScreeningRetention(ctx, tenant.ID)
	require.NoError(t, err)
	require.Equal(t, 2160*time.Hour+1500*time.Millisecond, retention)
	require.NoError(t, st.SetScreeningRetention(ctx, tenant.ID, 0))
	retention, err = st.ScreeningRetention(ctx, tenant.ID)
	require.NoError(t, err)
	require.Zero(t, retention)

	require.ErrorIs(t, st.SetScreeningRetention(ctx, uuid.NewString(), time.Hour), store.ErrNotFound)
	require.ErrorIs(t, st.SetScreeningRetention(ctx, "not-a-uuid", time.Hour), store.ErrNotFound)
	require.Error(t, st.SetScreeningRetention(ctx, tenant.ID, -time.Hour))
}
