package worker_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/builtin"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/worker"
	"github.com/screenflow/screenflow/workflows"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// recordWithRetries writes a timeline entry under a retry policy that never gives up by itself.
func recordWithRetries(ctx workflow.Context, in activities.CheckEventInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 1},
	})
	var sa *activities.Screenings
	return workflow.ExecuteActivity(ctx, sa.RecordCheckEvent, in).Get(ctx, nil)
}

// A write Postgres will always refuse fails its activity for good at the first attempt, instead of
// being retried for as long as the policy allows.
func TestPoisonStoreWritesAreNotRetried(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	tc := testenv.NewTemporalClient(t)
	providers := builtin.Providers()
	require.NoError(t, providers.Configure(func(string) string { return "" }))
	w, err := worker.New(tc, providers, registry.Deps{Store: st})
	require.NoError(t, err)
	w.RegisterWorkflow(recordWithRetries)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	scr, _, err := st.CreateScreening(ctx, store.NewScreening{TenantID: tenant.ID,
		Candidate: store.Candidate{Reference: "emp-1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", DOB: "1990-12-10"},
		Checks:    []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}})
	require.NoError(t, err)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)

	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue,
		WorkflowExecutionTimeout: time.Minute}, recordWithRetries, activities.CheckEventInput{
		ScreeningID: scr.ID, CheckID: checks[0].ID,
		Timeline: activities.TimelineInput{DedupeKey: "poison", Kind: "provider.event", Detail: "NUL \x00 byte"}})
	require.NoError(t, err)
	err = run.Get(ctx, nil)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "got %v", err)
	require.Equal(t, activities.ErrTypeStoreRefused, appErr.Type())
	require.True(t, appErr.NonRetryable())

	var activityErr *temporal.ActivityError
	require.True(t, errors.As(err, &activityErr))
	desc, err := tc.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	require.NoError(t, err)
	require.Empty(t, desc.GetPendingActivities())
}
