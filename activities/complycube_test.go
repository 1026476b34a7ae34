package activities_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/complycube/fake"
	"github.com/screenflow/screenflow/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const apiKey = "test-api-key"

type complyCubeHarness struct {
	st       *store.Store
	fake     *fake.Server
	act      *activities.ComplyCube
	tenantID string
	checkID  string
}

func newComplyCubeHarness(t *testing.T) *complyCubeHarness {
	t.Helper()
	f := fake.New(fake.Options{APIKey: apiKey, CompletionDelay: -1})
	srv := httptest.NewServer(f)
	t.Cleanup(func() { srv.Close(); f.Close() })
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	scr, _, err := st.CreateScreening(ctx, store.NewScreening{
		TenantID: tenant.ID,
		Candidate: store.Candidate{Reference: "emp-1", FirstName: "Ada", LastName: "Lovelace",
			Email: "ada@example.com", DOB: "1990-12-10"},
		Checks: []store.NewCheck{{Provider: complycube.Name, Type: "standard_screening_check"}},
	})
	require.NoError(t, err)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	return &complyCubeHarness{
		st: st, fake: f, tenantID: tenant.ID, checkID: checks[0].ID,
		act: &activities.ComplyCube{Store: st, Client: complycube.NewClient(srv.URL+"/v1", apiKey, nil)},
	}
}

func (h *complyCubeHarness) createClientAndCheck(t *testing.T) (string, activities.ProviderCheck) {
	t.Helper()
	ctx := context.Background()
	clientID, err := h.act.CreateClient(ctx, activities.CreateClientInput{CheckID: h.checkID, WorkflowID: "wf-1"})
	require.NoError(t, err)
	pc, err := h.act.CreateCheck(ctx, activities.CreateCheckInput{CheckID: h.checkID, ClientID: clientID,
		CheckType: "standard_screening_check", WorkflowID: "wf-1"})
	require.NoError(t, err)
	return clientID, pc
}

func TestCreateClientAndCheckRouteTheirEventsAndAreIdempotent(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	clientID, pc := h.createClientAndCheck(t)

	route, err := h.st.Route(ctx, complycube.Name, complycube.SubjectFor("check", pc.ID))
	require.NoError(t, err)
	require.Equal(t, "wf-1", route)
	route, err = h.st.Route(ctx, complycube.Name, complycube.SubjectFor("client", clientID))
	require.NoError(t, err)
	require.Equal(t, "wf-1", route)
	check, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	require.Equal(t, store.StatusInProgress, check.Status)

	againClient, againCheck := h.createClientAndCheck(t)
	require.Equal(t, clientID, againClient)
	require.Equal(t, pc.ID, againCheck.ID)
	require.Equal(t, 1, h.fake.ChecksCreated())
}

func TestCreateCheckAfterALostResponseAdoptsTheCheckInsteadOfOrderingAnother(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	clientID, err := h.act.CreateClient(ctx, activities.CreateClientInput{CheckID: h.checkID, WorkflowID: "wf-1"})
	require.NoError(t, err)
	// ComplyCube created the check, but its answer never reached us: nothing was recorded.
	lost, err := h.act.Client.CreateCheck(ctx, complycube.CreateCheckRequest{ClientID: clientID, Type: "standard_screening_check"})
	require.NoError(t, err)

	pc, err := h.act.CreateCheck(ctx, activities.CreateCheckInput{CheckID: h.checkID, ClientID: clientID,
		CheckType: "standard_screening_check", WorkflowID: "wf-1"})
	require.NoError(t, err)
	require.Equal(t, lost.ID, pc.ID)
	require.Equal(t, 1, h.fake.ChecksCreated())
}

// A worker killed between ComplyCube's answer and storing the client id used to create a second
// client, holding the candidate's data, on retry (found by the fault suite).
func TestCreateClientAfterALostResponseAdoptsTheClientInsteadOfCreatingAnother(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	lost, err := h.act.Client.CreateClient(ctx, complycube.CreateClientRequest{Type: "person", Email: "ada@example.com",
		PersonDetails: &complycube.PersonDetails{FirstName: "Ada", LastName: "Lovelace"}, ExternalID: h.checkID})
	require.NoError(t, err)

	clientID, err := h.act.CreateClient(ctx, activities.CreateClientInput{CheckID: h.checkID, WorkflowID: "wf-1"})
	require.NoError(t, err)
	require.Equal(t, lost.ID, clientID)
	require.Equal(t, 1, h.fake.ClientsCreated())
	route, err := h.st.Route(ctx, complycube.Name, complycube.SubjectFor("client", lost.ID))
	require.NoError(t, err)
	require.Equal(t, "wf-1", route, "the adopted client's events reach the check")
}

