package activities

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

// Checkr check modes.
const (
	CheckrModeInvitation = "invitation" // the candidate enters their data on Checkr's hosted page
	CheckrModeReport     = "report"     // we send the candidate's data and order the report directly
)

// Checkr talks to Checkr for the check workflows, with the direct account's key or the
// integrated account's OAuth access token, kept sealed in Postgres.
type Checkr struct {
	Store  *store.Store
	Client *checkr.Client // with CHECKR_API_KEY: direct accounts
	Vault  *vault.Vault
	// DeletionContact is the email address a request to remove a candidate's PII names as its
	// requester (CHECKR_DELETION_CONTACT_EMAIL); "" → no removal can be requested.
	DeletionContact string
}

// clientFor returns a client authenticated as the account: the direct key when accountID is "".
func (a *Checkr) clientFor(ctx context.Context, accountID string) (*checkr.Client, error) {
	if accountID == "" {
		return a.Client, nil
	}
	acct, err := a.Store.CheckrAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if acct.Status == store.CheckrDeauthorized || len(acct.AccessTokenSealed) == 0 {
		return nil, permanent("the Checkr account "+accountID+" is deauthorized; reconnect it", ErrTypeAccountDeauthorized)
	}
	token, err := a.Vault.Open(acct.AccessTokenSealed, []byte(accountID))
	if err != nil {
		return nil, permanent("the Checkr access token cannot be decrypted: is the encryption key right?", ErrTypeSealedTokenUnreadable)
	}
	return a.Client.WithKey(string(token)), nil
}

// AwaitingCredentialingInput marks a check as waiting for its account, or as waiting no more.
type AwaitingCredentialingInput struct {
	CheckID  string
	Awaiting bool
}

// SetAwaitingCredentialing shows the check as awaiting_credentialing in the HR API, or back to pending.
func (a *Checkr) SetAwaitingCredentialing(ctx context.Context, in AwaitingCredentialingInput) error {
	return a.Store.SetCheckAwaitingCredentialing(ctx, in.CheckID, in.Awaiting)
}

// ActionRequiredInput marks a check as waiting for the candidate, or as waiting no more.
type ActionRequiredInput struct {
	CheckID  string
	Required bool
}

// SetActionRequired shows the check as action_required in the HR API, or back in_progress.
func (a *Checkr) SetActionRequired(ctx context.Context, in ActionRequiredInput) error {
	return a.Store.SetCheckActionRequired(ctx, in.CheckID, in.Required)
}

// CheckrOrderInput names a check and how it is ordered at Checkr.
type CheckrOrderInput struct {
	CheckID     string
	AccountID   string // "" for the direct account
	Mode        string
	Package     string
	CandidateID string
	WorkflowID  string
}

// CreateCheckrCandidate creates the candidate once per check (our check id is its custom_id, so a
// retry after a lost answer finds it) and routes its events. In invitation mode Checkr collects
// the candidate's data itself, so only the email is sent.
func (a *Checkr) CreateCheckrCandidate(ctx context.Context, in CheckrOrderInput) (string, error) {
	check, err := a.Store.Check(ctx, in.CheckID)
	if err != nil {
		return "", err
	}
	if check.ProviderClientID != nil {
		return *check.ProviderClientID, nil
	}
	client, err := a.clientFor(ctx, in.AccountID)
	if err != nil {
		return "", err
	}
	cand, found, err := client.FindCandidate(ctx, in.CheckID)
	if err != nil {
		return "", providerError("Checkr", err)
	}
	if !found {
		person, err := a.Store.CandidateForCheck(ctx, in.CheckID)
		if err != nil {
			return "", err
		}
		req := checkr.CandidateRequest{Email: person.Email, CustomID: in.CheckID}
		if in.Mode == CheckrModeReport {
			req.FirstName, req.LastName, req.DOB, req.Zipcode = person.FirstName, person.LastName, person.DOB, person.PostalCode
		}
		if cand, err = client.CreateCandidate(ctx, req); err != nil {
			return "", providerError("Checkr", err)
		}
	}
	if err := a.Store.SetProviderClient(ctx, in.CheckID, checkr.Name, cand.ID,
		checkr.SubjectFor("candidate", cand.ID), in.WorkflowID); err != nil {
		return "", err
	}
	return cand.ID, nil
}

