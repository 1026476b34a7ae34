package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

type checkrAmendmentSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	check    activities.CheckrCheckRecord
	reports  []activities.CheckrReportSummary // what FetchCheckrReport answers in turn; the last one again after
	fetches  int
	stored   []string
	amended  []activities.CheckrAmendmentInput
	recorded []string // timeline details
}

func TestCheckrAmendmentWorkflow(t *testing.T) { suite.Run(t, new(checkrAmendmentSuite)) }

func (s *checkrAmendmentSuite) SetupTest() {
	s.SetLogger(quietLogger)
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflow(CheckrAmendmentWorkflow)
	s.env.RegisterActivityWithOptions(ck, activity.RegisterOptions{Name: registry.ActivityPrefix(checkr.Name)})
	s.env.RegisterActivity(sa)
	s.check = activities.CheckrCheckRecord{Status: store.StatusCompleted, Outcome: "clear", AccountID: "acct-1", ReportID: "rep-1",
		DocumentIDs: []string{"doc-1"}}
	s.reports = []activities.CheckrReportSummary{{Status: "complete", Result: "consider", Assessment: "review",
		Adjudication: "pre_adverse_action", DocumentIDs: []string{"doc-1", "doc-2"}}}
	s.fetches, s.stored, s.amended, s.recorded = 0, nil, nil, nil

	s.env.OnActivity(checkrActivity(ck.ReadCheckrCheck), mock.Anything, "check-1").Return(
		func(context.Context, string) (activities.CheckrCheckRecord, error) { return s.check, nil }).Once()
	s.env.OnActivity(checkrActivity(ck.FetchCheckrReport), mock.Anything, activities.CheckrReportRef{CheckID: "check-1",
		AccountID: "acct-1", ReportID: "rep-1"}).Return(
		func(context.Context, activities.CheckrReportRef) (activities.CheckrReportSummary, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.fetches++
			return s.reports[min(s.fetches, len(s.reports))-1], nil
		}).After(time.Minute).Maybe()
	s.env.OnActivity(checkrActivity(ck.StoreCheckrDocument), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckrDocumentInput) (activities.DocumentRef, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.stored = append(s.stored, in.DocumentID)
			return activities.DocumentRef{DocumentID: "stored-" + in.DocumentID}, nil
		}).Maybe()
	s.env.OnActivity(checkrActivity(ck.AmendCheckrCheck), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckrAmendmentInput) (bool, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.amended = append(s.amended, in)
			return true, nil
		}).Maybe()
	s.env.OnActivity(sa.RecordCheckEvent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckEventInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.Equal("scr-1", in.ScreeningID)
			s.Equal("check-1", in.CheckID)
			s.recorded = append(s.recorded, in.Timeline.Detail)
			return nil
		}).Maybe()
}

// run starts the workflow as the relay does, with signal-with-start: the events are there when it
// starts.
func (s *checkrAmendmentSuite) run(first ...CheckrEvent) {
	s.env.RegisterDelayedCallback(func() {
		for _, ev := range first {
			s.env.SignalWorkflow(CheckrEventSignal, ev)
		}
	}, 0)
	s.env.ExecuteWorkflow(CheckrAmendmentWorkflow, AmendmentInput{ScreeningID: "scr-1", CheckID: "check-1"})
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
}

func (s *checkrAmendmentSuite) rederives(notReady int) *int {
	calls := 0
	s.env.OnActivity(sa.RederiveScreeningResult, mock.Anything, activities.ScreeningResultInput{
		ScreeningID: "scr-1", DedupeKey: "checkr.amended:up-1:screening",
		Reason: "the Checkr check's outcome was amended after report.upgraded"}).Return(
		func(context.Context, activities.ScreeningResultInput) error {
			calls++
			if calls <= notReady {
				return temporal.NewApplicationError("the screening has not ended yet", activities.ErrTypeNotReady)
			}
			return nil
		})
	return &calls
}

