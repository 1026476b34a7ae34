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
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/registry"
)

type complyCubeAmendmentSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	recorded []activities.CheckEventInput
}

func TestComplyCubeAmendmentWorkflow(t *testing.T) { suite.Run(t, new(complyCubeAmendmentSuite)) }

func (s *complyCubeAmendmentSuite) SetupTest() {
	s.SetLogger(quietLogger)
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflow(ComplyCubeAmendmentWorkflow)
	s.env.RegisterActivityWithOptions(cc, activity.RegisterOptions{Name: registry.ActivityPrefix(complycube.Name)})
	s.env.RegisterActivity(sa)
	s.recorded = nil
	s.env.OnActivity(sa.RecordCheckEvent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckEventInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.recorded = append(s.recorded, in)
			return nil
		}).Maybe()
}

func (s *complyCubeAmendmentSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

// run starts the workflow as the relay does, with signal-with-start: the event is there when it
// starts.
func (s *complyCubeAmendmentSuite) run(first ComplyCubeEvent) {
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(ComplyCubeEventSignal, first) }, 0)
	s.env.ExecuteWorkflow(ComplyCubeAmendmentWorkflow, AmendmentInput{ScreeningID: "screening-1", CheckID: "check-1"})
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
}

func (s *complyCubeAmendmentSuite) details() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.recorded {
		s.Equal("screening-1", e.ScreeningID)
		s.Equal("check-1", e.CheckID)
		out = append(out, e.Timeline.Detail)
	}
	return out
}

var stillRunning = temporal.NewApplicationError("the screening has not ended yet", activities.ErrTypeNotReady)

func (s *complyCubeAmendmentSuite) TestAmendsTheCheckAndThenTheScreeningResultOnceTheScreeningEnded() {
	s.env.OnActivity(ccActivity(cc.AmendComplyCubeCheck), mock.Anything,
		activities.AmendCheckInput{CheckID: "check-1", Cause: "check.monitoring.attention"}).
		Return(activities.Amendment{Changed: true, Outcome: "attention", Key: "k1",
			Document: &activities.DocumentRef{DocumentID: "doc-2"}}, nil).Once()
	tries := 0
	s.env.OnActivity(sa.RederiveScreeningResult, mock.Anything, activities.ScreeningResultInput{
		ScreeningID: "screening-1", DedupeKey: "screening.result:k1", Reason: "the ComplyCube check's outcome was amended",
	}).Return(func(context.Context, activities.ScreeningResultInput) error {
		tries++
		if tries < 3 {
			return stillRunning
		}
		return nil
	})
	start := s.env.Now()
	var waiting string
	s.env.RegisterDelayedCallback(func() {
		value, err := s.env.QueryWorkflow("__temporal_workflow_metadata")
		waiting = currentDetails(s.T(), value, err)
	}, amendmentResultInterval+time.Minute)

	s.run(checkEvent("ev-1", "check.monitoring.attention", "complete", "attention", time.Now()))
	s.Equal(3, tries, "it waits for the screening to end")
	s.GreaterOrEqual(s.env.Now().Sub(start), 2*amendmentResultInterval)
	s.Equal([]string{"check.monitoring.attention (after the check finished: ComplyCube is asked for the check again)"}, s.details())
	// The Temporal UI shows what the amendment, running under the check's workflow id, does.
	s.Contains(waiting, "The check's outcome changed: deriving screening `screening-1`'s result again once the screening has concluded, every 10m")
	value, err := s.env.QueryWorkflow("__temporal_workflow_metadata")
	s.Contains(currentDetails(s.T(), value, err), "**Done**: the events after check `check-1` finished are recorded")
}

func (s *complyCubeAmendmentSuite) TestNoChangeLeavesTheScreeningAlone() {
	s.env.OnActivity(ccActivity(cc.AmendComplyCubeCheck), mock.Anything, mock.Anything).
		Return(activities.Amendment{}, nil).Once()

	s.run(checkEvent("ev-1", "check.completed.clear", "complete", "clear", time.Now()))
	s.Len(s.details(), 1)
}

func (s *complyCubeAmendmentSuite) TestOtherEventsAreRecordedOnly() {
	s.run(ComplyCubeEvent{EventID: "ev-1", Type: "client.updated", ResourceType: "client", ResourceID: "cl-1"})
	s.Equal([]string{"client.updated (after the check finished)"}, s.details())

	s.SetupTest()
	s.run(checkEvent("ev-2", "check.pending", "pending", "", time.Now()))
	s.Equal([]string{"check.pending (after the check finished)"}, s.details())
}

func (s *complyCubeAmendmentSuite) TestEventsThatComeWhileItWaitsAreTakenToo() {
	s.env.OnActivity(ccActivity(cc.AmendComplyCubeCheck), mock.Anything,
		activities.AmendCheckInput{CheckID: "check-1", Cause: "check.updated"}).
		Return(activities.Amendment{Changed: true, Outcome: "attention", Key: "k1"}, nil).Once()
	s.env.OnActivity(ccActivity(cc.AmendComplyCubeCheck), mock.Anything,
		activities.AmendCheckInput{CheckID: "check-1", Cause: "check.completed.clear"}).
		Return(activities.Amendment{Changed: true, Outcome: "clear", Key: "k2"}, nil).Once()
	ended := false
	var keys []string
	s.env.OnActivity(sa.RederiveScreeningResult, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ScreeningResultInput) error {
			keys = append(keys, in.DedupeKey)
			if !ended {
				return stillRunning
			}
			return nil
		})
	duplicate := checkEvent("ev-1", "check.updated", "complete", "attention", time.Now())
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(ComplyCubeEventSignal, duplicate)
		s.env.SignalWorkflow(ComplyCubeEventSignal, checkEvent("ev-2", "check.completed.clear", "complete", "clear", time.Now()))
	}, 25*time.Minute)
	s.env.RegisterDelayedCallback(func() { ended = true }, time.Hour)

	s.run(duplicate)
	s.Len(s.details(), 2, "the duplicate is taken once")
	s.Equal("screening.result:k2", keys[len(keys)-1], "the result is derived after the last change")
	s.Contains(keys, "screening.result:k1")
}
