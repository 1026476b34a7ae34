package activities_test

import (
	"context"
	"io"
	"net/http"
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

// An order whose answer was lost (the worker killed before marking it) is adopted on retry, not
// placed again: Authenticate refuses, or bills, a second order.
func TestAuthenticateOrdersPlacedButNotMarkedAreAdopted(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	ctx := context.Background()
	code, err := h.act.CreateAuthenticateUser(ctx, activities.AuthenticateUserInput{CheckID: h.checkID, WorkflowID: "wf-a"})
	require.NoError(t, err)
	in := activities.AuthenticateOrderInput{CheckID: h.checkID, UserAccessCode: code, SexOffender: true}
	require.NoError(t, h.act.RecordAuthenticateConsent(ctx, in))
	lost, err := h.act.Client.OrderCriminalSearches(ctx, code)
	require.NoError(t, err)
	require.NoError(t, h.act.Client.OrderSexOffenderCheck(ctx, code))

	require.NoError(t, h.act.OrderAuthenticateSearches(ctx, in), "the retry adopts what was ordered")
	searches, err := h.st.Searches(ctx, h.checkID)
	require.NoError(t, err)
	require.Len(t, searches, len(lost), "the searches of the lost answer are shown")
	for _, kind := range []string{store.OrderCriminal, store.OrderSexOffender} {
		ordered, err := h.st.Ordered(ctx, h.checkID, kind)
		require.NoError(t, err)
		require.True(t, ordered, kind)
	}
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
		report, err := h.act.PollAuthenticatePDF(ctx, ref)
		return err == nil && report == activities.AuthenticatePDF{ReportUUID: uuid, Status: authenticate.PDFCompleted}
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

func TestAuthenticateAnswersInAnotherCaseOrSpelling(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	ctx := context.Background()
	pdf := []byte("%PDF-1.4 spelled otherwise")
	// Authenticate documents its statuses only as "string": an API that spells them otherwise than
	// the fake (and the docs' stage names) do.
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case authenticate.DefaultPaths.TestResult:
			_, _ = io.WriteString(w, `{"userAccessCode":"uac-x","criminal":{"status":"Completed","searches":[
				{"unique_identifier":"s-1","search_type":"COUNTY_CRIMINAL","search_status":"completed","search_sub_status":"clear"},
				{"unique_identifier":"s-2","search_type":"COUNTY_CRIMINAL","search_status":"COMPLETED","search_sub_status":"Record Found"}]},
				"sexOffender":{"unique_identifier":"soc","search_type":"SEX_OFFENDER","search_status":"Complete","search_sub_status":"Clear"}}`)
		case authenticate.DefaultPaths.RetrievePDF:
			_, _ = io.WriteString(w, `{"reportUUID":"rep-1","status":"Completed","reportLink":"`+api.URL+`/report.pdf"}`)
		case "/report.pdf":
			w.Header().Set("Content-Type", "application/pdf")
			_, _ = w.Write(pdf)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)
	act := &activities.Authenticate{Store: h.st, Client: authenticate.NewClient(api.URL, authKey, authenticate.Paths{}, nil)}
	in := activities.AuthenticateOrderInput{CheckID: h.checkID, UserAccessCode: "uac-x", SexOffender: true}

	r, err := act.ReadAuthenticateResult(ctx, in)
	require.NoError(t, err)
	require.Equal(t, activities.AuthenticateResult{CriminalComplete: true, SexOffenderComplete: true, Searches: 3, RecordsFound: 1}, r)

	doc, err := act.StoreAuthenticateReport(ctx, activities.ReportRef{CheckID: h.checkID, UserAccessCode: "uac-x", ReportUUID: "rep-1"})
	require.NoError(t, err, "a report Authenticate calls Completed is completed")
	require.Equal(t, int64(len(pdf)), doc.Size)
}

func TestAuthenticateReportIsReadFromTheAPIAndStoredOncePerReport(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1, RateLimit: time.Millisecond, PDFDelay: time.Millisecond})
	ctx := context.Background()
	in := h.order(t, false)
	first, err := h.act.InitiateAuthenticatePDF(ctx, in)
	require.NoError(t, err)

	// Without a reportUUID (the request's answer named none), the poll takes the latest report.
	var polled activities.AuthenticatePDF
	require.Eventually(t, func() bool {
		polled, err = h.act.PollAuthenticatePDF(ctx, activities.ReportRef{CheckID: h.checkID, UserAccessCode: in.UserAccessCode})
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, activities.AuthenticatePDF{ReportUUID: first, Status: authenticate.PDFCompleted}, polled)

	ref := activities.ReportRef{CheckID: h.checkID, UserAccessCode: in.UserAccessCode, ReportUUID: first}
	doc, err := h.act.StoreAuthenticateReport(ctx, ref)
	require.NoError(t, err)
	again, err := h.act.StoreAuthenticateReport(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, doc, again, "the same report is one document")

	time.Sleep(5 * time.Millisecond) // the fake's rate limit
	second, err := h.act.InitiateAuthenticatePDF(ctx, in)
	require.NoError(t, err)
	read, err := h.act.ReadAuthenticatePDF(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, second, read.ReportUUID, "the API's latest report")
	_, err = h.act.PollAuthenticatePDF(ctx, ref)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr, "the report asked for is no longer the latest")
	require.Equal(t, activities.ErrTypeNotReady, appErr.Type())
	require.Eventually(t, func() bool {
		read, err = h.act.ReadAuthenticatePDF(ctx, ref)
		return err == nil && read.Finished()
	}, 10*time.Second, 20*time.Millisecond)
	newer, err := h.act.StoreAuthenticateReport(ctx, activities.ReportRef{CheckID: h.checkID, UserAccessCode: in.UserAccessCode, ReportUUID: second})
	require.NoError(t, err)
	require.NotEqual(t, doc.DocumentID, newer.DocumentID, "a new report is stored beside the first")
	var kinds []string
	require.NoError(t, h.st.DB().Select(&kinds, `SELECT kind FROM documents WHERE check_id = $1 ORDER BY created_at`, h.checkID))
	require.ElementsMatch(t, []string{"authenticate_report_" + first, "authenticate_report_" + second}, kinds)
}

