package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/store"
)

// AuthenticateEventSignal carries an AuthenticateEvent from the relay to the check workflow its
// user routes to.
const AuthenticateEventSignal = "authenticate-event"

// AuthenticateEvent is the PII-free digest of an Authenticate webhook, as the relay signals it. A
// report's link is not in it: the activity that downloads the report asks the API for it.
type AuthenticateEvent = authenticate.Summary

// AuthenticateCheckWorkflowName is the type name the worker registers AuthenticateCheckWorkflow
// under.
const AuthenticateCheckWorkflowName = "AuthenticateCheckWorkflow"

// AuthenticateOptions are an Authenticate check's options, as stored with the check.
type AuthenticateOptions = activities.AuthenticateOptions

// AuthenticateCheckStatus answers QueryStatus.
type AuthenticateCheckStatus struct {
	Stage            string
	CriminalComplete bool
	RecordsFound     int
	ReportUUID       string
	ReportStatus     string
	EventsReceived   int
}

// Authenticate outcomes.
const (
	OutcomeClear       = "clear"
	OutcomeRecordFound = "record_found"
)

// maxReportAttempts bounds how many PDF reports a check requests (failed generations and expired
// links) before it fails with the reason.
const maxReportAttempts = 3

// Stages of an Authenticate check, as the status query shows them.
const (
	stageCreatingUser    = "creating_user"
	stageOrdering        = "ordering_searches"
	stageAwaitingResults = "awaiting_searches"
	stageRequestingPDF   = "requesting_report"
	stageAwaitingPDF     = "awaiting_report"
)

// AuthenticateCheckWorkflow drives one Authenticate criminal check: create the user (route first),
// record consent, order the searches, follow every event until the API confirms all searches are
// complete (polling past the deadline), then obtain and store the PDF report. Authenticate's
// webhooks are unsigned, so an event is only ever a prompt to read its API again: the outcome is
// what the API last showed, and a report counts as completed or failed only when the API says so.
// Events are de-duplicated by their key, the SHA-256 of their body (authenticate.Event.Key), never
// by Authenticate's id, which may be shared by different events.
func AuthenticateCheckWorkflow(ctx workflow.Context, in CheckInput) (CheckResult, error) {
	var opts AuthenticateOptions
	// The API validated the options when it stored them; an unreadable value means none.
	_ = json.Unmarshal(in.Options, &opts)
	w := &authenticateCheck{
		checkBase:  checkBase{screeningID: in.ScreeningID, checkID: in.CheckID},
		in:         in,
		opts:       opts,
		timing:     in.Timing.withDefaults(),
		workflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		seen:       map[string]bool{},
		reports:    map[string]reportState{},
		tried:      map[string]bool{},
	}
	version := historyVersion(ctx)
	w.localWrites, w.relayNotes = version >= fewerEventsVersion, version >= eventsBypassVersion
	w.status.Stage = stageCreatingUser
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (AuthenticateCheckStatus, error) {
		return w.status, nil
	}); err != nil {
		return CheckResult{}, err
	}
	workflow.Go(ctx, w.receiveEvents)
	return runCheck(ctx, &w.checkBase, w.run)
}

type authenticateCheck struct {
	checkBase
	in         CheckInput
	opts       AuthenticateOptions
	timing     Timing
	workflowID string
	status     AuthenticateCheckStatus
	order      activities.AuthenticateOrderInput
	// relayNotes: the relay writes the timeline entries (and search updates) of the events it can
	// tell alone (AuthenticateEventNote), and keeps the informational ones from the workflow; the
	// look that finds every search complete also requests the report, and the look a report's
	// event prompts also stores it (eventsBypassVersion).
	relayNotes bool
	// requested is the report the look that found every search complete requested.
	requested *string

	seen map[string]bool // event keys already taken: the relay delivers at least once
	// Events only prompt a look: Authenticate's webhooks are unsigned, so the API is re-read
	// before the check acts on a terminal event. ALL_CRIMINAL_REQUESTS_COMPLETE may overtake the
	// last search update; once it has been seen, every completed search prompts another look.
	allCriminalSeen bool
	lookNeeded      bool
	// latest is the last complete result the API gave: the outcome is read from it.
	latest activities.AuthenticateResult
	// confirming counts MONITORING_RECORD_FOUND notices whose look at the API is in flight.
	confirming int
	reports    map[string]reportState // by reportUUID
	tried      map[string]bool        // reports an earlier attempt followed
}

