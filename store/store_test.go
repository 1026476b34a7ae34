package store_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func newScreening(t *testing.T, st *store.Store, key string, hash []byte) (store.Tenant, store.Screening, bool) {
	t.Helper()
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	scr, created, err := st.CreateScreening(ctx, store.NewScreening{
		TenantID: tenant.ID, IdempotencyKey: key, RequestHash: hash,
		Candidate: store.Candidate{Reference: "r", FirstName: "Ada", LastName: "Lovelace",
			Email: "ada@example.com", DOB: "1990-12-10"},
		Checks: []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}},
	})
	require.NoError(t, err)
	return tenant, scr, created
}

func TestAPIKeysAreStoredAsHashesOnly(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.New(db)
	tenant, key, err := st.CreateTenant(context.Background(), "acme")
	require.NoError(t, err)

	found, err := st.TenantByAPIKey(context.Background(), key)
	require.NoError(t, err)
	require.Equal(t, tenant.ID, found.ID)
	var stored []byte
	require.NoError(t, db.Get(&stored, `SELECT api_key_hash FROM tenants WHERE id = $1`, tenant.ID))
	require.NotContains(t, string(stored), key)
	_, err = st.TenantByAPIKey(context.Background(), key+"x")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestIdempotencyKeyReplaysOrConflicts(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, first, created := newScreening(t, st, "key-1", []byte("hash-a"))
	require.True(t, created)
	n := store.NewScreening{TenantID: tenant.ID, IdempotencyKey: "key-1", RequestHash: []byte("hash-a"),
		Candidate: store.Candidate{Reference: "r", FirstName: "A", LastName: "B", Email: "a@b.c", DOB: "1990-01-01"},
		Checks:    []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}}

	again, created, err := st.CreateScreening(ctx, n)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first.ID, again.ID)

	n.RequestHash = []byte("hash-b")
	_, _, err = st.CreateScreening(ctx, n)
	require.ErrorIs(t, err, store.ErrIdempotencyConflict)
}

func TestTerminalRowsAreNeverReopened(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, scr, _ := newScreening(t, st, "", nil)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	outcome := "clear"

	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: checks[0].ID, Status: store.StatusCompleted, Outcome: &outcome}))
	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: checks[0].ID, Status: store.StatusInProgress}))
	check, err := st.Check(ctx, checks[0].ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCompleted, check.Status)

	require.NoError(t, st.SetScreeningConclusion(ctx, scr.ID, store.StatusCompleted, &outcome, store.TimelineEntry{}))
	require.NoError(t, st.SetScreeningConclusion(ctx, scr.ID, store.StatusFailed, nil, store.TimelineEntry{}))
	got, err := st.Screening(ctx, tenant.ID, scr.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCompleted, got.Status)
	require.Equal(t, "clear", *got.Result)
}

func TestAScreeningCanceledBeforeItsWorkflowBeganDoesNotBegin(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	_, scr, _ := newScreening(t, st, "", nil)

	canceled, err := st.CancelUnstarted(ctx, scr.ID)
	require.NoError(t, err)
	require.True(t, canceled)
	begun, err := st.BeginScreening(ctx, scr.ID)
	require.NoError(t, err)
	require.False(t, begun)

	_, other, _ := newScreening(t, st, "", nil)
	begun, err = st.BeginScreening(ctx, other.ID)
	require.NoError(t, err)
	require.True(t, begun)
	again, err := st.BeginScreening(ctx, other.ID)
	require.NoError(t, err)
	require.True(t, again, "a workflow task retried after a crash begins again harmlessly")
}

func TestRoutesAreIdempotentAndNeverRedirected(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	require.NoError(t, st.AddRoute(ctx, "complycube", "check:1", "wf-a"))
	require.NoError(t, st.AddRoute(ctx, "complycube", "check:1", "wf-a"))
	require.Error(t, st.AddRoute(ctx, "complycube", "check:1", "wf-b"))
	wf, err := st.Route(ctx, "complycube", "check:1")
	require.NoError(t, err)
	require.Equal(t, "wf-a", wf)
}
