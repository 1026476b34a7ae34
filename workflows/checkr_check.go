package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/store"
)

// CheckrEventSignal carries a CheckrEvent from the relay to the check workflow its report,
// invitation or candidate routes to.
const CheckrEventSignal = "checkr-event"

// CheckrEvent is the PII-free digest of a Checkr webhook, as the relay signals it.
type CheckrEvent = checkr.Summary

// CheckrCheckWorkflowName is the type name the worker registers CheckrCheckWorkflow under.
const CheckrCheckWorkflowName = "CheckrCheckWorkflow"

// CheckrOptions are a Checkr check's options, as stored with the check. The account it runs on
// is CheckInput.AccountID ("" for the direct account, CHECKR_API_KEY).
type CheckrOptions struct {
	Package string `json:"package"`
	Mode    string `json:"mode"` // activities.CheckrModeInvitation or activities.CheckrModeReport
	Account string `json:"account"`
}

// CheckrCheckStatus answers QueryStatus.
type CheckrCheckStatus struct {
	Stage          string
	AccountStatus  store.CheckrAccountStatus
	InvitationID   string
	ReportID       string
	ReportStatus   string
	Suspended      bool
	EventsReceived int
}

// invitationLifetime is how long Checkr keeps an invitation open; past it (and the webhook
// deadline) without a word, the invitation is taken as expired.
const invitationLifetime = 7 * 24 * time.Hour

// Stages of a Checkr check, as the status query shows them.
const (
	stageAwaitingCredentialing = string(store.StatusAwaitingCredentialing)
	stageCreatingCandidate     = "creating_candidate"
	stageAwaitingCandidate     = "awaiting_candidate"
	stageAwaitingReport        = "awaiting_report"
	stageFetchingDocuments     = "fetching_documents"
)

// CheckrCheckWorkflow drives one Checkr check: wait until the account is credentialed, create the
// candidate, invite them or order the report, follow the report's events (polling past the
// deadline), then read the report and store every PDF document.
func CheckrCheckWorkflow(ctx workflow.Context, in CheckInput) (CheckResult, error) {
	var opts CheckrOptions
	// The API validated the options when it stored them; an unreadable value means none.
	_ = json.Unmarshal(in.Options, &opts)
	w := &checkrCheck{
		checkBase:  checkBase{screeningID: in.ScreeningID, checkID: in.CheckID},
		in:         in,
		opts:       opts,
		timing:     in.Timing.withDefaults(),
		workflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		seen:       map[string]bool{},
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (CheckrCheckStatus, error) { return w.status, nil }); err != nil {
		return CheckResult{}, err
	}
	workflow.Go(ctx, w.receiveEvents)
	workflow.Go(ctx, w.receiveAccountState)
	return runCheck(ctx, &w.checkBase, w.run)
}

type checkrCheck struct {
	checkBase
	in         CheckInput
	opts       CheckrOptions
	timing     Timing
	workflowID string
	status     CheckrCheckStatus

	seen              map[string]bool
	lastReportEventAt time.Time
	reportFinal       string // complete or canceled, once an event said so
	invitationEnded   string // expired or deleted
}

func (w *checkrCheck) deauthorized() bool { return w.status.AccountStatus == store.CheckrDeauthorized }

