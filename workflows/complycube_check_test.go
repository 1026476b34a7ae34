package workflows

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/activity"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

var (
	cc *activities.ComplyCube
	sa *activities.Screenings
)

type complyCubeCheckSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	// The test suite runs activities on goroutines of their own, some at once.
	mu       sync.Mutex
	recorded []activities.CheckEventInput
	updates  []activities.CheckUpdateInput
	// reportOutcomes are the outcomes StoreReport was told to complete the check with.
	reportOutcomes []string
}

func TestComplyCubeCheckWorkflow(t *testing.T) { suite.Run(t, new(complyCubeCheckSuite)) }

var testTiming = Timing{WebhookDeadline: 24 * time.Hour, PollInterval: time.Hour}

// quietLogger keeps the test suite's debug chatter out of test output.
var quietLogger = tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

func (s *complyCubeCheckSuite) SetupTest() {
	s.SetLogger(quietLogger)
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflow(ComplyCubeCheckWorkflow)
	s.env.RegisterActivityWithOptions(cc, activity.RegisterOptions{Name: registry.ActivityPrefix(complycube.Name)})
	s.env.RegisterActivity(sa)
	s.recorded, s.updates, s.reportOutcomes = nil, nil, nil
	s.env.OnActivity(sa.RecordCheckEvent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckEventInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.recorded = append(s.recorded, in)
			return nil
		}).Maybe()
	s.env.OnActivity(sa.UpdateCheck, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckUpdateInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.updates = append(s.updates, in)
			return nil
		})
}