type reportState struct {
	status    string    // the newest stage an event reported, for the status query
	at        time.Time // the provider's time of it
	announced bool      // an INITIATED or COMPLETED event named the report (see eventReport)
	// prompt is the key of a COMPLETED or FAILED event the API has not been asked about yet ("":
	// none), and promptStage what it said.
	prompt, promptStage string
}

func (w *authenticateCheck) run(ctx workflow.Context) (CheckResult, error) {
	var a *activities.Authenticate
	pctx := providerActivityOptions(ctx)

	showStep(ctx, "Ordering the criminal searches at Authenticate")
	if w.localWrites {
		var order activities.AuthenticateOrderInput
		err := workflow.ExecuteActivity(withSummary(pctx, "create the Authenticate user, record consent, order the searches"), authActivity(a.OrderAuthenticateCheck), activities.AuthenticateCheckInput{
			CheckID: w.in.CheckID, WorkflowID: w.workflowID, SexOffender: w.opts.SexOffender,
		}).Get(ctx, &order)
		if err != nil {
			// The activity says which of its steps failed.
			return w.fail(ctx, failureReason(err))
		}
		w.order = order
	} else if result, ended, err := w.orderInSteps(ctx); ended {
		return result, err
	}
	detail := "criminal searches ordered"
	if w.opts.SexOffender {
		detail += ", with the sex offender check"
	}
	// With fewerEventsChange, OrderAuthenticateCheck showed the check in progress.
	if err := w.updateUnlessLocal(ctx, activities.CheckUpdateInput{Status: store.StatusInProgress,
		Timeline: activities.TimelineInput{DedupeKey: "check.submitted:" + w.in.CheckID, Kind: "check.submitted",
			Detail: detail, OccurredAt: workflow.Now(ctx)}}); err != nil {
		return CheckResult{}, err
	}

	w.status.Stage = stageAwaitingResults
	if err := w.awaitSearches(ctx); err != nil {
		if errors.Is(ctx.Err(), workflow.ErrCanceled) {
			return CheckResult{}, err
		}
		var step failedStep
		if errors.As(err, &step) {
			return w.fail(ctx, failureReason(step.error))
		}
		return w.fail(ctx, "no result from Authenticate: "+failureReason(err))
	}
	w.status.CriminalComplete = true

	var docs []activities.DocumentRef
	var stored string
	if w.opts.PDFReport {
		doc, err := w.obtainReport(ctx)
		if err != nil {
			if errors.Is(ctx.Err(), workflow.ErrCanceled) {
				return CheckResult{}, err
			}
			return w.fail(ctx, err.Error())
		}
		docs, stored = []activities.DocumentRef{doc}, fmt.Sprintf("; report stored (%d bytes, sha256 %s)", doc.Size, doc.SHA256)
	}
	// A monitoring notice being looked into may still change what the API last showed.
	if err := workflow.Await(ctx, func() bool { return w.confirming == 0 }); err != nil {
		return CheckResult{}, err
	}
	outcome := authenticateOutcome(w.latest)
	return w.complete(ctx, outcome, fmt.Sprintf("outcome %s: %d of %d searches found records%s",
		outcome, w.latest.RecordsFound, w.latest.Searches, stored), docs)
}

