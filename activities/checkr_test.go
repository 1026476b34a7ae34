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
	"github.com/screenflow/screenflow/providers/checkr"
	checkrfake "github.com/screenflow/screenflow/providers/checkr/fake"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

type checkrHarness struct {
	st      *store.Store
	fake    *checkrfake.Server
	act     *activities.Checkr
	checkID string
	account string
	order   activities.CheckrOrderInput
}

// newCheckrHarness connects an integrated account through the fake's OAuth, credentials it, and
// stores a screening with one Checkr check on it.
func newCheckrHarness(t *testing.T) *checkrHarness {
	t.Helper()
	ctx := context.Background()
	f := checkrfake.New(checkrfake.Options{ClientID: "client", ClientSecret: "secret", ReportDelay: -1, InvitationDelay: -1})
	srv := httptest.NewServer(f)
	f.SetBaseURL(srv.URL)
	t.Cleanup(func() { srv.Close(); f.Close() })
	key, err := vault.ParseKey(vault.NewKey())
	require.NoError(t, err)
	v, err := vault.New(key)
	require.NoError(t, err)
	st := store.New(testenv.NewDB(t))
	base := checkr.NewClient(srv.URL, "", nil)

	code, account := f.Authorize("")
	token, err := base.ExchangeToken(ctx, "client", "secret", code)
	require.NoError(t, err)
	require.NoError(t, f.Credential(account))
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	_, err = st.ConnectCheckrAccount(ctx, tenant.ID, account, v.Seal([]byte(token.AccessToken), []byte(account)),
		checkr.TokenFingerprint(token.AccessToken))
	require.NoError(t, err)
	scr, _, err := st.CreateScreening(ctx, store.NewScreening{TenantID: tenant.ID,
		Candidate: store.Candidate{Reference: "emp-1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com",
			DOB: "1990-12-10", PostalCode: "94107"},
		Checks: []store.NewCheck{{Provider: checkr.Name, Type: "tasker_standard", CheckrAccountID: account}}})
	require.NoError(t, err)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	h := &checkrHarness{st: st, fake: f, checkID: checks[0].ID, account: account,
		act: &activities.Checkr{Store: st, Client: base, Vault: v}}
	h.order = activities.CheckrOrderInput{CheckID: h.checkID, AccountID: account, Mode: activities.CheckrModeReport,
		Package: "tasker_standard", WorkflowID: "wf-c"}
	return h
}

func TestCheckrCandidateAndReportAreOrderedOnceWithTheAccountsToken(t *testing.T) {
	h := newCheckrHarness(t)
	ctx := context.Background()
	cand, err := h.act.CreateCheckrCandidate(ctx, h.order)
	require.NoError(t, err)
	again, err := h.act.CreateCheckrCandidate(ctx, h.order)
	require.NoError(t, err)
	require.Equal(t, cand, again)
	require.Equal(t, 1, h.fake.CandidatesCreated())

	h.order.CandidateID = cand
	report, err := h.act.CreateCheckrReport(ctx, h.order)
	require.NoError(t, err)
	again, err = h.act.CreateCheckrReport(ctx, h.order)
	require.NoError(t, err)
	require.Equal(t, report, again)
	require.Equal(t, 1, h.fake.ReportsCreated())
	route, err := h.st.Route(ctx, checkr.Name, checkr.SubjectFor("report", report))
	require.NoError(t, err)
	require.Equal(t, "wf-c", route)
}

func TestCheckrDocumentsAreFetchedWithAFreshDownloadURI(t *testing.T) {
	h := newCheckrHarness(t)
	ctx := context.Background()
	cand, err := h.act.CreateCheckrCandidate(ctx, h.order)
	require.NoError(t, err)
	h.order.CandidateID = cand
	reportID, err := h.act.CreateCheckrReport(ctx, h.order)
	require.NoError(t, err)
	require.NoError(t, h.fake.CompleteReport(reportID))
	ref := activities.CheckrReportRef{CheckID: h.checkID, AccountID: h.account, ReportID: reportID}
	report, err := h.act.PollCheckrReport(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, "complete", report.Status)
	require.NotEmpty(t, report.DocumentIDs)
	in := activities.CheckrDocumentInput{CheckID: h.checkID, AccountID: h.account, DocumentID: report.DocumentIDs[0]}

	h.fake.SetDownloadTTL(-time.Second)
	_, err = h.act.StoreCheckrDocument(ctx, in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.False(t, appErr.NonRetryable(), "the next attempt asks for a fresh download_uri")

	h.fake.SetDownloadTTL(15 * time.Minute)
	doc, err := h.act.StoreCheckrDocument(ctx, in)
	require.NoError(t, err)
	served, ok := h.fake.DocumentPDF(in.DocumentID)
	require.True(t, ok)
	var tenantID, screeningID string
	require.NoError(t, h.st.DB().QueryRow(`SELECT s.tenant_id, s.id FROM checks c JOIN screenings s ON s.id = c.screening_id
		WHERE c.id = $1`, h.checkID).Scan(&tenantID, &screeningID))
	_, content, err := h.st.DocumentContent(ctx, tenantID, screeningID, doc.DocumentID)
	require.NoError(t, err)
	require.Equal(t, served, content)
}

func TestCheckrCallsStopOnceTheAccountIsDeauthorized(t *testing.T) {
	h := newCheckrHarness(t)
	ctx := context.Background()
	acct, err := h.st.CheckrAccount(ctx, h.account)
	require.NoError(t, err)
	_, err = h.st.MarkCheckrDeauthorized(ctx, h.account, *acct.AccessTokenFingerprint)
	require.NoError(t, err)

	_, err = h.act.CreateCheckrCandidate(ctx, h.order)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, activities.ErrTypeAccountDeauthorized, appErr.Type())
	require.True(t, appErr.NonRetryable())
	require.Equal(t, 0, h.fake.CandidatesCreated())
}

