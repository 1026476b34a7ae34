// Package openapitest checks the HR API's answers against its OpenAPI contract
// (receiver/openapi.yaml, served at GET /openapi.json), for tests over real HTTP.
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// ErrNotInContract is an answer to a path that no path of the contract matches.
var ErrNotInContract = errors.New("no path of the contract matches")

// Contract is a loaded and validated OpenAPI document.
type Contract struct {
	Doc    *openapi3.T
	router routers.Router
}

// Load reads an OpenAPI document and validates it as the version it declares.
func Load(ctx context.Context, doc []byte) (*Contract, error) {
	t, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("openapitest: load: %w", err)
	}
	if err := t.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapitest: invalid document: %w", err)
	}
	router, err := gorillamux.NewRouter(t)
	if err != nil {
		return nil, fmt.Errorf("openapitest: routes: %w", err)
	}
	return &Contract{Doc: t, router: router}, nil
}

// Fetch loads the document a running server serves at baseURL/openapi.json.
func Fetch(ctx context.Context, baseURL string) (*Contract, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/openapi.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("openapitest: fetch: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("openapitest: fetch: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("openapitest: GET /openapi.json answered %d", resp.StatusCode)
	}
	return Load(ctx, body)
}

// CheckResponse reports how an answer to req departs from the contract: an undocumented path
// (ErrNotInContract), method or status, a missing or wrong header, or a body that does not match its schema. The
// request itself is not checked, so that tests may send invalid ones on purpose.
func (c *Contract) CheckResponse(ctx context.Context, req *http.Request, status int, header http.Header, body []byte) error {
	route, pathParams, err := c.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ErrNotInContract)
	case err != nil:
		return fmt.Errorf("%s %s is not in the contract: %w", req.Method, req.URL.Path, err)
	}
	options := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams,
			Route: route, Options: options},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: options,
	})
	if err != nil {
		return fmt.Errorf("%s %s answered %d against the contract: %w", req.Method, route.Path, status, err)
	}
	return nil
}

// CheckCallback reports how a callback screenflow sends departs from the contract's webhook of the
// event type: a missing or wrong webhook-* header, or a body that does not match its schema.
func (c *Contract) CheckCallback(ctx context.Context, eventType string, header http.Header, body []byte) error {
	item, ok := c.Doc.Webhooks[eventType]
	if !ok || item.Post == nil {
		return fmt.Errorf("callback %s is not in the contract's webhooks", eventType)
	}
	// The endpoint's URL is the tenant's; only the method, headers and body are the contract's.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = header.Clone()
	route := &routers.Route{Spec: c.Doc, Path: eventType, PathItem: item, Method: http.MethodPost, Operation: item.Post}
	err = openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{Request: req, Route: route,
		Options: &openapi3filter.Options{MultiError: true}})
	if err != nil {
		return fmt.Errorf("callback %s against the contract: %w", eventType, err)
	}
	return nil
}