// orderInSteps creates the user, records consent and orders the searches, each its own activity,
// as workflows started before fewerEventsChange do.
func (w *authenticateCheck) orderInSteps(ctx workflow.Context) (CheckResult, bool, error) {
	var a *activities.Authenticate
	pctx := providerActivityOptions(ctx)
	var code string
	err := workflow.ExecuteActivity(pctx, authActivity(a.CreateAuthenticateUser), activities.AuthenticateUserInput{
		CheckID: w.in.CheckID, WorkflowID: w.workflowID,
	}).Get(ctx, &code)
	if err != nil {
		result, err := w.fail(ctx, "could not create the Authenticate user: "+failureReason(err))
		return result, true, err
	}
	w.order = activities.AuthenticateOrderInput{CheckID: w.in.CheckID, UserAccessCode: code, SexOffender: w.opts.SexOffender}

	w.status.Stage = stageOrdering
	if err := workflow.ExecuteActivity(pctx, authActivity(a.RecordAuthenticateConsent), w.order).Get(ctx, nil); err != nil {
		result, err := w.fail(ctx, "could not record consent at Authenticate: "+failureReason(err))
		return result, true, err
	}
	if err := workflow.ExecuteActivity(pctx, authActivity(a.OrderAuthenticateSearches), w.order).Get(ctx, nil); err != nil {
		result, err := w.fail(ctx, "could not order the Authenticate searches: "+failureReason(err))
		return result, true, err
	}
	return CheckResult{}, false, nil
}

// authenticateOutcome is a check's outcome from a complete result of Authenticate's API.
func authenticateOutcome(r activities.AuthenticateResult) string {
	if r.RecordsFound > 0 {
		return OutcomeRecordFound
	}
	return OutcomeClear
}

// readResult reads the searches from Authenticate's API, keeping a complete result as the latest.
func (w *authenticateCheck) readResult(ctx workflow.Context) (activities.AuthenticateResult, error) {
	var a *activities.Authenticate
	var r activities.AuthenticateResult
	err := workflow.ExecuteActivity(providerActivityOptions(ctx), authActivity(a.ReadAuthenticateResult), w.order).Get(ctx, &r)
	if err == nil && r.CriminalComplete && r.SexOffenderComplete {
		w.setLatest(r)
	}
	return r, err
}

// look reads the searches from Authenticate's API and reports whether all are complete. With
// relayNotes, when they are and a report is wanted, the same activity requests it.
func (w *authenticateCheck) look(ctx workflow.Context) (complete bool, err error) {
	if !w.relayNotes || !w.opts.PDFReport {
		r, err := w.readResult(ctx)
		return r.CriminalComplete && r.SexOffenderComplete, err
	}
	var a *activities.Authenticate
	var look activities.AuthenticateLook
	if err := workflow.ExecuteActivity(reportRequestOptions(ctx), authActivity(a.LookAndRequestAuthenticatePDF), w.order).
		Get(ctx, &look); err != nil {
		return false, failedStep{err}
	}
	if !look.ReportRequested {
		return false, nil
	}
	w.setLatest(look.Result)
	w.requested = &look.ReportUUID
	return true, nil
}

// failedStep is the failure of a combined activity, whose message names the step that failed.
type failedStep struct{ error }

// reportRequestOptions are for requesting a PDF report: Authenticate allows one request per user
// per five minutes, and a 429 is retried after the wait it names.
func reportRequestOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 10 * time.Minute},
	})
}

func (w *authenticateCheck) setLatest(r activities.AuthenticateResult) {
	w.latest, w.status.RecordsFound = r, r.RecordsFound
}

// awaitSearches waits until Authenticate's API says every search is complete. An event saying so
// makes the workflow look; if the API does not agree yet (the event overtook the last update),
// it goes on waiting. Past the deadline it polls.
func (w *authenticateCheck) awaitSearches(ctx workflow.Context) error {
	deadline := workflow.Now(ctx).Add(w.timing.WebhookDeadline)
	view := awaitView{provider: "Authenticate", awaited: "every criminal search to complete (`criminal.*` webhooks)", polled: "the searches"}
	view.showWaiting(ctx, w.timing.WebhookDeadline)
	for {
		remaining := deadline.Sub(workflow.Now(ctx))
		if remaining <= 0 {
			break
		}
		signaled, err := view.awaitDeadline(ctx, remaining, func() bool { return w.allCriminalSeen && w.lookNeeded })
		if err != nil {
			return err
		}
		if !signaled {
			break
		}
		w.lookNeeded = false
		complete, err := w.look(ctx)
		if err != nil || complete {
			return err
		}
	}
	w.record(ctx, activities.TimelineInput{DedupeKey: "check.polling:" + w.in.CheckID, Kind: "check.polling",
		Detail:     fmt.Sprintf("searches not complete within %s; polling Authenticate every %s", w.timing.WebhookDeadline, w.timing.PollInterval),
		OccurredAt: workflow.Now(ctx)})
	// The API is the truth for searches, so events do not cut this poll short.
	var a *activities.Authenticate
	var r activities.AuthenticateResult
	view.showPolling(ctx, w.timing.PollInterval)
	if _, err := pollUntil(ctx, w.timing.PollInterval, view.pollSummary(w.timing.PollInterval), nil, authActivity(a.PollAuthenticateResult), w.order, &r); err != nil {
		return err
	}
	w.setLatest(r)
	return nil
}

