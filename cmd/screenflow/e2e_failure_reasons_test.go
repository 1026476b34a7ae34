package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// echoedCandidate is what a provider refusing the candidate might write back in its error body.
const echoedCandidate = "Ada " + candidateLastName + " <" + candidateEmail + ">, born " + candidateDOB + " (10-12-1990)"

// Providers refuse the candidate with error bodies that quote the candidate's name, e-mail address
// and date of birth. Each check fails with a reason in our words that carries the call, the HTTP
// status and the provider's code, and nothing the provider wrote: in the HR API, in the timeline
// and in every failure the check workflows' histories hold.
func TestEndToEndFailureReasonsCarryNoProviderEchoedText(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: -1,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	s.fake.FailAPIWithBody(1, http.StatusUnprocessableEntity,
		[]byte(`{"type":"validation_error","message":"Client `+echoedCandidate+` is invalid"}`))
	s.auth.FailAPIWithBody(1, http.StatusBadRequest,
		[]byte(`{"code":"invalid_user","errorMessage":"User `+echoedCandidate+` is invalid"}`))

	created := s.createScreening(t,
		map[string]any{"provider": "complycube", "type": "standard_screening_check"},
		map[string]any{"provider": "authenticate", "type": "criminal"})
	var scr screeningJSON
	require.Eventually(t, func() bool {
		scr = s.screening(t, created.ID)
		return scr.Checks[0].Status == store.StatusFailed && scr.Checks[1].Status == store.StatusFailed
	}, 2*time.Minute, 200*time.Millisecond, "both checks fail")

	want := map[string]string{
		"complycube": "could not create the ComplyCube client: ComplyCube refused GET /clients (HTTP 422, code: validation_error)",
		"authenticate": "could not create the Authenticate user: " +
			"Authenticate refused POST /user/create (HTTP 400, code: invalid_user)",
	}
	timeline := s.timeline(t, created.ID)
	for _, c := range scr.Checks {
		require.Equal(t, want[c.Provider], c.FailureReason, c.Provider)
		require.Contains(t, timeline, "check.failed: "+want[c.Provider])
	}
	requireNoCandidateData(t, "the HR API's screening", strings.Join([]string{scr.Checks[0].FailureReason,
		scr.Checks[1].FailureReason, timeline}, "\n"))

	for _, c := range scr.Checks {
		failures := s.historyFailures(t, workflows.CheckWorkflowID(created.ID, c.Provider, c.ID))
		require.NotEmpty(t, failures, "the refused activity's failure is in %s's history", c.Provider)
		all := strings.Join(failures, "\n")
		require.Contains(t, all, want[c.Provider])
		requireNoCandidateData(t, c.Provider+"'s history", all)
	}
	s.assertNoPIIInHistory(t, scr)
}

// historyFailures returns the message of every failure in a workflow's history, causes included.
func (s *stack) historyFailures(t *testing.T, workflowID string) []string {
	t.Helper()
	var messages []string
	add := func(f *failurepb.Failure) {
		for ; f != nil; f = f.GetCause() {
			messages = append(messages, f.GetMessage())
		}
	}
	iter := s.temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		add(ev.GetActivityTaskFailedEventAttributes().GetFailure())
		add(ev.GetActivityTaskStartedEventAttributes().GetLastFailure())
		add(ev.GetActivityTaskTimedOutEventAttributes().GetFailure())
		add(ev.GetWorkflowTaskFailedEventAttributes().GetFailure())
		add(ev.GetWorkflowExecutionFailedEventAttributes().GetFailure())
		add(ev.GetChildWorkflowExecutionFailedEventAttributes().GetFailure())
	}
	return messages
}

func requireNoCandidateData(t *testing.T, where, text string) {
	t.Helper()
	for _, pii := range []string{"Ada", candidateLastName, candidateEmail, candidateDOB, "10-12-1990"} {
		require.NotContains(t, text, pii, "%s quotes the candidate", where)
	}
}
