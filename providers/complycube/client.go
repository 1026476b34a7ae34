// Package complycube talks to ComplyCube: a client for its REST API, and verification and
// parsing of the webhooks it sends.
package complycube

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is ComplyCube's production API, including the version prefix.
const DefaultBaseURL = "https://api.complycube.com/v1"

const defaultTimeout = 30 * time.Second

// defaultPageSize is ComplyCube's own default, sent explicitly so that paging does not depend on it.
const defaultPageSize = 100

// maxDrain bounds what is read of an error answer, and of what a decoder left unread (read only so
// that the connection can be reused).
const maxDrain = 64 << 10

// Check statuses.
const (
	StatusPending  = "pending"
	StatusComplete = "complete"
	StatusFailed   = "failed"
)

// Check outcomes, set when the status is complete.
const (
	OutcomeClear          = "clear"
	OutcomeAttention      = "attention"
	OutcomeRejected       = "rejected"
	OutcomeMatchConfirmed = "match_confirmed"
)

// Outcomes lists every outcome a completed check can have.
var Outcomes = []string{OutcomeClear, OutcomeAttention, OutcomeRejected, OutcomeMatchConfirmed}

// CheckTypes lists the check types we order. ComplyCube has more (face authentication, age
// estimation, ...), which screening does not use.
var CheckTypes = []string{
	"standard_screening_check",
	"extensive_screening_check",
	"document_check",
	"identity_check",
	"enhanced_identity_check",
	"proof_of_address_check",
	"multi_bureau_check",
}

// Client calls ComplyCube's REST API. It is safe for concurrent use.
type Client struct {
	baseURL    string
	apiKey     string
	httpClient *http.Client
	pageSize   int
}

// NewClient returns a client for the API at baseURL, which includes the /v1 prefix. A nil
// httpClient is replaced by one with a 30 s timeout.
func NewClient(baseURL, apiKey string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: defaultTimeout}
	}
	return &Client{
		baseURL:    strings.TrimRight(baseURL, "/"),
		apiKey:     apiKey,
		httpClient: httpClient,
		pageSize:   defaultPageSize,
	}
}

// PersonDetails are the personal details of a client of type person.
type PersonDetails struct {
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	DOB         string `json:"dob,omitempty"` // YYYY-MM-DD
	Nationality string `json:"nationality,omitempty"`
}

// CreateClientRequest is the body of POST /clients.
type CreateClientRequest struct {
	Type          string         `json:"type"` // "person"
	Email         string         `json:"email"`
	PersonDetails *PersonDetails `json:"personDetails,omitempty"`
	ExternalID    string         `json:"externalId,omitempty"`
}