// CreateCheckrInvitation invites the candidate once (an invitation already made for the
// candidate, who is ours alone, is adopted), stores its URL for the HR API and routes its events.
func (a *Checkr) CreateCheckrInvitation(ctx context.Context, in CheckrOrderInput) (string, error) {
	client, err := a.clientFor(ctx, in.AccountID)
	if err != nil {
		return "", err
	}
	existing, err := client.ListInvitations(ctx, in.CandidateID)
	if err != nil {
		return "", providerError("Checkr", err)
	}
	var inv *checkr.Invitation
	for i := range existing {
		if existing[i].Package == in.Package {
			inv = &existing[i]
			break
		}
	}
	if inv == nil {
		created, err := client.CreateInvitation(ctx, checkr.InvitationRequest{Package: in.Package, CandidateID: in.CandidateID})
		if err != nil {
			return "", providerError("Checkr", err)
		}
		inv = &created
	}
	if err := a.Store.AddRoute(ctx, checkr.Name, checkr.SubjectFor("invitation", inv.ID), in.WorkflowID); err != nil {
		return "", err
	}
	if err := a.Store.SetInvitationURL(ctx, in.CheckID, inv.InvitationURL); err != nil {
		return "", err
	}
	return inv.ID, nil
}

// CreateCheckrReport orders the report once (a report already ordered for the candidate is
// adopted) and routes its events.
func (a *Checkr) CreateCheckrReport(ctx context.Context, in CheckrOrderInput) (string, error) {
	check, err := a.Store.Check(ctx, in.CheckID)
	if err != nil {
		return "", err
	}
	if check.ProviderCheckID != nil {
		return *check.ProviderCheckID, nil
	}
	client, err := a.clientFor(ctx, in.AccountID)
	if err != nil {
		return "", err
	}
	existing, err := client.ListReports(ctx, in.CandidateID)
	if err != nil {
		return "", providerError("Checkr", err)
	}
	reportID := ""
	for _, r := range existing {
		if r.Package == in.Package {
			reportID = r.ID
			break
		}
	}
	if reportID == "" {
		r, err := client.CreateReport(ctx, checkr.ReportRequest{Package: in.Package, CandidateID: in.CandidateID})
		if err != nil {
			return "", providerError("Checkr", err)
		}
		reportID = r.ID
	}
	return reportID, a.TrackCheckrReport(ctx, CheckrReportRef{CheckID: in.CheckID, ReportID: reportID, WorkflowID: in.WorkflowID})
}

// CheckrInvitationRef names an invitation of a check.
type CheckrInvitationRef struct {
	AccountID    string
	InvitationID string
}

// CheckrInvitationSummary is an invitation as the workflow needs it: never its URL, which lets
// anyone fill it in.
type CheckrInvitationSummary struct {
	Status   string // completed, expired or deleted
	ReportID string // once completed
}

// PollCheckrInvitation reads the invitation (GET /v1/invitations/{id}) and fails with
// ErrTypeNotReady while the candidate has not completed it, so that its retry policy polls: it is
// what finds the report when invitation.completed is lost.
func (a *Checkr) PollCheckrInvitation(ctx context.Context, in CheckrInvitationRef) (CheckrInvitationSummary, error) {
	client, err := a.clientFor(ctx, in.AccountID)
	if err != nil {
		return CheckrInvitationSummary{}, err
	}
	inv, err := client.GetInvitation(ctx, in.InvitationID)
	if err != nil {
		return CheckrInvitationSummary{}, providerError("Checkr", err)
	}
	status := inv.Status
	if inv.DeletedAt != nil {
		status = checkr.InvitationDeleted
	}
	switch {
	case status == checkr.InvitationPending:
		return CheckrInvitationSummary{}, notReady("the invitation is pending")
	case status == checkr.InvitationCompleted && inv.ReportID == "":
		return CheckrInvitationSummary{}, notReady("the invitation is completed but names no report yet")
	}
	return CheckrInvitationSummary{Status: status, ReportID: inv.ReportID}, nil
}

// CheckrReportRef names a report of a check.
type CheckrReportRef struct {
	CheckID    string
	AccountID  string
	ReportID   string
	WorkflowID string
}

// TrackCheckrReport records the report of a check (in invitation mode Checkr creates it when the
// candidate completes the form) and routes its events.
func (a *Checkr) TrackCheckrReport(ctx context.Context, in CheckrReportRef) error {
	return a.Store.SetProviderCheck(ctx, in.CheckID, checkr.Name, in.ReportID,
		checkr.SubjectFor("report", in.ReportID), in.WorkflowID)
}