func TestAuthenticateCheckIsReadAndAmended(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	ctx := context.Background()
	in := h.order(t, true)
	scrID := screeningOfAuthCheck(t, h)
	_, err := h.st.DB().Exec(`UPDATE checks SET options = '{"sex_offender":true,"pdf_report":false}' WHERE id = $1`, h.checkID)
	require.NoError(t, err)

	check, err := h.act.ReadAuthenticateCheck(ctx, h.checkID)
	require.NoError(t, err)
	require.Equal(t, activities.AuthenticateCheckRecord{Status: store.StatusPending, UserAccessCode: in.UserAccessCode,
		Options: activities.AuthenticateOptions{SexOffender: true}}, check)

	amend := activities.AmendOutcomeInput{CheckID: h.checkID, Outcome: "record_found", Reason: "Authenticate's API shows it",
		DedupeKey: "authenticate.amended:k1", OccurredAt: time.Now()}
	applied, err := h.act.AmendAuthenticateOutcome(ctx, amend)
	require.NoError(t, err)
	require.False(t, applied, "a check that has not completed is left alone")

	clear := "clear"
	require.NoError(t, h.st.UpdateCheck(ctx, store.CheckUpdate{CheckID: h.checkID, Status: store.StatusCompleted, Outcome: &clear}))
	result := activities.ScreeningResultInput{ScreeningID: scrID, Reason: "amended", DedupeKey: "screening.result:k1"}
	err = (&activities.Screenings{Store: h.st}).RederiveScreeningResult(ctx, result)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr, "while the screening runs, its result waits")
	require.Equal(t, activities.ErrTypeNotReady, appErr.Type())

	require.NoError(t, h.st.SetScreeningConclusion(ctx, scrID, store.StatusCompleted, &clear, store.TimelineEntry{}))
	for range 2 {
		applied, err = h.act.AmendAuthenticateOutcome(ctx, amend)
		require.NoError(t, err)
		require.True(t, applied, "applied, and a retry learns the same")
		require.NoError(t, (&activities.Screenings{Store: h.st}).RederiveScreeningResult(ctx, result))
	}
	stored, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	require.Equal(t, "record_found", *stored.Outcome)
	var got string
	require.NoError(t, h.st.DB().Get(&got, `SELECT result FROM screenings WHERE id = $1`, scrID))
	require.Equal(t, "consider", got)
}
