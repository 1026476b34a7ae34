package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/store"
)

// What the Temporal UI shows of a workflow: a static summary and details set when it starts, and
// current details it updates as it goes (markdown). Ids, providers, check types and times only:
// never the candidate's reference, name, e-mail or date of birth. None of it is a command, so none
// of it changes what a history replays.

// providers are the distinct providers of the screening's checks, in the order they were ordered.
func (in ScreeningInput) providers() []string {
	var out []string
	for _, c := range in.Checks {
		if !slices.Contains(out, c.Provider) {
			out = append(out, c.Provider)
		}
	}
	return out
}

// screeningSummary is one line: the checks ordered and the candidate's id.
func screeningSummary(in ScreeningInput) string {
	checks := make([]string, len(in.Checks))
	for i, c := range in.Checks {
		checks[i] = c.Provider + " " + c.Type
	}
	return "Screening: " + strings.Join(checks, ", ") + candidateSuffix(in.CandidateID)
}

// screeningDetails lists the screening's checks with the ids of their workflows.
func screeningDetails(in ScreeningInput) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tenant `%s`", in.TenantID)
	if in.CandidateID != "" {
		fmt.Fprintf(&b, " · candidate `%s`", in.CandidateID)
	}
	b.WriteString("\n\n| provider | check type | check workflow |\n|---|---|---|\n")
	for _, c := range in.Checks {
		fmt.Fprintf(&b, "| %s | %s | `%s` |\n", c.Provider, c.Type, CheckWorkflowID(in.ScreeningID, c.Provider, c.CheckID))
	}
	return b.String()
}

// checkSummary is one line: the check's provider and type, and the candidate's id.
func checkSummary(in ScreeningInput, c CheckRef) string {
	return c.Provider + " check: " + c.Type + candidateSuffix(in.CandidateID)
}

// checkDetails names the check's screening and, for Checkr, the account it runs on.
func checkDetails(in ScreeningInput, c CheckRef) string {
	details := fmt.Sprintf("Check `%s` of screening `%s` · tenant `%s`", c.CheckID, ScreeningWorkflowID(in.ScreeningID), in.TenantID)
	if c.AccountID != "" {
		details += fmt.Sprintf(" · account `%s`", c.AccountID)
	}
	return details
}

func candidateSuffix(candidateID string) string {
	if candidateID == "" {
		return ""
	}
	return " · candidate " + candidateID
}

// showScreeningProgress sets the screening's current details: its status and a line per check.
func showScreeningProgress(ctx workflow.Context, s ScreeningStatus) {
	finished := 0
	for _, c := range s.Checks {
		if store.IsTerminal(c.Status) {
			finished++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**", s.Status)
	if s.Result != "" {
		fmt.Fprintf(&b, " (%s)", s.Result)
	}
	fmt.Fprintf(&b, ": %d of %d checks finished, as of %s\n\n", finished, len(s.Checks), uiTime(workflow.Now(ctx)))
	for _, c := range s.Checks {
		fmt.Fprintf(&b, "- %s %s: **%s**", c.Provider, c.Type, c.Status)
		if c.Outcome != "" {
			fmt.Fprintf(&b, " (%s)", c.Outcome)
		}
		if c.FailureReason != "" {
			fmt.Fprintf(&b, ": %s", c.FailureReason)
		}
		b.WriteString("\n")
	}
	workflow.SetCurrentDetails(ctx, b.String())
}

// showStep sets a check's current details: what it does now (markdown), and since when.
func showStep(ctx workflow.Context, step string) {
	workflow.SetCurrentDetails(ctx, step+" · since "+uiTime(workflow.Now(ctx)))
}

// awaitView says, for the UI, what a check waits for and whom it polls past the deadline.
type awaitView struct {
	provider string // as operators know it, e.g. ComplyCube
	awaited  string // what ends the wait, in markdown, e.g. the `check.completed` webhook
	polled   string // what the poll reads, e.g. the check
}

// showWaiting says what the check waits for, since when, and when it will poll instead.
func (v awaitView) showWaiting(ctx workflow.Context, deadline time.Duration) {
	now := workflow.Now(ctx)
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Waiting for %s since %s; polling %s from %s if it has not come",
		v.awaited, uiTime(now), v.provider, uiTime(now.Add(deadline))))
}

// showPolling says that the check polls the provider, how often and since when.
func (v awaitView) showPolling(ctx workflow.Context, interval time.Duration) {
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Polling %s for %s every %s since %s, still listening for %s",
		v.provider, v.polled, uiDuration(interval), uiTime(workflow.Now(ctx)), v.awaited))
}

// awaitDeadline waits until cond holds or timeout passes, as workflow.AwaitWithTimeout does, with
// the same one timer named by deadlineSummary; it reports whether cond held.
func (v awaitView) awaitDeadline(ctx workflow.Context, timeout time.Duration, cond func() bool) (bool, error) {
	return workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: timeout,
		TimerOptions: workflow.TimerOptions{Summary: v.deadlineSummary()}}, cond)
}

// deadlineSummary names the timer of the webhook deadline.
func (v awaitView) deadlineSummary() string {
	return "webhook deadline: then poll " + v.provider
}

// pollSummary names the polling activity.
func (v awaitView) pollSummary(interval time.Duration) string {
	return pollSummary(v.provider, v.polled, interval)
}

// pollSummary names an activity that polls provider for what every interval.
func pollSummary(provider, what string, interval time.Duration) string {
	return fmt.Sprintf("poll %s for %s every %s", provider, what, uiDuration(interval))
}

// uiDuration writes 1h rather than 1h0m0s.
func uiDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func uiTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// withSummary names the activities run with ctx in the UI, beyond their type.
func withSummary(ctx workflow.Context, summary string) workflow.Context {
	options := workflow.GetActivityOptions(ctx)
	options.Summary = summary
	return workflow.WithActivityOptions(ctx, options)
}
