package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"

	"github.com/screenflow/screenflow/workflows"
)

// recordHistoriesEnv names the folder where `make record-histories` has the end-to-end tests write
// the histories of the workflows they ran, for workflows/replay_test.go to replay on every test
// run. Unset, nothing is recorded.
const recordHistoriesEnv = "SCREENFLOW_RECORD_HISTORIES"

// recordHistories writes the history of the screening's workflow, of each of its checks' and of
// the other workflows named, as <name>.<workflow type>.json, once each has closed.
func (s *stack) recordHistories(t *testing.T, name string, scr screeningJSON, otherWorkflowIDs ...string) {
	t.Helper()
	dir := os.Getenv(recordHistoriesEnv)
	if dir == "" {
		return
	}
	ids := []string{workflows.ScreeningWorkflowID(scr.ID)}
	for _, c := range scr.Checks {
		ids = append(ids, workflows.CheckWorkflowID(scr.ID, c.Provider, c.ID))
	}
	ids = append(ids, otherWorkflowIDs...)
	for _, id := range ids {
		s.recordHistory(t, dir, name, id)
	}
}

func (s *stack) recordHistory(t *testing.T, dir, name, workflowID string) {
	t.Helper()
	ctx := context.Background()
	var workflowType string
	require.Eventually(t, func() bool {
		desc, err := s.temporal.DescribeWorkflowExecution(ctx, workflowID, "")
		if err != nil {
			return false
		}
		info := desc.GetWorkflowExecutionInfo()
		workflowType = info.GetType().GetName()
		// A long-lived workflow (an account's) is recorded as far as it has come.
		return info.GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING || workflowType == workflows.CheckrAccountWorkflowName
	}, 30*time.Second, 100*time.Millisecond, "%s closes", workflowID)
	// The last workflow task must have completed, or the replayer would see a history that ends
	// in the middle of one.
	time.Sleep(200 * time.Millisecond)
	history := &historypb.History{}
	iter := s.temporal.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		history.Events = append(history.Events, ev)
	}
	raw, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(history)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+"."+workflowType+".json"), append(raw, '\n'), 0o644))
}
