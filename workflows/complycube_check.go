package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
)

// ComplyCubeEventSignal carries a ComplyCubeEvent from the relay to the check workflow its
// subject routes to.
const ComplyCubeEventSignal = "complycube-event"

// ComplyCubeEvent is the PII-free digest of a ComplyCube webhook, as the relay signals it.
type ComplyCubeEvent = complycube.Summary

// ComplyCubeCheckWorkflowName is the type name the worker registers ComplyCubeCheckWorkflow under.
const ComplyCubeCheckWorkflowName = "ComplyCubeCheckWorkflow"

// ComplyCubeCheckStatus answers QueryStatus.
type ComplyCubeCheckStatus struct {
	Stage           string // see the stage* constants
	ProviderCheckID string
	ProviderStatus  string
	Outcome         string
	EventsReceived  int
}

// Stages of a ComplyCube check, as the status query shows them.
const (
	stageCreatingClient = "creating_client"
	stageCreatingCheck  = "creating_check"
	stageAwaitingResult = "awaiting_result"
	stagePolling        = "polling"
	stageFetchingReport = "fetching_report"
)

// complyCubeEventsChange names the change that made every ComplyCube event count: check.updated
// with a terminal status ends the wait, and an event after the finish that says something else is
// followed up. Workflows started before it replay with the behaviour they ran with.
const complyCubeEventsChange = "complycube-every-event-counts"

// complyCubeFewerEvents is the version of complyCubeEventsChange that also takes fewerEventsChange:
// the client and the check are created in one activity, and Postgres is written through local
// activities.
const complyCubeFewerEvents = 2

// ComplyCubeCheckWorkflow drives one ComplyCube check: create the client and the check, wait for
// the completion webhook (or poll past the deadline), store the PDF report and write the outcome.
// Events that come after the finish and say something else make it read the check again before it
// returns its result; those that come after it closed go to ComplyCubeAmendmentWorkflow.
func ComplyCubeCheckWorkflow(ctx workflow.Context, in CheckInput) (CheckResult, error) {
	w := &complyCubeCheck{
		checkBase:  checkBase{screeningID: in.ScreeningID, checkID: in.CheckID},
		in:         in,
		timing:     in.Timing.withDefaults(),
		workflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		seen:       map[string]bool{},
	}
	version := workflow.GetVersion(ctx, complyCubeEventsChange, workflow.DefaultVersion, complyCubeFewerEvents)
	w.revised = version >= 1
	w.localWrites = version >= complyCubeFewerEvents
	w.status.Stage = stageCreatingClient
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (ComplyCubeCheckStatus, error) {
		return w.status, nil
	}); err != nil {
		return CheckResult{}, err
	}
	workflow.Go(ctx, w.receiveEvents)
	return runCheck(ctx, &w.checkBase, w.run)
}

type complyCubeCheck struct {
	checkBase
	in         CheckInput
	timing     Timing
	workflowID string
	status     ComplyCubeCheckStatus

	seen       map[string]bool // event ids already handled: providers deliver at least once
	lastUpdate time.Time       // provider time of the newest non-terminal update, to drop stale ones
	finished   bool            // ComplyCube said the check is complete or failed
	failed     bool
	revised    bool // started with complyCubeEventsChange
	// askAgain is the type of an event after the finish that says something else than what the
	// check finished with, not followed up yet; "" when there is none.
	askAgain string
}

func (w *complyCubeCheck) done() bool { return w.finished }