// obtainReport requests a PDF report and stores it. A failed generation is requested again with
// back-off, and so is a report whose link expired before it could be downloaded; the provider's
// one-request-per-five-minutes limit is honoured by the request activity's retry delay.
func (w *authenticateCheck) obtainReport(ctx workflow.Context) (activities.DocumentRef, error) {
	var a *activities.Authenticate
	var lastProblem string
	for attempt := 1; attempt <= maxReportAttempts; attempt++ {
		w.status.Stage = stageRequestingPDF
		showStep(ctx, fmt.Sprintf("Requesting the PDF report from Authenticate (attempt %d of %d)", attempt, maxReportAttempts))
		var uuid string
		if w.requested != nil {
			uuid, w.requested = *w.requested, nil
		} else if err := workflow.ExecuteActivity(reportRequestOptions(ctx), authActivity(a.InitiateAuthenticatePDF), w.order).
			Get(ctx, &uuid); err != nil {
			return activities.DocumentRef{}, fmt.Errorf("could not request the PDF report: %s", failureReason(err))
		}
		w.status.Stage, w.status.ReportUUID = stageAwaitingPDF, uuid

		report, stored, err := w.awaitReport(ctx, uuid)
		expired := linkExpired(err)
		var step failedStep
		switch {
		case expired:
		case errors.As(err, &step):
			return activities.DocumentRef{}, errors.New(failureReason(step.error))
		case err != nil:
			return activities.DocumentRef{}, fmt.Errorf("no PDF report from Authenticate: %s", failureReason(err))
		}
		uuid = report.ReportUUID
		w.tried[uuid] = true
		w.status.ReportUUID, w.status.ReportStatus = uuid, report.Status
		if authenticate.Is(report.Status, authenticate.PDFFailed) {
			lastProblem = "PDF report generation failed"
			// The same timer as workflow.Sleep's, with a summary.
			if err := workflow.NewTimerWithOptions(ctx, time.Duration(attempt)*time.Minute,
				workflow.TimerOptions{Summary: "back off before requesting the PDF report again"}).Get(ctx, nil); err != nil {
				return activities.DocumentRef{}, err
			}
			continue
		}
		var doc activities.DocumentRef
		if stored != nil {
			doc = *stored
		} else if !expired {
			err = workflow.ExecuteActivity(providerActivityOptions(ctx), authActivity(a.StoreAuthenticateReport), w.reportRef(uuid)).Get(ctx, &doc)
			expired = linkExpired(err)
		}
		if expired {
			lastProblem = "the PDF report's link expired before it was downloaded"
			w.record(ctx, activities.TimelineInput{DedupeKey: "report.expired:" + uuid, Kind: "report.expired",
				Detail: "report " + uuid + ": link expired; requesting a new report", OccurredAt: workflow.Now(ctx)})
			continue
		}
		if err != nil {
			return activities.DocumentRef{}, fmt.Errorf("could not download the PDF report: %s", failureReason(err))
		}
		return doc, nil
	}
	return activities.DocumentRef{}, fmt.Errorf("%s %d times; giving up", lastProblem, maxReportAttempts)
}

// linkExpired reports whether err says a report's link expired before it was downloaded.
func linkExpired(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeReportLinkExpired
}

func (w *authenticateCheck) reportRef(uuid string) activities.ReportRef {
	return activities.ReportRef{CheckID: w.in.CheckID, UserAccessCode: w.order.UserAccessCode, ReportUUID: uuid}
}

