package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/store"
)

// AuthenticateAmendmentWorkflowName is the type name the worker registers
// AuthenticateAmendmentWorkflow under.
const AuthenticateAmendmentWorkflowName = "AuthenticateAmendmentWorkflow"

// AuthenticateAmendmentWorkflow takes the Authenticate events that come for a check after its
// workflow closed (a monitoring hit, a late search update, a new report, a PII update): the relay
// starts it under the check workflow's id with the event's signal (registry.Reviver), and later
// events signal it while it runs. Each event is recorded in the timeline. The events are unsigned,
// so each makes it read the searches again from Authenticate's API and set a completed check's
// outcome to what the API shows (stored searches follow too); a COMPLETED report the API confirms
// is stored beside the check's. When the outcome changed, the screening's result is derived again
// once the screening has ended. A check that failed or was canceled stays as it ended. It ends when
// no event is left.
func AuthenticateAmendmentWorkflow(ctx workflow.Context, in AmendmentInput) error {
	w := &authenticateAmendment{amendmentBase: amendmentBase{
		checkBase: checkBase{screeningID: in.ScreeningID, checkID: in.CheckID}},
		seen: map[string]bool{}}
	var a *activities.Authenticate
	if err := workflow.ExecuteActivity(storeActivityOptions(ctx), authActivity(a.ReadAuthenticateCheck), in.CheckID).
		Get(ctx, &w.check); err != nil {
		return err
	}
	events := workflow.GetSignalChannel(ctx, AuthenticateEventSignal)
	return w.runAmendments(ctx, events, func() error {
		var ev AuthenticateEvent
		for events.ReceiveAsync(&ev) {
			if err := w.accept(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

type authenticateAmendment struct {
	amendmentBase
	check activities.AuthenticateCheckRecord
	seen  map[string]bool // event keys already handled: the relay delivers at least once
}

func (w *authenticateAmendment) accept(ctx workflow.Context, ev AuthenticateEvent) error {
	if ev.EventID == "" || w.seen[ev.EventID] {
		return nil
	}
	w.seen[ev.EventID] = true
	occurred := ev.OccurredAt
	if occurred.IsZero() {
		occurred = workflow.Now(ctx)
	}
	detail, err := w.amend(ctx, ev)
	if err != nil {
		return err
	}
	// The same key as the check workflow's, so that an event it recorded is not recorded twice.
	w.record(ctx, activities.TimelineInput{DedupeKey: "authenticate:" + ev.EventID, Kind: "provider.event",
		Detail: ev.Describe() + " (after the check finished)" + detail, OccurredAt: occurred})
	return nil
}

// amend reads the check's searches again from Authenticate's API and takes what it shows as the
// outcome, and stores a report a COMPLETED event names once the API confirms it. It returns what
// the event's timeline entry adds.
func (w *authenticateAmendment) amend(ctx workflow.Context, ev AuthenticateEvent) (string, error) {
	if w.check.Status != store.StatusCompleted || w.check.UserAccessCode == "" {
		return fmt.Sprintf(": the check stays %s", w.check.Status), nil
	}
	var a *activities.Authenticate
	order := activities.AuthenticateOrderInput{CheckID: w.checkID, UserAccessCode: w.check.UserAccessCode,
		SexOffender: w.check.Options.SexOffender}
	var r activities.AuthenticateResult
	if err := workflow.ExecuteActivity(providerActivityOptions(ctx), authActivity(a.ReadAuthenticateResult), order).Get(ctx, &r); err != nil {
		// The event stays on record for operators and the HR platform; the next one looks again.
		return ": Authenticate's API could not be read (" + failureReason(err) + "); nothing changes", nil
	}
	var detail string
	if ev.Type == authenticate.EventMonitoringRecordFound {
		detail = ": " + recordConfirmation(r, nil)
	}
	if ev.Type == authenticate.EventPDFReportGeneration && authenticate.Is(ev.Status, authenticate.PDFCompleted) &&
		w.check.Options.PDFReport && ev.ReportUUID != "" {
		var doc activities.DocumentRef
		err := workflow.ExecuteActivity(providerActivityOptions(ctx), authActivity(a.StoreAuthenticateReport), activities.ReportRef{
			CheckID: w.checkID, UserAccessCode: w.check.UserAccessCode, ReportUUID: ev.ReportUUID,
		}).Get(ctx, &doc)
		if err != nil {
			detail += ": report not stored: " + failureReason(err)
		} else {
			detail += fmt.Sprintf(": report stored (%d bytes, sha256 %s)", doc.Size, doc.SHA256)
		}
	}
	if !r.CriminalComplete || !r.SexOffenderComplete {
		return detail + ": Authenticate's API shows searches not complete; the outcome stays", nil
	}
	key := "authenticate.amended:" + ev.EventID
	var applied bool
	err := workflow.ExecuteActivity(storeActivityOptions(ctx), authActivity(a.AmendAuthenticateOutcome), activities.AmendOutcomeInput{
		CheckID: w.checkID, Outcome: authenticateOutcome(r), DedupeKey: key, OccurredAt: workflow.Now(ctx),
		Reason: "Authenticate's API shows it after " + ev.Type,
	}).Get(ctx, &applied)
	if err != nil {
		return "", err
	}
	if applied {
		w.amended("screening.result:"+key, "the Authenticate check's outcome was amended")
	}
	return detail, nil
}