func TestProviderErrorsAreRetryableOnlyWhenARetryCanSucceed(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	in := activities.CreateClientInput{CheckID: h.checkID, WorkflowID: "wf-1"}

	h.fake.FailAPI(1, 503)
	_, err := h.act.CreateClient(ctx, in)
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.False(t, errors.As(err, &appErr) && appErr.NonRetryable(), "a 503 is retried: %v", err)

	h.fake.FailAPI(1, 400)
	_, err = h.act.CreateClient(ctx, in)
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable(), "a 400 will not change on retry")
	require.Contains(t, appErr.Message(), "400")
}

func TestPollReportsPendingAsARetryableErrorAndCompletionAsAResult(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	_, pc := h.createClientAndCheck(t)

	_, err := h.act.PollComplyCubeCheck(ctx, pc.ID)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, activities.ErrTypeNotReady, appErr.Type())
	require.False(t, appErr.NonRetryable())

	require.NoError(t, h.fake.CompleteCheck(pc.ID, "attention"))
	got, err := h.act.PollComplyCubeCheck(ctx, pc.ID)
	require.NoError(t, err)
	require.Equal(t, "complete", got.Status)
	require.Equal(t, "attention", got.Outcome)
}

func TestStoreReportKeepsTheExactBytesOnce(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	_, pc := h.createClientAndCheck(t)
	require.NoError(t, h.fake.CompleteCheck(pc.ID, "clear"))
	in := activities.StoreReportInput{CheckID: h.checkID, ProviderCheckID: pc.ID}

	ref, err := h.act.StoreReport(ctx, in)
	require.NoError(t, err)
	again, err := h.act.StoreReport(ctx, in)
	require.NoError(t, err)
	require.Equal(t, ref, again, "a retried activity finds the stored document")

	check, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	doc, content, err := h.st.DocumentContent(ctx, tenantOf(t, h, check.ScreeningID), check.ScreeningID, ref.DocumentID)
	require.NoError(t, err)
	served, ok := h.fake.ReportPDF(pc.ID)
	require.True(t, ok)
	require.Equal(t, served, content)
	require.Equal(t, "application/pdf", doc.ContentType)
	require.Equal(t, int64(len(served)), doc.Size)
}

func TestStoreReportCompletesTheCheckAndItsScreeningWhenToldTheOutcome(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	_, pc := h.createClientAndCheck(t)
	require.NoError(t, h.fake.CompleteCheck(pc.ID, "attention"))
	check, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	_, err = h.st.BeginScreening(ctx, check.ScreeningID)
	require.NoError(t, err)

	ref, err := h.act.StoreReport(ctx, activities.StoreReportInput{CheckID: h.checkID, ProviderCheckID: pc.ID,
		Outcome: "attention"})
	require.NoError(t, err)
	check, err = h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCompleted, check.Status)
	require.Equal(t, "attention", *check.Outcome)
	d, err := h.st.ScreeningDetail(ctx, h.tenantID, check.ScreeningID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCompleted, d.Status, "its only check completed: the screening is settled")
	require.Equal(t, store.ResultConsider, *d.Result)

	// The workflow's own write of the same completion, next, changes nothing.
	require.NoError(t, (&activities.Screenings{Store: h.st}).UpdateCheck(ctx, activities.CheckUpdateInput{
		CheckID: h.checkID, Status: store.StatusCompleted, Outcome: "attention",
		Timeline: activities.TimelineInput{DedupeKey: activities.CheckCompletedKey(h.checkID), Kind: "check.completed",
			Detail: activities.ReportStoredDetail("attention", ref), OccurredAt: time.Now()}}))
	d, err = h.st.ScreeningDetail(ctx, h.tenantID, check.ScreeningID)
	require.NoError(t, err)
	var completions []string
	for _, e := range d.Timeline {
		if e.Kind == "check.completed" {
			completions = append(completions, e.Detail)
		}
	}
	require.Equal(t, []string{activities.ReportStoredDetail("attention", ref)}, completions)
}

func tenantOf(t *testing.T, h *complyCubeHarness, screeningID string) string {
	t.Helper()
	var tenantID string
	require.NoError(t, h.st.DB().Get(&tenantID, `SELECT tenant_id FROM screenings WHERE id = $1`, screeningID))
	return tenantID
}

// completeCheck completes the check at the fake and here, with its first report, as the check
// workflow does.
func (h *complyCubeHarness) completeCheck(t *testing.T, outcome string) activities.ProviderCheck {
	t.Helper()
	ctx := context.Background()
	_, pc := h.createClientAndCheck(t)
	require.NoError(t, h.fake.CompleteCheck(pc.ID, outcome))
	_, err := h.act.StoreReport(ctx, activities.StoreReportInput{CheckID: h.checkID, ProviderCheckID: pc.ID})
	require.NoError(t, err)
	require.NoError(t, h.st.UpdateCheck(ctx, store.CheckUpdate{CheckID: h.checkID, Status: store.StatusCompleted, Outcome: &outcome}))
	return pc
}

