package relay_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/relay"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

func TestRelayLogsADeliveryWithItsIDs(t *testing.T) {
	h := newRelayHarness(t, relay.Config{})
	out := &testenv.JSONLog{}
	rl := relay.New(h.st, h.tc, testTranslators, relay.Config{},
		slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx := context.Background()
	screeningID, checkID := uuid.NewString(), uuid.NewString()
	workflowID := workflows.CheckWorkflowID(screeningID, "test", checkID)
	run, err := h.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflowID, TaskQueue: h.queue,
		WorkflowExecutionTimeout: time.Minute}, collectSignals, 1)
	require.NoError(t, err)
	require.NoError(t, h.st.AddRoute(ctx, "test", "thing:logged", workflowID))
	eventID, rowID := h.store(t, "thing:logged", "logged")

	rl.SweepOnce(ctx)
	require.NoError(t, run.Get(ctx, nil))
	require.Equal(t, store.InboxDelivered, h.status(t, eventID).Status)

	delivered := out.Line(t, "relay: event delivered")
	require.NotNil(t, delivered, "the delivery is logged")
	require.Equal(t, eventID, delivered["event_id"])
	require.EqualValues(t, rowID, delivered["inbox_event"])
	require.Equal(t, workflowID, delivered["workflow_id"])
	require.Equal(t, screeningID, delivered["screening_id"])
	require.Equal(t, checkID, delivered["check_id"])
	require.Equal(t, "test", delivered["provider"])
}
