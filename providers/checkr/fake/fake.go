// Package fake is a local Checkr: a real HTTP server with the API calls screening uses (/v1/...),
// the partner OAuth endpoints (/oauth/...) and document downloads. It moves reports and
// invitations along by itself and sends signed webhooks with Checkr's retry behaviour (scaled
// down). Test controls play the account holder (sign-up, credentialing) and the candidate, and make
// the fake misbehave the ways the real one can (duplicate, reordered and lost webhooks, failing
// API calls, expiring download links).
package fake

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/internal/fakekit"
)

// Account ids the fake makes up. Events of the partner application (account.credentialed in the
// nested shape, token.deauthorized, and the reports of integrated accounts in the nested shape)
// carry PartnerAccountID; a direct account's events carry DirectAccountID.
const (
	PartnerAccountID = "5d78dfa52ea938723b2f2ba3"
	DirectAccountID  = "6a1f0c2d3e4b5a6978877665"
)

// Shapes of account.credentialed (Options.CredentialedShape).
const (
	// ShapeNested is the seed's: data.object.account.id is the integrated account, account_id the
	// partner's. Integrated accounts' other events then carry the partner's account_id too.
	ShapeNested = "nested"
	// ShapeAccount is Checkr's reference integration's: data.object is the account object and
	// account_id is the integrated account, as in its other events.
	ShapeAccount = "account"
)

const (
	defaultReportDelay     = 500 * time.Millisecond
	defaultInvitationDelay = 500 * time.Millisecond
	defaultDownloadTTL     = 15 * time.Minute // Checkr's download_uri lifetime
	invitationLifetime     = 7 * 24 * time.Hour
	codeLifetime           = 5 * time.Minute // Checkr's OAuth reference: a code expires in 5 minutes
)

// defaultRetryDelays stands in for Checkr's schedule, a retry every minute for 10 minutes then
// every hour for 24 hours. Scaled to milliseconds that is still 24 × 3.6 s, too long for tests, so
// it keeps the shape with fewer long steps: 10 × 20 ms, then 5 × 200 ms (16 tries in about 1.2 s).
var defaultRetryDelays = func() []time.Duration {
	var d []time.Duration
	for range 10 {
		d = append(d, 20*time.Millisecond)
	}
	for range 5 {
		d = append(d, 200*time.Millisecond)
	}
	return d
}()

// Options configures a fake Checkr. Every event is signed with ClientSecret when it is set
// (partner apps), else with APIKey (direct accounts).
type Options struct {
	// APIKey is a direct account's secret key (the Basic auth user name). "" → no direct account.
	APIKey string
	// ClientID and ClientSecret are the partner application's; the token exchange checks both.
	// "" → no partner application: every token exchange answers 401.
	ClientID, ClientSecret string
	// WebhookURL is where signed webhooks go; "" → none sent. It may embed Basic auth
	// (https://user:pass@host/path), which goes with every request.
	WebhookURL string
	// ReportDelay is how long a new report stays pending before it completes by itself.
	// 0 → 500 ms; negative → only by CompleteReport.
	ReportDelay time.Duration
	// InvitationDelay is how long the "candidate" takes to complete a new invitation.
	// 0 → 500 ms; negative → only by CompleteInvitation.
	InvitationDelay time.Duration
	// DownloadTTL is how long a download_uri works. 0 → 15 min; negative → links are expired when
	// issued.
	DownloadTTL time.Duration
	// RetryDelays is the webhook retry schedule after a non-2xx answer or a transport error; after
	// the last retry fails the event is given up. nil → Checkr's shape scaled down: 10 × 20 ms,
	// then 5 × 200 ms. Empty → no retries.
	RetryDelays []time.Duration
	// CredentialedShape is ShapeNested or ShapeAccount; "" → ShapeNested. New panics on another.
	CredentialedShape string
	HTTPClient        *http.Client // for sending webhooks; nil → a client with a 10 s timeout
	Logger            *slog.Logger // nil → discard
}

