// Package checkr talks to Checkr: a client for its REST API and its partner OAuth endpoints, and
// verification and parsing of the webhooks it sends.
package checkr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/screenflow/screenflow/providers/internal/apiclient"
)

// DefaultBaseURL is Checkr's production host. API calls go to <base>/v1/..., OAuth calls to
// <base>/oauth/....
const DefaultBaseURL = "https://api.checkr.com"

// StagingBaseURL is Checkr's staging host, for test accounts.
const StagingBaseURL = "https://api.checkr-staging.com"

// DefaultAuthorizeURL is where partner applications send account holders to sign up or connect
// their account: <authorize>/<client_id>/signup?state=.... See SignupURL.
const DefaultAuthorizeURL = "https://partners.checkr.com/authorize"

// StagingAuthorizeURL is DefaultAuthorizeURL's staging counterpart.
const StagingAuthorizeURL = "https://partners.checkrhq-staging.net/authorize"

// defaultPageSize is the largest page Checkr's list calls serve; it is sent explicitly so that
// paging does not depend on Checkr's default (25).
const defaultPageSize = 100

// maxPages bounds how many pages a list call reads. The lists read here are filtered to one
// candidate or one custom_id and hold a handful of items: running into the bound means the filter
// was ignored, which must fail loudly rather than answer from a partial list.
const maxPages = 50

// maxDocumentSize bounds a downloaded document; a report PDF is a few pages.
const maxDocumentSize = 64 << 20

// Report statuses.
const (
	ReportPending   = "pending"
	ReportComplete  = "complete"
	ReportSuspended = "suspended"
	ReportPaused    = "paused"
	ReportCanceled  = "canceled"
	ReportDispute   = "dispute"
)

// Report results, set once a report is complete.
const (
	ResultClear    = "clear"
	ResultConsider = "consider"
)

// Report assessments (accounts with Checkr Assess).
const (
	AssessmentEligible  = "eligible"
	AssessmentReview    = "review"
	AssessmentEscalated = "escalated"
)

// Report adjudications. UNCERTAIN enum; a report that was never adjudicated has none ("").
const (
	AdjudicationEngaged           = "engaged"
	AdjudicationPreAdverseAction  = "pre_adverse_action"
	AdjudicationPostAdverseAction = "post_adverse_action"
)

// Invitation statuses. UNCERTAIN: Checkr documents pending, completed and expired, and sends
// invitation.deleted; what a deleted invitation's status reads is not documented ("deleted" is
// assumed, and deleted_at is set).
const (
	InvitationPending   = "pending"
	InvitationCompleted = "completed"
	InvitationExpired   = "expired"
	InvitationDeleted   = "deleted"
)

// Document types. Checkr has more (pdf_credit_report, ...).
const (
	DocumentPDFReport       = "pdf_report"
	DocumentPDFHealthReport = "pdf_health_report"
)

// ErrDownloadExpired is returned by Download when a download_uri no longer works (403 or 410):
// call GetDocument again for a fresh one.
var ErrDownloadExpired = apiclient.ErrLinkExpired

// SignupURL returns the link that sends an account holder to Checkr's hosted sign-up for the
// partner application clientID; Checkr redirects back with a code and state. authorizeURL is
// DefaultAuthorizeURL or StagingAuthorizeURL.
func SignupURL(authorizeURL, clientID, state string) string {
	u := strings.TrimRight(authorizeURL, "/") + "/" + url.PathEscape(clientID) + "/signup"
	if state != "" {
		u += "?" + url.Values{"state": {state}}.Encode()
	}
	return u
}

// Client calls Checkr's REST API as one account. It is safe for concurrent use.
type Client struct {
	api      *apiclient.Client
	key      string
	pageSize int
}

// NewClient returns a client for the Checkr host at baseURL (DefaultBaseURL, without /v1). Calls
// authenticate with HTTP Basic auth, key as the user name and an empty password: key is the
// account's secret API key (direct accounts) or an integrated account's OAuth access token
// (partner apps). A nil httpClient is replaced by one with a 30 s timeout.
func NewClient(baseURL, key string, httpClient *http.Client) *Client {
	return &Client{
		api:      apiclient.New("checkr", baseURL, httpClient, readError),
		key:      key,
		pageSize: defaultPageSize,
	}
}

// WithKey returns a client with the same base URL and HTTP client that authenticates with key,
// e.g. another integrated account's access token.
func (c *Client) WithKey(key string) *Client {
	cc := *c
	cc.key = key
	return &cc
}

