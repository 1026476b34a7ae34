package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// checkrDelivered waits until the inbox has delivered the fake's latest event of that type.
func (s *stack) checkrDelivered(t *testing.T, eventType string) {
	t.Helper()
	require.Eventually(t, func() bool {
		id := ""
		for _, d := range s.checkr.Deliveries() {
			if d.Type == eventType {
				id = d.EventID
			}
		}
		st, err := s.db.WebhookEventStatus(context.Background(), checkr.Name, id)
		return err == nil && st.Status == store.InboxDelivered
	}, time.Minute, 100*time.Millisecond, "%s is delivered, not discarded", eventType)
}

// terminateAtCleanup terminates a workflow left running, so that the next test's worker does not
// pick it up.
func (s *stack) terminateAtCleanup(t *testing.T, workflowID string) {
	t.Cleanup(func() { _ = s.temporal.TerminateWorkflow(context.Background(), workflowID, "", "test over") })
}

func (s *stack) checkrCheckStatus(t *testing.T, screeningID, checkID string) workflows.CheckrCheckStatus {
	t.Helper()
	res, err := s.temporal.QueryWorkflow(context.Background(), workflows.CheckWorkflowID(screeningID, checkr.Name, checkID), "", workflows.QueryStatus)
	require.NoError(t, err)
	var st workflows.CheckrCheckStatus
	require.NoError(t, res.Get(&st))
	return st
}

func timelineKinds(scr screeningJSON) []string {
	var kinds []string
	for _, e := range scr.Timeline {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

// Temporal was down at the OAuth callback, or the account's workflow stopped: its checks still run
// (they subscribe in Postgres), and token.deauthorized starts the workflow again instead of being
// discarded, so that the account ends deauthorized and its check canceled.
func TestEndToEndCheckrDeauthorizedWhileTheAccountWorkflowIsNotRunning(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		checkrReportDelay: -1, timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	ctx := context.Background()
	account, _ := s.connectCheckr(t, nil)
	accountWorkflow := workflows.CheckrAccountWorkflowID(account)
	s.terminateAtCleanup(t, accountWorkflow)
	require.NoError(t, s.checkr.Credential(account))
	require.Eventually(t, func() bool {
		acct, err := s.db.CheckrAccount(ctx, account)
		return err == nil && acct.Status == store.CheckrCredentialed
	}, 30*time.Second, 100*time.Millisecond)

	require.NoError(t, s.temporal.TerminateWorkflow(ctx, accountWorkflow, "", "as if it had stopped"))
	created := s.createScreening(t, map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "report", "account": account})
	s.providerCheckID(t, s.checkStatus(t, created.ID, 0, store.StatusInProgress).Checks[0].ID)

	// The account holder disconnects screenflow in Checkr's dashboard: only the webhook tells us.
	require.NoError(t, s.checkr.RevokeAccess(account))
	s.checkrDelivered(t, "token.deauthorized")
	done := s.waitForStatus(t, created.ID, store.StatusCanceled, time.Minute)
	require.Contains(t, done.Checks[0].FailureReason, "deauthorized")
	acct, err := s.db.CheckrAccount(ctx, account)
	require.NoError(t, err)
	require.Equal(t, store.CheckrDeauthorized, acct.Status)
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, accountWorkflow, "")
	require.NoError(t, err)
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.WorkflowExecutionInfo.Status, "the event started the account's workflow")
	s.assertNoPIIInHistory(t, done)
	s.recordHistories(t, "checkr-deauthorized-revived", done, accountWorkflow)
}