func (s *complyCubeCheckSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

// mockProviderCalls mocks the calls of a check that ComplyCube accepts.
func (s *complyCubeCheckSuite) mockProviderCalls() {
	s.env.OnActivity(ccActivity(cc.OpenComplyCubeCheck), mock.Anything, mock.Anything).
		Return(activities.ProviderCheck{ID: "cc-check-1", Status: "pending"}, nil).Once()
}

// mockProviderCallsInSteps mocks the calls of a check started before fewerEventsChange: the
// client and the check, each its own activity.
func (s *complyCubeCheckSuite) mockProviderCallsInSteps() {
	s.env.OnActivity(ccActivity(cc.CreateClient), mock.Anything, mock.Anything).Return("client-1", nil).Once()
	s.env.OnActivity(ccActivity(cc.CreateCheck), mock.Anything, mock.Anything).
		Return(activities.ProviderCheck{ID: "cc-check-1", Status: "pending"}, nil).Once()
}

func (s *complyCubeCheckSuite) mockReport() {
	s.env.OnActivity(ccActivity(cc.StoreReport), mock.Anything, mock.MatchedBy(func(in activities.StoreReportInput) bool {
		return in.CheckID == "check-1" && in.ProviderCheckID == "cc-check-1"
	})).Return(func(_ context.Context, in activities.StoreReportInput) (activities.DocumentRef, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.reportOutcomes = append(s.reportOutcomes, in.Outcome)
		return activities.DocumentRef{DocumentID: "doc-1", SHA256: "abc", Size: 42}, nil
	}).Once()
}

func checkEvent(id, typ, status, outcome string, at time.Time) ComplyCubeEvent {
	return ComplyCubeEvent{EventID: id, Type: typ, ResourceType: "check", ResourceID: "cc-check-1",
		Status: status, Outcome: outcome, OccurredAt: at}
}

func (s *complyCubeCheckSuite) signalAt(delay time.Duration, events ...ComplyCubeEvent) {
	s.env.RegisterDelayedCallback(func() {
		for _, ev := range events {
			s.env.SignalWorkflow(ComplyCubeEventSignal, ev)
		}
	}, delay)
}

func (s *complyCubeCheckSuite) run() CheckResult {
	s.env.ExecuteWorkflow(ComplyCubeCheckWorkflow, CheckInput{
		ScreeningID: "screening-1", CheckID: "check-1", Type: "standard_screening_check", Timing: testTiming,
	})
	s.Require().True(s.env.IsWorkflowCompleted())
	var r CheckResult
	if err := s.env.GetWorkflowResult(&r); err != nil {
		s.T().Logf("workflow error: %v", err)
	}
	return r
}

func (s *complyCubeCheckSuite) lastUpdate() activities.CheckUpdateInput {
	s.Require().NotEmpty(s.updates)
	return s.updates[len(s.updates)-1]
}

func (s *complyCubeCheckSuite) TestHappyPath() {
	s.mockProviderCalls()
	s.mockReport()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	s.signalAt(time.Minute, checkEvent("ev-1", "check.pending", "pending", "", t0))
	s.signalAt(3*time.Hour, checkEvent("ev-2", "check.completed.clear", "complete", "clear", t0.Add(3*time.Hour)))

	r := s.run()
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal("clear", r.Outcome)
	s.Equal([]activities.DocumentRef{{DocumentID: "doc-1", SHA256: "abc", Size: 42}}, r.Documents)
	s.Len(s.updates, 1, "OpenComplyCubeCheck showed the check in progress; the workflow writes its end")
	s.Equal(store.StatusCompleted, s.lastUpdate().Status)
	s.Equal("clear", s.lastUpdate().Outcome)
	s.Equal([]string{"clear"}, s.reportOutcomes, "the report's activity completes the check with the outcome it ends with")
	s.Len(s.recorded, 2, "each event is recorded in the timeline")
}

func (s *complyCubeCheckSuite) TestDuplicateEventsHaveOneEffect() {
	s.mockProviderCalls()
	s.mockReport() // .Once(): a duplicate completion must not fetch the report again
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	done := checkEvent("ev-done", "check.completed.clear", "complete", "clear", at)
	s.signalAt(time.Hour, done, done, checkEvent("ev-generic", "check.completed", "complete", "clear", at), done)

	r := s.run()
	s.Equal(store.StatusCompleted, r.Status)
	s.Len(s.recorded, 2, "the duplicate ev-done is dropped; the generic completion is recorded once")
	completions := 0
	for _, u := range s.updates {
		if u.Status == store.StatusCompleted {
			completions++
		}
	}
	s.Equal(1, completions)
}

func (s *complyCubeCheckSuite) TestOutOfOrderEvents() {
	s.mockProviderCalls()
	s.mockReport()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	// The completion overtakes the earlier updates; they arrive afterwards and change nothing.
	s.signalAt(time.Hour,
		checkEvent("ev-3", "check.updated", "pending", "", t0.Add(2*time.Minute)),
		checkEvent("ev-2", "check.updated", "pending", "", t0.Add(time.Minute)),
	)
	s.env.RegisterDelayedCallback(func() {
		res, err := s.env.QueryWorkflow(QueryStatus)
		s.Require().NoError(err)
		var st ComplyCubeCheckStatus
		s.Require().NoError(res.Get(&st))
		s.Equal(stageAwaitingResult, st.Stage)
		s.Equal(2, st.EventsReceived)
	}, 90*time.Minute)
	s.signalAt(2*time.Hour,
		checkEvent("ev-4", "check.completed.attention", "complete", "", t0.Add(time.Hour)),
		checkEvent("ev-1", "check.pending", "pending", "", t0),
	)

	r := s.run()
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal("attention", r.Outcome, "the outcome is read from the event type when the payload has none")
	s.Equal([]string{"attention"}, s.reportOutcomes)
	details := map[string]string{}
	for _, e := range s.recorded {
		details[e.Timeline.DedupeKey] = e.Timeline.Detail
	}
	s.Contains(details["complycube:ev-2"], "older than an update already applied")
	s.Contains(details["complycube:ev-1"], "already finished")
}

func (s *complyCubeCheckSuite) TestNoWebhookPollsUntilComplete() {
	s.mockProviderCalls()
	s.mockReport()
	pending := temporal.NewApplicationError("check is still pending", activities.ErrTypeNotReady)
	polls := 0
	s.env.OnActivity(ccActivity(cc.PollComplyCubeCheck), mock.Anything, "cc-check-1").Return(
		func(_ context.Context, _ string) (activities.ProviderCheck, error) {
			polls++
			if polls < 3 {
				return activities.ProviderCheck{}, pending
			}
			return activities.ProviderCheck{ID: "cc-check-1", Status: "complete", Outcome: "clear"}, nil
		})
	start := s.env.Now()

	r := s.run()
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal("clear", r.Outcome)
	s.Equal(3, polls)
	s.GreaterOrEqual(s.env.Now().Sub(start), testTiming.WebhookDeadline+2*testTiming.PollInterval,
		"polling starts at the deadline and repeats every poll interval")
	var kinds []string
	for _, e := range s.recorded {
		kinds = append(kinds, e.Timeline.Kind)
	}
	s.Contains(kinds, "check.polling")
}

func (s *complyCubeCheckSuite) TestWebhookDuringPollingEndsThePolling() {
	s.mockProviderCalls()
	s.mockReport()
	s.env.OnActivity(ccActivity(cc.PollComplyCubeCheck), mock.Anything, "cc-check-1").
		Return(activities.ProviderCheck{}, temporal.NewApplicationError("check is still pending", activities.ErrTypeNotReady))
	s.signalAt(testTiming.WebhookDeadline+90*time.Minute,
		checkEvent("ev-late", "check.completed.clear", "complete", "clear", time.Now()))

	r := s.run()
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal("clear", r.Outcome)
}

func (s *complyCubeCheckSuite) TestCheckFailedAtProvider() {
	s.mockProviderCalls()
	s.signalAt(time.Hour, checkEvent("ev-f", "check.failed", "failed", "", time.Now()))

	r := s.run()
	s.Equal(store.StatusFailed, r.Status)
	s.Contains(r.FailureReason, "failed")
	s.Equal(store.StatusFailed, s.lastUpdate().Status)
}

func (s *complyCubeCheckSuite) TestCancellation() {
	s.mockProviderCalls()
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Hour)

	s.env.ExecuteWorkflow(ComplyCubeCheckWorkflow, CheckInput{
		ScreeningID: "screening-1", CheckID: "check-1", Type: "standard_screening_check", Timing: testTiming,
	})
	s.Require().True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	var canceled *temporal.CanceledError
	s.True(errors.As(err, &canceled), "got %v", err)
	s.Equal(store.StatusCanceled, s.lastUpdate().Status)
}