func (w *checkrCheck) run(ctx workflow.Context) (CheckResult, error) {
	if w.in.AccountID != "" {
		if result, ended, err := w.passCredentialedGate(ctx); ended || err != nil {
			return result, err
		}
	}
	var a *activities.Checkr
	pctx := providerActivityOptions(ctx)
	order := activities.CheckrOrderInput{CheckID: w.in.CheckID, AccountID: w.in.AccountID, Mode: w.opts.Mode,
		Package: w.opts.Package, WorkflowID: w.workflowID}

	w.status.Stage = stageCreatingCandidate
	if err := workflow.ExecuteActivity(pctx, checkrActivity(a.CreateCheckrCandidate), order).Get(ctx, &order.CandidateID); err != nil {
		return w.failOrEnd(ctx, "could not create the Checkr candidate", err)
	}

	if w.opts.Mode == activities.CheckrModeInvitation {
		if result, ended, err := w.inviteCandidate(ctx, order); ended || err != nil {
			return result, err
		}
	} else {
		if err := workflow.ExecuteActivity(pctx, checkrActivity(a.CreateCheckrReport), order).Get(ctx, &w.status.ReportID); err != nil {
			return w.failOrEnd(ctx, "could not order the Checkr report", err)
		}
		if err := w.update(ctx, activities.CheckUpdateInput{Status: store.StatusInProgress,
			Timeline: activities.TimelineInput{DedupeKey: "check.submitted:" + w.in.CheckID, Kind: "check.submitted",
				Detail: fmt.Sprintf("Checkr report %s ordered (package %s)", w.status.ReportID, w.opts.Package), OccurredAt: workflow.Now(ctx)}}); err != nil {
			return CheckResult{}, err
		}
	}

	w.status.Stage = stageAwaitingReport
	ref := activities.CheckrReportRef{CheckID: w.in.CheckID, AccountID: w.in.AccountID, ReportID: w.status.ReportID}
	if err := w.awaitReport(ctx, ref); err != nil {
		return w.failOrEnd(ctx, "no result from Checkr", err)
	}
	if w.deauthorized() {
		return w.endCanceled(ctx, "Checkr access to the account was deauthorized")
	}

	// The report as Checkr's API has it now: the event said it finished; the API says how.
	var report activities.CheckrReportSummary
	if err := workflow.ExecuteActivity(pctx, checkrActivity(a.FetchCheckrReport), ref).Get(ctx, &report); err != nil {
		return w.failOrEnd(ctx, "could not read the Checkr report", err)
	}
	if report.Status == "canceled" || (report.Status != "complete" && w.reportFinal == "canceled") {
		return w.endCanceled(ctx, "the report was canceled at Checkr")
	}

	w.status.Stage = stageFetchingDocuments
	var docs []activities.DocumentRef
	for _, id := range report.DocumentIDs {
		var doc activities.DocumentRef
		err := workflow.ExecuteActivity(pctx, checkrActivity(a.StoreCheckrDocument), activities.CheckrDocumentInput{
			CheckID: w.in.CheckID, AccountID: w.in.AccountID, DocumentID: id}).Get(ctx, &doc)
		if err != nil {
			return w.failOrEnd(ctx, "could not download a Checkr report document", err)
		}
		docs = append(docs, doc)
	}
	return w.complete(ctx, report.Result, describeCheckrReport(report, len(docs)), docs)
}

// passCredentialedGate subscribes to the account's workflow and waits until the account is
// credentialed. It ends the check when the account is deauthorized.
func (w *checkrCheck) passCredentialedGate(ctx workflow.Context) (CheckResult, bool, error) {
	var a *activities.Checkr
	var status store.CheckrAccountStatus
	if err := workflow.ExecuteActivity(storeActivityOptions(ctx), checkrActivity(a.CheckrAccountStatus), w.in.AccountID).Get(ctx, &status); err != nil {
		result, err := w.failOrEnd(ctx, "the Checkr account cannot be used", err)
		return result, true, err
	}
	if status == store.CheckrDeauthorized {
		result, err := w.endCanceled(ctx, "the Checkr account "+w.in.AccountID+" is deauthorized; reconnect it to order checks")
		return result, true, err
	}
	err := workflow.SignalExternalWorkflow(ctx, CheckrAccountWorkflowID(w.in.AccountID), "", CheckrSubscribeSignal,
		CheckrSubscription{WorkflowID: w.workflowID}).Get(ctx, nil)
	if err != nil {
		result, err := w.fail(ctx, "the Checkr account's workflow is not running: "+err.Error())
		return result, true, err
	}
	if err := workflow.Await(ctx, func() bool { return w.status.AccountStatus != "" }); err != nil {
		return CheckResult{}, true, err
	}
	if w.status.AccountStatus == store.CheckrAwaitingCredentialing {
		w.status.Stage = stageAwaitingCredentialing
		if err := w.showAwaitingCredentialing(ctx, true); err != nil {
			return CheckResult{}, true, err
		}
		if err := workflow.Await(ctx, func() bool { return w.status.AccountStatus != store.CheckrAwaitingCredentialing }); err != nil {
			return CheckResult{}, true, err
		}
		if !w.deauthorized() {
			if err := w.showAwaitingCredentialing(ctx, false); err != nil {
				return CheckResult{}, true, err
			}
		}
	}
	if w.deauthorized() {
		result, err := w.endCanceled(ctx, "Checkr access to the account was deauthorized")
		return result, true, err
	}
	return CheckResult{}, false, nil
}

