package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

var ea *activities.Erasure

type erasureSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu    sync.Mutex
	steps []string // the activities that ran, in order
}

func TestErasureWorkflow(t *testing.T) { suite.Run(t, new(erasureSuite)) }

// erasureScope is a candidate stored under one reference twice: a screening with a ComplyCube
// and an Authenticate check, and one with a ComplyCube and a Checkr check.
var erasureScope = activities.ErasureScope{
	ScreeningIDs: []string{"s1", "s2"},
	Checks: []activities.ErasureCheck{
		{ScreeningID: "s1", CheckID: "c1", Provider: complycube.Name},
		{ScreeningID: "s1", CheckID: "c2", Provider: "authenticate"},
		{ScreeningID: "s2", CheckID: "c3", Provider: complycube.Name},
		{ScreeningID: "s2", CheckID: "c4", Provider: checkr.Name},
	},
}

var erasureInput = ErasureInput{TenantID: "tenant-1", KeyID: "key-1", CandidateIDs: []string{"cand-1", "cand-2"}}

func (s *erasureSuite) SetupTest() {
	s.SetLogger(quietLogger)
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflowWithOptions(ErasureWorkflow, workflow.RegisterOptions{Name: ErasureWorkflowName})
	s.env.RegisterActivity(ea)
	s.env.RegisterActivityWithOptions(cc, activity.RegisterOptions{Name: registry.ActivityPrefix(complycube.Name)})
	s.env.RegisterActivityWithOptions(ck, activity.RegisterOptions{Name: registry.ActivityPrefix(checkr.Name)})
	s.steps = nil
	s.env.OnActivity(ea.CandidateScope, mock.Anything, erasureInput.CandidateIDs).Return(erasureScope, nil).Once()
	s.env.OnActivity(ea.CancelWorkflows, mock.Anything, activities.CancelWorkflowsInput{
		ScreeningIDs: []string{"s1", "s2"},
		WorkflowIDs: []string{"screening/s1", "screening/s2", "screening/s1/complycube/c1",
			"screening/s1/authenticate/c2", "screening/s2/complycube/c3", "screening/s2/checkr/c4"},
	}).Return(func(context.Context, activities.CancelWorkflowsInput) error {
		s.step("cancel")
		return nil
	}).Once()
}

func (s *erasureSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

func (s *erasureSuite) step(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, name)
}

// closedAfter makes AwaitWorkflowsClosed find a workflow still running polls times, then none.
func (s *erasureSuite) closedAfter(polls int) {
	s.env.OnActivity(ea.AwaitWorkflowsClosed, mock.Anything, mock.Anything).Return(
		func(context.Context, []string) error {
			if polls > 0 {
				polls--
				s.step("still running")
				return temporal.NewApplicationError("workflow screening/s1 is still running", activities.ErrTypeNotReady)
			}
			s.step("closed")
			return nil
		})
}

// deletes answers each ComplyCube DeleteClient and Checkr RemoveCandidatePII with the next error
// of its check (nil once they are used up).
func (s *erasureSuite) deletes(errs map[string][]error) {
	answer := func(_ context.Context, in activities.ProviderCopyInput) error {
		s.step("delete " + in.CheckID)
		if left := errs[in.CheckID]; len(left) > 0 {
			errs[in.CheckID] = left[1:]
			return left[0]
		}
		return nil
	}
	s.env.OnActivity(ccActivity(cc.DeleteClient), mock.Anything, mock.Anything).Return(answer)
	s.env.OnActivity(checkrActivity(ck.RemoveCandidatePII), mock.Anything, mock.Anything).Return(answer)
}

func (s *erasureSuite) erases() {
	s.env.OnActivity(ea.EraseCandidates, mock.Anything, store.Erasure{TenantID: "tenant-1", KeyID: "key-1",
		CandidateIDs: []string{"cand-1", "cand-2"}}).Return(
		func(context.Context, store.Erasure) (store.Erased, error) {
			s.step("erase")
			return store.Erased{CandidateIDs: []string{"cand-1", "cand-2"}, ScreeningIDs: []string{"s1", "s2"}}, nil
		}).Once()
}