// invitation.completed is lost, and so are the report's first events: past the deadline the check
// polls the invitation, adopts its report, and completes.
func TestEndToEndCheckrLostInvitationCompletedIsFoundByPolling(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		checkrReportDelay: -1, timing: workflows.Timing{WebhookDeadline: 2 * time.Second, PollInterval: 500 * time.Millisecond}})
	created := s.createScreening(t, map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "invitation"})
	checkID := s.checkStatus(t, created.ID, 0, store.StatusInProgress).Checks[0].ID
	var invitationID string
	require.Eventually(t, func() bool {
		invitationID = s.checkrCheckStatus(t, created.ID, checkID).InvitationID
		return invitationID != ""
	}, 30*time.Second, 100*time.Millisecond)

	s.checkr.DropWebhooks(checkr.EventInvitationCompleted, checkr.EventReportCreated, checkr.EventReportUpdated)
	require.NoError(t, s.checkr.CompleteInvitation(invitationID))
	reportID := s.providerCheckID(t, checkID)
	require.True(t, s.activityCompleted(t, workflows.CheckWorkflowID(created.ID, checkr.Name, checkID), "checkr.PollCheckrInvitation"),
		"the report was found by polling the invitation")

	s.checkr.DropWebhooks()
	require.NoError(t, s.checkr.CompleteReport(reportID))
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, time.Minute)
	require.Equal(t, "clear", done.Checks[0].Outcome)
	require.Len(t, done.Documents, 1)
	require.Contains(t, timelineKinds(done), "check.report_found")
	s.assertNoPIIInHistory(t, done)
	s.recordHistories(t, "checkr-invitation-polled", done)
}

// Checkr asks the candidate for an ID: the check is action_required (HR API, timeline, Temporal
// visibility) until the report moves on. After the check has completed, the report is upgraded with
// a new result and document: the event is delivered, not discarded, and amends the check, its
// screening's result and documents.
func TestEndToEndCheckrActionRequiredThenAnUpgradeAfterCompletion(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		checkrReportDelay: -1, timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	ctx := context.Background()
	created := s.createScreening(t, map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "report"})
	checkID := s.checkStatus(t, created.ID, 0, store.StatusInProgress).Checks[0].ID
	reportID := s.providerCheckID(t, checkID)
	check, err := s.db.Check(ctx, checkID)
	require.NoError(t, err)
	require.NotNil(t, check.ProviderClientID)

	require.NoError(t, s.checkr.RequireCandidateID(*check.ProviderClientID))
	waiting := s.checkStatus(t, created.ID, 0, store.StatusActionRequired)
	require.Contains(t, timelineKinds(waiting), "check.action_required")
	tenant, err := s.db.TenantByAPIKey(ctx, s.apiKey)
	require.NoError(t, err)
	query := fmt.Sprintf("ScreeningStatus = 'action_required' AND TenantId = '%s'", tenant.ID)
	require.Eventually(t, func() bool {
		resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.Executions) == 1 &&
			resp.Executions[0].Execution.WorkflowId == workflows.CheckWorkflowID(created.ID, checkr.Name, checkID)
	}, 30*time.Second, 250*time.Millisecond, "operators find the check waiting for the candidate")

	require.NoError(t, s.checkr.CompleteReport(reportID))
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, time.Minute)
	require.Equal(t, "clear", done.Result)
	require.Len(t, done.Documents, 1)
	s.assertNoPIIInHistory(t, done)
	s.recordHistories(t, "checkr-action-required", done)

	s.checkr.SetResult(checkr.ResultConsider)
	require.NoError(t, s.checkr.UpgradeReport(reportID))
	s.checkrDelivered(t, checkr.EventReportUpgraded)
	var amended screeningJSON
	require.Eventually(t, func() bool {
		amended = s.screening(t, created.ID)
		return amended.Result == "consider" && len(amended.Documents) == 2
	}, time.Minute, 200*time.Millisecond, "the upgrade amends the result and adds the upgraded report")
	require.Equal(t, store.StatusCompleted, amended.Status)
	require.Equal(t, "consider", amended.Checks[0].Outcome)
	require.Subset(t, timelineKinds(amended), []string{"check.amended", "screening.result_changed", "check.report_read"})
	for _, doc := range amended.Documents {
		_, pdf := s.request(t, http.MethodGet, doc.URL, nil)
		served, ok := s.checkr.DocumentPDF(doc.Kind[strings.LastIndex(doc.Kind, "_")+1:])
		require.True(t, ok, doc.Kind)
		require.Equal(t, served, pdf, "each report byte-identical to what the fake served")
	}
	s.assertNoPIIInHistory(t, amended)
	s.recordHistories(t, "checkr-upgraded-after-completion", amended)
}