// awaitReport waits until Authenticate's API shows the requested report COMPLETED or FAILED, and
// returns it as the API shows it. A COMPLETED or FAILED event only prompts the look: unsigned, it
// could be forged or early, and one the API does not confirm is noted in the timeline and waited
// past. When the request's answer named no report, the report is the one the events name (see
// eventReport). Past the deadline it polls.
//
// With relayNotes, the look an event prompts also stores the report the API shows COMPLETED, which
// it returns (nil when it stored none).
func (w *authenticateCheck) awaitReport(ctx workflow.Context, uuid string) (activities.AuthenticatePDF, *activities.DocumentRef, error) {
	var a *activities.Authenticate
	deadline := workflow.Now(ctx).Add(w.timing.WebhookDeadline)
	view := awaitView{provider: "Authenticate", awaited: "the PDF report " + uuid + " (`report.*` webhooks)", polled: "the report"}
	view.showWaiting(ctx, w.timing.WebhookDeadline)
	for {
		remaining := deadline.Sub(workflow.Now(ctx))
		if remaining <= 0 {
			break
		}
		signaled, err := view.awaitDeadline(ctx, remaining, func() bool {
			if uuid == "" {
				return w.eventReport() != ""
			}
			return w.reports[uuid].prompt != ""
		})
		if err != nil {
			return activities.AuthenticatePDF{}, nil, err
		}
		if !signaled {
			break
		}
		if uuid == "" {
			uuid = w.eventReport()
			w.status.ReportUUID = uuid
			w.record(ctx, activities.TimelineInput{DedupeKey: "report.named:" + uuid, Kind: "report.named",
				Detail:     "report " + uuid + ": the request's answer named no report; following the one Authenticate's events name",
				OccurredAt: workflow.Now(ctx)})
			continue
		}
		state := w.reports[uuid]
		prompt, said := state.prompt, state.promptStage
		state.prompt, state.promptStage = "", ""
		w.reports[uuid] = state
		report, stored, err := w.readReport(ctx, uuid)
		if err != nil {
			return report, nil, err
		}
		if report.ReportUUID == uuid && report.Finished() {
			return report, stored, nil
		}
		w.record(ctx, activities.TimelineInput{DedupeKey: "report.unconfirmed:" + prompt, Kind: "report.unconfirmed",
			Detail: fmt.Sprintf("report %s: an event said %s, which Authenticate's API does not confirm (its latest report: %s %s); still waiting",
				uuid, said, report.ReportUUID, report.Status),
			OccurredAt: workflow.Now(ctx)})
	}
	w.record(ctx, activities.TimelineInput{DedupeKey: "report.polling:" + uuid, Kind: "check.polling",
		Detail:     fmt.Sprintf("report %s not finished within %s; polling Authenticate every %s", uuid, w.timing.WebhookDeadline, w.timing.PollInterval),
		OccurredAt: workflow.Now(ctx)})
	// The API is the truth for the report, so events do not cut this poll short.
	var report activities.AuthenticatePDF
	view.showPolling(ctx, w.timing.PollInterval)
	_, err := pollUntil(ctx, w.timing.PollInterval, view.pollSummary(w.timing.PollInterval), nil, authActivity(a.PollAuthenticatePDF), w.reportRef(uuid), &report)
	return report, nil, err
}

// readReport reads the report from Authenticate's API. With relayNotes, the same activity stores
// it when the API shows it COMPLETED; its failure names the step that failed (failedStep), and a
// link that expired is a COMPLETED report not stored.
func (w *authenticateCheck) readReport(ctx workflow.Context, uuid string) (activities.AuthenticatePDF, *activities.DocumentRef, error) {
	var a *activities.Authenticate
	pctx := providerActivityOptions(ctx)
	if !w.relayNotes {
		var report activities.AuthenticatePDF
		err := workflow.ExecuteActivity(pctx, authActivity(a.ReadAuthenticatePDF), w.reportRef(uuid)).Get(ctx, &report)
		return report, nil, err
	}
	var read activities.AuthenticateReportRead
	err := workflow.ExecuteActivity(pctx, authActivity(a.ReadAndStoreAuthenticateReport), w.reportRef(uuid)).Get(ctx, &read)
	switch {
	case linkExpired(err):
		return activities.AuthenticatePDF{ReportUUID: uuid, Status: authenticate.PDFCompleted}, nil, err
	case err != nil:
		return activities.AuthenticatePDF{}, nil, failedStep{err}
	}
	return read.Report, read.Document, nil
}