// ClientResource is the part of a ComplyCube client we keep; it leaves out the personal data.
type ClientResource struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	ExternalID string    `json:"externalId,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
}

// CreateCheckRequest is the body of POST /checks.
type CreateCheckRequest struct {
	ClientID string `json:"clientId"`
	Type     string `json:"type"`
}

// CheckResult is the result of a completed check.
type CheckResult struct {
	Outcome   string          `json:"outcome,omitempty"`
	Breakdown json.RawMessage `json:"breakdown,omitempty"`
}

// Check is a ComplyCube check.
type Check struct {
	ID        string       `json:"id"`
	ClientID  string       `json:"clientId"`
	Type      string       `json:"type"`
	Status    string       `json:"status"` // pending | complete | failed
	Result    *CheckResult `json:"result,omitempty"`
	CreatedAt time.Time    `json:"createdAt"`
	UpdatedAt time.Time    `json:"updatedAt"`
}

// Report is a check's PDF report.
type Report struct {
	ContentType string
	Data        []byte // decoded PDF bytes
}

// APIError is a non-2xx answer from ComplyCube; error bodies look like {"type": "...", "message": "..."}.
type APIError struct {
	StatusCode int
	Type       string
	Message    string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("complycube: HTTP %d", e.StatusCode)
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Retryable reports whether trying the same call again may succeed: 408, 429 and 5xx.
func (e *APIError) Retryable() bool {
	return e.StatusCode == http.StatusRequestTimeout ||
		e.StatusCode == http.StatusTooManyRequests ||
		e.StatusCode >= 500
}

// CreateClient creates a client (POST /clients).
func (c *Client) CreateClient(ctx context.Context, req CreateClientRequest) (ClientResource, error) {
	var out ClientResource
	err := c.do(ctx, http.MethodPost, "/clients", nil, req, &out)
	return out, err
}

// CreateCheck orders a check on a client (POST /checks). The check starts pending.
func (c *Client) CreateCheck(ctx context.Context, req CreateCheckRequest) (Check, error) {
	var out Check
	err := c.do(ctx, http.MethodPost, "/checks", nil, req, &out)
	return out, err
}

// GetCheck reads a check (GET /checks/{id}).
func (c *Client) GetCheck(ctx context.Context, checkID string) (Check, error) {
	// An empty id would turn the call into GET /checks, the list of every check.
	if checkID == "" {
		return Check{}, errors.New("complycube: get check: empty check id")
	}
	var out Check
	err := c.do(ctx, http.MethodGet, "/checks/"+url.PathEscape(checkID), nil, nil, &out)
	return out, err
}

// ListChecks lists the client's checks (GET /checks?clientId=...), following pagination
// ({page, pageSize, totalItems, pages, items}) until every page is read.
func (c *Client) ListChecks(ctx context.Context, clientID string) ([]Check, error) {
	// Without clientId the API lists the whole account's checks, which callers must never mistake
	// for one client's.
	if clientID == "" {
		return nil, errors.New("complycube: list checks: empty client id")
	}
	var all []Check
	// A check created while we page shifts the others by one, so a check can appear on two pages.
	seen := make(map[string]bool)
	for page := 1; ; page++ {
		query := url.Values{
			"clientId": {clientID},
			"page":     {strconv.Itoa(page)},
			"pageSize": {strconv.Itoa(c.pageSize)},
		}
		var out struct {
			Pages int     `json:"pages"`
			Items []Check `json:"items"`
		}
		if err := c.do(ctx, http.MethodGet, "/checks", query, nil, &out); err != nil {
			return nil, err
		}
		for _, ch := range out.Items {
			if !seen[ch.ID] {
				seen[ch.ID] = true
				all = append(all, ch)
			}
		}
		// An empty page also ends the loop, so that a wrong page count cannot make it endless.
		if page >= out.Pages || len(out.Items) == 0 {
			return all, nil
		}
	}
}

// GetReport fetches GET /reports?checkId={id}, which answers JSON {contentType, data: <base64>}.
func (c *Client) GetReport(ctx context.Context, checkID string) (Report, error) {
	if checkID == "" {
		return Report{}, errors.New("complycube: get report: empty check id")
	}
	var out struct {
		ContentType string `json:"contentType"`
		Data        string `json:"data"`
	}
	if err := c.do(ctx, http.MethodGet, "/reports", url.Values{"checkId": {checkID}}, nil, &out); err != nil {
		return Report{}, err
	}
	data, err := base64.StdEncoding.DecodeString(out.Data)
	if err != nil {
		return Report{}, fmt.Errorf("complycube: get report: decode data: %w", err)
	}
	return Report{ContentType: out.ContentType, Data: data}, nil
}

// do sends one API call and decodes a 2xx answer into out. Request bodies carry personal data,
// so no error it returns quotes them.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	op := method + " " + path
	target := c.baseURL + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("complycube: %s: encode request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("complycube: %s: %w", op, err)
	}
	req.Header.Set("Authorization", c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	resp, err := c.httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("complycube: %s: %w", op, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readAPIError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("complycube: %s: decode response: %w", op, err)
	}
	return nil
}

func readAPIError(resp *http.Response) *APIError {
	apiErr := &APIError{StatusCode: resp.StatusCode}
	var body struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	// A body that is not ComplyCube's JSON (a proxy's error page, say) is not quoted: it could
	// echo the request. A body that cannot be read leaves the status code to speak alone.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxDrain))
	if json.Unmarshal(b, &body) == nil {
		apiErr.Type, apiErr.Message = body.Type, body.Message
	}
	if apiErr.Message == "" {
		apiErr.Message = http.StatusText(resp.StatusCode)
	}
	return apiErr
}