// Delivery is one attempt to deliver a webhook. GaveUp means the last retry failed: the event is
// lost.
type Delivery = fakekit.Delivery

// Server is a fake Checkr. Its methods are safe for concurrent use.
type Server struct {
	apiKey          string
	clientID        string
	clientSecret    string
	signingKey      string
	reportDelay     time.Duration
	invitationDelay time.Duration
	shape           string
	log             *slog.Logger
	mux             *http.ServeMux
	webhooks        *fakekit.Sender
	timers          *fakekit.Timers // "invitation/<id>" and "report/<id>"

	mu                sync.Mutex
	baseURL           string
	webhookURL        string
	downloadTTL       time.Duration
	result            string
	credentialOnToken bool
	reorder           bool
	failures          fakekit.Failures
	accounts          map[string]*account
	codes             map[string]*authCode // by TokenFingerprint of the code
	tokens            map[string]*token    // by TokenFingerprint of the access token
	candidates        map[string]*candidate
	candidateOrder    []string
	piiRemovals       []PIIRemoval // what DELETE /v1/candidates/{id}/pii removed, in order
	invitations       map[string]*invitation
	invitationOrder   []string
	reports           map[string]*report
	reportOrder       []string
	documents         map[string]*document
}

// account is a Checkr account: the direct one, or an integrated account of the partner app.
type account struct {
	id           string
	direct       bool
	credentialed bool
	createdAt    time.Time
	completedAt  *time.Time // when it was credentialed
}

type authCode struct {
	accountID string
	issued    time.Time
	used      bool
}

// token is an issued access token, kept by its fingerprint. Its value is kept only for
// token.deauthorized, which names it when the account holder revokes access (RevokeAccess).
type token struct {
	accountID string
	value     string
	revoked   bool
}

type candidate struct {
	account    string
	obj        candidateObject
	piiRemoved bool
}

// PIIRemoval is a candidate whose personal data DELETE /v1/candidates/{id}/pii removed: on which
// account, and whom the request named as its contact.
type PIIRemoval struct {
	CandidateID  string
	AccountID    string
	ContactEmail string
}

type invitation struct {
	account string
	obj     invitationObject
	held    []webhook // events ReorderWebhooks holds back until the invitation ends
}

type report struct {
	account   string
	obj       reportObject
	deadline  time.Time     // when the progress timer completes it
	remaining time.Duration // progress left while suspended
	held      []webhook     // events ReorderWebhooks holds back until the report ends
}

type document struct {
	account  string
	id       string
	reportID string
	pdf      []byte
	links    map[string]time.Time // token → expiry; every link issued works until its own expiry
}