func (w *complyCubeCheck) run(ctx workflow.Context) (CheckResult, error) {
	var cc *activities.ComplyCube
	pctx := providerActivityOptions(ctx)
	var created activities.ProviderCheck
	showStep(ctx, "Creating the client and the "+w.in.Type+" check at ComplyCube")
	if w.localWrites {
		err := workflow.ExecuteActivity(withSummary(pctx, "create the ComplyCube client and "+w.in.Type+" check"), ccActivity(cc.OpenComplyCubeCheck), activities.OpenCheckInput{
			CheckID: w.in.CheckID, CheckType: w.in.Type, WorkflowID: w.workflowID,
		}).Get(ctx, &created)
		if err != nil {
			// The activity says which of its steps failed.
			return w.fail(ctx, failureReason(err))
		}
	} else {
		var clientID string
		err := workflow.ExecuteActivity(pctx, ccActivity(cc.CreateClient), activities.CreateClientInput{
			CheckID: w.in.CheckID, WorkflowID: w.workflowID,
		}).Get(ctx, &clientID)
		if err != nil {
			return w.fail(ctx, "could not create the ComplyCube client: "+failureReason(err))
		}

		w.status.Stage = stageCreatingCheck
		err = workflow.ExecuteActivity(pctx, ccActivity(cc.CreateCheck), activities.CreateCheckInput{
			CheckID: w.in.CheckID, ClientID: clientID, CheckType: w.in.Type, WorkflowID: w.workflowID,
		}).Get(ctx, &created)
		if err != nil {
			return w.fail(ctx, "could not create the ComplyCube check: "+failureReason(err))
		}
	}
	w.status.ProviderCheckID = created.ID
	if w.status.ProviderStatus == "" {
		w.status.ProviderStatus = created.Status
	}
	// With fewerEventsChange, OpenComplyCubeCheck showed the check in progress.
	if err := w.updateUnlessLocal(ctx, activities.CheckUpdateInput{
		CheckID: w.in.CheckID, Status: store.StatusInProgress,
		Timeline: activities.TimelineInput{DedupeKey: "check.submitted:" + w.in.CheckID, Kind: "check.submitted",
			Detail: fmt.Sprintf("ComplyCube %s %s created", w.in.Type, created.ID), OccurredAt: workflow.Now(ctx)},
	}); err != nil {
		return CheckResult{}, err
	}

	w.status.Stage = stageAwaitingResult
	var polled activities.ProviderCheck
	view := awaitView{provider: "ComplyCube", awaited: "the `check.completed` webhook", polled: "check " + created.ID}
	byEvent, err := awaitOrPoll(ctx, w.timing, view, w.done, func() {
		w.status.Stage = stagePolling
		w.record(ctx, activities.TimelineInput{DedupeKey: "check.polling:" + w.in.CheckID, Kind: "check.polling",
			Detail:     fmt.Sprintf("no result webhook within %s; polling ComplyCube every %s", w.timing.WebhookDeadline, w.timing.PollInterval),
			OccurredAt: workflow.Now(ctx)})
	}, ccActivity(cc.PollComplyCubeCheck), w.status.ProviderCheckID, &polled)
	if err != nil {
		if errors.Is(ctx.Err(), workflow.ErrCanceled) {
			return CheckResult{}, err
		}
		return w.fail(ctx, "no result from ComplyCube: "+failureReason(err))
	}
	if !byEvent {
		w.finish(polled.Status, polled.Outcome)
	}
	if w.failed {
		return w.fail(ctx, "ComplyCube reported the check as failed")
	}

	w.status.Stage = stageFetchingReport
	showStep(ctx, fmt.Sprintf("Fetching the report of check %s (%s)", w.status.ProviderCheckID, w.status.Outcome))
	var doc activities.DocumentRef
	err = workflow.ExecuteActivity(withSummary(pctx, "download and store the ComplyCube PDF report"), ccActivity(cc.StoreReport), activities.StoreReportInput{
		CheckID: w.in.CheckID, ProviderCheckID: w.status.ProviderCheckID, Outcome: w.status.Outcome,
	}).Get(ctx, &doc)
	if err != nil {
		return w.fail(ctx, "could not download the ComplyCube report: "+failureReason(err))
	}
	w.status.Stage = string(store.StatusCompleted)
	result, err := w.complete(ctx, w.status.Outcome, activities.ReportStoredDetail(w.status.Outcome, doc),
		[]activities.DocumentRef{doc})
	if err != nil {
		return result, err
	}
	return w.followUp(ctx, result)
}

// followUp reads the completed check again from ComplyCube while events that came after the
// finish say something else (another outcome, a monitoring hit), and returns the result with what
// ComplyCube says now, so that the screening concludes on it. Its last look and the return happen
// in one workflow task: an event that comes as the workflow completes fails the completion, and is
// looked at on the retry. Those that come after it closed go to ComplyCubeAmendmentWorkflow.
func (w *complyCubeCheck) followUp(ctx workflow.Context, result CheckResult) (CheckResult, error) {
	var cc *activities.ComplyCube
	for {
		if err := w.finishRecording(ctx); err != nil {
			return result, err
		}
		if w.askAgain == "" {
			return result, nil
		}
		cause := w.askAgain
		w.askAgain = ""
		showStep(ctx, "Reading the check again from ComplyCube after `"+cause+"`")
		var amended activities.Amendment
		err := workflow.ExecuteActivity(withSummary(providerActivityOptions(ctx), "read the check again after "+cause), ccActivity(cc.AmendComplyCubeCheck),
			activities.AmendCheckInput{CheckID: w.in.CheckID, Cause: cause}).Get(ctx, &amended)
		if errors.Is(ctx.Err(), workflow.ErrCanceled) {
			return result, err
		}
		if err != nil {
			// The check did complete: it keeps the outcome it has, and says why it may be stale.
			w.record(ctx, activities.TimelineInput{DedupeKey: "check.follow_up_failed:" + w.in.CheckID,
				Kind: "check.follow_up_failed", OccurredAt: workflow.Now(ctx),
				Detail: "could not read the check again from ComplyCube after later events: " + failureReason(err)})
			continue
		}
		if amended.Changed {
			w.status.Outcome, result.Outcome = amended.Outcome, amended.Outcome
			result.Documents = append(result.Documents, *amended.Document)
		}
		showStep(ctx, "**Completed**: outcome "+result.Outcome+", read again after `"+cause+"`")
	}
}