func TestCheckrInvitationIsPolledUntilTheCandidateEndsIt(t *testing.T) {
	h := newCheckrHarness(t)
	ctx := context.Background()
	h.order.Mode = activities.CheckrModeInvitation
	cand, err := h.act.CreateCheckrCandidate(ctx, h.order)
	require.NoError(t, err)
	h.order.CandidateID = cand
	invitationID, err := h.act.CreateCheckrInvitation(ctx, h.order)
	require.NoError(t, err)
	ref := activities.CheckrInvitationRef{AccountID: h.account, InvitationID: invitationID}

	_, err = h.act.PollCheckrInvitation(ctx, ref)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, activities.ErrTypeNotReady, appErr.Type(), "pending: the retry policy polls")

	require.NoError(t, h.fake.CompleteInvitation(invitationID))
	got, err := h.act.PollCheckrInvitation(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, checkr.InvitationCompleted, got.Status)
	require.NotEmpty(t, got.ReportID, "the report the candidate's invitation created")

	for name, end := range map[string]func(string) error{
		checkr.InvitationExpired: h.fake.ExpireInvitation,
		checkr.InvitationDeleted: h.fake.DeleteInvitation,
	} {
		h.order.CheckID = newCheckrCheck(t, h)
		cand, err := h.act.CreateCheckrCandidate(ctx, h.order)
		require.NoError(t, err)
		h.order.CandidateID = cand
		id, err := h.act.CreateCheckrInvitation(ctx, h.order)
		require.NoError(t, err)
		require.NoError(t, end(id))
		got, err := h.act.PollCheckrInvitation(ctx, activities.CheckrInvitationRef{AccountID: h.account, InvitationID: id})
		require.NoError(t, err)
		require.Equal(t, activities.CheckrInvitationSummary{Status: name}, got)
	}
}

// newCheckrCheck stores another screening with one Checkr check on the harness's account.
func newCheckrCheck(t *testing.T, h *checkrHarness) string {
	t.Helper()
	ctx := context.Background()
	first, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	var tenantID string
	require.NoError(t, h.st.DB().Get(&tenantID, `SELECT tenant_id FROM screenings WHERE id = $1`, first.ScreeningID))
	scr, _, err := h.st.CreateScreening(ctx, store.NewScreening{TenantID: tenantID,
		Candidate: store.Candidate{Reference: "emp-2", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", DOB: "1990-12-10"},
		Checks:    []store.NewCheck{{Provider: checkr.Name, Type: "tasker_standard", CheckrAccountID: h.account}}})
	require.NoError(t, err)
	checks, err := h.st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	return checks[0].ID
}

func TestCheckrSubscriptionsAreKeptInPostgres(t *testing.T) {
	h := newCheckrHarness(t)
	ctx := context.Background()
	accounts := &activities.CheckrAccounts{Store: h.st}
	for _, id := range []string{"wf-b", "wf-a", "wf-c", "wf-a"} {
		status, err := accounts.SubscribeCheckrAccount(ctx, activities.CheckrSubscriptionInput{AccountID: h.account, WorkflowID: id})
		require.NoError(t, err)
		require.Equal(t, store.CheckrAwaitingCredentialing, status, "the account's status in Postgres")
	}
	page, err := accounts.ListCheckrSubscribers(ctx, activities.CheckrSubscribersPage{AccountID: h.account, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"wf-a", "wf-b"}, page)
	require.NoError(t, accounts.UnsubscribeCheckrAccount(ctx, activities.CheckrUnsubscriptionInput{AccountID: h.account, WorkflowIDs: []string{"wf-c"}}))
	page, err = accounts.ListCheckrSubscribers(ctx, activities.CheckrSubscribersPage{AccountID: h.account, After: "wf-a", Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"wf-b"}, page)

	_, err = accounts.SubscribeCheckrAccount(ctx, activities.CheckrSubscriptionInput{AccountID: "nope", WorkflowID: "wf-a"})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, activities.ErrTypeAccountUnknown, appErr.Type())
	require.True(t, appErr.NonRetryable())
}

