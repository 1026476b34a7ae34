package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/workflows"
)

// A worker whose Temporal answers but cannot serve it yet (here: its namespace is not registered)
// waits for it instead of exiting, and polls once it can.
func TestWorkerWaitsUntilTemporalCanServeIt(t *testing.T) {
	tmp := testenv.Temporal(t)
	_, dbURL := testenv.NewDBURL(t)
	namespace := "late-" + uuid.NewString()[:8]
	env := map[string]string{"DATABASE_URL": dbURL, "TEMPORAL_ADDRESS": tmp.Address, "TEMPORAL_NAMESPACE": namespace,
		"SCREENFLOW_ENCRYPTION_KEY": vault.NewKey()}
	cfg, err := loadConfig(func(name string) string { return env[name] })
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runWorker(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	select {
	case err := <-done:
		t.Fatalf("the worker exited while its namespace did not exist yet: %v", err)
	case <-time.After(2 * time.Second):
	}

	tc := testenv.NewTemporalClient(t)
	_, err = tc.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: namespace, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	require.NoError(t, err)
	nc, err := client.Dial(client.Options{HostPort: tmp.Address, Namespace: namespace})
	require.NoError(t, err)
	defer nc.Close()
	require.Eventually(t, func() bool {
		resp, err := nc.DescribeTaskQueue(ctx, workflows.TaskQueue, enums.TASK_QUEUE_TYPE_WORKFLOW)
		return err == nil && len(resp.GetPollers()) > 0
	}, time.Minute, 200*time.Millisecond, "the worker polls once the namespace exists")

	cancel()
	require.NoError(t, <-done)
}