func (w *complyCubeCheck) receiveEvents(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, ComplyCubeEventSignal)
	for {
		var ev ComplyCubeEvent
		ch.Receive(ctx, &ev)
		w.accept(ctx, ev)
	}
}

// accept folds one event into the state and records it in the timeline. Duplicates are dropped by
// event id. Updates older than the newest one seen change nothing, and neither do events after the
// check finished, unless they say something else: then followUp asks ComplyCube.
func (w *complyCubeCheck) accept(ctx workflow.Context, ev ComplyCubeEvent) {
	if ev.EventID == "" || w.seen[ev.EventID] {
		return
	}
	w.seen[ev.EventID] = true
	w.status.EventsReceived++
	detail := ev.Type
	if note := w.apply(ev); note != "" {
		detail += " (" + note + ")"
	}
	occurred := ev.OccurredAt
	if occurred.IsZero() {
		occurred = workflow.Now(ctx)
	}
	w.record(ctx, activities.TimelineInput{DedupeKey: "complycube:" + ev.EventID, Kind: "provider.event",
		Detail: detail, OccurredAt: occurred})
}

func (w *complyCubeCheck) apply(ev ComplyCubeEvent) (note string) {
	if ev.ResourceType != complycube.ResourceCheck {
		return ""
	}
	status, outcome, terminal := w.terminalState(ev)
	switch {
	// A check that failed stays failed, as AmendComplyCubeCheck leaves it.
	case w.finished && w.revised && !w.failed && (ev.Type == complycube.EventCheckMonitoringAttention ||
		terminal && (status != w.status.ProviderStatus || outcome != w.status.Outcome)):
		w.askAgain = ev.Type
		return "after the check finished: ComplyCube is asked for the check again"
	case w.finished:
		return "ignored: the check has already finished"
	case terminal:
		w.finish(status, outcome)
	// An update of unknown time is applied: it cannot be shown to be stale.
	case !ev.OccurredAt.IsZero() && ev.OccurredAt.Before(w.lastUpdate):
		return "ignored: older than an update already applied"
	default:
		if ev.OccurredAt.After(w.lastUpdate) {
			w.lastUpdate = ev.OccurredAt
		}
		if ev.Status != "" {
			w.status.ProviderStatus = ev.Status
		}
	}
	return ""
}

// terminalState reads whether an event says the check ended, and how: a completion
// (check.completed, check.completed.<outcome>), check.failed, or (with complyCubeEventsChange)
// check.updated whose payload says complete with an outcome, or failed.
func (w *complyCubeCheck) terminalState(ev ComplyCubeEvent) (status, outcome string, terminal bool) {
	switch {
	case complycube.IsCheckCompletion(ev.Type):
		outcome := ev.Outcome
		if outcome == "" {
			outcome = strings.TrimPrefix(strings.TrimPrefix(ev.Type, complycube.EventCheckCompleted), ".")
		}
		return complycube.StatusComplete, outcome, true
	case ev.Type == complycube.EventCheckFailed:
		return complycube.StatusFailed, "", true
	case w.revised && ev.Type == complycube.EventCheckUpdated && ev.Status == complycube.StatusComplete && ev.Outcome != "":
		return complycube.StatusComplete, ev.Outcome, true
	case w.revised && ev.Type == complycube.EventCheckUpdated && ev.Status == complycube.StatusFailed:
		return complycube.StatusFailed, "", true
	}
	return "", "", false
}

func (w *complyCubeCheck) finish(providerStatus, outcome string) {
	w.finished = true
	w.failed = providerStatus == complycube.StatusFailed
	w.status.ProviderStatus = providerStatus
	w.status.Outcome = outcome
}

// ccActivity names a ComplyCube activity as the worker registers it.
func ccActivity(method any) string { return providerActivity(complycube.Name, method) }
