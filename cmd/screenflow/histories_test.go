package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// recordHistoriesEnv names the folder where `make record-histories` has the end-to-end tests write
// the histories of the workflows they ran (one folder per release, under
// workflows/testdata/histories), for workflows/replay_test.go to replay on every test run. Unset,
// nothing is recorded.
const recordHistoriesEnv = "SCREENFLOW_RECORD_HISTORIES"

// recordHistories writes the history of the screening's workflow, of each of its checks' and of
// the other workflows named, as <name>.<workflow type>.json, once each has closed. A check's id
// may name an amendment workflow by then: both are written.
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
		s.recordHistory(t, dir, name, id, "")
	}
	_, screening := s.closedHistory(t, workflows.ScreeningWorkflowID(scr.ID), "")
	for _, run := range checkRuns(screening) {
		s.recordHistory(t, dir, name, run.GetWorkflowId(), run.GetRunId())
	}
}

// checkRuns are the check workflows a screening's history started.
func checkRuns(screening *historypb.History) []*commonpb.WorkflowExecution {
	var runs []*commonpb.WorkflowExecution
	for _, ev := range screening.Events {
		if started := ev.GetChildWorkflowExecutionStartedEventAttributes(); started != nil {
			runs = append(runs, started.GetWorkflowExecution())
		}
	}
	return runs
}

func (s *stack) recordHistory(t *testing.T, dir, name, workflowID, runID string) {
	t.Helper()
	workflowType, history := s.closedHistory(t, workflowID, runID)
	raw, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(history)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+"."+workflowType+".json"), append(raw, '\n'), 0o644))
}

// closedHistory waits for the workflow's run (runID, or "" for the latest) to close (an account's
// workflow, which runs for years, as far as it has come) and returns its type and whole history.
func (s *stack) closedHistory(t *testing.T, workflowID, runID string) (string, *historypb.History) {
	t.Helper()
	ctx := context.Background()
	var workflowType string
	require.Eventually(t, func() bool {
		desc, err := s.temporal.DescribeWorkflowExecution(ctx, workflowID, runID)
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
	iter := s.temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		history.Events = append(history.Events, ev)
	}
	return workflowType, history
}

// maxOneCheckHistoryEvents bounds the history of a screening with one check (the screening's
// workflow and its check's, every event of both): each event is stored and replayed by Temporal,
// so it is a cost per screening (issue 9).
const maxOneCheckHistoryEvents = 60

// historyEvents counts the events of a closed screening's workflow and of the check workflows it
// ran, by workflow type, and in all. Each check is read by the run its screening started: an event
// that comes after a check closed starts an amendment workflow under the same id.
func (s *stack) historyEvents(t *testing.T, scr screeningJSON) (map[string]int, int) {
	t.Helper()
	workflowType, screening := s.closedHistory(t, workflows.ScreeningWorkflowID(scr.ID), "")
	byType := map[string]int{workflowType: len(screening.Events)}
	total := len(screening.Events)
	for _, run := range checkRuns(screening) {
		workflowType, check := s.closedHistory(t, run.GetWorkflowId(), run.GetRunId())
		byType[workflowType] += len(check.Events)
		total += len(check.Events)
	}
	return byType, total
}

// TestEndToEndOneCheckScreeningHistories runs a screening with one check of each provider, as the
// fakes complete them, and holds the screening's history and its check's, together, to
// maxOneCheckHistoryEvents, whatever the provider. The webhooks a check workflow would only record
// (an Authenticate search in progress, a Checkr invitation created) reach the timeline through the
// relay and cost the history nothing. `make record-histories` records these histories too.
func TestEndToEndOneCheckScreeningHistories(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		checkrReportDelay: 300 * time.Millisecond, timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	for _, tc := range []struct {
		name  string
		check map[string]any
	}{
		{"complycube", map[string]any{"provider": "complycube", "type": "standard_screening_check"}},
		{"authenticate", map[string]any{"provider": "authenticate", "type": "criminal"}},
		{"authenticate-options", map[string]any{"provider": "authenticate", "type": "criminal",
			"options": map[string]any{"sex_offender": true, "pdf_report": true}}},
		{"checkr-report", map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "report"}},
		{"checkr-invitation", map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "invitation"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			created := s.createScreening(t, tc.check)
			if tc.check["mode"] == "invitation" {
				// The stack's fake candidate never completes an invitation by itself.
				checkID := s.checkStatus(t, created.ID, 0, store.StatusInProgress).Checks[0].ID
				var invitationID string
				require.Eventually(t, func() bool {
					invitationID = s.checkrCheckStatus(t, created.ID, checkID).InvitationID
					return invitationID != ""
				}, 30*time.Second, 100*time.Millisecond)
				require.NoError(t, s.checkr.CompleteInvitation(invitationID))
			}
			done := s.waitForStatus(t, created.ID, store.StatusCompleted, time.Minute)
			byType, total := s.historyEvents(t, done)
			t.Logf("%s: %d history events %v", tc.name, total, byType)
			s.recordHistories(t, "one-check-"+tc.name, done)
			require.LessOrEqual(t, total, maxOneCheckHistoryEvents, "history events of a one-check screening: %v", byType)
		})
	}
}