func (s *checkrAmendmentSuite) TestAnUpgradeAmendsTheCheckStoresTheNewDocumentAndTheScreeningResult() {
	rederived := s.rederives(0)
	s.run(reportEv("up-1", checkr.EventReportUpgraded, "complete", 48*time.Hour))

	s.Equal([]string{"doc-2"}, s.stored, "only the document the upgrade added")
	s.Require().Len(s.amended, 1)
	s.Equal(activities.CheckrAmendmentInput{CheckID: "check-1", Outcome: "consider", Reason: "Checkr's report after report.upgraded",
		DedupeKey: "checkr.amended:up-1", OccurredAt: s.amended[0].OccurredAt}, s.amended[0])
	s.Equal(1, *rederived)
	s.ElementsMatch([]string{
		"report.upgraded: complete (after the check completed; the report is read again)",
		"Checkr report read again after report.upgraded: status complete, result consider, assessment review, adjudication pre_adverse_action; 1 document(s) stored",
	}, s.recorded)
	res, err := s.env.QueryWorkflow(QueryStatus)
	s.Require().NoError(err)
	var st CheckrAmendmentStatus
	s.Require().NoError(res.Get(&st))
	s.Equal(CheckrAmendmentStatus{CheckStatus: store.StatusCompleted, Outcome: "consider", EventsReceived: 1}, st)
}

// The check's workflow has closed but its screening still runs (another check is pending): the
// screening concludes on the outcome the check returned, so its result is derived again after.
func (s *checkrAmendmentSuite) TestTheScreeningResultIsDerivedAgainOnceTheScreeningEnded() {
	rederived := s.rederives(3)
	s.run(reportEv("up-1", checkr.EventReportUpgraded, "complete", 48*time.Hour))
	s.Equal(4, *rederived)
	s.Len(s.amended, 1)
}

// An adjudication that leaves the result as it was is recorded, and amends nothing.
func (s *checkrAmendmentSuite) TestAnAdjudicationWithTheSameResultAmendsNothing() {
	s.reports = []activities.CheckrReportSummary{{Status: "complete", Result: "clear", Adjudication: "engaged", DocumentIDs: []string{"doc-1"}}}
	s.run(reportEv("adj-1", checkr.EventReportEngaged, "complete", 48*time.Hour))
	s.Empty(s.amended)
	s.Empty(s.stored)
	s.Equal(1, s.fetches)
}

// Events that come while the workflow works are taken too, and the report is read again after
// them: the amendment that counts is the latest.
func (s *checkrAmendmentSuite) TestEventsThatComeMeanwhileAreTakenToo() {
	s.reports = append(s.reports, activities.CheckrReportSummary{Status: "dispute", Result: "consider", DocumentIDs: []string{"doc-1", "doc-2"}})
	s.rederives(0)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(CheckrEventSignal, reportEv("dis-1", checkr.EventReportDisputed, "dispute", 49*time.Hour))
		s.env.SignalWorkflow(CheckrEventSignal, reportEv("up-1", checkr.EventReportUpgraded, "complete", 48*time.Hour))
	}, 30*time.Second)
	s.run(reportEv("up-1", checkr.EventReportUpgraded, "complete", 48*time.Hour))

	s.Equal(2, s.fetches, "read again after the dispute; the duplicate changes nothing")
	s.Equal([]string{"doc-2"}, s.stored)
	s.Len(s.amended, 1, "a disputed report has no new result")
	s.Contains(s.recorded, "report.disputed: dispute (after the check completed; the report is read again)")
}

// Events about a check that did not complete (failed, canceled) are recorded, never applied.
func (s *checkrAmendmentSuite) TestEventsAfterACheckThatDidNotCompleteAreRecordedOnly() {
	s.check = activities.CheckrCheckRecord{Status: store.StatusFailed}
	s.run(reportEv("r1", checkr.EventReportCreated, "pending", time.Hour),
		CheckrEvent{EventID: "c1", Type: checkr.EventCandidateUpdated, ObjectID: "cand-1", CreatedAt: t0})

	s.Zero(s.fetches)
	// Timeline writes do not hold the workflow up, so they may land in any order.
	s.ElementsMatch([]string{"report.created: pending (after the check ended failed; recorded)",
		"candidate.updated (after the check ended failed; recorded)"}, s.recorded)
}
