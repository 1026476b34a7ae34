package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/store"
)

// Combined steps: where a check workflow ran several provider calls in a row, each its own
// activity, one activity now runs them in order. Every call it makes is idempotent on its own (a
// retry finds what an earlier attempt created), so a retry of the whole is as safe as a retry of
// one, and the workflow's history keeps one activity (three events and one workflow task) instead
// of several. Workflows started before the change keep calling the single steps.

// submitted shows the check in progress, with the timeline entry that says what was placed at the
// provider: the write a workflow made right after the calls that placed it.
func submitted(ctx context.Context, st *store.Store, checkID, detail string) error {
	return (&Screenings{Store: st}).UpdateCheck(ctx, CheckUpdateInput{CheckID: checkID, Status: store.StatusInProgress,
		Timeline: TimelineInput{DedupeKey: "check.submitted:" + checkID, Kind: "check.submitted", Detail: detail,
			OccurredAt: time.Now()}})
}

// stepFailed names the step of a combined activity that failed, keeping the error's type and
// whether a retry can help, which the workflow and the retry policy read.
func stepFailed(step string, err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return temporal.NewApplicationErrorWithOptions(step+": "+appErr.Message(), appErr.Type(),
			temporal.ApplicationErrorOptions{NonRetryable: appErr.NonRetryable(), Cause: appErr.Unwrap(),
				NextRetryDelay: appErr.NextRetryDelay()})
	}
	return fmt.Errorf("%s: %w", step, err)
}

// OpenCheckInput names the check to open at ComplyCube: its client, then the check.
type OpenCheckInput struct {
	CheckID    string
	CheckType  string
	WorkflowID string
}

// OpenComplyCubeCheck creates the client (CreateClient) and the check (CreateCheck), each routed
// before ComplyCube can send an event about it, and shows the check in progress.
func (a *ComplyCube) OpenComplyCubeCheck(ctx context.Context, in OpenCheckInput) (ProviderCheck, error) {
	clientID, err := a.CreateClient(ctx, CreateClientInput{CheckID: in.CheckID, WorkflowID: in.WorkflowID})
	if err != nil {
		return ProviderCheck{}, stepFailed("could not create the ComplyCube client", err)
	}
	created, err := a.CreateCheck(ctx, CreateCheckInput{CheckID: in.CheckID, ClientID: clientID,
		CheckType: in.CheckType, WorkflowID: in.WorkflowID})
	if err != nil {
		return ProviderCheck{}, stepFailed("could not create the ComplyCube check", err)
	}
	return created, submitted(ctx, a.Store, in.CheckID, fmt.Sprintf("ComplyCube %s %s created", in.CheckType, created.ID))
}

// AuthenticateCheckInput names the Authenticate check to order.
type AuthenticateCheckInput struct {
	CheckID     string
	WorkflowID  string
	SexOffender bool
}

// OrderAuthenticateCheck creates the user (CreateAuthenticateUser, routed first), records consent,
// orders the searches and shows the check in progress; it returns the order the check follows.
func (a *Authenticate) OrderAuthenticateCheck(ctx context.Context, in AuthenticateCheckInput) (AuthenticateOrderInput, error) {
	code, err := a.CreateAuthenticateUser(ctx, AuthenticateUserInput{CheckID: in.CheckID, WorkflowID: in.WorkflowID})
	if err != nil {
		return AuthenticateOrderInput{}, stepFailed("could not create the Authenticate user", err)
	}
	order := AuthenticateOrderInput{CheckID: in.CheckID, UserAccessCode: code, SexOffender: in.SexOffender}
	if err := a.RecordAuthenticateConsent(ctx, order); err != nil {
		return order, stepFailed("could not record consent at Authenticate", err)
	}
	if err := a.OrderAuthenticateSearches(ctx, order); err != nil {
		return order, stepFailed("could not order the Authenticate searches", err)
	}
	detail := "criminal searches ordered"
	if in.SexOffender {
		detail += ", with the sex offender check"
	}
	return order, submitted(ctx, a.Store, in.CheckID, detail)
}

// CheckrOrdered is what OrderCheckr placed: the candidate, and the report or the invitation.
type CheckrOrdered struct {
	CandidateID  string
	ReportID     string // report mode
	InvitationID string // invitation mode
}

// OrderCheckr creates the candidate (CreateCheckrCandidate), then orders the report
// (CreateCheckrReport) or invites the candidate (CreateCheckrInvitation), as the mode says, and
// shows the check in progress.
func (a *Checkr) OrderCheckr(ctx context.Context, in CheckrOrderInput) (CheckrOrdered, error) {
	var ordered CheckrOrdered
	candidateID, err := a.CreateCheckrCandidate(ctx, in)
	if err != nil {
		return ordered, stepFailed("could not create the Checkr candidate", err)
	}
	ordered.CandidateID, in.CandidateID = candidateID, candidateID
	if in.Mode == CheckrModeInvitation {
		if ordered.InvitationID, err = a.CreateCheckrInvitation(ctx, in); err != nil {
			return ordered, stepFailed("could not invite the candidate through Checkr", err)
		}
		return ordered, submitted(ctx, a.Store, in.CheckID,
			fmt.Sprintf("Checkr invitation %s sent (package %s)", ordered.InvitationID, in.Package))
	}
	if ordered.ReportID, err = a.CreateCheckrReport(ctx, in); err != nil {
		return ordered, stepFailed("could not order the Checkr report", err)
	}
	return ordered, submitted(ctx, a.Store, in.CheckID, fmt.Sprintf("Checkr report %s ordered (package %s)", ordered.ReportID, in.Package))
}

