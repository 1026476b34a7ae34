package activities

import (
	"context"
	"errors"

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

// CheckrAccountStatus reads an integrated account's state from Postgres.
func (a *Checkr) CheckrAccountStatus(ctx context.Context, accountID string) (store.CheckrAccountStatus, error) {
	acct, err := a.Store.CheckrAccount(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return "", permanent("the Checkr account "+accountID+" is not connected", ErrTypeAccountUnknown)
	}
	return acct.Status, err
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
		return "", providerError(err)
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
			return "", providerError(err)
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
		return "", providerError(err)
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
			return "", providerError(err)
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
		return "", providerError(err)
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
			return "", providerError(err)
		}
		reportID = r.ID
	}
	return reportID, a.TrackCheckrReport(ctx, CheckrReportRef{CheckID: in.CheckID, ReportID: reportID, WorkflowID: in.WorkflowID})
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
		return CheckrReportSummary{}, providerError(err)
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
		return DocumentRef{}, providerError(err)
	}
	content, err := client.Download(ctx, doc.DownloadURI)
	if errors.Is(err, checkr.ErrDownloadExpired) {
		return DocumentRef{}, retryable("the download_uri expired; the next attempt gets a fresh one", ErrTypeDownloadExpired)
	}
	if err != nil {
		return DocumentRef{}, providerError(err)
	}
	contentType := doc.ContentType
	if contentType == "" {
		contentType = "application/pdf"
	}
	stored, err := a.Store.SaveDocument(ctx, in.CheckID, "checkr_"+doc.Type+"_"+in.DocumentID, contentType, content)
	if err != nil {
		return DocumentRef{}, err
	}
	return DocumentRef{DocumentID: stored.ID, SHA256: stored.SHA256, Size: stored.Size}, nil
}

// CheckrAccounts keeps the integrated accounts' state in Postgres for their workflows.
type CheckrAccounts struct {
	Store *store.Store
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