func (s *complyCubeCheckSuite) TestProviderServerErrorIsRetried() {
	s.env.OnActivity(ccActivity(cc.OpenComplyCubeCheck), mock.Anything, mock.Anything).
		Return(activities.ProviderCheck{}, errors.New("complycube: create check: 503 service unavailable")).Twice()
	s.env.OnActivity(ccActivity(cc.OpenComplyCubeCheck), mock.Anything, mock.Anything).
		Return(activities.ProviderCheck{ID: "cc-check-1", Status: "pending"}, nil).Once()
	s.mockReport()
	s.signalAt(time.Hour, checkEvent("ev-1", "check.completed.clear", "complete", "clear", time.Now()))

	r := s.run()
	s.Equal(store.StatusCompleted, r.Status)
}

func (s *complyCubeCheckSuite) TestProviderClientErrorIsNotRetried() {
	s.env.OnActivity(ccActivity(cc.OpenComplyCubeCheck), mock.Anything, mock.Anything).Return(activities.ProviderCheck{},
		temporal.NewNonRetryableApplicationError("could not create the ComplyCube client: complycube: create client: 400 email is invalid",
			"ProviderRejected", nil)).Once()

	r := s.run()
	s.Equal(store.StatusFailed, r.Status)
	s.Equal("could not create the ComplyCube client: complycube: create client: 400 email is invalid", r.FailureReason)
	s.Equal(store.StatusFailed, s.lastUpdate().Status)
}

func TestFailureReasonUnwrapsApplicationErrors(t *testing.T) {
	err := temporal.NewNonRetryableApplicationError("complycube: get check: 404 not found", "ProviderRejected", nil)
	require.Equal(t, "complycube: get check: 404 not found", failureReason(err))
	require.Equal(t, "plain", failureReason(errors.New("plain")))
}

// TestCheckUpdatedWithATerminalStatusEndsTheWait: a check.updated that says complete (with an
// outcome) or failed finishes the check as the completion events do. Before, it only changed the
// provider status, and the check waited for the deadline.
func (s *complyCubeCheckSuite) TestCheckUpdatedWithATerminalStatusEndsTheWait() {
	s.mockProviderCalls()
	s.mockReport()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	s.signalAt(time.Hour, checkEvent("ev-1", "check.updated", "complete", "", t0)) // no outcome: not an end
	s.signalAt(2*time.Hour, checkEvent("ev-2", "check.updated", "complete", "attention", t0.Add(time.Hour)))
	start := s.env.Now()

	r := s.run()
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal("attention", r.Outcome)
	s.Less(s.env.Now().Sub(start), testTiming.WebhookDeadline, "ended by the event, not by polling")
}

