package worker_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/worker"
	"github.com/screenflow/screenflow/workflows"
)

func loggingActivity(ctx context.Context) error {
	activity.GetLogger(ctx).Info("activity ran")
	return nil
}

func loggingWorkflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	workflow.GetLogger(ctx).Info("workflow ran")
	return workflow.ExecuteActivity(ctx, loggingActivity).Get(ctx, nil)
}

// The Temporal SDK names a workflow's id on every line about it or its activities; with LogIDs, a
// real worker's lines carry screenflow's ids too.
func TestTemporalLogLinesCarryTheScreeningAndCheckIDs(t *testing.T) {
	out := &testenv.JSONLog{}
	log := slog.New(worker.LogIDs(slog.NewJSONHandler(out, nil)))
	tc, err := client.Dial(client.Options{HostPort: testenv.Temporal(t).Address, Logger: tlog.NewStructuredLogger(log)})
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	queue := "log-ids-" + uuid.NewString()
	w := sdkworker.New(tc, queue, sdkworker.Options{})
	w.RegisterWorkflow(loggingWorkflow)
	w.RegisterActivity(loggingActivity)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	screeningID, checkID := uuid.NewString(), uuid.NewString()
	workflowID := workflows.CheckWorkflowID(screeningID, "complycube", checkID)
	run, err := tc.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: workflowID, TaskQueue: queue,
		WorkflowExecutionTimeout: time.Minute}, loggingWorkflow)
	require.NoError(t, err)
	require.NoError(t, run.Get(t.Context(), nil))

	for _, msg := range []string{"workflow ran", "activity ran"} {
		line := out.Line(t, msg)
		require.NotNil(t, line, "%q is logged", msg)
		require.Equal(t, workflowID, line["workflow_id"], "%s: %v", msg, line)
		require.Equal(t, screeningID, line["screening_id"], msg)
		require.Equal(t, checkID, line["check_id"], msg)
	}
}

func TestWorkflowLogIDs(t *testing.T) {
	for id, want := range map[string][]slog.Attr{
		"screening/s1":           {slog.String("workflow_id", "screening/s1"), slog.String("screening_id", "s1")},
		"screening/s1/checkr/c1": {slog.String("workflow_id", "screening/s1/checkr/c1"), slog.String("screening_id", "s1"), slog.String("check_id", "c1")},
		"checkr-account/a1":      {slog.String("workflow_id", "checkr-account/a1")},
		"erasure/candidate-1":    {slog.String("workflow_id", "erasure/candidate-1")},
	} {
		require.Equal(t, want, worker.WorkflowLogIDs(id), id)
	}
}
