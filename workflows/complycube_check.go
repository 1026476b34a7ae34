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

// ComplyCubeCheckWorkflow drives one ComplyCube check: create the client and the check, wait for
// the completion webhook (or poll past the deadline), store the PDF report and write the outcome.
func ComplyCubeCheckWorkflow(ctx workflow.Context, in CheckInput) (CheckResult, error) {
	w := &complyCubeCheck{
		checkBase:  checkBase{screeningID: in.ScreeningID, checkID: in.CheckID},
		in:         in,
		timing:     in.Timing.withDefaults(),
		workflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		seen:       map[string]bool{},
	}
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
}

func (w *complyCubeCheck) done() bool { return w.finished }

func (w *complyCubeCheck) run(ctx workflow.Context) (CheckResult, error) {
	var cc *activities.ComplyCube
	pctx := providerActivityOptions(ctx)

	var clientID string
	err := workflow.ExecuteActivity(pctx, ccActivity(cc.CreateClient), activities.CreateClientInput{
		CheckID: w.in.CheckID, WorkflowID: w.workflowID,
	}).Get(ctx, &clientID)
	if err != nil {
		return w.fail(ctx, "could not create the ComplyCube client: "+failureReason(err))
	}

	w.status.Stage = stageCreatingCheck
	var created activities.ProviderCheck
	err = workflow.ExecuteActivity(pctx, ccActivity(cc.CreateCheck), activities.CreateCheckInput{
		CheckID: w.in.CheckID, ClientID: clientID, CheckType: w.in.Type, WorkflowID: w.workflowID,
	}).Get(ctx, &created)
	if err != nil {
		return w.fail(ctx, "could not create the ComplyCube check: "+failureReason(err))
	}
	w.status.ProviderCheckID = created.ID
	if w.status.ProviderStatus == "" {
		w.status.ProviderStatus = created.Status
	}
	if err := w.update(ctx, activities.CheckUpdateInput{
		CheckID: w.in.CheckID, Status: store.StatusInProgress,
		Timeline: activities.TimelineInput{DedupeKey: "check.submitted:" + w.in.CheckID, Kind: "check.submitted",
			Detail: fmt.Sprintf("ComplyCube %s %s created", w.in.Type, created.ID), OccurredAt: workflow.Now(ctx)},
	}); err != nil {
		return CheckResult{}, err
	}

	w.status.Stage = stageAwaitingResult
	var polled activities.ProviderCheck
	byEvent, err := awaitOrPoll(ctx, w.timing, w.done, func() {
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
	var doc activities.DocumentRef
	err = workflow.ExecuteActivity(pctx, ccActivity(cc.StoreReport), activities.StoreReportInput{
		CheckID: w.in.CheckID, ProviderCheckID: w.status.ProviderCheckID,
	}).Get(ctx, &doc)
	if err != nil {
		return w.fail(ctx, "could not download the ComplyCube report: "+failureReason(err))
	}
	w.status.Stage = string(store.StatusCompleted)
	return w.complete(ctx, w.status.Outcome,
		fmt.Sprintf("outcome %s; report stored (%d bytes, sha256 %s)", w.status.Outcome, doc.Size, doc.SHA256),
		[]activities.DocumentRef{doc})
}

func (w *complyCubeCheck) receiveEvents(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, ComplyCubeEventSignal)
	for {
		var ev ComplyCubeEvent
		ch.Receive(ctx, &ev)
		w.accept(ctx, ev)
	}
}

// accept folds one event into the state. Duplicates are dropped by event id; events that arrive
// after the check finished, or older than the newest update seen, are recorded but change nothing.
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
	if ev.ResourceType != "check" {
		return ""
	}
	if w.finished {
		return "ignored: the check has already finished"
	}
	switch {
	case complycube.IsCheckCompletion(ev.Type):
		outcome := ev.Outcome
		if outcome == "" {
			outcome = strings.TrimPrefix(strings.TrimPrefix(ev.Type, complycube.EventCheckCompleted), ".")
		}
		w.finish("complete", outcome)
	case ev.Type == complycube.EventCheckFailed:
		w.finish("failed", "")
	default:
		if ev.OccurredAt.Before(w.lastUpdate) {
			return "ignored: older than an update already applied"
		}
		w.lastUpdate = ev.OccurredAt
		if ev.Status != "" {
			w.status.ProviderStatus = ev.Status
		}
	}
	return ""
}

func (w *complyCubeCheck) finish(providerStatus, outcome string) {
	w.finished = true
	w.failed = providerStatus == "failed"
	w.status.ProviderStatus = providerStatus
	w.status.Outcome = outcome
}

// ccActivity names a ComplyCube activity as the worker registers it.
func ccActivity(method any) string { return providerActivity(complycube.Name, method) }