// CheckrReportSummary is a report as the workflow needs it: no PII.
type CheckrReportSummary struct {
	Status       string
	Result       string
	Assessment   string
	Adjudication string
	DocumentIDs  []string
}

// FetchCheckrReport reads the report from Checkr.
func (a *Checkr) FetchCheckrReport(ctx context.Context, in CheckrReportRef) (CheckrReportSummary, error) {
	client, err := a.clientFor(ctx, in.AccountID)
	if err != nil {
		return CheckrReportSummary{}, err
	}
	r, err := client.GetReport(ctx, in.ReportID)
	if err != nil {
		return CheckrReportSummary{}, providerError("Checkr", err)
	}
	return CheckrReportSummary{Status: r.Status, Result: r.Result, Assessment: r.Assessment,
		Adjudication: r.Adjudication, DocumentIDs: r.DocumentIDs}, nil
}

// PollCheckrReport is FetchCheckrReport that fails with ErrTypeNotReady until the report
// is complete or canceled, so that its retry policy polls.
func (a *Checkr) PollCheckrReport(ctx context.Context, in CheckrReportRef) (CheckrReportSummary, error) {
	r, err := a.FetchCheckrReport(ctx, in)
	if err != nil {
		return r, err
	}
	if r.Status != "complete" && r.Status != "canceled" {
		return r, notReady("the report is " + r.Status)
	}
	return r, nil
}

// CheckrDocumentInput names one document of a report.
type CheckrDocumentInput struct {
	CheckID    string
	AccountID  string
	DocumentID string
}

// StoreCheckrDocument downloads a report document and stores it once. Its download_uri lives 15
// minutes, so each attempt asks Checkr for a fresh one: a retry after an expired link works.
func (a *Checkr) StoreCheckrDocument(ctx context.Context, in CheckrDocumentInput) (DocumentRef, error) {
	client, err := a.clientFor(ctx, in.AccountID)
	if err != nil {
		return DocumentRef{}, err
	}
	doc, err := client.GetDocument(ctx, in.DocumentID)
	if err != nil {
		return DocumentRef{}, providerError("Checkr", err)
	}
	content, err := client.Download(ctx, doc.DownloadURI)
	if errors.Is(err, checkr.ErrDownloadExpired) {
		return DocumentRef{}, retryable("the download_uri expired; the next attempt gets a fresh one", ErrTypeDownloadExpired)
	}
	if err != nil {
		return DocumentRef{}, providerError("Checkr", err)
	}
	contentType := doc.ContentType
	if contentType == "" {
		contentType = "application/pdf"
	}
	stored, err := a.Store.SaveDocument(ctx, in.CheckID, checkrDocumentKind(doc.Type, in.DocumentID), contentType, content)
	if err != nil {
		return DocumentRef{}, err
	}
	return DocumentRef{DocumentID: stored.ID, SHA256: stored.SHA256, Size: stored.Size}, nil
}

// checkrDocumentKind is the kind a Checkr document is stored under: its type and Checkr's id.
func checkrDocumentKind(docType, documentID string) string {
	return "checkr_" + docType + "_" + documentID
}

// CheckrCheckRecord is a Checkr check as Postgres has it, for the events that come after its
// workflow closed.
type CheckrCheckRecord struct {
	Status      store.Status
	Outcome     string
	AccountID   string // "" for the direct account
	ReportID    string // "" when no report was ordered or found
	DocumentIDs []string
}

