package workflows

import (
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/store"
)

// CheckrAmendmentWorkflowName is the type name the worker registers CheckrAmendmentWorkflow under.
const CheckrAmendmentWorkflowName = "CheckrAmendmentWorkflow"

// CheckrAmendmentStatus answers QueryStatus.
type CheckrAmendmentStatus struct {
	CheckStatus    store.Status
	Outcome        string
	EventsReceived int
}

// CheckrAmendmentWorkflow takes the events about a Checkr check that come after its workflow
// closed: an upgraded report, a dispute, an adjudication, a later result. The relay starts it under
// the check's workflow id with the first of them (signal-with-start, see registry.Reviver). It
// records every event in the timeline; after report events it reads the report again, stores the
// documents the report gained and, when Checkr's result changed, amends the check's outcome and
// its screening's result. It ends once no event is pending; the next one starts it again.
func CheckrAmendmentWorkflow(ctx workflow.Context, in AmendmentInput) error {
	w := &checkrAmendment{amendmentBase: amendmentBase{
		checkBase: checkBase{screeningID: in.ScreeningID, checkID: in.CheckID}},
		seen: map[string]bool{}}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (CheckrAmendmentStatus, error) { return w.status, nil }); err != nil {
		return err
	}
	var a *activities.Checkr
	var check activities.CheckrCheckRecord
	if err := workflow.ExecuteActivity(storeActivityOptions(ctx), checkrActivity(a.ReadCheckrCheck), in.CheckID).Get(ctx, &check); err != nil {
		return err
	}
	w.status.CheckStatus, w.status.Outcome = check.Status, check.Outcome
	stored := map[string]bool{}
	for _, id := range check.DocumentIDs {
		stored[id] = true
	}
	events := workflow.GetSignalChannel(ctx, CheckrEventSignal)
	return w.runAmendments(ctx, events, func() error {
		latest := w.takeEvents(ctx, events, check)
		if latest == nil {
			return nil
		}
		var changed bool
		w.status.Outcome, _, changed = amendCompletedReport(ctx, &w.checkBase, reportAmendment{
			ref:     activities.CheckrReportRef{CheckID: in.CheckID, AccountID: check.AccountID, ReportID: check.ReportID},
			outcome: w.status.Outcome, stored: stored, after: *latest})
		if changed {
			w.amended(checkrAmendmentKey(*latest)+":screening", "the Checkr check's outcome was amended after "+latest.Type)
		}
		return nil
	})
}

type checkrAmendment struct {
	amendmentBase
	status CheckrAmendmentStatus
	seen   map[string]bool // event ids already taken: the relay delivers at least once
}

// takeEvents takes in the events pending and records each in the timeline. It returns the latest
// event about the report of a completed check, which is then read again; nil when none came.
func (w *checkrAmendment) takeEvents(ctx workflow.Context, events workflow.ReceiveChannel, check activities.CheckrCheckRecord) *CheckrEvent {
	var latest *CheckrEvent
	for {
		var ev CheckrEvent
		if !events.ReceiveAsync(&ev) {
			return latest
		}
		if ev.EventID == "" || w.seen[ev.EventID] {
			continue
		}
		w.seen[ev.EventID] = true
		w.status.EventsReceived++
		note := "after the check ended " + string(check.Status) + "; recorded"
		switch {
		case !strings.HasPrefix(ev.Type, checkr.KindReport+".") || check.Status != store.StatusCompleted || check.ReportID == "":
		case ev.ObjectID != "" && ev.ObjectID != check.ReportID:
			note = "about report " + ev.ObjectID + ", not this check's; recorded"
		default:
			note = "after the check completed; the report is read again"
			latest = &ev
		}
		w.record(ctx, checkrEventEntry(ctx, ev, note))
	}
}
