package workflows

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

type authenticateAmendmentSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu          sync.Mutex // the test suite runs activities on goroutines of their own
	check       activities.AuthenticateCheckRecord
	results     []activities.AuthenticateResult // what successive reads of the API return
	reads       int
	readErr     error
	outcome     string // the stored outcome, as AmendAuthenticateOutcome keeps it
	amendments  []activities.AmendOutcomeInput
	rederives   []activities.ScreeningResultInput
	runningFor  int // how many more times the screening is still running when its result is derived
	stored      []activities.ReportRef
	storeErr    error
	recorded    []activities.CheckEventInput
	onRederived func() // runs at each attempt to derive the result again
}

func TestAuthenticateAmendmentWorkflow(t *testing.T) { suite.Run(t, new(authenticateAmendmentSuite)) }

var (
	screeningStillRunning = temporal.NewApplicationError("the screening has not ended yet", activities.ErrTypeNotReady)
	clearResult           = activities.AuthenticateResult{CriminalComplete: true, SexOffenderComplete: true, Searches: 3}
	recordResult          = activities.AuthenticateResult{CriminalComplete: true, SexOffenderComplete: true, Searches: 3, RecordsFound: 1}
)

func (s *authenticateAmendmentSuite) SetupTest() {
	s.SetLogger(quietLogger)
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflow(AuthenticateAmendmentWorkflow)
	s.env.RegisterActivityWithOptions(ac, activity.RegisterOptions{Name: registry.ActivityPrefix(authenticate.Name)})
	s.env.RegisterActivity(sa)
	s.check = activities.AuthenticateCheckRecord{Status: store.StatusCompleted, UserAccessCode: "uac-1",
		Options: activities.AuthenticateOptions{PDFReport: true}}
	s.results, s.reads, s.outcome = []activities.AuthenticateResult{clearResult}, 0, OutcomeClear
	s.amendments, s.rederives, s.runningFor, s.stored, s.storeErr, s.recorded, s.onRederived = nil, nil, 0, nil, nil, nil, nil
	s.readErr = nil

	s.env.OnActivity(authActivity(ac.ReadAuthenticateCheck), mock.Anything, "check-1").Return(
		func(context.Context, string) (activities.AuthenticateCheckRecord, error) { return s.check, nil })
	s.env.OnActivity(authActivity(ac.ReadAuthenticateResult), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AuthenticateOrderInput) (activities.AuthenticateResult, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.Equal(activities.AuthenticateOrderInput{CheckID: "check-1", UserAccessCode: "uac-1"}, in)
			r := s.results[min(s.reads, len(s.results)-1)]
			s.reads++
			return r, s.readErr
		}).Maybe()
	s.env.OnActivity(authActivity(ac.AmendAuthenticateOutcome), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AmendOutcomeInput) (bool, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.amendments = append(s.amendments, in)
			if in.Outcome == s.outcome {
				return false, nil
			}
			s.outcome = in.Outcome
			return true, nil
		}).Maybe()
	s.env.OnActivity(sa.RederiveScreeningResult, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ScreeningResultInput) error {
			s.mu.Lock()
			s.rederives = append(s.rederives, in)
			running := s.runningFor > 0
			s.runningFor--
			onRederived := s.onRederived
			s.mu.Unlock()
			if onRederived != nil {
				onRederived()
			}
			if running {
				return screeningStillRunning
			}
			return nil
		}).Maybe()
	s.env.OnActivity(authActivity(ac.StoreAuthenticateReport), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ReportRef) (activities.DocumentRef, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.stored = append(s.stored, in)
			if s.storeErr != nil {
				return activities.DocumentRef{}, s.storeErr
			}
			return activities.DocumentRef{DocumentID: "doc-" + in.ReportUUID, SHA256: "sha", Size: 9}, nil
		}).Maybe()
	s.env.OnActivity(sa.RecordCheckEvent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckEventInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.recorded = append(s.recorded, in)
			return nil
		}).Maybe()
}

