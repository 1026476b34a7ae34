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
type AuthenticateOptions struct {
	SexOffender bool `json:"sex_offender"`
	PDFReport   bool `json:"pdf_report"`
}

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
// complete (polling past the deadline), then obtain and store the PDF report.
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
	}
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

	seen map[string]bool
	// Events only prompt a look: Authenticate's webhooks are unsigned, so the API is re-read
	// before the check acts on a terminal event. ALL_CRIMINAL_REQUESTS_COMPLETE may overtake the
	// last search update; once it has been seen, every completed search prompts another look.
	allCriminalSeen  bool
	lookNeeded       bool
	monitoringRecord bool
	reports          map[string]reportState // by reportUUID
}

type reportState struct {
	status string
	at     time.Time // the provider's time of the status
}

func (w *authenticateCheck) run(ctx workflow.Context) (CheckResult, error) {
	var a *activities.Authenticate
	pctx := providerActivityOptions(ctx)

	var code string
	err := workflow.ExecuteActivity(pctx, authActivity(a.CreateAuthenticateUser), activities.AuthenticateUserInput{
		CheckID: w.in.CheckID, WorkflowID: w.workflowID,
	}).Get(ctx, &code)
	if err != nil {
		return w.fail(ctx, "could not create the Authenticate user: "+failureReason(err))
	}
	w.order = activities.AuthenticateOrderInput{CheckID: w.in.CheckID, UserAccessCode: code, SexOffender: w.opts.SexOffender}

	w.status.Stage = stageOrdering
	if err := workflow.ExecuteActivity(pctx, authActivity(a.RecordAuthenticateConsent), w.order).Get(ctx, nil); err != nil {
		return w.fail(ctx, "could not record consent at Authenticate: "+failureReason(err))
	}
	if err := workflow.ExecuteActivity(pctx, authActivity(a.OrderAuthenticateSearches), w.order).Get(ctx, nil); err != nil {
		return w.fail(ctx, "could not order the Authenticate searches: "+failureReason(err))
	}
	detail := "criminal searches ordered"
	if w.opts.SexOffender {
		detail += ", with the sex offender check"
	}
	if err := w.update(ctx, activities.CheckUpdateInput{Status: store.StatusInProgress,
		Timeline: activities.TimelineInput{DedupeKey: "check.submitted:" + w.in.CheckID, Kind: "check.submitted",
			Detail: detail, OccurredAt: workflow.Now(ctx)}}); err != nil {
		return CheckResult{}, err
	}

	w.status.Stage = stageAwaitingResults
	result, err := w.awaitSearches(ctx)
	if err != nil {
		if errors.Is(ctx.Err(), workflow.ErrCanceled) {
			return CheckResult{}, err
		}
		return w.fail(ctx, "no result from Authenticate: "+failureReason(err))
	}
	w.status.CriminalComplete = true
	w.status.RecordsFound = result.RecordsFound
	outcome := OutcomeClear
	if result.RecordsFound > 0 || w.monitoringRecord {
		outcome = OutcomeRecordFound
	}
	summary := fmt.Sprintf("outcome %s: %d of %d searches found records", outcome, result.RecordsFound, result.Searches)
	if !w.opts.PDFReport {
		return w.complete(ctx, outcome, summary, nil)
	}

	doc, err := w.obtainReport(ctx)
	if err != nil {
		if errors.Is(ctx.Err(), workflow.ErrCanceled) {
			return CheckResult{}, err
		}
		return w.fail(ctx, err.Error())
	}
	return w.complete(ctx, outcome, fmt.Sprintf("%s; report stored (%d bytes, sha256 %s)", summary, doc.Size, doc.SHA256),
		[]activities.DocumentRef{doc})
}

// awaitSearches waits until Authenticate's API says every search is complete. An event saying so
// makes the workflow look; if the API does not agree yet (the event overtook the last update),
// it goes on waiting. Past the deadline it polls.
func (w *authenticateCheck) awaitSearches(ctx workflow.Context) (activities.AuthenticateResult, error) {
	var a *activities.Authenticate
	deadline := workflow.Now(ctx).Add(w.timing.WebhookDeadline)
	for {
		remaining := deadline.Sub(workflow.Now(ctx))
		if remaining <= 0 {
			break
		}
		signaled, err := workflow.AwaitWithTimeout(ctx, remaining, func() bool { return w.allCriminalSeen && w.lookNeeded })
		if err != nil {
			return activities.AuthenticateResult{}, err
		}
		if !signaled {
			break
		}
		w.lookNeeded = false
		var r activities.AuthenticateResult
		if err := workflow.ExecuteActivity(providerActivityOptions(ctx), authActivity(a.ReadAuthenticateResult), w.order).Get(ctx, &r); err != nil {
			return r, err
		}
		if r.CriminalComplete && r.SexOffenderComplete {
			return r, nil
		}
	}
	w.record(ctx, activities.TimelineInput{DedupeKey: "check.polling:" + w.in.CheckID, Kind: "check.polling",
		Detail:     fmt.Sprintf("searches not complete within %s; polling Authenticate every %s", w.timing.WebhookDeadline, w.timing.PollInterval),
		OccurredAt: workflow.Now(ctx)})
	// The API is the truth for searches, so events do not cut this poll short.
	var r activities.AuthenticateResult
	_, err := pollUntil(ctx, w.timing.PollInterval, nil, authActivity(a.PollAuthenticateResult), w.order, &r)
	return r, err
}

