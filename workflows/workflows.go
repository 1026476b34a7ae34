// Package workflows holds screenflow's Temporal workflows: one per file, with its Input/Result
// types and its signal and query names. Workflows carry ids only; PII stays in Postgres.
package workflows

import (
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

// TaskQueue is the one task queue screenflow's workers poll.
const TaskQueue = "screenflow"

// QueryStatus is the query every screenflow workflow answers with its current state.
const QueryStatus = "status"

// Custom search attributes, registered on the Temporal server, for operators to filter by.
var (
	SearchAttrScreeningStatus = temporal.NewSearchAttributeKeyKeyword("ScreeningStatus")
	SearchAttrTenantID        = temporal.NewSearchAttributeKeyKeyword("TenantId")
	// SearchAttrProvider lists the providers a screening runs checks with, or a check's one
	// provider: `Provider = 'checkr'` finds both.
	SearchAttrProvider = temporal.NewSearchAttributeKeyKeywordList("Provider")
	// SearchAttrCandidateID lists our own ids of candidate rows: a screening's one, an erasure's
	// every row. Never the HR platform's reference, which is candidate data: visibility is not
	// encrypted by the payload codec, and it outlives an erasure.
	SearchAttrCandidateID = temporal.NewSearchAttributeKeyKeywordList("CandidateId")
)

// SearchAttributeTypes lists the custom search attributes and their types, for registering them.
var SearchAttributeTypes = map[string]string{
	"ScreeningStatus": "Keyword",
	"TenantId":        "Keyword",
	"Provider":        "KeywordList",
	"CandidateId":     "KeywordList",
}

// ScreeningWorkflowID is the workflow id of a screening: our own id, never PII.
func ScreeningWorkflowID(screeningID string) string { return "screening/" + screeningID }

// CheckWorkflowID is the workflow id of one provider check of a screening.
func CheckWorkflowID(screeningID, provider, checkID string) string {
	return "screening/" + screeningID + "/" + provider + "/" + checkID
}

// ParseWorkflowID reads the ids that a screening's or a check's workflow id names
// (ScreeningWorkflowID, CheckWorkflowID); provider and checkID are empty for a screening's. ok is
// false for any other id.
func ParseWorkflowID(workflowID string) (screeningID, provider, checkID string, ok bool) {
	parts := strings.Split(workflowID, "/")
	if len(parts) < 2 || parts[0] != "screening" || parts[1] == "" {
		return "", "", "", false
	}
	switch {
	case len(parts) == 2:
		return parts[1], "", "", true
	case len(parts) == 4 && parts[2] != "" && parts[3] != "":
		return parts[1], parts[2], parts[3], true
	}
	return "", "", "", false
}

// Timing says how long a check waits for a webhook before it polls the provider, and how often
// it polls then. It travels in workflow input so that a workflow replays with the values it
// started with.
type Timing struct {
	WebhookDeadline time.Duration
	PollInterval    time.Duration
}

// DefaultTiming: providers usually answer within hours; a day without a webhook means it was lost.
var DefaultTiming = Timing{WebhookDeadline: 24 * time.Hour, PollInterval: time.Hour}

func (t Timing) withDefaults() Timing {
	if t.WebhookDeadline <= 0 {
		t.WebhookDeadline = DefaultTiming.WebhookDeadline
	}
	if t.PollInterval <= 0 {
		t.PollInterval = DefaultTiming.PollInterval
	}
	return t
}

// storeActivityOptions are for writes to our own Postgres: quick, and retried while Postgres is
// down, for up to a day. What Postgres refuses for good fails at once (activities.StoreError).
func storeActivityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy:            storeRetryPolicy(),
	})
}

// fewerEventsChange names the change that cut the history of a screening and its checks: writes
// to Postgres run as local activities (storeWrite), and provider calls made in a row run as one
// activity (activities/steps.go). Workflows started before it replay with the steps they ran.
// ComplyCubeCheckWorkflow takes it as version 2 of complyCubeEventsChange, which costs its history
// no new marker.
const fewerEventsChange = "fewer-history-events"

// Versions of fewerEventsChange.
const (
	// fewerEventsVersion: Postgres writes as local activities, provider calls in a row as one.
	fewerEventsVersion workflow.Version = 1
	// eventsBypassVersion: events a check workflow would only record do not reach it; the relay
	// writes them to the timeline instead (registry.Signal.Informational), and the entries of the
	// events the relay can tell alone (registry.Signal.Note) too, so the workflow records neither;
	// more provider calls in a row run as one activity; a screening started in progress does not
	// say so again. A version of fewerEventsChange rather than a change of its own: a new change
	// costs every history a marker and a search attribute upsert, two of the events it saves.
	eventsBypassVersion workflow.Version = 2
)

// historyVersion is the version of fewerEventsChange the workflow runs.
func historyVersion(ctx workflow.Context) workflow.Version {
	return workflow.GetVersion(ctx, fewerEventsChange, workflow.DefaultVersion, eventsBypassVersion)
}

// storeWrite runs a write to our own Postgres. With local (fewerEventsChange) it runs as a local
// activity: in the workflow task that asked for it, recorded as one marker, where an activity adds
// three events and the workflow task that takes its result. Its failure semantics fit these writes:
// they are short and idempotent (status updates, timeline entries under a dedupe key), a local
// activity is retried with the same policy (past the workflow task timeout, behind a timer), and
// one whose worker dies is run again with the workflow task.
func storeWrite(ctx workflow.Context, local bool, activity, input any) workflow.Future {
	if local {
		return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout:    30 * time.Second,
			ScheduleToCloseTimeout: 24 * time.Hour,
			RetryPolicy:            storeRetryPolicy(),
		}), activity, input)
	}
	return workflow.ExecuteActivity(storeActivityOptions(ctx), activity, input)
}

// storeRetryPolicy retries writes to Postgres while it is down.
func storeRetryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute}
}

// providerActivityOptions are for provider calls: 5xx and transport errors are retried for up to a
// day with back-off; answers the provider will repeat (4xx) are non-retryable errors.
func providerActivityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Minute,
		},
	})
}

// CheckInput starts the workflow of one provider check of a screening: every provider's check
// workflow takes it, so that the screening starts any of them the same way.
type CheckInput struct {
	ScreeningID string
	CheckID     string
	TenantID    string
	Type        string
	// Options are the check's options as the provider validated and stored them (JSON); each
	// provider's workflow reads its own.
	Options   json.RawMessage
	AccountID string // the provider account the check runs on, when the provider has several
	Timing    Timing
}

// CheckResult is what every provider check workflow returns to its screening.
type CheckResult struct {
	CheckID       string
	Status        store.Status // completed, failed or canceled
	Outcome       string       // the provider's outcome when completed, e.g. clear
	FailureReason string
	Documents     []activities.DocumentRef
}

// failureReason is the message shown to the HR platform when a step fails for good: the
// application error's own message, without the SDK's wrapping.
func failureReason(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return "timed out: " + timeoutErr.Error()
	}
	return err.Error()
}

// providerActivity names a provider's activity as registry.Register registers it: under the
// provider's prefix, so that two providers' CreateCheck can never clash. method is a method value
// such as (*activities.ComplyCube).CreateClient on a nil receiver.
func providerActivity(provider string, method any) string {
	name := runtime.FuncForPC(reflect.ValueOf(method).Pointer()).Name()
	name = strings.TrimSuffix(name[strings.LastIndex(name, ".")+1:], "-fm")
	return registry.ActivityPrefix(provider) + name
}
