package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/authenticate"
	authfake "github.com/screenflow/screenflow/providers/authenticate/fake"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
)

// OpenComplyCubeCheck does what CreateClient, CreateCheck and the workflow's in-progress write did
// one after the other: both routed, the check in progress with its timeline entry, and a retry
// (the whole activity run again) creates nothing more.
func TestOpenComplyCubeCheckCreatesRoutesAndShowsTheCheckInProgressOnce(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	in := activities.OpenCheckInput{CheckID: h.checkID, CheckType: "standard_screening_check", WorkflowID: "wf-1"}
	created, err := h.act.OpenComplyCubeCheck(ctx, in)
	require.NoError(t, err)
	again, err := h.act.OpenComplyCubeCheck(ctx, in)
	require.NoError(t, err)
	require.Equal(t, created.ID, again.ID)
	require.Equal(t, 1, h.fake.ClientsCreated())
	require.Equal(t, 1, h.fake.ChecksCreated())

	route, err := h.st.Route(ctx, complycube.Name, complycube.SubjectFor("check", created.ID))
	require.NoError(t, err)
	require.Equal(t, "wf-1", route)
	check, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	require.Equal(t, store.StatusInProgress, check.Status)
	detail, err := h.st.ScreeningDetail(ctx, h.tenantID, check.ScreeningID)
	require.NoError(t, err)
	var submitted []string
	for _, e := range detail.Timeline {
		if e.Kind == "check.submitted" {
			submitted = append(submitted, e.Detail)
		}
	}
	require.Equal(t, []string{"ComplyCube standard_screening_check " + created.ID + " created"}, submitted)
}

// A failed step is named in the error, which keeps whether a retry can help.
func TestOpenComplyCubeCheckNamesTheStepThatFailed(t *testing.T) {
	h := newComplyCubeHarness(t)
	ctx := context.Background()
	in := activities.OpenCheckInput{CheckID: h.checkID, CheckType: "standard_screening_check", WorkflowID: "wf-1"}

	h.fake.FailAPI(1, 400)
	_, err := h.act.OpenComplyCubeCheck(ctx, in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable(), "a 400 will not change on retry")
	require.Equal(t, activities.ErrTypeProviderRejected, appErr.Type())
	require.Contains(t, appErr.Message(), "could not create the ComplyCube client: ")

	h.fake.FailAPI(1, 503)
	_, err = h.act.OpenComplyCubeCheck(ctx, in)
	require.Error(t, err)
	require.Contains(t, err.Error(), "could not create the ComplyCube client: ")
	require.False(t, errors.As(err, &appErr) && appErr.NonRetryable(), "a 503 is retried: %v", err)
}

// OrderAuthenticateCheck run again after it succeeded (a retry of the whole activity) creates no
// second user and orders nothing twice, and the check is shown in progress once.
func TestOrderAuthenticateCheckRunTwiceOrdersOnce(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	ctx := context.Background()
	in := activities.AuthenticateCheckInput{CheckID: h.checkID, WorkflowID: "wf-a", SexOffender: true}
	order, err := h.act.OrderAuthenticateCheck(ctx, in)
	require.NoError(t, err)
	again, err := h.act.OrderAuthenticateCheck(ctx, in)
	require.NoError(t, err)
	require.Equal(t, order, again)
	require.Equal(t, 1, h.fake.UsersCreated())

	searches, err := h.st.Searches(ctx, h.checkID)
	require.NoError(t, err)
	require.NotEmpty(t, searches)
	for _, kind := range []string{store.OrderCriminal, store.OrderSexOffender} {
		ordered, err := h.st.Ordered(ctx, h.checkID, kind)
		require.NoError(t, err)
		require.True(t, ordered, kind)
	}
	check, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	require.Equal(t, store.StatusInProgress, check.Status)
	route, err := h.st.Route(ctx, authenticate.Name, authenticate.SubjectFor(order.UserAccessCode))
	require.NoError(t, err)
	require.Equal(t, "wf-a", route)
}

// A refused order is named by its step and stays final.
func TestOrderAuthenticateCheckNamesTheStepThatFailed(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1})
	h.fake.FailAPI(1, 400)
	_, err := h.act.OrderAuthenticateCheck(context.Background(),
		activities.AuthenticateCheckInput{CheckID: h.checkID, WorkflowID: "wf-a"})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable(), "a 400 will not change on retry")
	require.Contains(t, appErr.Message(), "could not create the Authenticate user: ")
}

// OrderCheckr run again after it succeeded creates no second candidate and orders no second
// report; in invitation mode it adopts the invitation it sent.
func TestOrderCheckrRunTwiceOrdersOnce(t *testing.T) {
	h := newCheckrHarness(t)
	ctx := context.Background()
	ordered, err := h.act.OrderCheckr(ctx, h.order)
	require.NoError(t, err)
	require.NotEmpty(t, ordered.CandidateID)
	require.NotEmpty(t, ordered.ReportID)
	again, err := h.act.OrderCheckr(ctx, h.order)
	require.NoError(t, err)
	require.Equal(t, ordered, again)
	require.Equal(t, 1, h.fake.CandidatesCreated())
	require.Equal(t, 1, h.fake.ReportsCreated())
	check, err := h.st.Check(ctx, h.checkID)
	require.NoError(t, err)
	require.Equal(t, store.StatusInProgress, check.Status)

	invite := newCheckrHarness(t)
	invite.order.Mode = activities.CheckrModeInvitation
	sent, err := invite.act.OrderCheckr(ctx, invite.order)
	require.NoError(t, err)
	require.NotEmpty(t, sent.InvitationID)
	require.Empty(t, sent.ReportID)
	resent, err := invite.act.OrderCheckr(ctx, invite.order)
	require.NoError(t, err)
	require.Equal(t, sent, resent)
}

// LookAndRequestAuthenticatePDF requests a report only once every search is complete, and
// ReadAndStoreAuthenticateReport stores it only once the API shows it COMPLETED; run again, each
// stores the same document.
func TestAuthenticateLookRequestsAndTheReadStoresTheReportWhenTheAPISaysSo(t *testing.T) {
	h := newAuthenticateHarness(t, authfake.Options{SearchDelay: -1, RateLimit: time.Millisecond, PDFDelay: time.Millisecond})
	ctx := context.Background()
	in := h.order(t, false)

	look, err := h.act.LookAndRequestAuthenticatePDF(ctx, in)
	require.NoError(t, err)
	require.False(t, look.ReportRequested, "searches still pending")
	for range 2 {
		require.NoError(t, h.fake.AdvanceSearches(in.UserAccessCode))
	}
	look, err = h.act.LookAndRequestAuthenticatePDF(ctx, in)
	require.NoError(t, err)
	require.True(t, look.Result.CriminalComplete)
	require.True(t, look.ReportRequested)
	require.NotEmpty(t, look.ReportUUID)

	ref := activities.ReportRef{CheckID: h.checkID, UserAccessCode: in.UserAccessCode, ReportUUID: look.ReportUUID}
	var read activities.AuthenticateReportRead
	require.Eventually(t, func() bool {
		read, err = h.act.ReadAndStoreAuthenticateReport(ctx, ref)
		require.NoError(t, err)
		if !read.Report.Finished() {
			require.Nil(t, read.Document, "nothing stored before the API shows the report COMPLETED")
		}
		return read.Report.Finished()
	}, 10*time.Second, 20*time.Millisecond)
	require.NotNil(t, read.Document)
	again, err := h.act.ReadAndStoreAuthenticateReport(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, read.Document, again.Document, "the same report is one document")
}
