package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/screenflow/screenflow/codec"
	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// candidatePII is what the test's candidate is known by, none of which the Temporal UI may show.
var candidatePII = []string{"emp-42", "Ada", candidateLastName, candidateEmail, candidateDOB, "Analytical Row"}

// currentDetails reads a workflow's current details as the Temporal UI does, through the
// metadata query; "" while the workflow has not started.
func (s *stack) currentDetails(workflowID, runID string) (string, error) {
	res, err := s.temporal.QueryWorkflow(context.Background(), workflowID, runID, "__temporal_workflow_metadata")
	if err != nil {
		return "", err
	}
	var metadata sdkpb.WorkflowMetadata
	if err := res.Get(&metadata); err != nil {
		return "", err
	}
	return metadata.GetCurrentDetails(), nil
}

// eventuallyShows waits until the current details of the workflow's run (the latest when runID is
// empty) contain want, and returns them.
func (s *stack) eventuallyShows(t *testing.T, workflowID, runID, want string, within time.Duration) string {
	t.Helper()
	var details string
	var err error
	require.Eventually(t, func() bool {
		details, err = s.currentDetails(workflowID, runID)
		return strings.Contains(details, want)
	}, within, 100*time.Millisecond, "%s never showed %q; last: %q (%v)", workflowID, want, details, err)
	return details
}

// describe reads a workflow's static summary and details as the Temporal UI does.
func (s *stack) describe(t *testing.T, workflowID string) (summary, details string) {
	t.Helper()
	d, err := s.temporal.DescribeWorkflow(context.Background(), workflowID, "")
	require.NoError(t, err)
	summary, err = d.GetStaticSummary()
	require.NoError(t, err)
	details, err = d.GetStaticDetails()
	require.NoError(t, err)
	return summary, details
}

// listed returns the ids of the workflows a visibility query finds, sorted as Temporal lists them.
func (s *stack) listed(t *testing.T, query string) []string {
	t.Helper()
	resp, err := s.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
	require.NoError(t, err)
	var ids []string
	for _, e := range resp.Executions {
		ids = append(ids, e.Execution.WorkflowId)
	}
	return ids
}

// historySummaries are the summaries of the timers and activities in a workflow's history,
// decoded as the UI decodes them (through the codec server).
func (s *stack) historySummaries(t *testing.T, workflowID, runID string) (timers, activities []string) {
	t.Helper()
	dc := codec.DataConverter(s.cfg.PayloadCodec)
	iter := s.temporal.GetWorkflowHistory(context.Background(), workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		payload := ev.GetUserMetadata().GetSummary()
		if payload == nil {
			continue
		}
		var summary string
		require.NoError(t, dc.FromPayload(payload, &summary))
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_TIMER_STARTED:
			timers = append(timers, summary)
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			activities = append(activities, summary)
		}
	}
	return timers, activities
}

func requireNoPII(t *testing.T, what, text string) {
	t.Helper()
	for _, pii := range candidatePII {
		require.NotContains(t, text, pii, "%s shows the candidate's data", what)
	}
}

