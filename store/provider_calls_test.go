package store_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
)

func newProviderOperation(t *testing.T, st *store.Store) (store.ProviderOperation, string) {
	t.Helper()
	_, scr, _ := newScreening(t, st, "", nil)
	checks, err := st.ScreeningChecks(context.Background(), scr.ID)
	require.NoError(t, err)
	return store.ProviderOperation{CheckID: checks[0].ID, Provider: "authenticate", Operation: "create_user"}, scr.ID
}

// providerCallTimeline returns the timeline entries about provider calls, by dedupe key.
func providerCallTimeline(t *testing.T, st *store.Store, screeningID string) map[string]string {
	t.Helper()
	var entries []store.TimelineEntry
	require.NoError(t, st.DB().Select(&entries, `SELECT id, screening_id, check_id, dedupe_key, kind, detail, occurred_at, recorded_at
		FROM timeline_entries WHERE screening_id = $1 AND kind LIKE 'provider.call%'`, screeningID))
	byKey := map[string]string{}
	for _, e := range entries {
		byKey[e.DedupeKey] = e.Kind + ": " + e.Detail
	}
	return byKey
}

// A call still pending when the next attempt starts lost its answer: it is marked lost once, with
// one timeline entry, listed for operators until one reconciles it, and counted for good.
func TestAPendingProviderCallFoundByTheNextAttemptIsLostUntilReconciled(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	op, screeningID := newProviderOperation(t, st)

	prior, err := st.LoseProviderCalls(ctx, op)
	require.NoError(t, err)
	require.Equal(t, store.PriorCalls{}, prior, "nothing was called yet")
	first, err := st.RecordProviderCall(ctx, op)
	require.NoError(t, err)

	prior, err = st.LoseProviderCalls(ctx, op)
	require.NoError(t, err)
	require.Equal(t, store.PriorCalls{Lost: 1}, prior)
	again, err := st.LoseProviderCalls(ctx, op)
	require.NoError(t, err)
	require.Equal(t, prior, again, "a call is lost once")
	timeline := providerCallTimeline(t, st, screeningID)
	require.Len(t, timeline, 1)
	require.Contains(t, timeline, "provider_call.lost:"+itoa(first))
	require.Contains(t, timeline["provider_call.lost:"+itoa(first)], "authenticate create_user, attempt 1: the answer was lost")

	lost, err := st.LostProviderCalls(ctx)
	require.NoError(t, err)
	require.Len(t, lost, 1)
	require.Equal(t, store.ProviderCall{ID: first, CheckID: op.CheckID, ScreeningID: screeningID, Provider: "authenticate",
		Operation: "create_user", Attempt: 1, State: store.CallLost, StartedAt: lost[0].StartedAt,
		FinishedAt: lost[0].FinishedAt}, lost[0])
	require.NotNil(t, lost[0].FinishedAt)

	reconciled, err := st.ReconcileProviderCall(ctx, first)
	require.NoError(t, err)
	require.Equal(t, store.CallReconciled, reconciled.State)
	require.NotNil(t, reconciled.ReconciledAt)
	_, err = st.ReconcileProviderCall(ctx, first)
	require.ErrorIs(t, err, store.ErrNotFound, "a call is reconciled once")
	lost, err = st.LostProviderCalls(ctx)
	require.NoError(t, err)
	require.Empty(t, lost)
	require.Contains(t, providerCallTimeline(t, st, screeningID)["provider_call.reconciled:"+itoa(first)], "reconciled by an operator")

	second, err := st.RecordProviderCall(ctx, op)
	require.NoError(t, err)
	prior, err = st.LoseProviderCalls(ctx, op)
	require.NoError(t, err)
	require.Equal(t, 2, prior.Lost, "a reconciled call still counts as lost for its check")
	lost, err = st.LostProviderCalls(ctx)
	require.NoError(t, err)
	require.Len(t, lost, 1)
	require.Equal(t, second, lost[0].ID)
	require.Equal(t, 2, lost[0].Attempt)
}

func TestAnsweredProviderCallsAreNotLost(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	op, screeningID := newProviderOperation(t, st)

	for _, state := range []store.ProviderCallState{store.CallRefused, store.CallNotSent} {
		id, err := st.RecordProviderCall(ctx, op)
		require.NoError(t, err)
		finished, err := st.FinishProviderCall(ctx, id, state, "")
		require.NoError(t, err)
		require.True(t, finished)
	}
	id, err := st.RecordProviderCall(ctx, op)
	require.NoError(t, err)
	finished, err := st.FinishProviderCall(ctx, id, store.CallSucceeded, "user-1")
	require.NoError(t, err)
	require.True(t, finished)

	prior, err := st.LoseProviderCalls(ctx, op)
	require.NoError(t, err)
	require.Equal(t, store.PriorCalls{Result: "user-1"}, prior, "the answer is found by an attempt that did not store it")
	require.Empty(t, providerCallTimeline(t, st, screeningID))
	_, err = st.FinishProviderCall(ctx, id, store.CallLost, "")
	require.Error(t, err, "a call is lost only when a later attempt finds it pending")
	other, _ := newProviderOperation(t, st)
	prior, err = st.LoseProviderCalls(ctx, other)
	require.NoError(t, err)
	require.Equal(t, store.PriorCalls{}, prior, "calls are counted per check")
}

// An attempt that overran its timeout may still get its answer after the next attempt marked its
// call lost: the call stays lost, and keeps what the provider created for the operator.
func TestALateAnswerToALostCallIsKeptForTheOperator(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	op, _ := newProviderOperation(t, st)
	id, err := st.RecordProviderCall(ctx, op)
	require.NoError(t, err)
	_, err = st.LoseProviderCalls(ctx, op)
	require.NoError(t, err)

	finished, err := st.FinishProviderCall(ctx, id, store.CallSucceeded, "user-late")
	require.NoError(t, err)
	require.False(t, finished)
	lost, err := st.LostProviderCalls(ctx)
	require.NoError(t, err)
	require.Len(t, lost, 1)
	require.Equal(t, store.CallLost, lost[0].State)
	require.Equal(t, "user-late", *lost[0].Result)
	prior, err := st.LoseProviderCalls(ctx, op)
	require.NoError(t, err)
	require.Equal(t, store.PriorCalls{Lost: 1}, prior, "a late answer is not adopted: a later attempt took over")
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }
