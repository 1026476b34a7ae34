package activities_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/authenticate"
	authfake "github.com/screenflow/screenflow/providers/authenticate/fake"
	"github.com/screenflow/screenflow/store"
)

const authKey = "auth-test-key"

type authenticateHarness struct {
	st      *store.Store
	fake    *authfake.Server
	act     *activities.Authenticate
	checkID string
}

func newAuthenticateHarness(t *testing.T, opts authfake.Options) *authenticateHarness {
	t.Helper()
	opts.APIKey = authKey
	f := authfake.New(opts)
	srv := httptest.NewServer(f)
	f.SetBaseURL(srv.URL)
	t.Cleanup(func() { srv.Close(); f.Close() })
	st := store.New(testenv.NewDB(t))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	scr, _, err := st.CreateScreening(ctx, store.NewScreening{
		TenantID: tenant.ID,
		Candidate: store.Candidate{Reference: "emp-1", FirstName: "Ada", LastName: "Lovelace",
			Email: "ada@example.com", DOB: "1990-12-10", AddressLine1: "221B Baker Street", City: "London", Country: "GBR"},
		Checks: []store.NewCheck{{Provider: authenticate.Name, Type: "criminal"}},
	})
	require.NoError(t, err)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	return &authenticateHarness{st: st, fake: f, checkID: checks[0].ID,
		act: &activities.Authenticate{Store: st, Client: authenticate.NewClient(srv.URL, authKey, authenticate.Paths{}, nil)}}
}

func (h *authenticateHarness) order(t *testing.T, sexOffender bool) activities.AuthenticateOrderInput {
	t.Helper()
	ctx := context.Background()
	code, err := h.act.CreateAuthenticateUser(ctx, activities.AuthenticateUserInput{CheckID: h.checkID, WorkflowID: "wf-a"})
	require.NoError(t, err)
	in := activities.AuthenticateOrderInput{CheckID: h.checkID, UserAccessCode: code, SexOffender: sexOffender}
	require.NoError(t, h.act.RecordAuthenticateConsent(ctx, in))
	require.NoError(t, h.act.OrderAuthenticateSearches(ctx, in))
	return in
}

func TestAuthenticateUserConsentAndOrdersHappenOnce(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	ctx := context.Background()
	in := h.order(t, true)

	again := h.order(t, true)
	require.Equal(t, in.UserAccessCode, again.UserAccessCode, "the user is created once per check")
	require.Equal(t, 1, h.fake.UsersCreated())
	route, err := h.st.Route(ctx, authenticate.Name, authenticate.SubjectFor(in.UserAccessCode))
	require.NoError(t, err)
	require.Equal(t, "wf-a", route)
	searches, err := h.st.Searches(ctx, h.checkID)
	require.NoError(t, err)
	require.Len(t, searches, 3, "the ordered searches are shown before any event arrives")
	for _, s := range searches {
		require.Equal(t, authenticate.SearchPending, s.SearchStatus)
	}
}

func TestAuthenticateResultIsReadFromTheAPI(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	h.fake.SetRecordFound(true)
	ctx := context.Background()
	in := h.order(t, false)

	_, err := h.act.PollAuthenticateResult(ctx, in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, activities.ErrTypeNotReady, appErr.Type())

	for range 2 {
		require.NoError(t, h.fake.AdvanceSearches(in.UserAccessCode))
	}
	r, err := h.act.PollAuthenticateResult(ctx, in)
	require.NoError(t, err)
	require.True(t, r.CriminalComplete)
	require.Equal(t, 3, r.Searches)
	require.Equal(t, 3, r.RecordsFound)
	searches, err := h.st.Searches(ctx, h.checkID)
	require.NoError(t, err)
	for _, s := range searches {
		require.Equal(t, authenticate.SearchComplete, s.SearchStatus)
	}
}

func TestStaleSearchUpdatesDoNotOverwriteNewerOnes(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	ctx := context.Background()
	var scrID string
	require.NoError(t, h.st.DB().Get(&scrID, `SELECT screening_id FROM checks WHERE id = $1`, h.checkID))
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	update := func(id, status string, when time.Time) {
		require.NoError(t, h.act.RecordSearchUpdate(ctx, activities.SearchUpdateInput{ScreeningID: scrID, CheckID: h.checkID,
			EventID: id, OccurredAt: when, Search: authenticate.Search{UniqueIdentifier: "s-1", SearchType: "COUNTY_CRIMINAL",
				SearchStatus: status}}))
	}
	update("e2", authenticate.SearchComplete, at.Add(time.Minute))
	update("e1", authenticate.SearchInProgress, at)

	searches, err := h.st.Searches(ctx, h.checkID)
	require.NoError(t, err)
	require.Equal(t, authenticate.SearchComplete, searches[0].SearchStatus)
	var details []string
	require.NoError(t, h.st.DB().Select(&details, `SELECT detail FROM timeline_entries WHERE dedupe_key = 'authenticate:e1'`))
	require.Contains(t, details[0], "ignored")
}

func TestPDFReportRequestsRespectTheRateLimit(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1, RateLimit: time.Hour, PDFDelay: time.Millisecond})
	ctx := context.Background()
	in := h.order(t, false)

	uuid, err := h.act.InitiateAuthenticatePDF(ctx, in)
	require.NoError(t, err)
	require.NotEmpty(t, uuid)
	_, err = h.act.InitiateAuthenticatePDF(ctx, in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.False(t, appErr.NonRetryable(), "retried once the provider allows it")
	require.Greater(t, appErr.NextRetryDelay(), time.Minute, "the retry waits for the provider's window")
	require.Equal(t, 1, h.fake.PDFRequests(in.UserAccessCode))
}

func TestPDFReportIsStoredByteIdenticalAndAnExpiredLinkAsksForANewOne(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1, RateLimit: time.Millisecond, PDFDelay: time.Millisecond})
	ctx := context.Background()
	in := h.order(t, false)
	uuid, err := h.act.InitiateAuthenticatePDF(ctx, in)
	require.NoError(t, err)
	ref := activities.ReportRef{CheckID: h.checkID, UserAccessCode: in.UserAccessCode, ReportUUID: uuid}
	require.Eventually(t, func() bool {
		status, err := h.act.PollAuthenticatePDF(ctx, ref)
		return err == nil && status == authenticate.PDFCompleted
	}, 10*time.Second, 20*time.Millisecond)

	doc, err := h.act.StoreAuthenticateReport(ctx, ref)
	require.NoError(t, err)
	served, ok := h.fake.ReportPDF(uuid)
	require.True(t, ok)
	_, content, err := h.st.DocumentContent(ctx, tenantOfAuthCheck(t, h), screeningOfAuthCheck(t, h), doc.DocumentID)
	require.NoError(t, err)
	require.Equal(t, served, content)

	// Once the link Authenticate hands out has expired, a new report is needed.
	h.fake.SetLinkTTL(-1)
	_, err = h.act.StoreAuthenticateReport(ctx, ref)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, activities.ErrTypeReportLinkExpired, appErr.Type())
	require.True(t, appErr.NonRetryable(), "the same link will not work again: a new report is needed")
}

func screeningOfAuthCheck(t *testing.T, h *authenticateHarness) string {
	t.Helper()
	var id string
	require.NoError(t, h.st.DB().Get(&id, `SELECT screening_id FROM checks WHERE id = $1`, h.checkID))
	return id
}

func tenantOfAuthCheck(t *testing.T, h *authenticateHarness) string {
	t.Helper()
	var id string
	require.NoError(t, h.st.DB().Get(&id, `SELECT s.tenant_id FROM checks c JOIN screenings s ON s.id = c.screening_id
		WHERE c.id = $1`, h.checkID))
	return id
}