// The Temporal UI explains a screening on the real stack: the screening and its checks carry a
// static summary and details, show their progress as current details (waiting for the webhook,
// then polling, then done), name their timers and activities, and are found by provider and
// candidate; nothing of it is the candidate's reference, name, e-mail, date of birth or address.
func TestEndToEndTemporalUIExplainsAScreening(t *testing.T) {
	tmp := testenv.Temporal(t)
	// ComplyCube's check stays pending until the test completes it: it waits out the webhook
	// deadline, then polls.
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: time.Hour,
		timing: workflows.Timing{WebhookDeadline: 8 * time.Second, PollInterval: time.Second}})

	created := s.createScreening(t,
		map[string]any{"provider": "complycube", "type": "standard_screening_check"},
		map[string]any{"provider": "authenticate", "type": "criminal"})
	tenant, err := s.db.TenantByAPIKey(context.Background(), s.apiKey)
	require.NoError(t, err)
	scr, err := s.db.Screening(context.Background(), tenant.ID, created.ID)
	require.NoError(t, err)
	candidateID := scr.CandidateID
	screeningWF := workflows.ScreeningWorkflowID(created.ID)
	ccWF := workflows.CheckWorkflowID(created.ID, "complycube", created.Checks[0].ID)
	authWF := workflows.CheckWorkflowID(created.ID, "authenticate", created.Checks[1].ID)

	waiting := s.eventuallyShows(t, ccWF, "", "Waiting for the `check.completed` webhook since ", 8*time.Second)
	require.Contains(t, waiting, "polling ComplyCube from ")
	providerCheckID := s.providerCheckID(t, created.Checks[0].ID)
	polling := s.eventuallyShows(t, ccWF, "", "Polling ComplyCube for check "+providerCheckID+" every 1s since ", 30*time.Second)
	screeningProgress := s.eventuallyShows(t, screeningWF, "", "- authenticate criminal: **completed** (clear)", time.Minute)
	require.Contains(t, screeningProgress, "**in_progress**: 1 of 2 checks finished")
	require.Contains(t, screeningProgress, "- complycube standard_screening_check: **in_progress**")

	summary, details := s.describe(t, screeningWF)
	require.Equal(t, "Screening: complycube standard_screening_check, authenticate criminal · candidate "+candidateID, summary)
	require.Contains(t, details, "| complycube | standard_screening_check | `"+ccWF+"` |")
	require.Contains(t, details, "| authenticate | criminal | `"+authWF+"` |")
	ccSummary, ccDetails := s.describe(t, ccWF)
	require.Equal(t, "complycube check: standard_screening_check · candidate "+candidateID, ccSummary)
	require.Equal(t, fmt.Sprintf("Check `%s` of screening `%s` · tenant `%s`", created.Checks[0].ID, screeningWF, tenant.ID), ccDetails)
	authSummary, authDetails := s.describe(t, authWF)
	require.Equal(t, "authenticate check: criminal · candidate "+candidateID, authSummary)

	// Operators filter by provider and candidate: the screening has both providers, each check its own.
	for query, want := range map[string][]string{
		fmt.Sprintf("Provider = 'complycube' AND CandidateId = '%s'", candidateID):   {screeningWF, ccWF},
		fmt.Sprintf("Provider = 'authenticate' AND CandidateId = '%s'", candidateID): {screeningWF, authWF},
		fmt.Sprintf("Provider IN ('checkr') AND CandidateId = '%s'", candidateID):    nil,
	} {
		require.Eventually(t, func() bool {
			return sameIDs(want, s.listed(t, query))
		}, 30*time.Second, 250*time.Millisecond, "%s: want %v, got %v", query, want, s.listed(t, query))
	}

	// ComplyCube sends check.completed twice (plain and with its outcome): one that arrives after
	// the check's workflow closed starts an amendment under the same workflow id, so what follows
	// reads the check's own run.
	ccDesc, err := s.temporal.DescribeWorkflowExecution(context.Background(), ccWF, "")
	require.NoError(t, err)
	ccRun := ccDesc.WorkflowExecutionInfo.Execution.RunId
	require.NoError(t, s.fake.CompleteCheck(providerCheckID, "clear"))
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, time.Minute)
	require.Equal(t, "clear", done.Result)
	finalProgress := s.eventuallyShows(t, screeningWF, "", "**completed** (clear): 2 of 2 checks finished", 30*time.Second)
	ccFinal := s.eventuallyShows(t, ccWF, ccRun, "**Completed**: outcome clear; report stored", 30*time.Second)

	timers, activities := s.historySummaries(t, ccWF, ccRun)
	require.Contains(t, timers, "webhook deadline: then poll ComplyCube")
	require.Contains(t, activities, "create the ComplyCube client and standard_screening_check check")
	require.Contains(t, activities, "poll ComplyCube for check "+providerCheckID+" every 1s")
	require.Contains(t, activities, "download and store the ComplyCube PDF report")
	_, authActivities := s.historySummaries(t, authWF, "")
	require.Contains(t, authActivities, "create the Authenticate user, record consent, order the searches")

	for what, text := range map[string]string{
		"the screening's summary": summary, "the screening's details": details, "the screening's progress": screeningProgress,
		"the screening's final progress": finalProgress, "the check's summary": ccSummary, "the check's details": ccDetails,
		"the check's wait": waiting, "the check's polling": polling, "the check's end": ccFinal,
		"the Authenticate check's summary": authSummary, "the Authenticate check's details": authDetails,
		"the activities' summaries": strings.Join(append(activities, authActivities...), "\n"),
	} {
		requireNoPII(t, what, text)
	}
	s.assertNoPIIInHistory(t, done)

	// Erased on request, the candidate's screening leads to its erasure: CandidateId finds both.
	status, raw := s.request(t, http.MethodDelete, "/v1/candidates/emp-42", nil)
	require.Equal(t, http.StatusAccepted, status, string(raw))
	erasureWF := workflows.ErasureWorkflowID(candidateID)
	require.Eventually(t, func() bool {
		return sameIDs([]string{screeningWF, ccWF, authWF, erasureWF}, s.listed(t, fmt.Sprintf("CandidateId = '%s'", candidateID)))
	}, 30*time.Second, 250*time.Millisecond, "CandidateId finds the screening, its checks and its erasure")
	erasureSummary, erasureDetails := s.describe(t, erasureWF)
	require.Equal(t, "Erasure of candidate "+candidateID+" (1 row(s)): requested through DELETE /v1/candidates", erasureSummary)
	require.Contains(t, erasureDetails, "Candidate rows: `"+candidateID+"`")
	requireNoPII(t, "the erasure's summary", erasureSummary)
	requireNoPII(t, "the erasure's details", erasureDetails)
}

// sameIDs reports whether got holds exactly the ids of want, in any order.
func sameIDs(want, got []string) bool {
	want, got = slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(got))
	return slices.Equal(want, got)
}