// New returns a fake Checkr. Serve it with httptest.NewServer (or any http.Server), point the
// client at its URL, and tell it that URL with SetBaseURL. Close it to stop its timers and
// webhook senders.
func New(opts Options) *Server {
	s := &Server{
		apiKey:          opts.APIKey,
		clientID:        opts.ClientID,
		clientSecret:    opts.ClientSecret,
		signingKey:      opts.ClientSecret,
		reportDelay:     opts.ReportDelay,
		invitationDelay: opts.InvitationDelay,
		shape:           opts.CredentialedShape,
		log:             opts.Logger,
		webhookURL:      opts.WebhookURL,
		downloadTTL:     opts.DownloadTTL,
		result:          checkr.ResultClear,
		accounts:        make(map[string]*account),
		codes:           make(map[string]*authCode),
		tokens:          make(map[string]*token),
		candidates:      make(map[string]*candidate),
		invitations:     make(map[string]*invitation),
		reports:         make(map[string]*report),
		documents:       make(map[string]*document),
	}
	if s.signingKey == "" {
		s.signingKey = opts.APIKey
	}
	if s.reportDelay == 0 {
		s.reportDelay = defaultReportDelay
	}
	if s.invitationDelay == 0 {
		s.invitationDelay = defaultInvitationDelay
	}
	if s.downloadTTL == 0 {
		s.downloadTTL = defaultDownloadTTL
	}
	retryDelays := slices.Clone(opts.RetryDelays)
	if opts.RetryDelays == nil {
		retryDelays = defaultRetryDelays
	}
	switch s.shape {
	case "":
		s.shape = ShapeNested
	case ShapeNested, ShapeAccount:
	default:
		panic(fmt.Sprintf("fake checkr: CredentialedShape %q is neither %q nor %q", s.shape, ShapeNested, ShapeAccount))
	}
	httpClient := opts.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.webhooks = fakekit.NewSender(fakekit.SenderOptions{
		Name:       "fake checkr",
		HTTPClient: httpClient,
		Logger:     s.log,
		// Checkr keeps a webhook URL that fails (it removes one only after 60 days of failures), so
		// an event given up does not stop later ones.
		RetryDelays: retryDelays,
		Header: func(h http.Header, body []byte) {
			h.Set(checkr.SignatureHeader, checkr.Sign(s.signingKey, body))
		},
		// Basic auth embedded in the webhook URL goes with every request (net/http sends a URL's
		// user info) and must not show in Delivery.Err.
		RedactURL: true,
		InOrder:   true,
	})
	s.timers = fakekit.NewTimers(&s.mu)
	if s.apiKey != "" {
		// A direct account has production keys only once Checkr credentialed it.
		t := now()
		s.accounts[DirectAccountID] = &account{id: DirectAccountID, direct: true, credentialed: true, createdAt: t, completedAt: &t}
	}
	s.mux = s.routes()
	return s
}

// Close stops the timers, cancels webhook deliveries and their pending retries, and waits for
// their goroutines.
func (s *Server) Close() {
	s.timers.Close()
	s.webhooks.Close()
}

// SetBaseURL sets the fake's own public URL, which download URIs and invitation URLs start with.
// Unset, they start with the URL the request was sent to.
func (s *Server) SetBaseURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.baseURL = url
}

// SetWebhookURL points webhooks at url ("" stops them). Events already being delivered keep the
// URL they were sent to.
func (s *Server) SetWebhookURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = url
}