// String describes the client without its key, so that printing or logging one leaks nothing.
func (c *Client) String() string { return "checkr.Client(" + c.api.BaseURL() + ")" }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// LogValue is String, for slog.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// CandidateRequest is the body of POST /v1/candidates. Checkr needs more fields for some packages
// (dob, ssn, zipcode for criminal searches); an invitation needs only the email.
type CandidateRequest struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	DOB       string `json:"dob,omitempty"` // YYYY-MM-DD
	SSN       string `json:"ssn,omitempty"`
	Zipcode   string `json:"zipcode,omitempty"`
	Phone     string `json:"phone,omitempty"`
	CustomID  string `json:"custom_id,omitempty"`
}

// Candidate is the part of a Checkr candidate we keep; it leaves out the personal data.
type Candidate struct {
	ID        string    `json:"id"`
	CustomID  string    `json:"custom_id"`
	CreatedAt time.Time `json:"created_at"`
}

// WorkLocation is where the candidate will work, which decides the searches of some packages.
type WorkLocation struct {
	Country string `json:"country,omitempty"`
	State   string `json:"state,omitempty"`
	City    string `json:"city,omitempty"`
}

// InvitationRequest is the body of POST /v1/invitations.
type InvitationRequest struct {
	Package       string         `json:"package"`
	CandidateID   string         `json:"candidate_id"`
	WorkLocations []WorkLocation `json:"work_locations,omitempty"`
}

// Invitation asks a candidate to give their details and consent on Checkr's hosted apply flow.
// Once they have, the invitation is completed and names the report it ordered.
type Invitation struct {
	ID            string     `json:"id"`
	Status        string     `json:"status"` // pending | completed | expired | deleted (see InvitationDeleted)
	InvitationURL string     `json:"invitation_url"`
	CandidateID   string     `json:"candidate_id"`
	Package       string     `json:"package"`
	ReportID      string     `json:"report_id"` // once completed
	ExpiresAt     time.Time  `json:"expires_at"`
	CreatedAt     time.Time  `json:"created_at"`
	DeletedAt     *time.Time `json:"deleted_at"` // once deleted
}

// ReportRequest is the body of POST /v1/reports.
type ReportRequest struct {
	Package       string         `json:"package"`
	CandidateID   string         `json:"candidate_id"`
	WorkLocations []WorkLocation `json:"work_locations,omitempty"`
}

