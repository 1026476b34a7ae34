// Package authenticate talks to Authenticate (authenticate.com): a client for its REST API, and
// parsing of the unsigned webhooks it sends.
package authenticate

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/screenflow/screenflow/providers/internal/apiclient"
)

// DefaultBaseURL is Authenticate's production API.
const DefaultBaseURL = "https://api-v3.authenticating.com"

// maxReportSize bounds a downloaded PDF report; a report is a few pages.
const maxReportSize = 32 << 20

// DOBLayout is the Go layout of the dob Authenticate expects, DD-MM-YYYY. UNCERTAIN: seen only in
// third-party code.
const DOBLayout = "02-01-2006"

// Search types the fake creates. Authenticate also has COUNTY_CIVIL and FEDERAL_CIVIL.
const (
	SearchTypeCountyCriminal  = "COUNTY_CRIMINAL"
	SearchTypeFederalCriminal = "FEDERAL_CRIMINAL"
	SearchTypeSexOffender     = "SEX_OFFENDER"
)

// Sub statuses of a complete search.
const (
	SubStatusClear       = "CLEAR"
	SubStatusRecordFound = "RECORD_FOUND"
)

// ErrLinkExpired is returned by DownloadReport when a report link no longer works (403 or 410):
// retrieve the report again for a fresh link.
var ErrLinkExpired = apiclient.ErrLinkExpired

// Paths are the API paths. Several are UNCERTAIN in the provider facts, so each is configurable.
type Paths struct {
	CreateUser     string
	Consent        string
	CriminalSearch string
	SexOffender    string
	TestResult     string
	InitiatePDF    string
	RetrievePDF    string
	CompanyWebhook string
}

// DefaultPaths are the paths the provider facts name; see README.md for which are uncertain.
var DefaultPaths = Paths{
	CreateUser:     "/user/create",
	Consent:        "/user/consent",
	CriminalSearch: "/identity/request/criminal/report/seven", // UNCERTAIN
	SexOffender:    "/user/verify/criminal/soc",
	TestResult:     "/user/getTestResult",       // UNCERTAIN
	InitiatePDF:    "/user/initiate/pdf/report", // UNCERTAIN
	RetrievePDF:    "/user/retrieve/pdf/report", // UNCERTAIN
	CompanyWebhook: "/company/webhook",
}

// Client calls Authenticate's REST API. It is safe for concurrent use.
type Client struct {
	api    *apiclient.Client
	apiKey string
	paths  Paths
}

// NewClient returns a client for the API at baseURL. Empty fields of paths take DefaultPaths'
// values. A nil httpClient is replaced by one with a 30 s timeout.
func NewClient(baseURL, apiKey string, paths Paths, httpClient *http.Client) *Client {
	d := DefaultPaths
	return &Client{
		api:    apiclient.New("authenticate", baseURL, httpClient, readError),
		apiKey: apiKey,
		paths: Paths{
			CreateUser:     cmp.Or(paths.CreateUser, d.CreateUser),
			Consent:        cmp.Or(paths.Consent, d.Consent),
			CriminalSearch: cmp.Or(paths.CriminalSearch, d.CriminalSearch),
			SexOffender:    cmp.Or(paths.SexOffender, d.SexOffender),
			TestResult:     cmp.Or(paths.TestResult, d.TestResult),
			InitiatePDF:    cmp.Or(paths.InitiatePDF, d.InitiatePDF),
			RetrievePDF:    cmp.Or(paths.RetrievePDF, d.RetrievePDF),
			CompanyWebhook: cmp.Or(paths.CompanyWebhook, d.CompanyWebhook),
		},
	}
}

