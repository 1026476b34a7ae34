package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/store"
)

// CheckrEventSignal carries a CheckrEvent from the relay to the check workflow its report,
// invitation or candidate routes to (or, once that has closed, to a CheckrAmendmentWorkflow).
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
	Stage         string
	AccountStatus store.CheckrAccountStatus
	InvitationID  string
	ReportID      string
	ReportStatus  string
	Suspended     bool
	// ActionRequired: Checkr waits for the candidate (candidate.id_required,
	// candidate.driver_license_required) and has not moved on since.
	ActionRequired bool
	EventsReceived int
}

// Stages of a Checkr check, as the status query shows them.
const (
	stageAwaitingCredentialing = string(store.StatusAwaitingCredentialing)
	stageCreatingCandidate     = "creating_candidate"
	stageAwaitingCandidate     = "awaiting_candidate"
	stageAwaitingReport        = "awaiting_report"
	stageFetchingDocuments     = "fetching_documents"
)

// CheckrCheckWorkflow drives one Checkr check: wait until the account is credentialed, create the
// candidate, invite them or order the report, follow the report's events (polling the invitation
// and the report past the deadline), then read the report and store every PDF document. Events
// that change the report after it was read (an upgrade, a dispute, an adjudication) are applied
// before the workflow closes; after, CheckrAmendmentWorkflow takes them.
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
		stored:     map[string]bool{},
	}
	version := historyVersion(ctx)
	w.localWrites, w.relayNotes = version >= fewerEventsVersion, version >= eventsBypassVersion
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (CheckrCheckStatus, error) { return w.status, nil }); err != nil {
		return CheckResult{}, err
	}
	workflow.Go(ctx, w.receiveEvents)
	workflow.Go(ctx, w.receiveAccountState)
	workflow.Go(ctx, w.showActionRequired)
	result, err := runCheck(ctx, &w.checkBase, w.run)
	return w.close(ctx, result, err)
}

