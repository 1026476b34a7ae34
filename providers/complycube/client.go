// Package complycube talks to ComplyCube: a client for its REST API, and verification and
// parsing of the webhooks it sends.
package complycube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/screenflow/screenflow/providers/internal/apiclient"
)

// DefaultBaseURL is ComplyCube's production API, including the version prefix.
const DefaultBaseURL = "https://api.complycube.com/v1"

// defaultPageSize is ComplyCube's own default, sent explicitly so that paging does not depend on it.
const defaultPageSize = 100

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
	api      *apiclient.Client
	apiKey   string
	pageSize int
}

// NewClient returns a client for the API at baseURL, which includes the /v1 prefix. A nil
// httpClient is replaced by one with a 30 s timeout.
func NewClient(baseURL, apiKey string, httpClient *http.Client) *Client {
	return &Client{
		api:      apiclient.New("complycube", baseURL, httpClient, readError),
		apiKey:   apiKey,
		pageSize: defaultPageSize,
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

// APIError is a non-2xx answer from ComplyCube. Its Code is the error body's "type" (e.g.
// "resource_not_found"), empty when the body was not ComplyCube's.
type APIError = apiclient.Error

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

// FindClient finds the client created with this externalId (GET /clients?externalId=...), so that a
// creation whose answer was lost is not made twice. Only a client whose externalId matches is
// taken, whatever the filter returned.
func (c *Client) FindClient(ctx context.Context, externalID string) (ClientResource, bool, error) {
	if externalID == "" {
		return ClientResource{}, false, errors.New("complycube: find client: empty externalId")
	}
	clients, err := listAll(ctx, c, "/clients", url.Values{"externalId": {externalID}},
		func(cl ClientResource) string { return cl.ID })
	if err != nil {
		return ClientResource{}, false, err
	}
	for _, cl := range clients {
		if cl.ExternalID == externalID {
			return cl, true, nil
		}
	}
	return ClientResource{}, false, nil
}

// DeleteClient deletes a client, and with it what ComplyCube holds about the person
// (DELETE /clients/{id}). A client that is not there (404) counts as deleted: a retry whose first
// answer was lost, or a second erasure, finds it gone.
func (c *Client) DeleteClient(ctx context.Context, clientID string) error {
	// An empty id would turn the call into DELETE /clients.
	if clientID == "" {
		return errors.New("complycube: delete client: empty client id")
	}
	err := c.do(ctx, http.MethodDelete, "/clients/"+url.PathEscape(clientID), nil, nil, nil)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		return nil
	}
	return err
}

// ListChecks lists the client's checks (GET /checks?clientId=...), every page of them.
func (c *Client) ListChecks(ctx context.Context, clientID string) ([]Check, error) {
	// Without clientId the API lists the whole account's checks, which callers must never mistake
	// for one client's.
	if clientID == "" {
		return nil, errors.New("complycube: list checks: empty client id")
	}
	return listAll(ctx, c, "/checks", url.Values{"clientId": {clientID}}, func(ch Check) string { return ch.ID })
}

// Webhook is a webhook endpoint registered at ComplyCube. Its Secret, the HMAC key of the
// signatures of what it sends, is in the answer to its creation only.
type Webhook struct {
	ID          string    `json:"id"`
	Description string    `json:"description,omitempty"`
	URL         string    `json:"url"`
	Enabled     bool      `json:"enabled"`
	Events      []string  `json:"events"`
	Secret      string    `json:"secret,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// CreateWebhookRequest is the body of POST /webhooks. ComplyCube takes HTTPS URLs only.
type CreateWebhookRequest struct {
	URL         string   `json:"url"`
	Enabled     bool     `json:"enabled"`
	Events      []string `json:"events"` // []string{AllEvents} for every type
	Description string   `json:"description,omitempty"`
}

// CreateWebhook registers a webhook endpoint (POST /webhooks). The answer carries its secret,
// which ComplyCube never shows again.
func (c *Client) CreateWebhook(ctx context.Context, req CreateWebhookRequest) (Webhook, error) {
	var out Webhook
	err := c.do(ctx, http.MethodPost, "/webhooks", nil, req, &out)
	return out, err
}

// ListWebhooks lists the account's webhook endpoints (GET /webhooks), every page of them, without
// their secrets.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	return listAll(ctx, c, "/webhooks", url.Values{}, func(w Webhook) string { return w.ID })
}

// listAll reads every page of a list ({page, pageSize, totalItems, pages, items}). An item created
// while we page shifts the others by one, so an item can appear on two pages: it is kept once, by
// the id that idOf reads.
func listAll[T any](ctx context.Context, c *Client, path string, query url.Values, idOf func(T) string) ([]T, error) {
	var all []T
	seen := make(map[string]bool)
	for page := 1; ; page++ {
		query.Set("page", strconv.Itoa(page))
		query.Set("pageSize", strconv.Itoa(c.pageSize))
		var out struct {
			Pages int `json:"pages"`
			Items []T `json:"items"`
		}
		if err := c.do(ctx, http.MethodGet, path, query, nil, &out); err != nil {
			return nil, err
		}
		for _, item := range out.Items {
			if id := idOf(item); !seen[id] {
				seen[id] = true
				all = append(all, item)
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

// do sends one API call and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	return c.api.Do(ctx, apiclient.Request{Method: method, Path: path, Query: query, Body: in, Auth: c.authorize}, out)
}

// authorize sends the key as is: ComplyCube takes no scheme before it.
func (c *Client) authorize(req *http.Request) { req.Header.Set("Authorization", c.apiKey) }

// readError reads the code of ComplyCube's error body, {"type": "...", "message": "..."}: the
// type. The message is free text that can quote what was sent, and is not read.
func readError(body []byte) (code string) {
	var e struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Type
}