// SetDownloadTTL sets how long download URIs issued from now on work. 0 → 15 min; negative →
// links are expired when issued.
func (s *Server) SetDownloadTTL(d time.Duration) {
	if d == 0 {
		d = defaultDownloadTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.downloadTTL = d
}

// Authorize simulates the account holder completing Checkr's hosted sign-up for a new or existing
// integrated account, and returns the authorization code Checkr would redirect back with (valid
// once, for 5 minutes) and the account's id. accountID "" → a new account, not credentialed; an
// id the fake does not know yet is created with that id.
func (s *Server) Authorize(accountID string) (code, integratedAccountID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if accountID == "" {
		accountID = newID()
	}
	if _, ok := s.accounts[accountID]; !ok {
		s.accounts[accountID] = &account{id: accountID, createdAt: now()}
	}
	code = randomHex(20)
	s.codes[checkr.TokenFingerprint(code)] = &authCode{accountID: accountID, issued: time.Now()}
	s.log.Info("fake checkr: account authorized the partner application", "account_id", accountID)
	return code, accountID
}

// LiveTokens counts the integrated account's access tokens that are not revoked.
func (s *Server) LiveTokens(accountID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tokens {
		if t.accountID == accountID && !t.revoked {
			n++
		}
	}
	return n
}

// Credential marks an integrated account credentialed, so that its token can order reports and
// invitations, and sends account.credentialed (again, if it was credentialed already).
func (s *Server) Credential(accountID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[accountID]
	if !ok {
		return fmt.Errorf("fake checkr: no account %q", accountID)
	}
	if a.direct {
		return errors.New("fake checkr: the direct account is credentialed already and has no partner to tell")
	}
	s.credentialLocked(a)
	return nil
}

// CredentialOnTokenExchange decides whether a token exchange for an account that is credentialed
// already sends account.credentialed, as Checkr does for pre-credentialed accounts. When on, the
// event's first delivery attempt is over BEFORE the token exchange answers, so that receivers see
// it before they know the account; when off (the default) the exchange sends nothing.
func (s *Server) CredentialOnTokenExchange(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.credentialOnToken = on
}

// SetResult sets the result of reports that complete from now on: "clear" (the default, with
// assessment eligible) or "consider" (assessment review). "" → "clear".
func (s *Server) SetResult(result string) {
	if result == "" {
		result = checkr.ResultClear
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.result = result
}

// CompleteInvitation plays the candidate finishing the apply flow now: the invitation completes
// and names a new report (invitation.completed), then the report exists (report.created,
// report.updated) and progresses like any other.
func (s *Server) CompleteInvitation(invitationID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, err := s.pendingInvitationLocked(invitationID)
	if err != nil {
		return err
	}
	s.completeInvitationLocked(inv)
	return nil
}

// ExpireInvitation expires a pending invitation now (invitation.expired).
func (s *Server) ExpireInvitation(invitationID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, err := s.pendingInvitationLocked(invitationID)
	if err != nil {
		return err
	}
	s.timers.StopLocked("invitation/" + inv.obj.ID)
	inv.obj.Status = checkr.InvitationExpired
	s.sendLocked(s.newEventLocked(checkr.EventInvitationExpired, inv.account, inv.obj))
	s.releaseLocked(&inv.held)
	s.log.Info("fake checkr: invitation expired", "invitation_id", inv.obj.ID)
	return nil
}

// SuspendReport suspends a pending report (report.suspended): it stops progressing until
// ResumeReport.
func (s *Server) SuspendReport(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.reportInLocked(id, checkr.ReportPending)
	if err != nil {
		return err
	}
	if s.timers.StopLocked("report/" + id) {
		r.remaining = max(time.Until(r.deadline), 0)
	}
	r.obj.Status = checkr.ReportSuspended
	s.sendLocked(s.newEventLocked(checkr.EventReportSuspended, r.account, r.obj))
	s.log.Info("fake checkr: report suspended", "report_id", id)
	return nil
}

// ResumeReport resumes a suspended report (report.resumed): it is pending again and completes
// after the rest of its delay.
func (s *Server) ResumeReport(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.reportInLocked(id, checkr.ReportSuspended)
	if err != nil {
		return err
	}
	r.obj.Status = checkr.ReportPending
	s.sendLocked(s.newEventLocked(checkr.EventReportResumed, r.account, r.obj))
	s.scheduleReportLocked(r, r.remaining)
	s.log.Info("fake checkr: report resumed", "report_id", id)
	return nil
}

// CancelReport cancels a pending or suspended report (report.canceled).
func (s *Server) CancelReport(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.reportInLocked(id, checkr.ReportPending, checkr.ReportSuspended)
	if err != nil {
		return err
	}
	s.timers.StopLocked("report/" + id)
	r.obj.Status = checkr.ReportCanceled
	s.sendLocked(s.newEventLocked(checkr.EventReportCanceled, r.account, r.obj))
	s.releaseLocked(&r.held)
	s.log.Info("fake checkr: report canceled", "report_id", id)
	return nil
}

// CompleteReport completes a pending report now (report.completed) with the result SetResult
// chose, its assessment (eligible for clear, review otherwise) and one pdf_report document.
func (s *Server) CompleteReport(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.reportInLocked(id, checkr.ReportPending)
	if err != nil {
		return err
	}
	s.completeReportLocked(r)
	return nil
}

// UpgradeReport upgrades a complete report (report.upgraded): it gains one more pdf_report document,
// the upgraded report's, and its result and assessment become SetResult's. It stays complete.
func (s *Server) UpgradeReport(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.reportInLocked(id, checkr.ReportComplete)
	if err != nil {
		return err
	}
	result, assessment := s.resultLocked()
	t := now()
	doc := s.addDocumentLocked(r, result, assessment)
	r.obj.Result, r.obj.Assessment, r.obj.UpgradedAt = &result, &assessment, &t
	r.obj.DocumentIDs = append(r.obj.DocumentIDs, doc.id)
	s.sendLocked(s.newEventLocked(checkr.EventReportUpgraded, r.account, r.obj))
	s.log.Info("fake checkr: report upgraded", "report_id", id, "result", result, "document_id", doc.id)
	return nil
}

// DisputeReport plays the candidate disputing a complete report (report.disputed): its status
// becomes dispute.
func (s *Server) DisputeReport(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.reportInLocked(id, checkr.ReportComplete)
	if err != nil {
		return err
	}
	r.obj.Status = checkr.ReportDispute
	s.sendLocked(s.newEventLocked(checkr.EventReportDisputed, r.account, r.obj))
	s.log.Info("fake checkr: report disputed", "report_id", id)
	return nil
}

// adjudicationEvents maps an adjudication to the event that announces it.
var adjudicationEvents = map[string]string{
	checkr.AdjudicationEngaged:           checkr.EventReportEngaged,
	checkr.AdjudicationPreAdverseAction:  checkr.EventReportPreAdverseAction,
	checkr.AdjudicationPostAdverseAction: checkr.EventReportPostAdverseAction,
}

// AdjudicateReport plays the account holder adjudicating a complete or disputed report: its
// adjudication becomes engaged (report.engaged), pre_adverse_action (report.pre_adverse_action) or
// post_adverse_action (report.post_adverse_action).
func (s *Server) AdjudicateReport(id, adjudication string) error {
	typ, ok := adjudicationEvents[adjudication]
	if !ok {
		return fmt.Errorf("fake checkr: unknown adjudication %q", adjudication)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.reportInLocked(id, checkr.ReportComplete, checkr.ReportDispute)
	if err != nil {
		return err
	}
	r.obj.Adjudication = &adjudication
	s.sendLocked(s.newEventLocked(typ, r.account, r.obj))
	s.log.Info("fake checkr: report adjudicated", "report_id", id, "adjudication", adjudication)
	return nil
}

// RequireCandidateID plays Checkr asking the candidate for an identity document
// (candidate.id_required, with the candidate, personal data included, as Checkr sends it).
func (s *Server) RequireCandidateID(candidateID string) error {
	return s.askCandidate(candidateID, checkr.EventCandidateIDRequired)
}

// RequireDriverLicense plays Checkr asking the candidate for their driver license
// (candidate.driver_license_required).
func (s *Server) RequireDriverLicense(candidateID string) error {
	return s.askCandidate(candidateID, checkr.EventCandidateDriverLicenseRequired)
}

func (s *Server) askCandidate(candidateID, typ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.candidates[candidateID]
	if !ok {
		return fmt.Errorf("fake checkr: no candidate %q", candidateID)
	}
	s.sendLocked(s.newEventLocked(typ, c.account, c.obj))
	s.log.Info("fake checkr: candidate asked for more", "candidate_id", candidateID, "event", typ)
	return nil
}

// DeleteInvitation deletes a pending invitation (invitation.deleted): its status becomes deleted
// (UNCERTAIN, see checkr.InvitationDeleted) and it can no longer be completed.
func (s *Server) DeleteInvitation(invitationID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, err := s.pendingInvitationLocked(invitationID)
	if err != nil {
		return err
	}
	s.timers.StopLocked("invitation/" + inv.obj.ID)
	t := now()
	inv.obj.Status, inv.obj.DeletedAt = checkr.InvitationDeleted, &t
	s.sendLocked(s.newEventLocked(checkr.EventInvitationDeleted, inv.account, inv.obj))
	s.releaseLocked(&inv.held)
	s.log.Info("fake checkr: invitation deleted", "invitation_id", inv.obj.ID)
	return nil
}

// RevokeAccess plays the account holder disconnecting the partner application in Checkr's
// dashboard: every live access token of the integrated account is revoked, each followed by
// token.deauthorized.
func (s *Server) RevokeAccess(accountID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	revoked := 0
	for _, t := range s.tokens {
		if t.accountID == accountID && !t.revoked {
			t.revoked = true
			s.sendLocked(newWebhook(checkr.EventTokenDeauthorized, PartnerAccountID, map[string]string{"access_code": t.value}))
			revoked++
		}
	}
	if revoked == 0 {
		return fmt.Errorf("fake checkr: account %q has no live access token", accountID)
	}
	s.log.Info("fake checkr: access revoked from the dashboard", "account_id", accountID)
	return nil
}

// DuplicateWebhooks makes every webhook from now on be delivered twice, with the same event id.
func (s *Server) DuplicateWebhooks(on bool) {
	s.webhooks.SetDuplicate(on)
}

// ReorderWebhooks makes reports and invitations created from now on send their opening events
// (report.created and report.updated; invitation.created) only after the event that ends them
// (report.completed or report.canceled; invitation.completed or invitation.expired).
func (s *Server) ReorderWebhooks(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reorder = on
}

// DropWebhooks makes events of these types never be sent, as if the webhook were lost. Without
// arguments it sends every type again.
func (s *Server) DropWebhooks(types ...string) {
	s.webhooks.Drop(types...)
}

// FailAPI makes the next n API and OAuth calls answer status with an error body, before doing
// anything (authentication included). Downloads are not API calls and are not failed.
func (s *Server) FailAPI(n, status int) {
	s.failures.Inject(n, status, nil)
}

// FailAPIWithBody is FailAPI with body as the error answers' body: one a provider may send, such as
// a message echoing the request's data.
func (s *Server) FailAPIWithBody(n, status int, body []byte) {
	s.failures.Inject(n, status, body)
}

// DocumentPDF returns the exact bytes a document's download_uri serves.
func (s *Server) DocumentPDF(documentID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.documents[documentID]
	if !ok {
		return nil, false
	}
	return slices.Clone(d.pdf), true
}

// Deliveries returns every webhook delivery attempt so far, in the order they finished.
func (s *Server) Deliveries() []Delivery {
	return s.webhooks.Deliveries()
}

// CandidatesCreated returns how many candidates POST /v1/candidates created.
func (s *Server) CandidatesCreated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.candidates)
}

// PIIRemovals returns the candidates DELETE /v1/candidates/{id}/pii removed the personal data of,
// in order; a refused request (a second one, an unknown candidate) is not among them.
func (s *Server) PIIRemovals() []PIIRemoval {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.piiRemovals)
}