// Report is a Checkr background check report.
type Report struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`       // pending | complete | suspended | paused | canceled | dispute
	Result       string     `json:"result"`       // clear | consider | "" while there is none
	Assessment   string     `json:"assessment"`   // eligible | review | escalated | ""
	Adjudication string     `json:"adjudication"` // engaged | pre_adverse_action | post_adverse_action | ""
	Package      string     `json:"package"`
	CandidateID  string     `json:"candidate_id"`
	DocumentIDs  []string   `json:"document_ids"`
	CreatedAt    time.Time  `json:"created_at"`
	CompletedAt  *time.Time `json:"completed_at"`
}

// Document is a file of a report, such as its PDF. DownloadURI is a bearer link valid for 15
// minutes: it is left out when a Document is printed or logged.
type Document struct {
	ID          string `json:"id"`
	Type        string `json:"type"` // pdf_report, pdf_health_report, ...
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Filesize    int64  `json:"filesize"`
	DownloadURI string `json:"download_uri"`
}

// String describes the document without its download_uri.
func (d Document) String() string {
	return fmt.Sprintf("checkr.Document{ID:%s Type:%s Filename:%s ContentType:%s Filesize:%d DownloadURI:[redacted]}",
		d.ID, d.Type, d.Filename, d.ContentType, d.Filesize)
}

// GoString is String, for %#v.
func (d Document) GoString() string { return d.String() }

// LogValue leaves the download_uri out of logs.
func (d Document) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", d.ID), slog.String("type", d.Type), slog.Int64("filesize", d.Filesize))
}

// Token is the answer of an OAuth token exchange. AccessToken is a secret: it is left out when a
// Token is printed or logged.
type Token struct {
	AccessToken     string `json:"access_token"`
	CheckrAccountID string `json:"checkr_account_id"`
}

// String describes the token without the access token.
func (t Token) String() string {
	return "checkr.Token{CheckrAccountID:" + t.CheckrAccountID + " AccessToken:[redacted]}"
}

// GoString is String, for %#v.
func (t Token) GoString() string { return t.String() }

// LogValue leaves the access token out of logs.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("checkr_account_id", t.CheckrAccountID))
}

// APIError is a non-2xx answer from Checkr.
type APIError = apiclient.Error

// CreateCandidate creates a candidate (POST /v1/candidates). Set CustomID so that FindCandidate
// can adopt the candidate if the answer is lost.
func (c *Client) CreateCandidate(ctx context.Context, req CandidateRequest) (Candidate, error) {
	var out Candidate
	err := c.do(ctx, http.MethodPost, "/v1/candidates", nil, req, &out)
	return out, err
}

// FindCandidate returns the candidate with this custom_id (GET /v1/candidates?custom_id=...), and
// ok=false if there is none. It lets a retried activity adopt a candidate whose creation answer
// was lost. Checkr does not keep custom_id unique: of several, the oldest is returned, so that
// every retry adopts the same one.
func (c *Client) FindCandidate(ctx context.Context, customID string) (Candidate, bool, error) {
	if customID == "" {
		return Candidate{}, false, errors.New("checkr: find candidate: empty custom_id")
	}
	all, err := list(ctx, c, "/v1/candidates", url.Values{"custom_id": {customID}},
		func(cd Candidate) string { return cd.ID },
		// The filter is UNCERTAIN: an answer that ignored it must not make another candidate ours.
		func(cd Candidate) bool { return cd.CustomID == customID })
	if err != nil || len(all) == 0 {
		return Candidate{}, false, err
	}
	oldest := all[0]
	for _, cd := range all[1:] {
		if cd.CreatedAt.Before(oldest.CreatedAt) {
			oldest = cd
		}
	}
	return oldest, true, nil
}

// CreateInvitation invites a candidate to Checkr's hosted apply flow (POST /v1/invitations). The
// account must be credentialed.
func (c *Client) CreateInvitation(ctx context.Context, req InvitationRequest) (Invitation, error) {
	var out Invitation
	err := c.do(ctx, http.MethodPost, "/v1/invitations", nil, req, &out)
	return out, err
}

// GetInvitation reads an invitation (GET /v1/invitations/{id}).
func (c *Client) GetInvitation(ctx context.Context, id string) (Invitation, error) {
	// An empty id would turn the call into the list of every invitation.
	if id == "" {
		return Invitation{}, errors.New("checkr: get invitation: empty invitation id")
	}
	var out Invitation
	err := c.do(ctx, http.MethodGet, "/v1/invitations/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// ListInvitations lists the candidate's invitations (GET /v1/invitations?candidate_id=...), for
// finding one whose creation answer was lost.
func (c *Client) ListInvitations(ctx context.Context, candidateID string) ([]Invitation, error) {
	if candidateID == "" {
		return nil, errors.New("checkr: list invitations: empty candidate id")
	}
	return list(ctx, c, "/v1/invitations", url.Values{"candidate_id": {candidateID}},
		func(inv Invitation) string { return inv.ID },
		func(inv Invitation) bool { return inv.CandidateID == candidateID })
}

// CreateReport orders a report (POST /v1/reports; Checkr answers 201). The account must be
// credentialed.
func (c *Client) CreateReport(ctx context.Context, req ReportRequest) (Report, error) {
	var out Report
	err := c.do(ctx, http.MethodPost, "/v1/reports", nil, req, &out)
	return out, err
}

// GetReport reads a report (GET /v1/reports/{id}).
func (c *Client) GetReport(ctx context.Context, id string) (Report, error) {
	if id == "" {
		return Report{}, errors.New("checkr: get report: empty report id")
	}
	var out Report
	err := c.do(ctx, http.MethodGet, "/v1/reports/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// ListReports lists the candidate's reports (GET /v1/reports?candidate_id=...), for finding one
// whose creation answer was lost.
func (c *Client) ListReports(ctx context.Context, candidateID string) ([]Report, error) {
	if candidateID == "" {
		return nil, errors.New("checkr: list reports: empty candidate id")
	}
	return list(ctx, c, "/v1/reports", url.Values{"candidate_id": {candidateID}},
		func(r Report) string { return r.ID },
		func(r Report) bool { return r.CandidateID == candidateID })
}

// GetDocument returns the document (GET /v1/documents/{id}) with a download_uri valid for 15
// minutes: call it again for a fresh one.
func (c *Client) GetDocument(ctx context.Context, id string) (Document, error) {
	if id == "" {
		return Document{}, errors.New("checkr: get document: empty document id")
	}
	var out Document
	err := c.do(ctx, http.MethodGet, "/v1/documents/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// Download GETs a document's download_uri. The link is itself the credential, so no key goes with
// it and no error quotes it. An expired link answers 403 (S3-style) or 410: ErrDownloadExpired.
func (c *Client) Download(ctx context.Context, uri string) ([]byte, error) {
	return c.api.Download(ctx, "download document", uri, "", maxDocumentSize)
}

// ExchangeToken trades the authorization code Checkr's sign-up redirected back with for the
// integrated account's access token (POST <base>/oauth/tokens, JSON {client_id, client_secret,
// code}, no Basic auth). A code works once. The token works for reports and invitations only after
// account.credentialed.
func (c *Client) ExchangeToken(ctx context.Context, clientID, clientSecret, code string) (Token, error) {
	body := struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Code         string `json:"code"`
	}{clientID, clientSecret, code}
	var out Token
	if err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: "/oauth/tokens", Body: body}, &out); err != nil {
		return Token{}, err
	}
	if out.AccessToken == "" {
		return Token{}, errors.New("checkr: POST /oauth/tokens: answer has no access_token")
	}
	return out, nil
}

// Deauthorize revokes the client's key, an integrated account's access token (POST
// <base>/oauth/deauthorize with Basic auth). Checkr follows it with token.deauthorized. A token
// revoked already answers 401.
func (c *Client) Deauthorize(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/oauth/deauthorize", nil, nil, nil)
}

// RemoveCandidatePII asks Checkr to remove the candidate's personal data (DELETE
// /v1/candidates/{id}/pii, JSON {deletion_contact_email_address}), which Checkr documents as
// "Request PII removal for a Candidate". contactEmail is whom Checkr may contact about the removal:
// the person requesting it. A candidate that is not there (404), or whose PII was removed before
// (Checkr answers 400, see codePIIAlreadyRemoved), counts as done: a retry whose first answer was
// lost, or a second erasure, finds the removal made.
func (c *Client) RemoveCandidatePII(ctx context.Context, candidateID, contactEmail string) error {
	// An empty id would send DELETE /v1/candidates//pii, a path that names no candidate.
	if candidateID == "" {
		return errors.New("checkr: remove candidate PII: empty candidate id")
	}
	if contactEmail == "" {
		return errors.New("checkr: remove candidate PII: empty deletion contact email")
	}
	body := struct {
		ContactEmail string `json:"deletion_contact_email_address"`
	}{contactEmail}
	err := c.do(ctx, http.MethodDelete, "/v1/candidates/"+url.PathEscape(candidateID)+"/pii", nil, body, nil)
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusNotFound ||
		apiErr.StatusCode == http.StatusBadRequest && apiErr.Code == codePIIAlreadyRemoved) {
		return nil
	}
	return err
}

// listPage is a page of a Checkr list: {data, object: "list", next_href, previous_href, count}.
type listPage[T any] struct {
	Data     []T    `json:"data"`
	NextHref string `json:"next_href"` // null on the last page
	Count    int    `json:"count"`
}

// list reads every page of a filtered list, keeping the items match accepts (once each: an item
// created while we page can shift the others onto the next page).
func list[T any](ctx context.Context, c *Client, path string, filter url.Values, id func(T) string, match func(T) bool) ([]T, error) {
	var all []T
	seen := make(map[string]bool)
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("checkr: GET %s: more than %d pages; was the filter ignored?", path, maxPages)
		}
		query := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(c.pageSize)}}
		for k, v := range filter {
			query[k] = v
		}
		var out listPage[T]
		if err := c.do(ctx, http.MethodGet, path, query, nil, &out); err != nil {
			return nil, err
		}
		for _, item := range out.Data {
			if k := id(item); match(item) && !seen[k] {
				seen[k] = true
				all = append(all, item)
			}
		}
		// next_href is followed by number, never by address: the key must go to the base URL only.
		// An empty page also ends the loop, so that a wrong next_href cannot make it endless.
		if out.NextHref == "" || len(out.Data) == 0 {
			return all, nil
		}
	}
}

// do sends one API call with Basic auth and decodes a 2xx answer into out unless out is nil.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	return c.api.Do(ctx, apiclient.Request{Method: method, Path: path, Query: query, Body: in, Auth: c.authorize}, out)
}

func (c *Client) authorize(req *http.Request) { req.SetBasicAuth(c.key, "") }

// codePIIAlreadyRemoved is the code readError gives Checkr's answer to a PII removal of a
// candidate whose PII is removed already. Checkr answers it with a sentence, documented in its
// OpenAPI description as "Candidate has already had PII removed" (HTTP 400); UNCERTAIN whether the
// live API words it exactly so.
const codePIIAlreadyRemoved = "pii_already_removed"

// piiAlreadyRemoved is that sentence, compared without case and a final full stop.
const piiAlreadyRemoved = "candidate has already had pii removed"

// readError reads the code of Checkr's error body, {"error": "..."}: the error, when it is an
// identifier (apiclient.IsCode). Checkr mostly writes a sentence there, and a sentence or an
// "errors" list can quote what was sent: neither is read, except the one sentence known to quote
// nothing, which becomes codePIIAlreadyRemoved.
func readError(body []byte) (code string) {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	if strings.EqualFold(strings.TrimSuffix(strings.TrimSpace(e.Error), "."), piiAlreadyRemoved) {
		return codePIIAlreadyRemoved
	}
	return e.Error
}
