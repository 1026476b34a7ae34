package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/store"
)

// DocumentKindAuthenticateReport starts the kind of a PDF report stored for an Authenticate check:
// "<this>_<reportUUID>", one document per report, so that a report stored again (a late COMPLETED
// after the check finished) is the same document, and a new one is stored beside it.
const DocumentKindAuthenticateReport = "authenticate_report"

// Authenticate talks to Authenticate for the check workflows.
type Authenticate struct {
	Store  *store.Store
	Client *authenticate.Client
}

// AuthenticateUserInput names the check whose candidate becomes an Authenticate user.
type AuthenticateUserInput struct {
	CheckID    string
	WorkflowID string
}

// OperationCreateUser names Authenticate's POST /user/create in provider_calls.
const OperationCreateUser = "create_user"

// MaxLostUserCreations is how many user creations of one check may lose their answer before the
// check fails: each may have left a user holding the candidate's data at Authenticate.
const MaxLostUserCreations = 3

// CreateAuthenticateUser creates the candidate as an Authenticate user once per check and routes
// the user's events to the check workflow before anything about the user can be ordered.
//
// Authenticate offers no lookup of users and no idempotency key, so each call is recorded before
// it is made (store.RecordProviderCall). A call whose answer never came (a timeout, a 5xx other than 503, a
// worker killed before recording the answer) is marked lost, with a timeline entry, and listed by
// `screenflow providers lost-calls` for an operator to have the duplicate removed. After
// MaxLostUserCreations lost answers the check fails instead of creating yet another user.
func (a *Authenticate) CreateAuthenticateUser(ctx context.Context, in AuthenticateUserInput) (string, error) {
	check, err := a.Store.Check(ctx, in.CheckID)
	if err != nil {
		return "", err
	}
	if check.ProviderClientID != nil {
		return *check.ProviderClientID, nil
	}
	op := store.ProviderOperation{CheckID: in.CheckID, Provider: authenticate.Name, Operation: OperationCreateUser}
	prior, err := a.Store.LoseProviderCalls(ctx, op)
	if err != nil {
		return "", err
	}
	if prior.Result != "" {
		// An earlier attempt recorded the answer but not the route.
		return a.routeUser(ctx, in, prior.Result)
	}
	if prior.Lost >= MaxLostUserCreations {
		return "", permanent(fmt.Sprintf("the answers of %d user creations were lost; Authenticate may hold as many "+
			"users for this candidate, so no more are created until an operator reconciles them "+
			"(screenflow providers lost-calls)", prior.Lost), ErrTypeAnswersLost)
	}
	cand, err := a.Store.CandidateForCheck(ctx, in.CheckID)
	if err != nil {
		return "", err
	}
	dob, err := time.Parse(time.DateOnly, cand.DOB)
	if err != nil {
		return "", permanent("candidate date of birth is not a date", ErrTypeInvalidCandidate)
	}
	house, street := splitStreetAddress(cand.AddressLine1)
	callID, err := a.Store.RecordProviderCall(ctx, op)
	if err != nil {
		return "", err
	}
	code, err := a.Client.CreateUser(ctx, authenticate.CreateUserRequest{
		FirstName: cand.FirstName, LastName: cand.LastName, Email: cand.Email,
		DOB: dob.Format(authenticate.DOBLayout), HouseNumber: house, StreetName: street,
		City: cand.City, State: cand.State, ZipCode: cand.PostalCode, Country: cand.Country,
	})
	var apiErr *authenticate.APIError
	switch {
	case err == nil:
		finished, err := a.Store.FinishProviderCall(ctx, callID, store.CallSucceeded, code)
		if err != nil {
			return "", err
		}
		if !finished {
			// This attempt overran its timeout and a later one has taken over the call: this
			// user stays recorded as lost, with its code, for the operator.
			return "", errors.New("a later attempt took over creating the Authenticate user")
		}
		return a.routeUser(ctx, in, code)
	case errors.As(err, &apiErr) && (apiErr.StatusCode < 500 || apiErr.StatusCode == http.StatusServiceUnavailable):
		// Authenticate answered that it did not create the user (a 503 says it did not take the
		// request: counting an outage's 503s as lost answers would fail checks within seconds).
		if _, ferr := a.Store.FinishProviderCall(ctx, callID, store.CallRefused, ""); ferr != nil {
			return "", ferr
		}
		return "", providerError("Authenticate", err)
	case requestNotSent(err):
		if _, ferr := a.Store.FinishProviderCall(ctx, callID, store.CallNotSent, ""); ferr != nil {
			return "", ferr
		}
		return "", providerError("Authenticate", err)
	default:
		// Authenticate may have created the user: say so now rather than on the next attempt,
		// which may never come.
		if _, lerr := a.Store.LoseProviderCalls(ctx, op); lerr != nil {
			return "", lerr
		}
		return "", providerError("Authenticate", err)
	}
}