// ReportsCreated returns how many reports exist: ordered by POST /v1/reports or by completed
// invitations.
func (s *Server) ReportsCreated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reports)
}

// credentialLocked credentials an account and sends account.credentialed in the configured shape,
// returning the channel sendLocked returned.
func (s *Server) credentialLocked(a *account) <-chan struct{} {
	if !a.credentialed {
		t := now()
		a.credentialed, a.completedAt = true, &t
	}
	var ev webhook
	if s.shape == ShapeAccount {
		ev = newWebhook(checkr.EventAccountCredentialed, a.id, accountObject{
			ID: a.id, Object: "account", URI: "/v1/accounts/" + a.id, CreatedAt: a.createdAt, CompletedAt: a.completedAt,
		})
	} else {
		ev = newWebhook(checkr.EventAccountCredentialed, PartnerAccountID, map[string]any{"account": map[string]string{"id": a.id}})
	}
	s.log.Info("fake checkr: account credentialed", "account_id", a.id)
	return s.sendLocked(ev)
}

// eventAccountLocked is the account_id of the events of objects in an account.
func (s *Server) eventAccountLocked(accountID string) string {
	if a := s.accounts[accountID]; a != nil && !a.direct && s.shape == ShapeNested {
		return PartnerAccountID
	}
	return accountID
}

