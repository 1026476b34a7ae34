package workflows

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/store"
)

// purgeEnv runs PurgeWorkflow with its activities mocked and a stand-in erasure workflow that
// records what it was started with and keeps running for an hour, as one calling providers does.
type purgeEnv struct {
	env      *testsuite.TestWorkflowEnvironment
	mu       sync.Mutex
	erasures map[string]ErasureInput // by workflow id
}

var pa *activities.Purge

func newPurgeEnv(t *testing.T) *purgeEnv {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger)
	p := &purgeEnv{env: ts.NewTestWorkflowEnvironment(), erasures: map[string]ErasureInput{}}
	p.env.RegisterWorkflowWithOptions(PurgeWorkflow, workflow.RegisterOptions{Name: PurgeWorkflowName})
	p.env.RegisterActivity(pa)
	p.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in ErasureInput) (ErasureResult, error) {
		p.mu.Lock()
		p.erasures[workflow.GetInfo(ctx).WorkflowExecution.ID] = in
		p.mu.Unlock()
		return ErasureResult{CandidateIDs: in.CandidateIDs}, workflow.Sleep(ctx, time.Hour)
	}, workflow.RegisterOptions{Name: ErasureWorkflowName})
	return p
}

func (p *purgeEnv) run(t *testing.T, in PurgeInput) PurgeResult {
	t.Helper()
	p.env.ExecuteWorkflow(PurgeWorkflowName, in)
	require.True(t, p.env.IsWorkflowCompleted())
	require.NoError(t, p.env.GetWorkflowError())
	var result PurgeResult
	require.NoError(t, p.env.GetWorkflowResult(&result))
	return result
}

// noExpiredCandidates makes the candidate step find nothing.
func (p *purgeEnv) noExpiredCandidates() {
	p.env.OnActivity(pa.ExpiredCandidates, mock.Anything, mock.Anything).Return([]store.ExpiredCandidate{}, nil)
}

var testPurge = PurgeInput{InboxBodyRetention: 30 * 24 * time.Hour, ScreeningRetention: 365 * 24 * time.Hour,
	InboxBatchSize: 100, CandidateBatchSize: 2, MaxBatches: 4}

func TestPurgeEmptiesInboxBodiesUntilABatchIsNotFull(t *testing.T) {
	p := newPurgeEnv(t)
	purged := []int{100, 100, 7}
	calls := 0
	p.env.OnActivity(pa.PurgeInboxBodies, mock.Anything, activities.PurgeInboxBodiesInput{
		Retention: testPurge.InboxBodyRetention, BatchSize: 100,
	}).Return(func(context.Context, activities.PurgeInboxBodiesInput) (int, error) {
		calls++
		return purged[calls-1], nil
	})
	p.noExpiredCandidates()

	result := p.run(t, testPurge)
	require.Equal(t, 3, calls)
	require.Equal(t, PurgeResult{InboxBodiesPurged: 207}, result)
}

func TestPurgeStopsAtItsBoundAndSaysMoreIsLeft(t *testing.T) {
	p := newPurgeEnv(t)
	calls := 0
	p.env.OnActivity(pa.PurgeInboxBodies, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.PurgeInboxBodiesInput) (int, error) {
			calls++
			return 100, nil
		})
	p.noExpiredCandidates()

	result := p.run(t, testPurge)
	require.Equal(t, testPurge.MaxBatches, calls)
	require.Equal(t, PurgeResult{InboxBodiesPurged: 400, More: true}, result)
}

func TestPurgeStartsAnErasurePerExpiredCandidateByTheRetentionKey(t *testing.T) {
	p := newPurgeEnv(t)
	p.env.OnActivity(pa.PurgeInboxBodies, mock.Anything, mock.Anything).Return(0, nil)
	pages := map[string][]store.ExpiredCandidate{
		"":       {{ID: "cand-1", TenantID: "tenant-a"}, {ID: "cand-2", TenantID: "tenant-b"}},
		"cand-2": {{ID: "cand-3", TenantID: "tenant-a"}},
	}
	var asked []activities.ExpiredCandidatesInput
	p.env.OnActivity(pa.ExpiredCandidates, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ExpiredCandidatesInput) ([]store.ExpiredCandidate, error) {
			asked = append(asked, in)
			return pages[in.After], nil
		})

	result := p.run(t, testPurge)
	require.Equal(t, PurgeResult{ErasuresStarted: 3}, result)
	require.Equal(t, []activities.ExpiredCandidatesInput{
		{DefaultRetention: testPurge.ScreeningRetention, After: "", Limit: 2},
		{DefaultRetention: testPurge.ScreeningRetention, After: "cand-2", Limit: 2},
	}, asked)
	require.Equal(t, map[string]ErasureInput{
		ErasureWorkflowID("cand-1"): {TenantID: "tenant-a", KeyID: PurgeKeyID, CandidateIDs: []string{"cand-1"}},
		ErasureWorkflowID("cand-2"): {TenantID: "tenant-b", KeyID: PurgeKeyID, CandidateIDs: []string{"cand-2"}},
		ErasureWorkflowID("cand-3"): {TenantID: "tenant-a", KeyID: PurgeKeyID, CandidateIDs: []string{"cand-3"}},
	}, p.erasures, "one erasure per candidate, under the id a DELETE of it takes, audited as the retention's")
}

func TestPurgeCountsAnErasureAlreadyRunningAndGoesOn(t *testing.T) {
	p := newPurgeEnv(t)
	p.env.OnActivity(pa.PurgeInboxBodies, mock.Anything, mock.Anything).Return(0, nil)
	// The second page names again a candidate whose erasure runs since the first: as when DELETE
	// started it under the same id.
	pages := map[string][]store.ExpiredCandidate{
		"":       {{ID: "cand-1", TenantID: "tenant-a"}, {ID: "cand-2", TenantID: "tenant-a"}},
		"cand-2": {{ID: "cand-1", TenantID: "tenant-a"}, {ID: "cand-4", TenantID: "tenant-a"}},
		"cand-4": {},
	}
	p.env.OnActivity(pa.ExpiredCandidates, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ExpiredCandidatesInput) ([]store.ExpiredCandidate, error) {
			return pages[in.After], nil
		})

	result := p.run(t, testPurge)
	require.Equal(t, PurgeResult{ErasuresStarted: 3, ErasuresRunning: 1}, result)
	require.Len(t, p.erasures, 3)
}

func TestPurgeWithoutARetentionSkipsItsStep(t *testing.T) {
	p := newPurgeEnv(t)
	// No activity is mocked: calling one would fail the run.
	result := p.run(t, PurgeInput{})
	require.Equal(t, PurgeResult{}, result)
	require.Empty(t, p.erasures)
}

func TestPurgeRunsUpToItsBoundOfErasures(t *testing.T) {
	p := newPurgeEnv(t)
	p.env.OnActivity(pa.PurgeInboxBodies, mock.Anything, mock.Anything).Return(0, nil)
	page := 0
	p.env.OnActivity(pa.ExpiredCandidates, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.ExpiredCandidatesInput) ([]store.ExpiredCandidate, error) {
			page++
			return []store.ExpiredCandidate{
				{ID: fmt.Sprintf("cand-%d-a", page), TenantID: "t"}, {ID: fmt.Sprintf("cand-%d-b", page), TenantID: "t"}}, nil
		})

	result := p.run(t, testPurge)
	require.Equal(t, PurgeResult{ErasuresStarted: 2 * testPurge.MaxBatches, More: true}, result)
}
