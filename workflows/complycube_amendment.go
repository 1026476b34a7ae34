package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/complycube"
)

// ComplyCubeAmendmentWorkflowName is the type name the worker registers
// ComplyCubeAmendmentWorkflow under.
const ComplyCubeAmendmentWorkflowName = "ComplyCubeAmendmentWorkflow"

// amendmentResultInterval is how often an amendment looks whether its screening has ended, to take
// the amended outcome into the screening's result. Screenings end in hours or days.
const amendmentResultInterval = 10 * time.Minute

// ComplyCubeAmendmentWorkflow takes the ComplyCube events that come for a check after its
// workflow closed: the relay starts it under the check workflow's id with the event's signal
// (registry.Reviver), and later events signal it while it runs. Each event is recorded in the
// timeline. One about the check (a new outcome, a monitoring hit) makes it read the check again
// from ComplyCube, which alone is trusted for an outcome, and amend the check's outcome and report
// when ComplyCube's changed; the screening's result is then derived again, once the screening has
// ended. It ends when no event is left.
func ComplyCubeAmendmentWorkflow(ctx workflow.Context, in AmendmentInput) error {
	w := &complyCubeAmendment{amendmentBase: amendmentBase{
		checkBase: checkBase{screeningID: in.ScreeningID, checkID: in.CheckID}},
		seen: map[string]bool{}}
	events := workflow.GetSignalChannel(ctx, ComplyCubeEventSignal)
	return w.runAmendments(ctx, events, func() error {
		var ev ComplyCubeEvent
		for events.ReceiveAsync(&ev) {
			if err := w.accept(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

type complyCubeAmendment struct {
	amendmentBase
	seen map[string]bool // event ids already handled: the relay delivers at least once
}

func (w *complyCubeAmendment) accept(ctx workflow.Context, ev ComplyCubeEvent) error {
	if ev.EventID == "" || w.seen[ev.EventID] {
		return nil
	}
	w.seen[ev.EventID] = true
	asksAgain := ev.ResourceType == complycube.ResourceCheck && ev.Type != complycube.EventCheckPending
	detail := ev.Type + " (after the check finished)"
	if asksAgain {
		detail = ev.Type + " (after the check finished: ComplyCube is asked for the check again)"
	}
	occurred := ev.OccurredAt
	if occurred.IsZero() {
		occurred = workflow.Now(ctx)
	}
	// The same key as the check workflow's, so that an event it recorded is not recorded twice.
	w.record(ctx, activities.TimelineInput{DedupeKey: "complycube:" + ev.EventID, Kind: "provider.event",
		Detail: detail, OccurredAt: occurred})
	if !asksAgain {
		return nil
	}
	var cc *activities.ComplyCube
	var amended activities.Amendment
	err := workflow.ExecuteActivity(providerActivityOptions(ctx), ccActivity(cc.AmendComplyCubeCheck),
		activities.AmendCheckInput{CheckID: w.checkID, Cause: ev.Type}).Get(ctx, &amended)
	if err != nil {
		return err
	}
	if amended.Changed {
		w.amended("screening.result:"+amended.Key, "the ComplyCube check's outcome was amended")
	}
	return nil
}