// newEventLocked builds an event about an object of an account.
func (s *Server) newEventLocked(typ, accountID string, object any) webhook {
	return newWebhook(typ, s.eventAccountLocked(accountID), object)
}

func (s *Server) pendingInvitationLocked(id string) (*invitation, error) {
	inv, ok := s.invitations[id]
	if !ok {
		return nil, fmt.Errorf("fake checkr: no invitation %q", id)
	}
	if inv.obj.Status != checkr.InvitationPending {
		return nil, fmt.Errorf("fake checkr: invitation %s is already %s", id, inv.obj.Status)
	}
	return inv, nil
}

// reportInLocked finds a report whose status is one of statuses.
func (s *Server) reportInLocked(id string, statuses ...string) (*report, error) {
	r, ok := s.reports[id]
	if !ok {
		return nil, fmt.Errorf("fake checkr: no report %q", id)
	}
	if !slices.Contains(statuses, r.obj.Status) {
		return nil, fmt.Errorf("fake checkr: report %s is %s, not %v", id, r.obj.Status, statuses)
	}
	return r, nil
}

// addCandidateLocked stores a new candidate and sends candidate.created, which carries the whole
// candidate, personal data included, as Checkr's "include related object" does.
func (s *Server) addCandidateLocked(accountID string, obj candidateObject) {
	s.candidates[obj.ID] = &candidate{account: accountID, obj: obj}
	s.candidateOrder = append(s.candidateOrder, obj.ID)
	s.sendLocked(s.newEventLocked(checkr.EventCandidateCreated, accountID, obj))
}