func (s *authenticateAmendmentSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

// run starts the workflow as the relay does, with signal-with-start: the event is there when it
// starts.
func (s *authenticateAmendmentSuite) run(first AuthenticateEvent, more ...AuthenticateEvent) {
	s.env.RegisterDelayedCallback(func() {
		for _, ev := range append([]AuthenticateEvent{first}, more...) {
			s.env.SignalWorkflow(AuthenticateEventSignal, ev)
		}
	}, 0)
	s.env.ExecuteWorkflow(AuthenticateAmendmentWorkflow, AmendmentInput{ScreeningID: "scr-1", CheckID: "check-1"})
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
}

// detail is the timeline entry of the event with that key.
func (s *authenticateAmendmentSuite) detail(eventKey string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.recorded {
		s.Equal("scr-1", e.ScreeningID)
		s.Equal("check-1", e.CheckID)
		if e.Timeline.DedupeKey == "authenticate:"+eventKey {
			return e.Timeline.Detail
		}
	}
	return ""
}

func monitoringEvent(key string) AuthenticateEvent {
	return AuthenticateEvent{EventID: key, Type: authenticate.EventMonitoringRecordFound, OccurredAt: t0}
}

func (s *authenticateAmendmentSuite) TestAConfirmedMonitoringRecordAmendsTheOutcomeThenTheResult() {
	s.results = []activities.AuthenticateResult{recordResult}
	s.runningFor = 2 // the screening's other checks are still running

	s.run(monitoringEvent("m1"))
	s.Require().Len(s.amendments, 1)
	s.Equal(activities.AmendOutcomeInput{CheckID: "check-1", Outcome: OutcomeRecordFound, DedupeKey: "authenticate.amended:m1",
		OccurredAt: s.amendments[0].OccurredAt, Reason: "Authenticate's API shows it after MONITORING_RECORD_FOUND"}, s.amendments[0])
	s.Len(s.rederives, 3, "the result is derived again once the screening has ended")
	s.Equal(activities.ScreeningResultInput{ScreeningID: "scr-1", DedupeKey: "screening.result:authenticate.amended:m1",
		Reason: "the Authenticate check's outcome was amended"}, s.rederives[2])
	s.Contains(s.detail("m1"), "after the check finished")
	s.Contains(s.detail("m1"), "confirmed by Authenticate's API")
	s.NotContains(s.detail("m1"), "not confirmed")
}

func (s *authenticateAmendmentSuite) TestAMonitoringNoticeTheAPIDoesNotBackChangesNothing() {
	s.run(monitoringEvent("m1"))
	s.Equal(1, s.reads, "the API is read")
	s.Equal(OutcomeClear, s.outcome)
	s.Empty(s.rederives)
	s.Contains(s.detail("m1"), "not confirmed by Authenticate's API")
	s.Contains(s.detail("m1"), "nothing changes")
}

func (s *authenticateAmendmentSuite) TestALateSearchUpdateAndANewReport() {
	update := searchEvent("e9", "s1", authenticate.SearchComplete, authenticate.SubStatusRecordFound, time.Hour)
	report := reportEvent("p9", "rep-2", authenticate.PDFCompleted, 2*time.Hour)
	s.results = []activities.AuthenticateResult{recordResult}

	s.run(update, report)
	s.Equal(2, s.reads, "each event makes it read the API")
	s.Equal(OutcomeRecordFound, s.outcome, "the first read shows the record; the second changes nothing")
	s.Len(s.rederives, 1)
	s.Contains(s.detail("e9"), "COUNTY_CRIMINAL s1: COMPLETE (RECORD_FOUND)")
	s.Equal([]activities.ReportRef{{CheckID: "check-1", UserAccessCode: "uac-1", ReportUUID: "rep-2"}}, s.stored)
	s.Contains(s.detail("p9"), "report stored (9 bytes, sha256 sha)")
}

func (s *authenticateAmendmentSuite) TestAReportTheAPIDoesNotConfirmIsNotStored() {
	s.storeErr = temporal.NewNonRetryableApplicationError("Authenticate does not confirm the report as completed",
		activities.ErrTypeReportLinkExpired, nil)
	s.run(reportEvent("p9", "rep-2", "Completed", time.Hour))
	s.Len(s.stored, 1)
	s.Contains(s.detail("p9"), "report not stored: Authenticate does not confirm the report as completed")
}

func (s *authenticateAmendmentSuite) TestDuplicatesAndEventsThatComeWhileItRuns() {
	s.results = []activities.AuthenticateResult{recordResult}
	s.runningFor = 1
	pii := AuthenticateEvent{EventID: "u1", Type: authenticate.EventUserPIIUpdate, OccurredAt: t0}
	s.onRederived = func() {
		s.onRederived = nil
		// Signalled by the relay while the workflow runs: taken, the duplicate dropped.
		s.env.SignalWorkflow(AuthenticateEventSignal, pii)
		s.env.SignalWorkflow(AuthenticateEventSignal, monitoringEvent("m1"))
	}

	s.run(monitoringEvent("m1"), monitoringEvent("m1"))
	s.Equal(2, s.reads, "m1 once, then u1")
	s.Len(s.amendments, 2)
	s.Contains(s.detail("u1"), authenticate.EventUserPIIUpdate+" (after the check finished)")
	s.Len(s.recorded, 2)
}

func (s *authenticateAmendmentSuite) TestAFailedOrCanceledCheckStaysAsItEnded() {
	s.check.Status = store.StatusCanceled
	s.run(monitoringEvent("m1"))
	s.Zero(s.reads, "nothing to amend")
	s.Empty(s.amendments)
	s.Contains(s.detail("m1"), "the check stays canceled")
}

func (s *authenticateAmendmentSuite) TestSearchesNotCompleteLeaveTheOutcome() {
	s.results = []activities.AuthenticateResult{{CriminalComplete: false, SexOffenderComplete: true, Searches: 4, RecordsFound: 1}}
	s.run(monitoringEvent("m1"))
	s.Empty(s.amendments)
	s.True(strings.HasSuffix(s.detail("m1"), "the outcome stays"), s.detail("m1"))
}

func (s *authenticateAmendmentSuite) TestAnAPIThatCannotBeReadLeavesTheEventOnRecord() {
	s.readErr = temporal.NewNonRetryableApplicationError("authenticate: HTTP 404: User not found", activities.ErrTypeProviderRejected, nil)
	s.run(monitoringEvent("m1"))
	s.Empty(s.amendments)
	s.Contains(s.detail("m1"), "Authenticate's API could not be read (authenticate: HTTP 404: User not found); nothing changes")
}