// eventReport is the report the events name, for a request whose answer named none: the newest
// one an INITIATED or COMPLETED event announced that no earlier attempt followed; "" while there
// is none. Every event it reads is about this check's user, who has no other reports.
func (w *authenticateCheck) eventReport() string {
	var newest string
	var newestAt time.Time
	// Map order varies; the newest by time, then by uuid, does not.
	for uuid, r := range w.reports {
		if !r.announced || w.tried[uuid] {
			continue
		}
		if newest == "" || r.at.After(newestAt) || (r.at.Equal(newestAt) && uuid > newest) {
			newest, newestAt = uuid, r.at
		}
	}
	return newest
}

func (w *authenticateCheck) receiveEvents(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, AuthenticateEventSignal)
	for {
		var ev AuthenticateEvent
		ch.Receive(ctx, &ev)
		w.accept(ctx, ev)
	}
}

// accept folds one event into the state: duplicates are dropped by event key, and each event is
// recorded in the timeline (search updates through their own activity, which also drops stale
// ones by the provider's time). With relayNotes, the relay has recorded every event that
// AuthenticateEventNote describes.
func (w *authenticateCheck) accept(ctx workflow.Context, ev AuthenticateEvent) {
	if ev.EventID == "" || w.seen[ev.EventID] {
		return
	}
	w.seen[ev.EventID] = true
	w.status.EventsReceived++
	occurred := ev.OccurredAt
	if occurred.IsZero() {
		occurred = workflow.Now(ctx)
	}
	switch ev.Type {
	case authenticate.EventCriminalStatusUpdate, authenticate.EventSexOffenderStatusUpdate:
		if ev.Search == nil {
			break
		}
		if authenticate.Is(ev.Search.SearchStatus, authenticate.SearchComplete) {
			w.lookNeeded = true
		}
		if w.relayNotes {
			return
		}
		var a *activities.Authenticate
		w.recordWith(ctx, authActivity(a.RecordSearchUpdate), activities.SearchUpdateInput{ScreeningID: w.in.ScreeningID,
			CheckID: w.in.CheckID, EventID: ev.EventID, Search: *ev.Search, OccurredAt: occurred})
		return
	case authenticate.EventAllCriminalComplete:
		w.allCriminalSeen, w.lookNeeded = true, true
	case authenticate.EventPDFReportGeneration:
		w.applyReportEvent(ev, occurred)
	case authenticate.EventMonitoringRecordFound:
		w.confirmRecord(ctx, ev, occurred)
		return
	}
	if w.relayNotes {
		return
	}
	w.record(ctx, activities.TimelineInput{DedupeKey: "authenticate:" + ev.EventID, Kind: "provider.event",
		Detail: ev.Describe(), OccurredAt: occurred})
}

// confirmRecord reads Authenticate's API again for a MONITORING_RECORD_FOUND: anyone holding the
// webhook URL could send one, so only a record the API shows counts (it becomes the latest result
// the outcome is read from). The timeline says whether the API confirmed it.
func (w *authenticateCheck) confirmRecord(ctx workflow.Context, ev AuthenticateEvent, occurred time.Time) {
	w.confirming++
	workflow.Go(ctx, func(gctx workflow.Context) {
		defer func() { w.confirming-- }()
		// The user's route is written just before its code reaches the workflow, so an event can
		// come first.
		if err := workflow.Await(gctx, func() bool { return w.order.UserAccessCode != "" }); err != nil {
			return
		}
		r, err := w.readResult(gctx)
		w.record(gctx, activities.TimelineInput{DedupeKey: "authenticate:" + ev.EventID, Kind: "provider.event",
			Detail: ev.Describe() + ": " + recordConfirmation(r, err), OccurredAt: occurred})
	})
}

// recordConfirmation says whether a read of Authenticate's API confirms a record.
func recordConfirmation(r activities.AuthenticateResult, err error) string {
	switch {
	case err != nil:
		return "not confirmed: Authenticate's API could not be read (" + failureReason(err) + "); nothing changes"
	case r.RecordsFound == 0:
		return "not confirmed by Authenticate's API, which shows no record; nothing changes"
	}
	return fmt.Sprintf("confirmed by Authenticate's API (%d of %d searches found records)", r.RecordsFound, r.Searches)
}

