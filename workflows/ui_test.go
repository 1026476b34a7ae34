package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
)

// currentDetails reads what the Temporal UI shows as a workflow's current details.
func currentDetails(t *testing.T, value converter.EncodedValue, err error) string {
	t.Helper()
	require.NoError(t, err)
	var metadata sdkpb.WorkflowMetadata
	require.NoError(t, value.Get(&metadata))
	return metadata.GetCurrentDetails()
}

func (s *screeningSuite) metadataOf(workflowID string) string {
	if workflowID == "" {
		value, err := s.env.QueryWorkflow("__temporal_workflow_metadata")
		return currentDetails(s.T(), value, err)
	}
	value, err := s.env.QueryWorkflowByID(workflowID, "__temporal_workflow_metadata")
	return currentDetails(s.T(), value, err)
}

// The screening starts its checks with a summary, details and search attributes that tell
// operators what each is, and both show their progress as current details: the screening a line
// per check, a check what it waits for and since when, then that it polls.
func (s *screeningSuite) TestOperatorsSeeSummariesAndProgress() {
	in := twoChecks
	in.CandidateID = "cand-1"
	started := map[string]temporal.SearchAttributes{}
	s.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, ctx workflow.Context, _ converter.EncodedValues) {
		started[info.WorkflowExecution.ID] = workflow.GetTypedSearchAttributes(ctx)
	})
	s.env.OnActivity(ccActivity(cc.PollComplyCubeCheck), mock.Anything, "cc-check-a").
		Return(activities.ProviderCheck{}, temporal.NewApplicationError("check is still pending", activities.ErrTypeNotReady))
	checkA := CheckWorkflowID("scr-1", complycube.Name, "check-a")

	s.completeAt(2*time.Hour, "check-b", "clear")
	s.env.RegisterDelayedCallback(func() {
		details := s.metadataOf("")
		s.Contains(details, "**in_progress**: 1 of 2 checks finished, as of ")
		s.Contains(details, "- complycube standard_screening_check: **in_progress**\n")
		s.Contains(details, "- complycube document_check: **completed** (clear)\n")

		details = s.metadataOf(checkA)
		s.Regexp("^Waiting for the `check.completed` webhook since [0-9T:Z-]+; polling ComplyCube from [0-9T:Z-]+ if it has not come$", details)
	}, 3*time.Hour)
	s.env.RegisterDelayedCallback(func() {
		s.Regexp("^Polling ComplyCube for check cc-check-a every 1h since [0-9T:Z-]+, still listening for the `check.completed` webhook$",
			s.metadataOf(checkA))
	}, testTiming.WebhookDeadline+2*time.Hour)
	s.completeAt(testTiming.WebhookDeadline+3*time.Hour, "check-a", "clear")

	s.env.ExecuteWorkflow(ScreeningWorkflow, in)
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	details := s.metadataOf("")
	s.Contains(details, "**completed** (clear): 2 of 2 checks finished")
	s.Contains(details, "- complycube standard_screening_check: **completed** (clear)\n")

	s.Require().Contains(started, checkA)
	attrs := started[checkA]
	providers, _ := attrs.GetKeywordList(SearchAttrProvider)
	s.Equal([]string{complycube.Name}, providers)
	candidates, _ := attrs.GetKeywordList(SearchAttrCandidateID)
	s.Equal([]string{"cand-1"}, candidates)
	tenant, _ := attrs.GetKeyword(SearchAttrTenantID)
	s.Equal("tenant-1", tenant)

	options := checkOptions(in, in.Checks[0])
	s.Equal(checkA, options.WorkflowID)
	s.Equal("complycube check: standard_screening_check · candidate cand-1", options.StaticSummary)
	s.Equal("Check `check-a` of screening `screening/scr-1` · tenant `tenant-1`", options.StaticDetails)
}

func TestScreeningSummaryAndDetails(t *testing.T) {
	in := ScreeningInput{ScreeningID: "scr-1", TenantID: "tenant-1", CandidateID: "cand-1", Checks: []CheckRef{
		{CheckID: "check-a", Provider: complycube.Name, Type: "standard_screening_check"},
		{CheckID: "check-b", Provider: checkr.Name, Type: "tasker_standard", AccountID: "acct-1"},
		{CheckID: "check-c", Provider: complycube.Name, Type: "document_check"},
	}}
	require.Equal(t, "Screening: complycube standard_screening_check, checkr tasker_standard, complycube document_check · candidate cand-1",
		screeningSummary(in))
	require.Equal(t, "Tenant `tenant-1` · candidate `cand-1`\n\n"+
		"| provider | check type | check workflow |\n|---|---|---|\n"+
		"| complycube | standard_screening_check | `screening/scr-1/complycube/check-a` |\n"+
		"| checkr | tasker_standard | `screening/scr-1/checkr/check-b` |\n"+
		"| complycube | document_check | `screening/scr-1/complycube/check-c` |\n", screeningDetails(in))
	require.Equal(t, "Check `check-b` of screening `screening/scr-1` · tenant `tenant-1` · account `acct-1`",
		checkDetails(in, in.Checks[1]))

	attrs := temporal.NewSearchAttributes(screeningSearchAttributes(in)...)
	providers, _ := attrs.GetKeywordList(SearchAttrProvider)
	require.Equal(t, []string{complycube.Name, checkr.Name}, providers, "each provider once, in order")
	candidates, _ := attrs.GetKeywordList(SearchAttrCandidateID)
	require.Equal(t, []string{"cand-1"}, candidates)
}

