package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

type screeningSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env      *testsuite.TestWorkflowEnvironment
	mu       sync.Mutex // activities run on goroutines of their own
	statuses []activities.ScreeningStatusInput

	canceledBeforeStart bool // the screening was canceled in Postgres before its workflow began
	finalWriteFailures  int  // how many attempts to write a final status fail first (Postgres down)
}

func TestScreeningWorkflow(t *testing.T) { suite.Run(t, new(screeningSuite)) }

var twoChecks = ScreeningInput{
	ScreeningID: "scr-1", TenantID: "tenant-1", Timing: testTiming,
	Checks: []CheckRef{
		{CheckID: "check-a", Provider: complycube.Name, Type: "standard_screening_check", Workflow: ComplyCubeCheckWorkflowName},
		{CheckID: "check-b", Provider: complycube.Name, Type: "document_check", Workflow: ComplyCubeCheckWorkflowName},
	},
}

func (s *screeningSuite) SetupTest() {
	s.SetLogger(quietLogger)
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflow(ScreeningWorkflow)
	s.env.RegisterWorkflow(ComplyCubeCheckWorkflow)
	s.env.RegisterActivityWithOptions(cc, activity.RegisterOptions{Name: registry.ActivityPrefix(complycube.Name)})
	s.env.RegisterActivity(sa)
	s.statuses = nil
	s.env.OnActivity(sa.SetScreeningStatus, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ScreeningStatusInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if store.IsTerminal(in.Status) && s.finalWriteFailures > 0 {
				s.finalWriteFailures--
				return errors.New("postgres is down")
			}
			s.statuses = append(s.statuses, in)
			return nil
		})
	s.canceledBeforeStart, s.finalWriteFailures = false, 0
	s.env.OnActivity(sa.BeginScreening, mock.Anything, "scr-1").Return(
		func(context.Context, string) (bool, error) { return !s.canceledBeforeStart, nil }).Once()
	s.env.OnActivity(sa.UpdateCheck, mock.Anything, mock.Anything).Return(nil).Maybe()
	s.env.OnActivity(sa.RecordCheckEvent, mock.Anything, mock.Anything).Return(nil).Maybe()
	s.env.OnActivity(ccActivity(cc.OpenComplyCubeCheck), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.OpenCheckInput) (activities.ProviderCheck, error) {
			return activities.ProviderCheck{ID: "cc-" + in.CheckID, Status: "pending"}, nil
		})
	s.env.OnActivity(ccActivity(cc.StoreReport), mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StoreReportInput) (activities.DocumentRef, error) {
			return activities.DocumentRef{DocumentID: "doc-" + in.CheckID, SHA256: "sha", Size: 1}, nil
		}).Maybe()
}

// completeAt sends a check's completion to its child workflow after delay.
func (s *screeningSuite) completeAt(delay time.Duration, checkID, outcome string) {
	s.env.RegisterDelayedCallback(func() {
		err := s.env.SignalWorkflowByID(CheckWorkflowID("scr-1", complycube.Name, checkID),
			ComplyCubeEventSignal, ComplyCubeEvent{EventID: "ev-" + checkID, Type: "check.completed." + outcome,
				ResourceType: "check", ResourceID: "cc-" + checkID, Status: "complete", Outcome: outcome})
		s.Require().NoError(err)
	}, delay)
}

func (s *screeningSuite) queryStatus() ScreeningStatus {
	res, err := s.env.QueryWorkflow(QueryStatus)
	s.Require().NoError(err)
	var st ScreeningStatus
	s.Require().NoError(res.Get(&st))
	return st
}

func (s *screeningSuite) lastStatus() activities.ScreeningStatusInput {
	s.Require().NotEmpty(s.statuses)
	return s.statuses[len(s.statuses)-1]
}