// routeUser records the user as the check's and routes its events to the check workflow.
func (a *Authenticate) routeUser(ctx context.Context, in AuthenticateUserInput, code string) (string, error) {
	err := a.Store.SetProviderClient(ctx, in.CheckID, authenticate.Name, code, authenticate.SubjectFor(code), in.WorkflowID)
	if err != nil {
		return "", err
	}
	return code, nil
}

// requestNotSent reports whether a call failed before its request left: no connection could be
// made, so the provider cannot have acted on it.
func requestNotSent(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// splitStreetAddress splits "221B Baker Street" into the house number and street name
// Authenticate asks for separately. A line that does not start with a number is all street.
func splitStreetAddress(line string) (house, street string) {
	line = strings.TrimSpace(line)
	first, rest, found := strings.Cut(line, " ")
	if found && first != "" && first[0] >= '0' && first[0] <= '9' {
		return first, strings.TrimSpace(rest)
	}
	return "", line
}

// AuthenticateOptions are an Authenticate check's options, as stored with the check
// (workflows.AuthenticateOptions is this type).
type AuthenticateOptions struct {
	SexOffender bool `json:"sex_offender"`
	PDFReport   bool `json:"pdf_report"`
}

// AuthenticateCheckRecord is what an amendment needs of a stored Authenticate check.
type AuthenticateCheckRecord struct {
	Status         store.Status
	UserAccessCode string // "" when the check never created its user
	Options        AuthenticateOptions
}

// ReadAuthenticateCheck reads a stored Authenticate check, for the events that come after its
// workflow closed.
func (a *Authenticate) ReadAuthenticateCheck(ctx context.Context, checkID string) (AuthenticateCheckRecord, error) {
	check, err := a.Store.Check(ctx, checkID)
	if err != nil {
		return AuthenticateCheckRecord{}, err
	}
	r := AuthenticateCheckRecord{Status: check.Status}
	if check.ProviderClientID != nil {
		r.UserAccessCode = *check.ProviderClientID
	}
	// The API validated the options when it stored them; an unreadable value means none.
	_ = json.Unmarshal(check.Options, &r.Options)
	return r, nil
}

// AuthenticateOrderInput names an Authenticate user and what to order for it.
type AuthenticateOrderInput struct {
	CheckID        string
	UserAccessCode string
	SexOffender    bool
}

// RecordAuthenticateConsent records the candidate's consent; recording it twice is a success.
func (a *Authenticate) RecordAuthenticateConsent(ctx context.Context, in AuthenticateOrderInput) error {
	cand, err := a.Store.CandidateForCheck(ctx, in.CheckID)
	if err != nil {
		return err
	}
	err = a.Client.Consent(ctx, authenticate.ConsentRequest{
		UserAccessCode: in.UserAccessCode, IsBackgroundDisclosureAccepted: true,
		GLBPurposeAndDPPAPurpose: 1, FCRAPurpose: 1, FullName: cand.FirstName + " " + cand.LastName,
	})
	return providerError("Authenticate", err)
}

// OrderAuthenticateSearches orders the criminal searches, and the sex offender check when asked,
// each once per check: a retried activity does not order (and pay) again. Authenticate takes no
// idempotency key, so an order whose answer was lost (a worker killed between the call and marking
// it ordered) is found in the user's test result, which lists what was ordered, before anything
// is ordered again.
func (a *Authenticate) OrderAuthenticateSearches(ctx context.Context, in AuthenticateOrderInput) error {
	criminalOrdered, err := a.Store.Ordered(ctx, in.CheckID, store.OrderCriminal)
	if err != nil {
		return err
	}
	sexOffenderOrdered := !in.SexOffender
	if in.SexOffender {
		if sexOffenderOrdered, err = a.Store.Ordered(ctx, in.CheckID, store.OrderSexOffender); err != nil {
			return err
		}
	}
	if criminalOrdered && sexOffenderOrdered {
		return nil
	}
	placed, err := a.placedOrders(ctx, in.UserAccessCode)
	if err != nil {
		return err
	}
	if !criminalOrdered {
		searches := placed.criminal
		if searches == nil {
			if searches, err = a.Client.OrderCriminalSearches(ctx, in.UserAccessCode); err != nil {
				return providerError("Authenticate", err)
			}
		}
		if err := a.Store.MarkOrdered(ctx, in.CheckID, store.OrderCriminal); err != nil {
			return err
		}
		if err := a.saveSearches(ctx, in.CheckID, searches, time.Time{}); err != nil {
			return err
		}
	}
	if sexOffenderOrdered {
		return nil
	}
	if !placed.sexOffender {
		if err := a.Client.OrderSexOffenderCheck(ctx, in.UserAccessCode); err != nil {
			return providerError("Authenticate", err)
		}
	}
	return a.Store.MarkOrdered(ctx, in.CheckID, store.OrderSexOffender)
}

// placedOrders is what Authenticate already has ordered for a user.
type placedOrders struct {
	criminal    []authenticate.Search // nil when not ordered
	sexOffender bool
}

// placedOrders reads the user's test result. An answer Authenticate will repeat (a 4xx: no result
// yet for a user with nothing ordered) means nothing was ordered; other failures are retried.
func (a *Authenticate) placedOrders(ctx context.Context, userAccessCode string) (placedOrders, error) {
	tr, err := a.Client.GetTestResult(ctx, userAccessCode)
	var apiErr *authenticate.APIError
	switch {
	case errors.As(err, &apiErr) && !apiErr.Retryable():
		return placedOrders{}, nil
	case err != nil:
		return placedOrders{}, providerError("Authenticate", err)
	}
	var p placedOrders
	if tr.Criminal != nil {
		p.criminal = tr.Criminal.Searches
		if p.criminal == nil {
			p.criminal = []authenticate.Search{}
		}
	}
	p.sexOffender = tr.SexOffender != nil
	return p, nil
}

// AuthenticateResult is the state of a check's searches as Authenticate's API reports it.
type AuthenticateResult struct {
	CriminalComplete    bool
	SexOffenderComplete bool
	// RecordsFound counts completed searches whose sub status is not CLEAR.
	RecordsFound int
	Searches     int
}

// ReadAuthenticateResult re-reads the searches from Authenticate's API and stores them. Webhooks
// from Authenticate are unsigned, so the workflow acts on this, not on the event that prompted it.
func (a *Authenticate) ReadAuthenticateResult(ctx context.Context, in AuthenticateOrderInput) (AuthenticateResult, error) {
	tr, err := a.Client.GetTestResult(ctx, in.UserAccessCode)
	if err != nil {
		return AuthenticateResult{}, providerError("Authenticate", err)
	}
	var all []authenticate.Search
	r := AuthenticateResult{SexOffenderComplete: !in.SexOffender}
	if tr.Criminal != nil {
		r.CriminalComplete = authenticate.Is(tr.Criminal.Status, authenticate.SearchComplete)
		all = append(all, tr.Criminal.Searches...)
	}
	if tr.SexOffender != nil && in.SexOffender {
		r.SexOffenderComplete = authenticate.Is(tr.SexOffender.SearchStatus, authenticate.SearchComplete)
		all = append(all, *tr.SexOffender)
	}
	for _, s := range all {
		r.Searches++
		// A sub status other than CLEAR, known or not, is a record: someone must look.
		if authenticate.Is(s.SearchStatus, authenticate.SearchComplete) && !authenticate.Is(s.SearchSubStatus, authenticate.SubStatusClear) {
			r.RecordsFound++
		}
	}
	if err := a.saveSearches(ctx, in.CheckID, all, time.Now()); err != nil {
		return r, err
	}
	return r, nil
}

// PollAuthenticateResult is ReadAuthenticateResult that fails with ErrTypeNotReady until
// every search is complete, so that its retry policy polls.
func (a *Authenticate) PollAuthenticateResult(ctx context.Context, in AuthenticateOrderInput) (AuthenticateResult, error) {
	r, err := a.ReadAuthenticateResult(ctx, in)
	if err != nil {
		return r, err
	}
	if !r.CriminalComplete || !r.SexOffenderComplete {
		return r, notReady("searches are not all complete")
	}
	return r, nil
}

// SearchUpdateInput is one search's status as an event reported it.
type SearchUpdateInput struct {
	ScreeningID string
	CheckID     string
	EventID     string
	Search      authenticate.Search
	OccurredAt  time.Time
}

// RecordSearchUpdate stores a search's status unless a newer one is already stored, and adds the
// event to the timeline either way.
func (a *Authenticate) RecordSearchUpdate(ctx context.Context, in SearchUpdateInput) error {
	applied, err := a.Store.SaveSearch(ctx, store.Search{CheckID: in.CheckID,
		UniqueIdentifier: in.Search.UniqueIdentifier, SearchType: in.Search.SearchType,
		SearchStatus: in.Search.SearchStatus, SearchSubStatus: in.Search.SearchSubStatus,
		ProviderUpdatedAt: in.OccurredAt})
	if err != nil {
		return err
	}
	detail := in.Search.Describe()
	if !applied {
		detail += store.StaleSearchNote
	}
	return a.Store.AppendTimeline(ctx, store.TimelineEntry{ScreeningID: in.ScreeningID, CheckID: &in.CheckID,
		DedupeKey: "authenticate:" + in.EventID, Kind: "provider.event", Detail: detail, OccurredAt: in.OccurredAt})
}

func (a *Authenticate) saveSearches(ctx context.Context, checkID string, searches []authenticate.Search, at time.Time) error {
	if at.IsZero() {
		// Orders come with no provider time: any event about the search is newer.
		at = time.Unix(0, 0)
	}
	for _, s := range searches {
		if _, err := a.Store.SaveSearch(ctx, store.Search{CheckID: checkID, UniqueIdentifier: s.UniqueIdentifier,
			SearchType: s.SearchType, SearchStatus: s.SearchStatus, SearchSubStatus: s.SearchSubStatus,
			ProviderUpdatedAt: at}); err != nil {
			return err
		}
	}
	return nil
}

// InitiateAuthenticatePDF asks for a new PDF report and returns its reportUUID. Authenticate
// allows one request per user per five minutes: a 429 is retried after the wait it asks for.
func (a *Authenticate) InitiateAuthenticatePDF(ctx context.Context, in AuthenticateOrderInput) (string, error) {
	report, err := a.Client.InitiatePDFReport(ctx, in.UserAccessCode)
	var apiErr *authenticate.APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == 429 {
		wait := apiErr.RetryAfter
		if wait <= 0 {
			wait = 5 * time.Minute
		}
		return "", retryAfter("one PDF report per user per five minutes", ErrTypeRateLimited, wait)
	}
	if err != nil {
		return "", providerError("Authenticate", err)
	}
	return report.ReportUUID, nil
}

// ReportRef names a PDF report of an Authenticate user.
type ReportRef struct {
	CheckID        string
	UserAccessCode string
	ReportUUID     string
}

// AuthenticatePDF is a user's latest PDF report as Authenticate's API shows it.
type AuthenticatePDF struct {
	ReportUUID string
	Status     string // as Authenticate spells it: compare with authenticate.Is
}

// Finished reports whether the report's generation has ended, COMPLETED or FAILED.
func (p AuthenticatePDF) Finished() bool {
	return authenticate.Is(p.Status, authenticate.PDFCompleted) || authenticate.Is(p.Status, authenticate.PDFFailed)
}

// ReadAuthenticatePDF reads the user's latest report from Authenticate's API: an event saying a
// report completed or failed is unsigned, so the workflow acts on this instead.
func (a *Authenticate) ReadAuthenticatePDF(ctx context.Context, in ReportRef) (AuthenticatePDF, error) {
	report, err := a.Client.RetrievePDFReport(ctx, in.UserAccessCode)
	if err != nil {
		return AuthenticatePDF{}, providerError("Authenticate", err)
	}
	return AuthenticatePDF{ReportUUID: report.ReportUUID, Status: report.Status}, nil
}

// PollAuthenticatePDF returns the report once it has finished (COMPLETED or FAILED), failing with
// ErrTypeNotReady until then, so that its retry policy polls. A ReportRef without a reportUUID
// (the request's answer named none) takes the user's latest report, the one just requested.
func (a *Authenticate) PollAuthenticatePDF(ctx context.Context, in ReportRef) (AuthenticatePDF, error) {
	report, err := a.ReadAuthenticatePDF(ctx, in)
	if err != nil {
		return report, err
	}
	if (in.ReportUUID != "" && report.ReportUUID != in.ReportUUID) || report.ReportUUID == "" || !report.Finished() {
		return AuthenticatePDF{}, notReady("the report is still being generated")
	}
	return report, nil
}

// StoreAuthenticateReport downloads the report and stores it. The link comes from Authenticate's
// API, never from the webhook: an unsigned event's link could point anywhere (a forged report, or
// a request to an internal address), while the API's answer is authenticated. A link past its
// expiry fails with ErrTypeReportLinkExpired: a new report must be requested.
func (a *Authenticate) StoreAuthenticateReport(ctx context.Context, in ReportRef) (DocumentRef, error) {
	report, err := a.Client.RetrievePDFReport(ctx, in.UserAccessCode)
	if err != nil {
		return DocumentRef{}, providerError("Authenticate", err)
	}
	if report.ReportUUID != in.ReportUUID || !authenticate.Is(report.Status, authenticate.PDFCompleted) || report.ReportLink == "" {
		return DocumentRef{}, permanent(
			"Authenticate does not confirm the report as completed", ErrTypeReportLinkExpired)
	}
	expired := !report.Expires.IsZero() && !time.Now().Before(report.Expires)
	var pdf []byte
	if !expired {
		pdf, err = a.Client.DownloadReport(ctx, report.ReportLink)
		expired = errors.Is(err, authenticate.ErrLinkExpired)
	}
	if expired {
		return DocumentRef{}, permanent("the report's link has expired", ErrTypeReportLinkExpired)
	}
	if err != nil {
		return DocumentRef{}, providerError("Authenticate", err)
	}
	doc, err := a.Store.SaveDocument(ctx, in.CheckID, DocumentKindAuthenticateReport+"_"+in.ReportUUID, "application/pdf", pdf)
	if err != nil {
		return DocumentRef{}, err
	}
	return DocumentRef{DocumentID: doc.ID, SHA256: doc.SHA256, Size: doc.Size}, nil
}

// AmendOutcomeInput is a finished check's outcome as Authenticate's API shows it after a late
// event.
type AmendOutcomeInput struct {
	CheckID string
	Outcome string
	Reason  string // ends the timeline entry
	// DedupeKey names this change, so that a retried write adds one entry.
	DedupeKey  string
	OccurredAt time.Time
}

// AmendAuthenticateOutcome sets a completed check's outcome when it differs from the stored one,
// with a timeline entry that says what it was (store.AmendCheckOutcome). applied reports that the
// change is in effect, by this call or an earlier attempt of it; a failed or canceled check stays
// as it ended.
func (a *Authenticate) AmendAuthenticateOutcome(ctx context.Context, in AmendOutcomeInput) (applied bool, err error) {
	return a.Store.AmendCheckOutcome(ctx, store.CheckAmendment{CheckID: in.CheckID, Outcome: in.Outcome,
		Reason: in.Reason, DedupeKey: in.DedupeKey, OccurredAt: in.OccurredAt})
}