// CreateUserRequest is the body of POST /user/create. Authenticate needs the address for
// background checks.
type CreateUserRequest struct {
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	DOB         string `json:"dob"` // DOBLayout
	Email       string `json:"email"`
	HouseNumber string `json:"houseNumber,omitempty"`
	StreetName  string `json:"streetName,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	ZipCode     string `json:"zipCode,omitempty"`
	Country     string `json:"country,omitempty"` // ISO alpha-3
}

// ConsentRequest is the body of POST /user/consent.
type ConsentRequest struct {
	UserAccessCode                 string `json:"userAccessCode"`
	IsBackgroundDisclosureAccepted bool   `json:"isBackgroundDisclosureAccepted"`
	GLBPurposeAndDPPAPurpose       int    `json:"GLBPurposeAndDPPAPurpose"`
	FCRAPurpose                    int    `json:"FCRAPurpose"`
	FullName                       string `json:"fullName"`
}

// Search is one search of a user, as the API and status webhooks show it.
type Search struct {
	UniqueIdentifier string `json:"unique_identifier"`
	SearchType       string `json:"search_type"`       // e.g. COUNTY_CRIMINAL, FEDERAL_CRIMINAL, SEX_OFFENDER
	SearchStatus     string `json:"search_status"`     // PENDING, IN_PROGRESS, COMPLETE
	SearchSubStatus  string `json:"search_sub_status"` // e.g. CLEAR, RECORD_FOUND ("" while not complete)
}

// TestResult is a user's test results. UNCERTAIN shape: see README.md.
type TestResult struct {
	UserAccessCode string          `json:"userAccessCode"`
	Criminal       *CriminalResult `json:"criminal"`    // nil when never ordered
	SexOffender    *Search         `json:"sexOffender"` // nil when never ordered
}

// CriminalResult is the state of a user's criminal searches.
type CriminalResult struct {
	Status   string   `json:"status"` // PENDING, or COMPLETE when every search is
	Searches []Search `json:"searches"`
}

// PDFReport is a user's PDF report request.
type PDFReport struct {
	ReportUUID string    `json:"reportUUID"`
	Status     string    `json:"status"`               // INITIATED, COMPLETED, FAILED
	ReportLink string    `json:"reportLink,omitempty"` // only when COMPLETED
	Expires    time.Time `json:"expires,omitzero"`     // only when COMPLETED
}

// APIError is a non-2xx answer from Authenticate. RetryAfter is set when the answer has a
// Retry-After header (InitiatePDFReport's 429).
type APIError = apiclient.Error

// userRequest is the body of the calls that name only a user.
type userRequest struct {
	UserAccessCode string `json:"userAccessCode"`
}

// CreateUser creates a user and returns its userAccessCode.
func (c *Client) CreateUser(ctx context.Context, req CreateUserRequest) (string, error) {
	var out struct {
		UserAccessCode string `json:"userAccessCode"`
	}
	if err := c.post(ctx, c.paths.CreateUser, req, &out); err != nil {
		return "", err
	}
	if out.UserAccessCode == "" {
		return "", fmt.Errorf("authenticate: POST %s: answer has no userAccessCode", c.paths.CreateUser)
	}
	return out.UserAccessCode, nil
}

// Consent records consent. Authenticate answers a second call with 400 "Consent has already been
// recorded": Consent returns nil in that case, since recording twice is what a retry does.
func (c *Client) Consent(ctx context.Context, req ConsentRequest) error {
	err := c.post(ctx, c.paths.Consent, req, nil)
	var apiErr *APIError
	// On this call a 400 saying "already" can only mean the consent is on record.
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest && apiErr.Code == codeAlreadyRecorded {
		return nil
	}
	return err
}

// OrderCriminalSearches orders the user's criminal searches and returns them, pending. Ordering
// twice is an error, so callers must remember that they ordered.
func (c *Client) OrderCriminalSearches(ctx context.Context, userAccessCode string) ([]Search, error) {
	var out struct {
		Searches []Search `json:"searches"`
	}
	if err := c.post(ctx, c.paths.CriminalSearch, userRequest{userAccessCode}, &out); err != nil {
		return nil, err
	}
	return out.Searches, nil
}

// OrderSexOffenderCheck orders the user's sex offender check.
func (c *Client) OrderSexOffenderCheck(ctx context.Context, userAccessCode string) error {
	return c.post(ctx, c.paths.SexOffender, userRequest{userAccessCode}, nil)
}

// GetTestResult reads the current state of the user's searches.
func (c *Client) GetTestResult(ctx context.Context, userAccessCode string) (TestResult, error) {
	var out TestResult
	err := c.post(ctx, c.paths.TestResult, userRequest{userAccessCode}, &out)
	return out, err
}

// InitiatePDFReport asks for a new PDF report, which is generated asynchronously. Authenticate
// allows one request per user per five minutes: a request too soon fails with an *APIError of
// status 429, its RetryAfter set when Authenticate says how long to wait.
func (c *Client) InitiatePDFReport(ctx context.Context, userAccessCode string) (PDFReport, error) {
	var out PDFReport
	err := c.post(ctx, c.paths.InitiatePDF, userRequest{userAccessCode}, &out)
	return out, err
}

// RetrievePDFReport returns the user's latest report: its status, and a fresh link when COMPLETED.
func (c *Client) RetrievePDFReport(ctx context.Context, userAccessCode string) (PDFReport, error) {
	var out PDFReport
	err := c.post(ctx, c.paths.RetrievePDF, userRequest{userAccessCode}, &out)
	return out, err
}

// RegisterWebhook subscribes webhookURL to the company's events. Authenticate keeps one URL per
// company: registering replaces it.
func (c *Client) RegisterWebhook(ctx context.Context, companyAccessCode, webhookURL string) error {
	body := struct {
		CompanyAccessCode string `json:"companyAccessCode"`
		WebhookURL        string `json:"webhookURL"`
	}{companyAccessCode, webhookURL}
	return c.post(ctx, c.paths.CompanyWebhook, body, nil)
}

// DownloadReport fetches the PDF at a reportLink. The link is itself the credential, so no API
// key goes with it and no error quotes it. An expired link answers 403 or 410: ErrLinkExpired.
func (c *Client) DownloadReport(ctx context.Context, link string) ([]byte, error) {
	return c.api.Download(ctx, "download report", link, "application/pdf", maxReportSize)
}

// post sends one API call, a POST with a JSON body, and decodes a 2xx answer into out unless out
// is nil.
func (c *Client) post(ctx context.Context, path string, in, out any) error {
	return c.api.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: path, Body: in, Auth: c.authorize}, out)
}

func (c *Client) authorize(req *http.Request) { req.Header.Set("Authorization", "Bearer "+c.apiKey) }

// codeAlreadyRecorded is the code readError gives an answer saying that what was asked is already
// on record. Authenticate's error bodies carry a sentence and no code; this is the one answer a
// caller must tell apart (Consent), so it is named here, in our words.
const codeAlreadyRecorded = "already_recorded"

// readError reads the code of Authenticate's error body: its "code" or "errorCode" when it is an
// identifier, or else codeAlreadyRecorded when its sentence, {"errorMessage": "..."} (also
// "message" or "error", which other Authenticate answers and proxies use), says "already". The
// sentence itself can quote what was sent, and is not kept.
func readError(body []byte) (code string) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return ""
	}
	for _, key := range []string{"code", "errorCode"} {
		if json.Unmarshal(fields[key], &code) == nil && apiclient.IsCode(code) {
			return code
		}
	}
	for _, key := range []string{"errorMessage", "message", "error"} {
		var msg string
		if json.Unmarshal(fields[key], &msg) == nil && msg != "" {
			// Matching "already" rather than the whole sentence survives rewording.
			if strings.Contains(strings.ToLower(msg), "already") {
				return codeAlreadyRecorded
			}
			return ""
		}
	}
	return ""
}