// addInvitationLocked stores a new pending invitation, announces it and arms its completion.
func (s *Server) addInvitationLocked(accountID string, obj invitationObject) *invitation {
	inv := &invitation{account: accountID, obj: obj}
	s.invitations[obj.ID] = inv
	s.invitationOrder = append(s.invitationOrder, obj.ID)
	s.announceLocked(&inv.held, s.newEventLocked(checkr.EventInvitationCreated, accountID, obj))
	if s.invitationDelay >= 0 {
		s.timers.ArmLocked("invitation/"+obj.ID, s.invitationDelay, func() {
			if inv.obj.Status == checkr.InvitationPending {
				s.completeInvitationLocked(inv)
			}
		})
	}
	return inv
}

func (s *Server) completeInvitationLocked(inv *invitation) {
	s.timers.StopLocked("invitation/" + inv.obj.ID)
	r := s.newReportLocked(inv.account, inv.obj.CandidateID, inv.obj.Package, inv.obj.WorkLocations)
	t := now()
	inv.obj.Status = checkr.InvitationCompleted
	inv.obj.ReportID = &r.obj.ID
	inv.obj.CompletedAt = &t
	s.sendLocked(s.newEventLocked(checkr.EventInvitationCompleted, inv.account, inv.obj))
	s.releaseLocked(&inv.held)
	s.log.Info("fake checkr: invitation completed", "invitation_id", inv.obj.ID, "report_id", r.obj.ID)
	s.startReportLocked(r)
}

// newReportLocked stores a new pending report, not yet announced.
func (s *Server) newReportLocked(accountID, candidateID, pkg string, locations []checkr.WorkLocation) *report {
	id := newID()
	r := &report{account: accountID, obj: reportObject{
		ID:            id,
		Object:        "report",
		URI:           "/v1/reports/" + id,
		Status:        checkr.ReportPending,
		Package:       pkg,
		CandidateID:   candidateID,
		WorkLocations: locations,
		Tags:          []string{},
		DocumentIDs:   []string{},
		CreatedAt:     now(),
	}}
	s.reports[id] = r
	s.reportOrder = append(s.reportOrder, id)
	if c := s.candidates[candidateID]; c != nil {
		c.obj.ReportIDs = append(c.obj.ReportIDs, id)
	}
	return r
}