// showAwaitingCredentialing makes the wait visible in the HR API and in the Temporal UI.
func (w *checkrCheck) showAwaitingCredentialing(ctx workflow.Context, awaiting bool) error {
	var a *activities.Checkr
	if err := workflow.ExecuteActivity(storeActivityOptions(ctx), checkrActivity(a.SetAwaitingCredentialing),
		activities.AwaitingCredentialingInput{CheckID: w.in.CheckID, Awaiting: awaiting}).Get(ctx, nil); err != nil {
		return err
	}
	status, detail := store.StatusAwaitingCredentialing, "waiting for Checkr to credential account "+w.in.AccountID
	if !awaiting {
		status, detail = store.StatusInProgress, "Checkr account "+w.in.AccountID+" is credentialed"
	}
	kind := "check." + string(status)
	w.record(ctx, activities.TimelineInput{DedupeKey: kind + ":" + w.in.CheckID, Kind: kind,
		Detail: detail, OccurredAt: workflow.Now(ctx)})
	return workflow.UpsertTypedSearchAttributes(ctx, SearchAttrScreeningStatus.ValueSet(string(status)))
}

// inviteCandidate sends the invitation and waits for the candidate to complete it, which creates
// the report. An invitation that expires or is deleted ends the check.
func (w *checkrCheck) inviteCandidate(ctx workflow.Context, order activities.CheckrOrderInput) (CheckResult, bool, error) {
	var a *activities.Checkr
	if err := workflow.ExecuteActivity(providerActivityOptions(ctx), checkrActivity(a.CreateCheckrInvitation), order).Get(ctx, &w.status.InvitationID); err != nil {
		result, err := w.failOrEnd(ctx, "could not invite the candidate through Checkr", err)
		return result, true, err
	}
	if err := w.update(ctx, activities.CheckUpdateInput{Status: store.StatusInProgress,
		Timeline: activities.TimelineInput{DedupeKey: "check.submitted:" + w.in.CheckID, Kind: "check.submitted",
			Detail: fmt.Sprintf("Checkr invitation %s sent (package %s)", w.status.InvitationID, w.opts.Package), OccurredAt: workflow.Now(ctx)}}); err != nil {
		return CheckResult{}, true, err
	}
	w.status.Stage = stageAwaitingCandidate
	answered, err := workflow.AwaitWithTimeout(ctx, invitationLifetime+w.timing.WebhookDeadline, func() bool {
		return w.status.ReportID != "" || w.invitationEnded != "" || w.deauthorized()
	})
	if err != nil {
		return CheckResult{}, true, err
	}
	var result CheckResult
	switch {
	case w.deauthorized():
		result, err = w.endCanceled(ctx, "Checkr access to the account was deauthorized")
	case w.status.ReportID != "":
		ref := activities.CheckrReportRef{CheckID: w.in.CheckID, ReportID: w.status.ReportID, WorkflowID: w.workflowID}
		return CheckResult{}, false, workflow.ExecuteActivity(storeActivityOptions(ctx), checkrActivity(a.TrackCheckrReport), ref).Get(ctx, nil)
	case w.invitationEnded == checkr.EventInvitationDeleted:
		result, err = w.endCanceled(ctx, "the invitation was deleted at Checkr")
	case !answered || w.invitationEnded == checkr.EventInvitationExpired:
		result, err = w.fail(ctx, "the candidate did not complete the Checkr invitation before it expired")
	}
	return result, true, err
}