// ReadCheckrCheck reads a Checkr check, with the ids of the Checkr documents stored for it.
func (a *Checkr) ReadCheckrCheck(ctx context.Context, checkID string) (CheckrCheckRecord, error) {
	c, err := a.Store.Check(ctx, checkID)
	if err != nil {
		return CheckrCheckRecord{}, err
	}
	kinds, err := a.Store.CheckDocumentKinds(ctx, checkID)
	if err != nil {
		return CheckrCheckRecord{}, err
	}
	r := CheckrCheckRecord{Status: c.Status, Outcome: orEmpty(c.Outcome), AccountID: orEmpty(c.CheckrAccountID),
		ReportID: orEmpty(c.ProviderCheckID)}
	for _, kind := range kinds {
		if strings.HasPrefix(kind, "checkr_") {
			r.DocumentIDs = append(r.DocumentIDs, kind[strings.LastIndex(kind, "_")+1:])
		}
	}
	return r, nil
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// CheckrAmendmentInput is a completed check's result as Checkr's API has it after an event that
// came once the check had completed: an upgrade, a dispute, an adjudication, a new result.
type CheckrAmendmentInput struct {
	CheckID    string
	Outcome    string
	Reason     string // ends the timeline entries
	DedupeKey  string // names this amendment, so that a retry writes it once
	OccurredAt time.Time
}

// AmendCheckrCheck sets a completed check's outcome to the report's result. It reports whether
// the amendment is in effect (made now or by an earlier attempt): the outcome changed.
func (a *Checkr) AmendCheckrCheck(ctx context.Context, in CheckrAmendmentInput) (bool, error) {
	return a.Store.AmendCheckOutcome(ctx, store.CheckAmendment{CheckID: in.CheckID, Outcome: in.Outcome,
		Reason: in.Reason, DedupeKey: in.DedupeKey, OccurredAt: in.OccurredAt})
}

// CheckrAccounts keeps the integrated accounts' state, and the checks waiting on it, in Postgres
// for their workflows.
type CheckrAccounts struct {
	Store *store.Store
}

// CheckrSubscriptionInput names a check workflow that waits on an account's state.
type CheckrSubscriptionInput struct {
	AccountID  string
	WorkflowID string
}

// SubscribeCheckrAccount subscribes the check workflow to the account's state and returns the
// account's status now; the account's workflow tells it every later change, and need not be
// running for this. An account no tenant connected fails for good (ErrTypeAccountUnknown).
func (a *CheckrAccounts) SubscribeCheckrAccount(ctx context.Context, in CheckrSubscriptionInput) (store.CheckrAccountStatus, error) {
	acct, err := a.Store.SubscribeCheckrAccount(ctx, in.AccountID, in.WorkflowID)
	if errors.Is(err, store.ErrNotFound) {
		return "", permanent("the Checkr account "+in.AccountID+" is not connected", ErrTypeAccountUnknown)
	}
	return acct.Status, err
}

// CheckrUnsubscriptionInput names check workflows that no longer wait on an account's state.
type CheckrUnsubscriptionInput struct {
	AccountID   string
	WorkflowIDs []string
}

// UnsubscribeCheckrAccount forgets check workflows that no longer wait on the account: finished.
func (a *CheckrAccounts) UnsubscribeCheckrAccount(ctx context.Context, in CheckrUnsubscriptionInput) error {
	return a.Store.UnsubscribeCheckrAccount(ctx, in.AccountID, in.WorkflowIDs)
}

// CheckrSubscribersPage asks for the account's subscribers after a cursor.
type CheckrSubscribersPage struct {
	AccountID string
	After     string // "" for the first page; then the last workflow id of the page before
	Limit     int
}

// ListCheckrSubscribers lists a page of the account's subscribers, sorted by workflow id.
func (a *CheckrAccounts) ListCheckrSubscribers(ctx context.Context, in CheckrSubscribersPage) ([]string, error) {
	return a.Store.CheckrSubscribers(ctx, in.AccountID, in.After, in.Limit)
}

// ReadCheckrAccountStatus returns the account's status in Postgres, or "" when no tenant has
// connected it yet.
func (a *CheckrAccounts) ReadCheckrAccountStatus(ctx context.Context, accountID string) (store.CheckrAccountStatus, error) {
	acct, err := a.Store.CheckrAccount(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return acct.Status, err
}

// RecordCheckrCredentialed records account.credentialed and returns the account's status, or ""
// when no tenant connected the account yet (the fact is kept for when one does).
func (a *CheckrAccounts) RecordCheckrCredentialed(ctx context.Context, accountID string) (store.CheckrAccountStatus, error) {
	exists, err := a.Store.MarkCheckrCredentialed(ctx, accountID)
	if err != nil || !exists {
		return "", err
	}
	acct, err := a.Store.CheckrAccount(ctx, accountID)
	return acct.Status, err
}

// DeauthorizationInput names the account and the token Checkr says was revoked.
type DeauthorizationInput struct {
	AccountID        string
	TokenFingerprint string
}

// RecordCheckrDeauthorized records that the account's token was revoked. It reports false when the
// token is not the account's current one: a late event about a token a reconnection replaced.
func (a *CheckrAccounts) RecordCheckrDeauthorized(ctx context.Context, in DeauthorizationInput) (bool, error) {
	return a.Store.MarkCheckrDeauthorized(ctx, in.AccountID, in.TokenFingerprint)
}