// startReportLocked announces a new report (report.created, then report.updated once its
// estimated completion time is known) and arms its completion.
func (s *Server) startReportLocked(r *report) {
	s.announceLocked(&r.held, s.newEventLocked(checkr.EventReportCreated, r.account, r.obj))
	if s.reportDelay >= 0 {
		eta := r.obj.CreatedAt.Add(s.reportDelay)
		r.obj.EstimatedCompletionTime = &eta
	}
	s.announceLocked(&r.held, s.newEventLocked(checkr.EventReportUpdated, r.account, r.obj))
	s.scheduleReportLocked(r, s.reportDelay)
	s.log.Info("fake checkr: report created", "report_id", r.obj.ID, "package", r.obj.Package)
}

// scheduleReportLocked arms the timer that completes a pending report after d; negative d arms
// nothing (ReportDelay < 0: only CompleteReport completes it).
func (s *Server) scheduleReportLocked(r *report, d time.Duration) {
	if s.reportDelay < 0 || d < 0 {
		return
	}
	r.deadline = time.Now().Add(d)
	s.timers.ArmLocked("report/"+r.obj.ID, d, func() {
		if r.obj.Status == checkr.ReportPending {
			s.completeReportLocked(r)
		}
	})
}

func (s *Server) completeReportLocked(r *report) {
	s.timers.StopLocked("report/" + r.obj.ID)
	result, assessment := s.resultLocked()
	t := now()
	turnaround := int(t.Sub(r.obj.CreatedAt).Seconds())
	doc := s.addDocumentLocked(r, result, assessment)
	r.obj.Status = checkr.ReportComplete
	r.obj.Result = &result
	r.obj.Assessment = &assessment
	r.obj.CompletedAt = &t
	r.obj.TurnaroundTime = &turnaround
	r.obj.DocumentIDs = []string{doc.id}
	s.sendLocked(s.newEventLocked(checkr.EventReportCompleted, r.account, r.obj))
	s.releaseLocked(&r.held)
	s.log.Info("fake checkr: report completed", "report_id", r.obj.ID, "result", result, "document_id", doc.id)
}

// resultLocked is the result SetResult chose, with its assessment: eligible for clear, review
// otherwise.
func (s *Server) resultLocked() (result, assessment string) {
	if s.result == checkr.ResultClear {
		return s.result, checkr.AssessmentEligible
	}
	return s.result, checkr.AssessmentReview
}

// addDocumentLocked stores a new pdf_report document of a report, showing its result.
func (s *Server) addDocumentLocked(r *report, result, assessment string) *document {
	id := newID()
	doc := &document{
		account:  r.account,
		id:       id,
		reportID: r.obj.ID,
		pdf:      reportPDF(id, r.obj.ID, r.obj.Package, result, assessment),
		links:    make(map[string]time.Time),
	}
	s.documents[doc.id] = doc
	return doc
}

// announceLocked sends an object's opening event, or holds it back under ReorderWebhooks.
func (s *Server) announceLocked(held *[]webhook, wh webhook) {
	if s.reorder {
		*held = append(*held, wh)
		return
	}
	s.sendLocked(wh)
}

// releaseLocked sends the events ReorderWebhooks held back, after the ones sent so far.
func (s *Server) releaseLocked(held *[]webhook) {
	for _, wh := range *held {
		s.sendLocked(wh)
	}
	*held = nil
}

// newID returns an id shaped like Checkr's: 24 hex digits.
func newID() string {
	return randomHex(12)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// now is the current time at the second precision of Checkr's timestamps.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Second)
}