func (s *complyCubeCheckSuite) TestCheckUpdatedFailedEndsTheWait() {
	s.mockProviderCalls()
	s.signalAt(time.Hour, checkEvent("ev-1", "check.updated", "failed", "", time.Now()))

	r := s.run()
	s.Equal(store.StatusFailed, r.Status)
	s.Contains(r.FailureReason, "failed")
}

// TestWorkflowsStartedBeforeTheChangeKeepTheirBehaviour: a history recorded before
// complyCubeEventsChange replays as it ran, where check.updated did not end the wait.
func (s *complyCubeCheckSuite) TestWorkflowsStartedBeforeTheChangeKeepTheirBehaviour() {
	s.env.OnGetVersion(complyCubeEventsChange, workflow.DefaultVersion, complyCubeFewerEvents).Return(workflow.DefaultVersion)
	s.mockProviderCallsInSteps()
	s.mockReport()
	s.signalAt(time.Hour, checkEvent("ev-1", "check.updated", "complete", "attention", time.Now()))
	s.signalAt(2*time.Hour, checkEvent("ev-2", "check.completed.clear", "complete", "clear", time.Now()))

	r := s.run()
	s.Equal("clear", r.Outcome, "the check.updated only changed the provider status")
}

// TestEventAfterTheFinishThatSaysOtherwiseIsFollowedUp: a later event with another outcome, or a
// monitoring hit, while the report is being stored, makes the check read ComplyCube again before
// it returns; it returns what ComplyCube says now, with both reports. A repeat of the same outcome
// does not.
func (s *complyCubeCheckSuite) TestEventAfterTheFinishThatSaysOtherwiseIsFollowedUp() {
	for _, late := range []ComplyCubeEvent{
		checkEvent("ev-late", "check.updated", "complete", "attention", time.Now()),
		checkEvent("ev-late", "check.completed.rejected", "complete", "rejected", time.Now()),
		checkEvent("ev-late", "check.monitoring.attention", "complete", "attention", time.Now()),
	} {
		s.Run(late.Type, func() {
			s.SetupTest()
			s.mockProviderCalls()
			s.mockReport()
			s.env.OnActivity(ccActivity(cc.AmendComplyCubeCheck), mock.Anything,
				activities.AmendCheckInput{CheckID: "check-1", Cause: late.Type}).
				Return(activities.Amendment{Changed: true, Outcome: "attention", Key: "k1",
					Document: &activities.DocumentRef{DocumentID: "doc-2", SHA256: "def", Size: 43}}, nil).Once()
			at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
			s.signalAt(time.Hour,
				checkEvent("ev-done", "check.completed.clear", "complete", "clear", at),
				checkEvent("ev-same", "check.completed", "complete", "clear", at),
				late)

			r := s.run()
			s.Equal(store.StatusCompleted, r.Status)
			s.Equal("attention", r.Outcome, "the screening concludes on what ComplyCube says now")
			s.Equal([]activities.DocumentRef{{DocumentID: "doc-1", SHA256: "abc", Size: 42},
				{DocumentID: "doc-2", SHA256: "def", Size: 43}}, r.Documents)
			s.env.AssertExpectations(s.T())
		})
	}
}

func (s *complyCubeCheckSuite) TestFollowUpThatFailsKeepsTheCompletedCheck() {
	s.mockProviderCalls()
	s.mockReport()
	s.env.OnActivity(ccActivity(cc.AmendComplyCubeCheck), mock.Anything, mock.Anything).Return(activities.Amendment{},
		temporal.NewNonRetryableApplicationError("complycube: GET /checks/x: HTTP 404", activities.ErrTypeProviderRejected, nil)).Once()
	s.signalAt(time.Hour,
		checkEvent("ev-done", "check.completed.clear", "complete", "clear", time.Now()),
		checkEvent("ev-late", "check.monitoring.attention", "complete", "attention", time.Now()))

	r := s.run()
	s.Equal(store.StatusCompleted, r.Status)
	s.Equal("clear", r.Outcome)
	var details []string
	for _, e := range s.recorded {
		details = append(details, e.Timeline.Kind+": "+e.Timeline.Detail)
	}
	s.Contains(details, "check.follow_up_failed: could not read the check again from ComplyCube after later events: complycube: GET /checks/x: HTTP 404")
}