func (s *screeningSuite) TestAllClearCompletesClear() {
	s.completeAt(2*time.Hour, "check-b", "clear")
	s.env.RegisterDelayedCallback(func() {
		st := s.queryStatus()
		s.Equal(store.StatusInProgress, st.Status)
		s.Equal(store.StatusInProgress, st.Checks[0].Status)
		s.Equal(store.StatusCompleted, st.Checks[1].Status, "a finished check shows before the others finish")
	}, 3*time.Hour)
	s.completeAt(4*time.Hour, "check-a", "clear")

	s.env.ExecuteWorkflow(ScreeningWorkflow, twoChecks)
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var r ScreeningStatus
	s.Require().NoError(s.env.GetWorkflowResult(&r))
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(ResultClear, r.Result)
	s.Equal([]string{"doc-check-a"}, r.Checks[0].DocumentIDs)
	s.Equal(store.StatusCompleted, s.lastStatus().Status)
	s.Equal(ResultClear, s.lastStatus().Result)
}

func (s *screeningSuite) TestAnyOtherOutcomeNeedsConsideration() {
	s.completeAt(time.Hour, "check-a", "clear")
	s.completeAt(time.Hour, "check-b", "attention")

	s.env.ExecuteWorkflow(ScreeningWorkflow, twoChecks)
	var r ScreeningStatus
	s.Require().NoError(s.env.GetWorkflowResult(&r))
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal(ResultConsider, r.Result)
}

func (s *screeningSuite) TestUnsupportedProviderFailsTheScreening() {
	in := ScreeningInput{ScreeningID: "scr-1", TenantID: "tenant-1", Timing: testTiming,
		Checks: []CheckRef{{CheckID: "check-x", Provider: "nobody", Type: "x"}}}

	s.env.ExecuteWorkflow(ScreeningWorkflow, in)
	var r ScreeningStatus
	s.Require().NoError(s.env.GetWorkflowResult(&r))
	s.Equal(store.StatusFailed, r.Status)
	s.Contains(r.Checks[0].FailureReason, "not supported")
	s.Equal(store.StatusFailed, s.lastStatus().Status)
}

func (s *screeningSuite) TestCancellationCancelsChecks() {
	s.completeAt(time.Hour, "check-a", "clear")
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 2*time.Hour)

	s.env.ExecuteWorkflow(ScreeningWorkflow, twoChecks)
	s.Require().True(s.env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	s.True(errors.As(s.env.GetWorkflowError(), &canceled), "got %v", s.env.GetWorkflowError())
	s.Equal(store.StatusCanceled, s.lastStatus().Status)
	s.env.AssertActivityCalled(s.T(), "UpdateCheck", mock.Anything,
		mock.MatchedBy(func(in activities.CheckUpdateInput) bool {
			return in.CheckID == "check-b" && in.Status == store.StatusCanceled
		}))
}

// A cancellation that arrives once every check has finished, while the outcome is being written,
// must not leave the screening in_progress in Postgres forever.
func (s *screeningSuite) TestCancelDuringTheFinalWriteKeepsTheOutcome() {
	s.completeAt(time.Hour, "check-a", "clear")
	s.completeAt(time.Hour, "check-b", "clear")
	s.finalWriteFailures = 1
	// The first write fails at once; its retry waits a second: the cancellation comes in between.
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Hour+500*time.Millisecond)

	s.env.ExecuteWorkflow(ScreeningWorkflow, twoChecks)
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Equal(store.StatusCompleted, s.lastStatus().Status, "the outcome reached Postgres")
	s.Equal(ResultClear, s.lastStatus().Result)
}

func (s *screeningSuite) TestCanceledBeforeItStartedOrdersNothing() {
	s.canceledBeforeStart = true

	s.env.ExecuteWorkflow(ScreeningWorkflow, twoChecks)
	var r ScreeningStatus
	s.Require().NoError(s.env.GetWorkflowResult(&r))
	s.Equal(store.StatusCanceled, r.Status)
	s.env.AssertActivityNotCalled(s.T(), ccActivity(cc.OpenComplyCubeCheck), mock.Anything, mock.Anything)
	s.Empty(s.statuses, "the canceled screening is left as it is")
}