func TestAnUpgradedReportAmendsTheCompletedCheckAndScreening(t *testing.T) {
	h := newCheckrHarness(t)
	ctx := context.Background()
	cand, err := h.act.CreateCheckrCandidate(ctx, h.order)
	require.NoError(t, err)
	h.order.CandidateID = cand
	reportID, err := h.act.CreateCheckrReport(ctx, h.order)
	require.NoError(t, err)
	require.NoError(t, h.fake.CompleteReport(reportID))
	ref := activities.CheckrReportRef{CheckID: h.checkID, AccountID: h.account, ReportID: reportID}
	report, err := h.act.FetchCheckrReport(ctx, ref)
	require.NoError(t, err)
	_, err = h.act.StoreCheckrDocument(ctx, activities.CheckrDocumentInput{CheckID: h.checkID, AccountID: h.account, DocumentID: report.DocumentIDs[0]})
	require.NoError(t, err)
	clear := checkr.ResultClear
	require.NoError(t, h.st.UpdateCheck(ctx, store.CheckUpdate{CheckID: h.checkID, Status: store.StatusCompleted, Outcome: &clear}))
	check, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	require.NoError(t, h.st.SetScreeningConclusion(ctx, check.ScreeningID, store.StatusCompleted, &clear, store.TimelineEntry{}))

	rec, err := h.act.ReadCheckrCheck(ctx, h.checkID)
	require.NoError(t, err)
	require.Equal(t, activities.CheckrCheckRecord{Status: store.StatusCompleted, Outcome: checkr.ResultClear, AccountID: h.account,
		ReportID: reportID, DocumentIDs: report.DocumentIDs}, rec)

	h.fake.SetResult(checkr.ResultConsider)
	require.NoError(t, h.fake.UpgradeReport(reportID))
	upgraded, err := h.act.FetchCheckrReport(ctx, ref)
	require.NoError(t, err)
	require.Len(t, upgraded.DocumentIDs, 2)
	_, err = h.act.StoreCheckrDocument(ctx, activities.CheckrDocumentInput{CheckID: h.checkID, AccountID: h.account, DocumentID: upgraded.DocumentIDs[1]})
	require.NoError(t, err)
	in := activities.CheckrAmendmentInput{CheckID: h.checkID, Outcome: upgraded.Result,
		Reason: "Checkr's report after report.upgraded", DedupeKey: "checkr.amended:ev-1", OccurredAt: time.Now()}
	for range 2 {
		changed, err := h.act.AmendCheckrCheck(ctx, in)
		require.NoError(t, err)
		require.True(t, changed, "a retry learns what the first call did")
	}
	rederive := activities.ScreeningResultInput{ScreeningID: check.ScreeningID, Reason: in.Reason, DedupeKey: in.DedupeKey + ":screening"}
	for range 2 {
		require.NoError(t, (&activities.Screenings{Store: h.st}).RederiveScreeningResult(ctx, rederive))
	}

	rec, err = h.act.ReadCheckrCheck(ctx, h.checkID)
	require.NoError(t, err)
	require.Equal(t, checkr.ResultConsider, rec.Outcome)
	require.Equal(t, upgraded.DocumentIDs, rec.DocumentIDs)
	var result string
	var entries int
	require.NoError(t, h.st.DB().Get(&result, `SELECT result FROM screenings WHERE id = $1`, check.ScreeningID))
	require.Equal(t, checkr.ResultConsider, result, "the screening's result follows its check")
	require.NoError(t, h.st.DB().Get(&entries, `SELECT count(*) FROM timeline_entries WHERE screening_id = $1
		AND dedupe_key LIKE 'checkr.amended:%'`, check.ScreeningID))
	require.Equal(t, 2, entries, "the check's and the screening's, once each")
}

func TestAScreeningResultIsDerivedAgainOnlyOnceTheScreeningEnded(t *testing.T) {
	h := newCheckrHarness(t)
	ctx := context.Background()
	check, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	in := activities.ScreeningResultInput{ScreeningID: check.ScreeningID, Reason: "test", DedupeKey: "k"}
	err = (&activities.Screenings{Store: h.st}).RederiveScreeningResult(ctx, in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, activities.ErrTypeNotReady, appErr.Type(), "the screening still runs: its retry policy waits")
}