func (s *erasureSuite) result() ErasureResult {
	s.Require().True(s.env.IsWorkflowCompleted())
	var r ErasureResult
	s.Require().NoError(s.env.GetWorkflowResult(&r))
	return r
}

func (s *erasureSuite) TestCancelsThenWaitsThenAsksTheProvidersThenErases() {
	s.closedAfter(2)
	s.deletes(nil)
	s.erases()
	s.env.ExecuteWorkflow(ErasureWorkflowName, erasureInput)

	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal([]string{"cancel", "still running", "still running", "closed", "delete c1", "delete c3", "delete c4", "erase"},
		s.steps, "nothing is deleted or erased while a workflow of the candidate can still write")
	r := s.result()
	s.Equal([]string{"cand-1", "cand-2"}, r.CandidateIDs)
	s.Equal([]string{"s1", "s2"}, r.ScreeningIDs)
	s.Equal([]ProviderDeletion{{Provider: complycube.Name, CheckID: "c1"}, {Provider: complycube.Name, CheckID: "c3"},
		{Provider: checkr.Name, CheckID: "c4"}},
		r.ProviderDeletions, "Authenticate has no API to delete with, so it is not asked")
}

func (s *erasureSuite) TestAProviderDeleteThatFailsIsRetried() {
	s.closedAfter(0)
	s.deletes(map[string][]error{"c1": {
		temporal.NewApplicationError("ComplyCube did not complete DELETE /clients/x (HTTP 503)", activities.ErrTypeProviderUnavailable),
		temporal.NewApplicationError("ComplyCube did not complete DELETE /clients/x (timeout)", activities.ErrTypeProviderUnavailable),
	}})
	s.erases()
	s.env.ExecuteWorkflow(ErasureWorkflowName, erasureInput)

	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal([]string{"cancel", "closed", "delete c1", "delete c1", "delete c1", "delete c3", "delete c4", "erase"}, s.steps)
	for _, d := range s.result().ProviderDeletions {
		s.Empty(d.FailureReason)
	}
}

func (s *erasureSuite) TestAProviderRefusalStillErasesHereAndFailsForOperators() {
	s.closedAfter(0)
	s.deletes(map[string][]error{"c3": {temporal.NewNonRetryableApplicationError(
		"ComplyCube refused DELETE /clients/x (HTTP 403, code: unauthorized)", activities.ErrTypeProviderRejected, nil)}})
	s.erases()
	s.env.ExecuteWorkflow(ErasureWorkflowName, erasureInput)

	s.Equal([]string{"cancel", "closed", "delete c1", "delete c3", "delete c4", "erase"}, s.steps,
		"the data held here is erased whatever the provider answered")
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &appErr))
	s.Equal(ErrTypeProviderCopyKept, appErr.Type())
	s.Contains(appErr.Error(), "complycube (check c3): ComplyCube refused DELETE /clients/x (HTTP 403, code: unauthorized)")
}

func (s *erasureSuite) TestCheckrIsRetriedAndItsRefusalKeptForOperatorsLikeComplyCubes() {
	s.closedAfter(0)
	s.deletes(map[string][]error{
		"c3": {temporal.NewNonRetryableApplicationError(
			"ComplyCube refused DELETE /clients/x (HTTP 403, code: unauthorized)", activities.ErrTypeProviderRejected, nil)},
		"c4": {
			temporal.NewApplicationError("Checkr did not complete DELETE /v1/candidates/x/pii (HTTP 503)", activities.ErrTypeProviderUnavailable),
			temporal.NewNonRetryableApplicationError("the Checkr account acct-1 is deauthorized; reconnect it",
				activities.ErrTypeAccountDeauthorized, nil),
		},
	})
	s.erases()
	s.env.ExecuteWorkflow(ErasureWorkflowName, erasureInput)

	s.Equal([]string{"cancel", "closed", "delete c1", "delete c3", "delete c4", "delete c4", "erase"}, s.steps)
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &appErr))
	s.Equal(ErrTypeProviderCopyKept, appErr.Type())
	s.Contains(appErr.Error(), "complycube (check c3): ComplyCube refused DELETE /clients/x (HTTP 403, code: unauthorized); "+
		"checkr (check c4): the Checkr account acct-1 is deauthorized; reconnect it")
}