// CheckrReportReadInput names the report to read, the documents already stored, and whether an
// event said the report was canceled.
type CheckrReportReadInput struct {
	Report CheckrReportRef
	// Stored are the Checkr document ids stored before: they are not downloaded again.
	Stored []string
	// CanceledByEvent: a report.canceled came; unless the API says the report completed after
	// all, its documents are not stored.
	CanceledByEvent bool
}

// CheckrReportRead is the report as Checkr's API has it, and the documents stored now.
type CheckrReportRead struct {
	Report    CheckrReportSummary
	Documents []DocumentRef
	// StoredIDs are the Checkr ids of Documents, in their order.
	StoredIDs []string
}

// ReadCheckrReport reads the report (FetchCheckrReport) and, unless it was canceled, stores each of
// its documents not stored before (StoreCheckrDocument, which asks for a fresh download link each
// time and stores a document once).
func (a *Checkr) ReadCheckrReport(ctx context.Context, in CheckrReportReadInput) (CheckrReportRead, error) {
	var read CheckrReportRead
	report, err := a.FetchCheckrReport(ctx, in.Report)
	if err != nil {
		return read, stepFailed("could not read the Checkr report", err)
	}
	read.Report = report
	if report.Status == checkr.ReportCanceled || (report.Status != checkr.ReportComplete && in.CanceledByEvent) {
		return read, nil
	}
	for _, id := range report.DocumentIDs {
		if slices.Contains(in.Stored, id) {
			continue
		}
		doc, err := a.StoreCheckrDocument(ctx, CheckrDocumentInput{CheckID: in.Report.CheckID, AccountID: in.Report.AccountID, DocumentID: id})
		if err != nil {
			return read, stepFailed("could not download a Checkr report document", err)
		}
		read.Documents, read.StoredIDs = append(read.Documents, doc), append(read.StoredIDs, id)
	}
	return read, nil
}

// AuthenticateLook is what a look at Authenticate's searches found, and the PDF report requested
// when it found them all complete.
type AuthenticateLook struct {
	Result          AuthenticateResult
	ReportRequested bool
	ReportUUID      string // "" when the request's answer named no report
}

// LookAndRequestAuthenticatePDF reads the searches (ReadAuthenticateResult) and, when all are
// complete, requests the PDF report (InitiateAuthenticatePDF): what a check ran as two activities
// once a look found the searches complete. A retry reads again and asks again, as a retry of the
// request alone did; a 429 waits the time it names.
func (a *Authenticate) LookAndRequestAuthenticatePDF(ctx context.Context, in AuthenticateOrderInput) (AuthenticateLook, error) {
	var look AuthenticateLook
	result, err := a.ReadAuthenticateResult(ctx, in)
	if err != nil {
		return look, stepFailed("no result from Authenticate", err)
	}
	look.Result = result
	if !result.CriminalComplete || !result.SexOffenderComplete {
		return look, nil
	}
	if look.ReportUUID, err = a.InitiateAuthenticatePDF(ctx, in); err != nil {
		return look, stepFailed("could not request the PDF report", err)
	}
	look.ReportRequested = true
	return look, nil
}

// AuthenticateReportRead is the report as Authenticate's API shows it, and the document stored
// when it showed the report COMPLETED.
type AuthenticateReportRead struct {
	Report   AuthenticatePDF
	Document *DocumentRef
}

// ReadAndStoreAuthenticateReport reads the user's latest report (ReadAuthenticatePDF) and, when the
// API shows the one named COMPLETED, stores it (StoreAuthenticateReport, which asks the API for its
// link): what a check ran as two activities once an event said the report completed. A link that
// expired fails with ErrTypeReportLinkExpired, as StoreAuthenticateReport does.
func (a *Authenticate) ReadAndStoreAuthenticateReport(ctx context.Context, in ReportRef) (AuthenticateReportRead, error) {
	var read AuthenticateReportRead
	report, err := a.ReadAuthenticatePDF(ctx, in)
	if err != nil {
		return read, stepFailed("no PDF report from Authenticate", err)
	}
	read.Report = report
	if report.ReportUUID != in.ReportUUID || !authenticate.Is(report.Status, authenticate.PDFCompleted) {
		return read, nil
	}
	doc, err := a.StoreAuthenticateReport(ctx, in)
	if err != nil {
		return read, stepFailed("could not download the PDF report", err)
	}
	read.Document = &doc
	return read, nil
}