// applyReportEvent notes a report's stage. The newest stage by the provider's time is shown (a late
// INITIATED does not undo COMPLETED); INITIATED and COMPLETED name a report the check may follow,
// and COMPLETED and FAILED prompt a look at the API. With relayNotes, INITIATED does not reach the
// workflow (AuthenticateEventInformational), so FAILED names a report too.
func (w *authenticateCheck) applyReportEvent(ev AuthenticateEvent, at time.Time) {
	if ev.ReportUUID == "" {
		return
	}
	r := w.reports[ev.ReportUUID]
	if r.status == "" || !at.Before(r.at) {
		r.status, r.at = ev.Status, at
	}
	completed, failed := authenticate.Is(ev.Status, authenticate.PDFCompleted), authenticate.Is(ev.Status, authenticate.PDFFailed)
	if completed || authenticate.Is(ev.Status, authenticate.PDFInitiated) || (failed && w.relayNotes) {
		r.announced = true
	}
	if completed || failed {
		r.prompt, r.promptStage = ev.EventID, ev.Status
	}
	w.reports[ev.ReportUUID] = r
	if ev.ReportUUID == w.status.ReportUUID || w.status.ReportUUID == "" {
		w.status.ReportStatus = r.status
	}
}

// authActivity names an Authenticate activity as the worker registers it.
func authActivity(method any) string { return providerActivity(authenticate.Name, method) }

// AuthenticateEventInformational reports whether AuthenticateCheckWorkflow only records the event
// (registry.Signal.Informational), and after which event type it is a prompt after all
// (registry.Signal.PromptAfter). Search updates: only a completed search prompts a look, and only
// once ALL_CRIMINAL_REQUESTS_COMPLETE has come; before, the look that event prompts reads every
// search anyway. A report's INITIATED: the check follows the report its request named, and when
// the answer named none, the COMPLETED or FAILED event names it. User, verification and review
// events, and types it does not know, are only recorded. ALL_CRIMINAL_REQUESTS_COMPLETE, a
// report's COMPLETED or FAILED, and MONITORING_RECORD_FOUND make it look at the API.
func AuthenticateEventInformational(ev AuthenticateEvent) (informational bool, promptAfter string) {
	switch ev.Type {
	case authenticate.EventCriminalStatusUpdate, authenticate.EventSexOffenderStatusUpdate:
		if ev.Search != nil && authenticate.Is(ev.Search.SearchStatus, authenticate.SearchComplete) {
			return true, authenticate.EventAllCriminalComplete
		}
		return true, ""
	case authenticate.EventAllCriminalComplete, authenticate.EventMonitoringRecordFound:
		return false, ""
	case authenticate.EventPDFReportGeneration:
		prompts := authenticate.Is(ev.Status, authenticate.PDFCompleted) || authenticate.Is(ev.Status, authenticate.PDFFailed)
		return !prompts || ev.ReportUUID == "", ""
	}
	return true, ""
}

// AuthenticateEventNote is the timeline entry (and search update) AuthenticateCheckWorkflow
// records for the event, for the relay to write instead (registry.Signal.Note); nil for
// MONITORING_RECORD_FOUND, whose entry says what the API showed.
func AuthenticateEventNote(ev AuthenticateEvent) *store.EventNote {
	note := &store.EventNote{DedupeKey: "authenticate:" + ev.EventID, Kind: "provider.event", Detail: ev.Describe(),
		OccurredAt: ev.OccurredAt}
	switch {
	case ev.Type == authenticate.EventMonitoringRecordFound:
		return nil
	case ev.Search != nil && (ev.Type == authenticate.EventCriminalStatusUpdate || ev.Type == authenticate.EventSexOffenderStatusUpdate):
		note.Detail = ev.Search.Describe()
		note.Search = &store.Search{UniqueIdentifier: ev.Search.UniqueIdentifier, SearchType: ev.Search.SearchType,
			SearchStatus: ev.Search.SearchStatus, SearchSubStatus: ev.Search.SearchSubStatus}
	}
	return note
}