type checkrCheck struct {
	checkBase
	in         CheckInput
	opts       CheckrOptions
	timing     Timing
	workflowID string
	status     CheckrCheckStatus
	subscribed bool // to the account's state; undone when the check ends
	// relayNotes: the relay writes every event's timeline entry (CheckrEventNote), and keeps the
	// informational ones from the workflow, which records only what it made of an event, over the
	// relay's entry (eventsBypassVersion).
	relayNotes bool

	seen              map[string]bool
	lastReportEventAt time.Time
	reportFinal       string    // complete or canceled, once an event said so
	reportFinalAt     time.Time // when, by Checkr's clock
	invitationEnded   string    // expired or deleted

	// reportEvents counts the report events taken in, and reportEventsRead is what it was when the
	// report was last read from the API: more since, and the report may have changed.
	reportEvents, reportEventsRead int
	lastReportEvent                CheckrEvent
	stored                         map[string]bool // the Checkr documents stored

	// Checkr has waited for the candidate since actionSince; progressAt is the latest report or
	// invitation event, which says it has moved on. Both are Checkr's times.
	actionSince, progressAt time.Time
	actionEvent             string // the event that set or cleared ActionRequired last
	actionShown             bool   // ActionRequired as Postgres and the search attribute show it
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
	showStep(ctx, "Ordering package `"+w.opts.Package+"` at Checkr")
	if w.localWrites {
		var ordered activities.CheckrOrdered
		if err := workflow.ExecuteActivity(withSummary(pctx, "create the Checkr candidate and order package "+w.opts.Package), checkrActivity(a.OrderCheckr), order).Get(ctx, &ordered); err != nil {
			// The activity says which of its steps failed.
			return w.failOrEnd(ctx, "", err)
		}
		order.CandidateID, w.status.InvitationID = ordered.CandidateID, ordered.InvitationID
		if w.opts.Mode != activities.CheckrModeInvitation {
			w.status.ReportID = ordered.ReportID
		}
	} else if err := workflow.ExecuteActivity(pctx, checkrActivity(a.CreateCheckrCandidate), order).Get(ctx, &order.CandidateID); err != nil {
		return w.failOrEnd(ctx, "could not create the Checkr candidate", err)
	}

	if w.opts.Mode == activities.CheckrModeInvitation {
		if result, ended, err := w.inviteCandidate(ctx, order); ended || err != nil {
			return result, err
		}
	} else {
		if !w.localWrites {
			if err := workflow.ExecuteActivity(pctx, checkrActivity(a.CreateCheckrReport), order).Get(ctx, &w.status.ReportID); err != nil {
				return w.failOrEnd(ctx, "could not order the Checkr report", err)
			}
		}
		// With fewerEventsChange, OrderCheckr showed the check in progress.
		if err := w.updateUnlessLocal(ctx, activities.CheckUpdateInput{Status: store.StatusInProgress,
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

	// The report as Checkr's API has it now: the event said it finished; the API says how, and
	// reflects every report event taken in until now.
	w.reportEventsRead = w.reportEvents
	if w.localWrites {
		return w.readReport(ctx, ref)
	}
	var report activities.CheckrReportSummary
	if err := workflow.ExecuteActivity(pctx, checkrActivity(a.FetchCheckrReport), ref).Get(ctx, &report); err != nil {
		return w.failOrEnd(ctx, "could not read the Checkr report", err)
	}
	if report.Status == checkr.ReportCanceled || (report.Status != checkr.ReportComplete && w.reportFinal == checkr.ReportCanceled) {
		return w.endCanceled(ctx, "the report was canceled at Checkr")
	}

	w.status.Stage = stageFetchingDocuments
	showStep(ctx, "Storing the documents of report "+ref.ReportID)
	docs, err := storeCheckrDocuments(ctx, ref, report.DocumentIDs, w.stored)
	if err != nil {
		return w.failOrEnd(ctx, "could not download a Checkr report document", err)
	}
	return w.complete(ctx, report.Result, describeCheckrReport(report, len(docs)), docs)
}

// readReport reads the finished report and stores its documents in one activity, then ends the
// check as the report says (fewerEventsChange).
func (w *checkrCheck) readReport(ctx workflow.Context, ref activities.CheckrReportRef) (CheckResult, error) {
	var a *activities.Checkr
	w.status.Stage = stageFetchingDocuments
	showStep(ctx, "Reading report "+ref.ReportID+" and storing its documents")
	var read activities.CheckrReportRead
	err := workflow.ExecuteActivity(withSummary(providerActivityOptions(ctx), "read report "+ref.ReportID+" and store its documents"), checkrActivity(a.ReadCheckrReport), activities.CheckrReportReadInput{
		Report: ref, Stored: slices.Sorted(maps.Keys(w.stored)), CanceledByEvent: w.reportFinal == checkr.ReportCanceled,
	}).Get(ctx, &read)
	if err != nil {
		// The activity says which of its steps failed.
		return w.failOrEnd(ctx, "", err)
	}
	for _, id := range read.StoredIDs {
		w.stored[id] = true
	}
	report := read.Report
	if report.Status == checkr.ReportCanceled || (report.Status != checkr.ReportComplete && w.reportFinal == checkr.ReportCanceled) {
		return w.endCanceled(ctx, "the report was canceled at Checkr")
	}
	return w.complete(ctx, report.Result, describeCheckrReport(report, len(read.Documents)), read.Documents)
}

// close ends what the check started besides its result: its subscription to the account, and the
// action_required it shows in the search attribute. Report events taken in after the report was
// read are applied to the completed check before the workflow closes: once it has closed, the
// relay starts a CheckrAmendmentWorkflow for them instead.
func (w *checkrCheck) close(ctx workflow.Context, result CheckResult, err error) (CheckResult, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if w.subscribed {
		var a *activities.CheckrAccounts
		// Best effort: a subscriber the account's workflow cannot tell is forgotten anyway.
		_ = workflow.ExecuteActivity(storeActivityOptions(dctx), checkrActivity(a.UnsubscribeCheckrAccount),
			activities.CheckrUnsubscriptionInput{AccountID: w.in.AccountID, WorkflowIDs: []string{w.workflowID}}).Get(dctx, nil)
	}
	if w.actionShown {
		if err := workflow.UpsertTypedSearchAttributes(dctx, SearchAttrScreeningStatus.ValueSet(string(store.StatusInProgress))); err != nil {
			return result, err
		}
	}
	// Events keep coming while this waits: it returns only in a task that found nothing left to do.
	for err == nil && ctx.Err() == nil {
		if result.Status == store.StatusCompleted && w.reportEvents != w.reportEventsRead {
			w.reportEventsRead = w.reportEvents
			var docs []activities.DocumentRef
			// The screening concludes on the outcome returned here: nothing else to derive again.
			result.Outcome, docs, _ = amendCompletedReport(ctx, &w.checkBase, reportAmendment{
				ref:     activities.CheckrReportRef{CheckID: w.in.CheckID, AccountID: w.in.AccountID, ReportID: w.status.ReportID},
				outcome: result.Outcome, stored: w.stored, after: w.lastReportEvent})
			result.Documents = append(result.Documents, docs...)
		} else if w.recording == 0 {
			break
		}
		err = w.finishRecording(ctx)
	}
	return result, err
}

// passCredentialedGate subscribes to the account's state and waits until the account is
// credentialed. It ends the check when the account is deauthorized.
func (w *checkrCheck) passCredentialedGate(ctx workflow.Context) (CheckResult, bool, error) {
	var a *activities.CheckrAccounts
	var status store.CheckrAccountStatus
	if err := workflow.ExecuteActivity(storeActivityOptions(ctx), checkrActivity(a.SubscribeCheckrAccount),
		activities.CheckrSubscriptionInput{AccountID: w.in.AccountID, WorkflowID: w.workflowID}).Get(ctx, &status); err != nil {
		result, err := w.failOrEnd(ctx, "the Checkr account cannot be used", err)
		return result, true, err
	}
	w.subscribed = true
	if status == store.CheckrDeauthorized {
		result, err := w.endCanceled(ctx, "the Checkr account "+w.in.AccountID+" is deauthorized; reconnect it to order checks")
		return result, true, err
	}
	// What the account's workflow told meanwhile is newer than what the subscription read.
	if w.status.AccountStatus == "" {
		w.status.AccountStatus = status
	}
	if w.status.AccountStatus == store.CheckrAwaitingCredentialing {
		w.status.Stage = stageAwaitingCredentialing
		showStep(ctx, "Waiting for Checkr to credential account "+w.in.AccountID+" (`account.credentialed`)")
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
	if err := storeWrite(ctx, w.localWrites, checkrActivity(a.SetAwaitingCredentialing),
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

// showActionRequired keeps what the HR API, the timeline and the Temporal UI show in step with
// ActionRequired, apart from the goroutine that takes events in, which must never block.
func (w *checkrCheck) showActionRequired(ctx workflow.Context) {
	var a *activities.Checkr
	for {
		if err := workflow.Await(ctx, func() bool { return w.status.ActionRequired != w.actionShown }); err != nil {
			return
		}
		required, event := w.status.ActionRequired, w.actionEvent
		if err := storeWrite(ctx, w.localWrites, checkrActivity(a.SetActionRequired),
			activities.ActionRequiredInput{CheckID: w.in.CheckID, Required: required}).Get(ctx, nil); err != nil {
			return
		}
		status, detail := store.StatusActionRequired, "Checkr waits for the candidate ("+event+")"
		if !required {
			status, detail = store.StatusInProgress, "Checkr moved on ("+event+")"
		}
		w.record(ctx, activities.TimelineInput{DedupeKey: "check." + string(status) + ":" + w.in.CheckID + ":" + event,
			Kind: "check." + string(status), Detail: detail, OccurredAt: workflow.Now(ctx)})
		if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrScreeningStatus.ValueSet(string(status))); err != nil {
			return
		}
		w.actionShown = required
	}
}

// inviteCandidate sends the invitation and waits for the candidate to complete it, which creates
// the report. Past the deadline it polls the invitation, in case invitation.completed was lost. An
// invitation that expires or is deleted ends the check.
func (w *checkrCheck) inviteCandidate(ctx workflow.Context, order activities.CheckrOrderInput) (CheckResult, bool, error) {
	var a *activities.Checkr
	// With fewerEventsChange, OrderCheckr sent the invitation already.
	if !w.localWrites {
		if err := workflow.ExecuteActivity(providerActivityOptions(ctx), checkrActivity(a.CreateCheckrInvitation), order).Get(ctx, &w.status.InvitationID); err != nil {
			result, err := w.failOrEnd(ctx, "could not invite the candidate through Checkr", err)
			return result, true, err
		}
	}
	if err := w.updateUnlessLocal(ctx, activities.CheckUpdateInput{Status: store.StatusInProgress,
		Timeline: activities.TimelineInput{DedupeKey: "check.submitted:" + w.in.CheckID, Kind: "check.submitted",
			Detail: fmt.Sprintf("Checkr invitation %s sent (package %s)", w.status.InvitationID, w.opts.Package), OccurredAt: workflow.Now(ctx)}}); err != nil {
		return CheckResult{}, true, err
	}
	w.status.Stage = stageAwaitingCandidate
	var polled activities.CheckrInvitationSummary
	view := awaitView{provider: "Checkr", awaited: "the candidate to complete invitation " + w.status.InvitationID +
		" (`invitation.completed`)", polled: "the invitation"}
	byEvent, err := awaitOrPoll(ctx, w.timing, view, func() bool {
		return w.status.ReportID != "" || w.invitationEnded != "" || w.deauthorized()
	}, func() {
		w.record(ctx, activities.TimelineInput{DedupeKey: "check.polling_invitation:" + w.in.CheckID, Kind: "check.polling",
			Detail:     fmt.Sprintf("invitation not completed within %s; polling Checkr every %s", w.timing.WebhookDeadline, w.timing.PollInterval),
			OccurredAt: workflow.Now(ctx)})
	}, checkrActivity(a.PollCheckrInvitation), activities.CheckrInvitationRef{AccountID: w.in.AccountID, InvitationID: w.status.InvitationID}, &polled)
	if err != nil {
		result, err := w.failOrEnd(ctx, "no answer from Checkr about the invitation", err)
		return result, true, err
	}
	if !byEvent {
		switch polled.Status {
		case checkr.InvitationCompleted:
			w.status.ReportID = polled.ReportID
			w.record(ctx, activities.TimelineInput{DedupeKey: "check.report_found:" + w.in.CheckID, Kind: "check.report_found",
				Detail: "the candidate completed the invitation; Checkr report " + polled.ReportID + " found by polling", OccurredAt: workflow.Now(ctx)})
		case checkr.InvitationExpired:
			w.invitationEnded = checkr.EventInvitationExpired
		default:
			w.invitationEnded = checkr.EventInvitationDeleted
		}
	}
	var result CheckResult
	switch {
	case w.deauthorized():
		result, err = w.endCanceled(ctx, "Checkr access to the account was deauthorized")
	case w.status.ReportID != "":
		ref := activities.CheckrReportRef{CheckID: w.in.CheckID, ReportID: w.status.ReportID, WorkflowID: w.workflowID}
		return CheckResult{}, false, storeWrite(ctx, w.localWrites, checkrActivity(a.TrackCheckrReport), ref).Get(ctx, nil)
	case w.invitationEnded == checkr.EventInvitationDeleted:
		result, err = w.endCanceled(ctx, "the invitation was deleted at Checkr")
	default:
		result, err = w.fail(ctx, "the candidate did not complete the Checkr invitation before it expired")
	}
	return result, true, err
}

// awaitReport waits for an event saying the report finished, or for deauthorization; past the
// deadline it polls GET /v1/reports/{id}.
func (w *checkrCheck) awaitReport(ctx workflow.Context, ref activities.CheckrReportRef) error {
	var a *activities.Checkr
	var polled activities.CheckrReportSummary
	view := awaitView{provider: "Checkr", awaited: "report " + ref.ReportID + " to finish (`report.completed`)", polled: "the report"}
	byEvent, err := awaitOrPoll(ctx, w.timing, view, func() bool { return w.reportFinal != "" || w.deauthorized() }, func() {
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
	if !w.relayNotes {
		w.record(ctx, checkrEventEntry(ctx, ev, note))
		return
	}
	if note != "" {
		entry := checkrEventEntry(ctx, ev, note)
		entry.Replaces = true
		w.record(ctx, entry)
	}
}

func (w *checkrCheck) apply(ev CheckrEvent) (note string) {
	family, _, _ := strings.Cut(ev.Type, ".")
	if family == checkr.KindReport && w.status.ReportID != "" && ev.ObjectID != "" && ev.ObjectID != w.status.ReportID {
		// Reports route by their candidate, who is this check's alone: this is not expected.
		return "ignored: about report " + ev.ObjectID + ", not this check's"
	}
	if family == checkr.KindReport || family == checkr.KindInvitation {
		if ev.CreatedAt.After(w.progressAt) {
			w.progressAt = ev.CreatedAt
		}
		if w.status.ActionRequired && !ev.CreatedAt.Before(w.actionSince) {
			w.status.ActionRequired, w.actionEvent = false, ev.Type
		}
	}
	switch {
	case ev.Type == checkr.EventCandidateIDRequired || ev.Type == checkr.EventCandidateDriverLicenseRequired:
		if w.reportFinal != "" || ev.CreatedAt.Before(w.progressAt) {
			return "ignored: Checkr has moved on since"
		}
		w.status.ActionRequired, w.actionSince, w.actionEvent = true, ev.CreatedAt, ev.Type
	case ev.Type == checkr.EventInvitationCompleted:
		if w.status.ReportID == "" && ev.ReportID != "" {
			w.status.ReportID = ev.ReportID
		}
	case ev.Type == checkr.EventInvitationExpired || ev.Type == checkr.EventInvitationDeleted:
		if w.status.ReportID == "" {
			w.invitationEnded = ev.Type
		}
	case family == checkr.KindReport:
		if w.status.ReportID == "" && ev.ObjectID != "" {
			// A report event can overtake invitation.completed (or replace a lost one): it names
			// the report too.
			w.status.ReportID = ev.ObjectID
		}
		if w.reportFinal != "" && ev.CreatedAt.Before(w.reportFinalAt) {
			return "ignored: older than the end of the report"
		}
		w.reportEvents++
		w.lastReportEvent = ev
		if w.reportFinal != "" {
			// An upgrade, a dispute, an adjudication, a new result: the report is read again.
			return "the report has finished; it is read again"
		}
		switch ev.Type {
		case checkr.EventReportCompleted:
			w.reportFinal, w.reportFinalAt = checkr.ReportComplete, ev.CreatedAt
		case checkr.EventReportCanceled:
			w.reportFinal, w.reportFinalAt = checkr.ReportCanceled, ev.CreatedAt
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

// checkrEventEntry is the timeline entry of an event taken in, with a note on what it did.
func checkrEventEntry(ctx workflow.Context, ev CheckrEvent, note string) activities.TimelineInput {
	detail := ev.Describe()
	if note != "" {
		detail += " (" + note + ")"
	}
	occurred := ev.CreatedAt
	if occurred.IsZero() {
		occurred = workflow.Now(ctx)
	}
	return activities.TimelineInput{DedupeKey: "checkr:" + ev.EventID, Kind: "provider.event", Detail: detail, OccurredAt: occurred}
}

// storeCheckrDocuments stores the report's documents not stored yet (stored is updated), each
// once: a download_uri lives 15 minutes, so each download asks for a fresh one.
func storeCheckrDocuments(ctx workflow.Context, ref activities.CheckrReportRef, documentIDs []string, stored map[string]bool) ([]activities.DocumentRef, error) {
	var a *activities.Checkr
	var docs []activities.DocumentRef
	for _, id := range documentIDs {
		if stored[id] {
			continue
		}
		var doc activities.DocumentRef
		err := workflow.ExecuteActivity(providerActivityOptions(ctx), checkrActivity(a.StoreCheckrDocument), activities.CheckrDocumentInput{
			CheckID: ref.CheckID, AccountID: ref.AccountID, DocumentID: id}).Get(ctx, &doc)
		if err != nil {
			return docs, err
		}
		stored[id] = true
		docs = append(docs, doc)
	}
	return docs, nil
}

// reportAmendment is a completed check's report to read again after events that came once it
// had been read.
type reportAmendment struct {
	ref     activities.CheckrReportRef
	outcome string          // the check's outcome so far
	stored  map[string]bool // the Checkr documents stored so far; updated
	after   CheckrEvent     // the latest of those events
}

// amendCompletedReport reads the report again, stores the documents it gained and, when Checkr's
// result changed, amends the check's outcome. It returns the outcome now, the new documents, and
// whether the outcome changed: the screening's result is then to be derived again, once the
// screening has ended. The check has completed: what cannot be read now is said in the timeline,
// and the check stays as it was.
func amendCompletedReport(ctx workflow.Context, b *checkBase, am reportAmendment) (string, []activities.DocumentRef, bool) {
	var a *activities.Checkr
	failed := func(err error) {
		b.record(ctx, activities.TimelineInput{DedupeKey: "checkr.amendment_failed:" + am.after.EventID, Kind: "check.amendment_failed",
			Detail:     fmt.Sprintf("could not apply the Checkr report again after %s: %s", am.after.Type, failureReason(err)),
			OccurredAt: workflow.Now(ctx)})
	}
	var report activities.CheckrReportSummary
	if err := workflow.ExecuteActivity(providerActivityOptions(ctx), checkrActivity(a.FetchCheckrReport), am.ref).Get(ctx, &report); err != nil {
		failed(err)
		return am.outcome, nil, false
	}
	docs, err := storeCheckrDocuments(ctx, am.ref, report.DocumentIDs, am.stored)
	if err != nil {
		failed(err)
	}
	outcome, changed := am.outcome, false
	if report.Status == checkr.ReportComplete && report.Result != "" && report.Result != outcome {
		err := workflow.ExecuteActivity(storeActivityOptions(ctx), checkrActivity(a.AmendCheckrCheck), activities.CheckrAmendmentInput{
			CheckID: b.checkID, Outcome: report.Result, Reason: "Checkr's report after " + am.after.Type,
			DedupeKey: checkrAmendmentKey(am.after), OccurredAt: workflow.Now(ctx)}).Get(ctx, &changed)
		if err != nil {
			failed(err)
			return outcome, docs, false
		}
		if changed {
			outcome = report.Result
		}
	}
	b.record(ctx, activities.TimelineInput{DedupeKey: "checkr.report_read:" + am.after.EventID, Kind: "check.report_read",
		Detail: fmt.Sprintf("Checkr report read again after %s: status %s, %s", am.after.Type, report.Status,
			describeCheckrReport(report, len(docs))), OccurredAt: workflow.Now(ctx)})
	return outcome, docs, changed
}

// checkrAmendmentKey names the amendment an event caused, for its timeline entries.
func checkrAmendmentKey(after CheckrEvent) string { return "checkr.amended:" + after.EventID }

// failOrEnd ends the check after a step failed for good: canceled when the account's access was
// revoked meanwhile, failed otherwise. what names the step, unless the error does ("").
func (w *checkrCheck) failOrEnd(ctx workflow.Context, what string, err error) (CheckResult, error) {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeAccountDeauthorized {
		return w.endCanceled(ctx, appErr.Message())
	}
	reason := failureReason(err)
	if what != "" {
		reason = what + ": " + reason
	}
	return w.fail(ctx, reason)
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

// CheckrEventInformational reports whether CheckrCheckWorkflow only records the event (see
// registry.Signal.Informational): the candidate events that ask nothing of the candidate (the
// check created the candidate and keeps no state of it), and invitation.created (the check created
// the invitation; Checkr's time for it precedes anything the candidate does, so it is never the
// progress that clears an action required). Every report event and every other invitation event
// changes what the check does or shows.
func CheckrEventInformational(ev CheckrEvent) bool {
	switch ev.Type {
	case checkr.EventCandidateIDRequired, checkr.EventCandidateDriverLicenseRequired:
		return false
	case checkr.EventInvitationCreated:
		return true
	}
	family, _, _ := strings.Cut(ev.Type, ".")
	return family == checkr.KindCandidate
}

// CheckrEventNote is the timeline entry of an event about a check, for the relay to write
// (registry.Signal.Note). CheckrCheckWorkflow records an entry of its own only when it has
// something to add (an event ignored, a finished report read again), which replaces the note.
func CheckrEventNote(ev CheckrEvent) *store.EventNote {
	return &store.EventNote{DedupeKey: "checkr:" + ev.EventID, Kind: "provider.event", Detail: ev.Describe(),
		OccurredAt: ev.CreatedAt}
}
