package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
)

// newRunningScreening is a begun screening with a ComplyCube and an Authenticate check.
func newRunningScreening(t *testing.T, st *store.Store) (store.Tenant, store.Screening, []store.Check) {
	t.Helper()
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	scr, _, err := st.CreateScreening(ctx, store.NewScreening{
		TenantID:  tenant.ID,
		Candidate: store.Candidate{Reference: "r", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", DOB: "1990-12-10"},
		Checks: []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"},
			{Provider: "authenticate", Type: "criminal"}},
	})
	require.NoError(t, err)
	begun, err := st.BeginScreening(ctx, scr.ID)
	require.NoError(t, err)
	require.True(t, begun)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	require.Len(t, checks, 2)
	return tenant, scr, checks
}

func complete(t *testing.T, st *store.Store, checkID, outcome string) {
	t.Helper()
	require.NoError(t, st.UpdateCheck(context.Background(), store.CheckUpdate{CheckID: checkID, Status: store.StatusCompleted,
		Outcome: &outcome, Timeline: store.TimelineEntry{DedupeKey: "check.completed:" + checkID, Kind: "check.completed"}}))
}

func timelineKinds(t *testing.T, st *store.Store, tenantID, screeningID string) map[string]int {
	t.Helper()
	d, err := st.ScreeningDetail(context.Background(), tenantID, screeningID)
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, e := range d.Timeline {
		kinds[e.Kind]++
	}
	return kinds
}

func TestTheLastCheckCompletedSettlesItsScreeningAsItsWorkflowWould(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, scr, checks := newRunningScreening(t, st)

	complete(t, st, checks[0].ID, "clear")
	got, err := st.Screening(ctx, tenant.ID, scr.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusInProgress, got.Status, "one check is still running")

	complete(t, st, checks[1].ID, "consider")
	got, err = st.Screening(ctx, tenant.ID, scr.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCompleted, got.Status)
	require.NotNil(t, got.CompletedAt)
	status, result, _ := store.ConcludeScreening([]store.CheckConclusion{
		{Provider: "complycube", Status: store.StatusCompleted, Outcome: "clear"},
		{Provider: "authenticate", Status: store.StatusCompleted, Outcome: "consider"}})
	require.Equal(t, store.StatusCompleted, status)
	require.Equal(t, result, *got.Result, "the rule the workflow concludes with")
	require.Equal(t, 1, timelineKinds(t, st, tenant.ID, scr.ID)["screening.completed"])

	// The workflow's own conclusion then changes nothing and adds no second entry.
	require.NoError(t, st.SetScreeningConclusion(ctx, scr.ID, store.StatusCompleted, &result,
		store.TimelineEntry{DedupeKey: "screening.completed", Kind: "screening.completed", Detail: "result " + result}))
	require.Equal(t, 1, timelineKinds(t, st, tenant.ID, scr.ID)["screening.completed"])
}

func TestAScreeningWithAFailedCheckIsLeftToItsWorkflow(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, scr, checks := newRunningScreening(t, st)
	reason := "provider said no"
	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: checks[0].ID, Status: store.StatusFailed, FailureReason: &reason}))
	complete(t, st, checks[1].ID, "clear")

	got, err := st.Screening(ctx, tenant.ID, scr.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusInProgress, got.Status)
}

func TestACancellationAfterTheScreeningSettledLeavesNoTrace(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, scr, checks := newRunningScreening(t, st)
	complete(t, st, checks[0].ID, "clear")
	complete(t, st, checks[1].ID, "clear")

	require.NoError(t, st.SetScreeningConclusion(ctx, scr.ID, store.StatusCanceled, nil,
		store.TimelineEntry{DedupeKey: "screening.canceled", Kind: "screening.canceled", Detail: "canceled on request"}))
	got, err := st.Screening(ctx, tenant.ID, scr.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCompleted, got.Status)
	require.Equal(t, store.ResultClear, *got.Result)
	require.Zero(t, timelineKinds(t, st, tenant.ID, scr.ID)["screening.canceled"])
}

func TestAnOutcomeAmendedBeforeTheWorkflowConcludedIsInTheSettledResult(t *testing.T) {
	db, st, _ := outboxFixture(t)
	ctx := context.Background()
	tenant, scr, checks := newRunningScreening(t, st)
	newEndpoint(t, st, tenant.ID, store.EventScreeningResultChanged)
	complete(t, st, checks[0].ID, "clear")
	complete(t, st, checks[1].ID, "clear")
	applied, err := st.AmendCheckOutcome(ctx, store.CheckAmendment{CheckID: checks[1].ID, Outcome: "consider",
		Reason: "a later event", DedupeKey: "amended:1"})
	require.NoError(t, err)
	require.True(t, applied)

	consider := store.ResultConsider
	require.NoError(t, st.SetScreeningConclusion(ctx, scr.ID, store.StatusCompleted, &consider,
		store.TimelineEntry{DedupeKey: "screening.completed", Kind: "screening.completed", Detail: "result consider"}))
	got, err := st.Screening(ctx, tenant.ID, scr.ID)
	require.NoError(t, err)
	require.Equal(t, store.ResultConsider, *got.Result)
	require.Equal(t, 1, timelineKinds(t, st, tenant.ID, scr.ID)["screening.result_changed"])
	require.Equal(t, []string{store.EventScreeningResultChanged}, eventTypes(outbox(t, db, scr.ID)),
		"the HR platform hears of the changed result, whichever write derived it")
}