func (h *complyCubeHarness) detail(t *testing.T) store.ScreeningDetail {
	t.Helper()
	check, err := h.st.Check(context.Background(), h.checkID)
	require.NoError(t, err)
	d, err := h.st.ScreeningDetail(context.Background(), tenantOf(t, h, check.ScreeningID), check.ScreeningID)
	require.NoError(t, err)
	return d
}

func timelineKinds(d store.ScreeningDetail, kind string) []string {
	var details []string
	for _, e := range d.Timeline {
		if e.Kind == kind {
			details = append(details, e.Detail)
		}
	}
	return details
}

func TestAmendComplyCubeCheckStoresTheNewOutcomeAndItsReportOnce(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	pc := h.completeCheck(t, "clear")
	in := activities.AmendCheckInput{CheckID: h.checkID, Cause: "check.completed.clear"}

	unchanged, err := h.act.AmendComplyCubeCheck(ctx, in)
	require.NoError(t, err)
	require.Equal(t, activities.Amendment{}, unchanged, "ComplyCube still says clear: nothing to amend")

	require.NoError(t, h.fake.MonitoringAttention(pc.ID))
	in.Cause = "check.monitoring.attention"
	amended, err := h.act.AmendComplyCubeCheck(ctx, in)
	require.NoError(t, err)
	require.True(t, amended.Changed)
	require.Equal(t, "attention", amended.Outcome)
	require.NotNil(t, amended.Document)
	again, err := h.act.AmendComplyCubeCheck(ctx, in)
	require.NoError(t, err)
	require.Equal(t, amended, again, "a retry after a lost answer learns the same, and stores the report once")

	check, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	require.Equal(t, "attention", *check.Outcome)
	require.Equal(t, store.StatusCompleted, check.Status)
	d := h.detail(t)
	require.Equal(t, []string{"outcome changed from clear to attention: ComplyCube says so after check.monitoring.attention"},
		timelineKinds(d, "check.amended"))
	require.Len(t, d.Documents, 2, "the first report is kept beside the new one")
	served, _ := h.fake.ReportPDF(pc.ID)
	_, content, err := h.st.DocumentContent(ctx, d.TenantID, d.ID, amended.Document.DocumentID)
	require.NoError(t, err)
	require.Equal(t, served, content)

	// Back to clear: a change of its own, with its own report.
	require.NoError(t, h.fake.UpdateCheck(pc.ID, "complete", "clear"))
	back, err := h.act.AmendComplyCubeCheck(ctx, activities.AmendCheckInput{CheckID: h.checkID, Cause: "check.updated"})
	require.NoError(t, err)
	require.True(t, back.Changed)
	require.NotEqual(t, amended.Key, back.Key)
	require.Len(t, timelineKinds(h.detail(t), "check.amended"), 2)
}

func TestAmendComplyCubeCheckLeavesChecksThatDidNotComplete(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	_, pc := h.createClientAndCheck(t)
	require.NoError(t, h.fake.CompleteCheck(pc.ID, "attention"))
	reason := "canceled"
	require.NoError(t, h.st.UpdateCheck(ctx, store.CheckUpdate{CheckID: h.checkID, Status: store.StatusCanceled, FailureReason: &reason}))

	got, err := h.act.AmendComplyCubeCheck(ctx, activities.AmendCheckInput{CheckID: h.checkID, Cause: "check.completed"})
	require.NoError(t, err)
	require.Equal(t, activities.Amendment{}, got)
	check, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	require.Nil(t, check.Outcome)
}

func TestRederiveScreeningResultWaitsForTheScreeningThenChangesItsResult(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	pc := h.completeCheck(t, "clear")
	check, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	in := activities.ScreeningResultInput{ScreeningID: check.ScreeningID, Reason: "the complycube check was amended", DedupeKey: "k1"}

	require.NoError(t, h.fake.MonitoringAttention(pc.ID))
	_, err = h.act.AmendComplyCubeCheck(ctx, activities.AmendCheckInput{CheckID: h.checkID, Cause: "check.monitoring.attention"})
	require.NoError(t, err)

	err = (&activities.Screenings{Store: h.st}).RederiveScreeningResult(ctx, in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr, "the screening still runs")
	require.Equal(t, activities.ErrTypeNotReady, appErr.Type())

	clear := "clear"
	require.NoError(t, h.st.SetScreeningConclusion(ctx, check.ScreeningID, store.StatusCompleted, &clear, store.TimelineEntry{}))
	require.NoError(t, (&activities.Screenings{Store: h.st}).RederiveScreeningResult(ctx, in))
	require.NoError(t, (&activities.Screenings{Store: h.st}).RederiveScreeningResult(ctx, in))
	d := h.detail(t)
	require.Equal(t, "consider", *d.Result)
	require.Equal(t, store.StatusCompleted, d.Status)
	require.Equal(t, []string{"result changed from clear to consider: the complycube check was amended"},
		timelineKinds(d, "screening.result_changed"))
}