// A screening whose input predates CandidateID shows no candidate rather than an empty one.
func TestSummaryWithoutCandidate(t *testing.T) {
	in := ScreeningInput{ScreeningID: "scr-1", TenantID: "tenant-1",
		Checks: []CheckRef{{CheckID: "check-a", Provider: complycube.Name, Type: "standard_screening_check"}}}
	require.Equal(t, "Screening: complycube standard_screening_check", screeningSummary(in))
	require.Equal(t, "complycube check: standard_screening_check", checkSummary(in, in.Checks[0]))
	for _, attrs := range []temporal.SearchAttributes{
		temporal.NewSearchAttributes(screeningSearchAttributes(in)...),
		temporal.NewSearchAttributes(checkSearchAttributes(in, in.Checks[0])...),
	} {
		require.False(t, attrs.ContainsKey(SearchAttrCandidateID))
		require.True(t, attrs.ContainsKey(SearchAttrProvider))
	}
}

func TestUIDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 24 * time.Hour: "24h", 90 * time.Minute: "1h30m", 5 * time.Minute: "5m", 90 * time.Second: "1m30s",
	} {
		require.Equal(t, want, uiDuration(d), d.String())
	}
	require.False(t, strings.Contains(pollSummary("Checkr", "the report", time.Hour), "0m"))
}

func (s *checkrCheckSuite) currentDetails() string {
	value, err := s.env.QueryWorkflow("__temporal_workflow_metadata")
	return currentDetails(s.T(), value, err)
}

// A Checkr check shows that it waits for its account to be credentialed, then for its report.
func (s *checkrCheckSuite) TestCurrentDetailsFollowTheCheck() {
	s.integrated(store.CheckrAwaitingCredentialing)
	s.env.RegisterDelayedCallback(func() {
		s.Regexp("^Waiting for Checkr to credential account acct-1 \\(`account.credentialed`\\) · since [0-9T:Z-]+$", s.currentDetails())
	}, time.Hour)
	s.accountSaysAt(2*time.Hour, store.CheckrCredentialed)
	s.env.RegisterDelayedCallback(func() {
		s.Regexp("^Waiting for report [^ ]+ to finish \\(`report.completed`\\) since [0-9T:Z-]+; polling Checkr from [0-9T:Z-]+ if it has not come$",
			s.currentDetails())
	}, 3*time.Hour)
	s.signalAt(4*time.Hour, reportEv("e2", checkr.EventReportCompleted, "complete", time.Hour))

	r := s.run(checkrCheckOrder{AccountID: "acct-1"})
	s.Equal(store.StatusCompleted, r.Status)
	s.Regexp("^\\*\\*Completed\\*\\*: result clear, assessment eligible; 2 document\\(s\\) stored · since ", s.currentDetails())
}

func TestErasureSummaryDetailsAndSearchAttributes(t *testing.T) {
	in := ErasureInput{TenantID: "tenant-1", KeyID: "key-1", CandidateIDs: []string{"cand-1", "cand-2"}}
	require.Equal(t, "Erasure of candidate cand-1 (2 row(s)): its retention period ended", ErasureSummary(in, "its retention period ended"))
	require.Equal(t, "Tenant `tenant-1` · asked by key `key-1`\n\nCandidate rows: `cand-1`, `cand-2`", ErasureDetails(in))
	attrs := ErasureSearchAttributes(in)
	candidates, _ := attrs.GetKeywordList(SearchAttrCandidateID)
	require.Equal(t, []string{"cand-1", "cand-2"}, candidates, "an operator finds the erasure from either screening")
	tenant, _ := attrs.GetKeyword(SearchAttrTenantID)
	require.Equal(t, "tenant-1", tenant)
}

func TestPurgeDetails(t *testing.T) {
	require.Equal(t, "Webhook bodies (`INBOX_BODY_RETENTION`): emptied 720h after they finished\n\n"+
		"Candidates (`SCREENING_RETENTION`): not purged", PurgeDetails(PurgeInput{InboxBodyRetention: 720 * time.Hour}))
	require.Contains(t, PurgeDetails(PurgeInput{ScreeningRetention: 8760 * time.Hour}),
		"Candidates (`SCREENING_RETENTION`): erased 8760h after their last screening finished, or their tenant's own retention")
}