// obtainReport requests a PDF report and stores it. A failed generation is requested again with
// back-off, and so is a report whose link expired before it could be downloaded; the provider's
// one-request-per-five-minutes limit is honoured by the request activity's retry delay.
func (w *authenticateCheck) obtainReport(ctx workflow.Context) (activities.DocumentRef, error) {
	var a *activities.Authenticate
	var lastProblem string
	for attempt := 1; attempt <= maxReportAttempts; attempt++ {
		w.status.Stage = stageRequestingPDF
		var uuid string
		rctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout:    time.Minute,
			ScheduleToCloseTimeout: 24 * time.Hour,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2,
				MaximumInterval: 10 * time.Minute},
		})
		if err := workflow.ExecuteActivity(rctx, authActivity(a.InitiateAuthenticatePDF), w.order).Get(ctx, &uuid); err != nil {
			return activities.DocumentRef{}, fmt.Errorf("could not request the PDF report: %s", failureReason(err))
		}
		w.status.Stage, w.status.ReportUUID = stageAwaitingPDF, uuid

		state, err := w.awaitReport(ctx, uuid)
		if err != nil {
			return activities.DocumentRef{}, fmt.Errorf("no PDF report from Authenticate: %s", failureReason(err))
		}
		if state.status == authenticate.PDFFailed {
			lastProblem = "PDF report generation failed"
			if err := workflow.Sleep(ctx, time.Duration(attempt)*time.Minute); err != nil {
				return activities.DocumentRef{}, err
			}
			continue
		}
		var doc activities.DocumentRef
		err = workflow.ExecuteActivity(providerActivityOptions(ctx), authActivity(a.StoreAuthenticateReport), activities.ReportRef{
			CheckID: w.in.CheckID, UserAccessCode: w.order.UserAccessCode, ReportUUID: uuid,
		}).Get(ctx, &doc)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeReportLinkExpired {
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

// awaitReport waits for the report's COMPLETED or FAILED event, polling past the deadline.
func (w *authenticateCheck) awaitReport(ctx workflow.Context, uuid string) (reportState, error) {
	var a *activities.Authenticate
	var status string
	byEvent, err := awaitOrPoll(ctx, w.timing, func() bool {
		st := w.reports[uuid].status
		return st == authenticate.PDFCompleted || st == authenticate.PDFFailed
	}, func() {
		w.record(ctx, activities.TimelineInput{DedupeKey: "report.polling:" + uuid, Kind: "check.polling",
			Detail:     fmt.Sprintf("report %s not finished within %s; polling Authenticate every %s", uuid, w.timing.WebhookDeadline, w.timing.PollInterval),
			OccurredAt: workflow.Now(ctx)})
	}, authActivity(a.PollAuthenticatePDF), activities.ReportRef{
		CheckID: w.in.CheckID, UserAccessCode: w.order.UserAccessCode, ReportUUID: uuid,
	}, &status)
	if byEvent {
		return w.reports[uuid], nil
	}
	return reportState{status: status}, err
}

func (w *authenticateCheck) receiveEvents(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, AuthenticateEventSignal)
	for {
		var ev AuthenticateEvent
		ch.Receive(ctx, &ev)
		w.accept(ctx, ev)
	}
}

// accept folds one event into the state: duplicates are dropped by event id, and each event is
// recorded in the timeline (search updates through their own activity, which also drops stale
// ones by the provider's time).
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
		if ev.Search.SearchStatus == authenticate.SearchComplete {
			w.lookNeeded = true
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
		w.monitoringRecord = true
	}
	w.record(ctx, activities.TimelineInput{DedupeKey: "authenticate:" + ev.EventID, Kind: "provider.event",
		Detail: describeAuthenticateEvent(ev), OccurredAt: occurred})
}

// applyReportEvent keeps each report's newest stage; a late INITIATED does not undo COMPLETED.
func (w *authenticateCheck) applyReportEvent(ev AuthenticateEvent, at time.Time) {
	prev, known := w.reports[ev.ReportUUID]
	finished := prev.status == authenticate.PDFCompleted || prev.status == authenticate.PDFFailed
	if known && (finished || at.Before(prev.at)) {
		return
	}
	w.reports[ev.ReportUUID] = reportState{status: ev.Status, at: at}
	if ev.ReportUUID == w.status.ReportUUID || w.status.ReportUUID == "" {
		w.status.ReportStatus = ev.Status
	}
}

func describeAuthenticateEvent(ev AuthenticateEvent) string {
	d := ev.Type
	switch {
	case ev.ReportUUID != "":
		d += fmt.Sprintf(": report %s %s", ev.ReportUUID, ev.Status)
	case ev.Status != "" && ev.VerificationMethod != "":
		d += fmt.Sprintf(": %s (%s)", ev.Status, ev.VerificationMethod)
	case ev.Status != "":
		d += ": " + ev.Status
	}
	return d
}

// authActivity names an Authenticate activity as the worker registers it.
func authActivity(method any) string { return providerActivity(authenticate.Name, method) }