// awaitReport waits for an event saying the report finished, or for deauthorization; past the
// deadline it polls GET /v1/reports/{id}.
func (w *checkrCheck) awaitReport(ctx workflow.Context, ref activities.CheckrReportRef) error {
	var a *activities.Checkr
	var polled activities.CheckrReportSummary
	byEvent, err := awaitOrPoll(ctx, w.timing, func() bool { return w.reportFinal != "" || w.deauthorized() }, func() {
		w.record(ctx, activities.TimelineInput{DedupeKey: "check.polling:" + w.in.CheckID, Kind: "check.polling",
			Detail:     fmt.Sprintf("report not finished within %s; polling Checkr every %s", w.timing.WebhookDeadline, w.timing.PollInterval),
			OccurredAt: workflow.Now(ctx)})
	}, checkrActivity(a.PollCheckrReport), ref, &polled)
	if err == nil && !byEvent {
		w.reportFinal = polled.Status
	}
	return err
}

func (w *checkrCheck) receiveEvents(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, CheckrEventSignal)
	for {
		var ev CheckrEvent
		ch.Receive(ctx, &ev)
		w.accept(ctx, ev)
	}
}

func (w *checkrCheck) receiveAccountState(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, CheckrAccountStateSignal)
	for {
		var st CheckrAccountState
		ch.Receive(ctx, &st)
		w.status.AccountStatus = st.Status
	}
}

// accept folds one event into the state: duplicates are dropped by event id; a report event older
// than one already applied changes nothing; everything is recorded in the timeline.
func (w *checkrCheck) accept(ctx workflow.Context, ev CheckrEvent) {
	if ev.EventID == "" || w.seen[ev.EventID] {
		return
	}
	w.seen[ev.EventID] = true
	w.status.EventsReceived++
	note := w.apply(ev)
	detail := ev.Type
	if ev.Status != "" {
		detail += ": " + ev.Status
	}
	if note != "" {
		detail += " (" + note + ")"
	}
	occurred := ev.CreatedAt
	if occurred.IsZero() {
		occurred = workflow.Now(ctx)
	}
	w.record(ctx, activities.TimelineInput{DedupeKey: "checkr:" + ev.EventID, Kind: "provider.event", Detail: detail, OccurredAt: occurred})
}

func (w *checkrCheck) apply(ev CheckrEvent) (note string) {
	switch {
	case ev.Type == checkr.EventInvitationCompleted:
		if w.status.ReportID == "" && ev.ReportID != "" {
			w.status.ReportID = ev.ReportID
		}
	case ev.Type == checkr.EventInvitationExpired || ev.Type == checkr.EventInvitationDeleted:
		if w.status.ReportID == "" {
			w.invitationEnded = ev.Type
		}
	case strings.HasPrefix(ev.Type, "report."):
		if w.status.ReportID == "" && ev.ObjectID != "" {
			// report.created can overtake invitation.completed: it names the report too.
			w.status.ReportID = ev.ObjectID
		}
		if w.reportFinal != "" {
			return "ignored: the report has already finished"
		}
		switch ev.Type {
		case checkr.EventReportCompleted:
			w.reportFinal = "complete"
		case checkr.EventReportCanceled:
			w.reportFinal = "canceled"
		default:
			if ev.CreatedAt.Before(w.lastReportEventAt) {
				return "ignored: older than an update already applied"
			}
			w.lastReportEventAt = ev.CreatedAt
			switch ev.Type {
			case checkr.EventReportSuspended:
				w.status.Suspended = true
			case checkr.EventReportResumed:
				w.status.Suspended = false
			}
		}
		if ev.Status != "" {
			w.status.ReportStatus = ev.Status
		}
	}
	return ""
}

// failOrEnd ends the check after a step failed for good: canceled when the account's access was
// revoked meanwhile, failed otherwise.
func (w *checkrCheck) failOrEnd(ctx workflow.Context, what string, err error) (CheckResult, error) {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeAccountDeauthorized {
		return w.endCanceled(ctx, appErr.Message())
	}
	return w.fail(ctx, what+": "+failureReason(err))
}

func describeCheckrReport(r activities.CheckrReportSummary, documents int) string {
	d := "result " + r.Result
	if r.Assessment != "" {
		d += ", assessment " + r.Assessment
	}
	if r.Adjudication != "" {
		d += ", adjudication " + r.Adjudication
	}
	return fmt.Sprintf("%s; %d document(s) stored", d, documents)
}

// checkrActivity names a Checkr activity as the worker registers it.
func checkrActivity(method any) string { return providerActivity(checkr.Name, method) }
