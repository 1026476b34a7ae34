package openapitest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/receiver/openapitest"
)

// contract has one route and one webhook, to show what the checks catch.
const contract = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/things/{id}": {
      "get": {
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {
          "200": {
            "description": "a thing",
            "headers": {"ETag": {"required": true, "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {
              "type": "object", "required": ["id", "at"], "additionalProperties": false,
              "properties": {"id": {"type": "string"}, "at": {"type": ["string", "null"], "format": "date-time"}}}}}
          }
        }
      }
    }
  },
  "webhooks": {
    "thing.done": {
      "post": {
        "parameters": [{"name": "webhook-id", "in": "header", "required": true, "schema": {"type": "string"}}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
          "type": "object", "required": ["type"], "properties": {"type": {"const": "thing.done"}}}}}},
        "responses": {"2XX": {"description": "received"}}
      }
    }
  }
}`

func TestCheckResponseFindsEveryDeparture(t *testing.T) {
	c, err := openapitest.Load(t.Context(), []byte(contract))
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/things/1", nil)
	jsonWithETag := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Etag": {`"x"`}}

	require.NoError(t, c.CheckResponse(t.Context(), req, http.StatusOK, jsonWithETag, []byte(`{"id": "1", "at": null}`)))
	for name, answer := range map[string]struct {
		status int
		header http.Header
		body   string
	}{
		"undocumented status": {http.StatusTeapot, jsonWithETag, `{"id": "1", "at": null}`},
		"missing header":      {http.StatusOK, http.Header{"Content-Type": {"application/json"}}, `{"id": "1", "at": null}`},
		"missing field":       {http.StatusOK, jsonWithETag, `{"id": "1"}`},
		"unknown field":       {http.StatusOK, jsonWithETag, `{"id": "1", "at": null, "extra": 1}`},
		"wrong type":          {http.StatusOK, jsonWithETag, `{"id": 1, "at": null}`},
		"not a date-time":     {http.StatusOK, jsonWithETag, `{"id": "1", "at": "yesterday"}`},
		"other content type":  {http.StatusOK, http.Header{"Content-Type": {"text/plain"}, "Etag": {`"x"`}}, `{"id": "1", "at": null}`},
	} {
		require.Error(t, c.CheckResponse(t.Context(), req, answer.status, answer.header, []byte(answer.body)), name)
	}

	err = c.CheckResponse(t.Context(), httptest.NewRequest(http.MethodGet, "/elsewhere", nil), http.StatusOK, jsonWithETag, nil)
	require.ErrorIs(t, err, openapitest.ErrNotInContract)
	err = c.CheckResponse(t.Context(), httptest.NewRequest(http.MethodDelete, "/things/1", nil), http.StatusOK, jsonWithETag, nil)
	require.Error(t, err)
	require.NotErrorIs(t, err, openapitest.ErrNotInContract, "an undocumented method on a documented path is a departure")
}

func TestCheckCallbackChecksHeadersAndBody(t *testing.T) {
	c, err := openapitest.Load(t.Context(), []byte(contract))
	require.NoError(t, err)
	header := http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_1"}}

	require.NoError(t, c.CheckCallback(t.Context(), "thing.done", header, []byte(`{"type": "thing.done"}`)))
	require.Error(t, c.CheckCallback(t.Context(), "thing.done", header, []byte(`{"type": "thing.lost"}`)))
	require.Error(t, c.CheckCallback(t.Context(), "thing.done", http.Header{"Content-Type": {"application/json"}},
		[]byte(`{"type": "thing.done"}`)), "webhook-id is required")
	require.Error(t, c.CheckCallback(t.Context(), "thing.lost", header, []byte(`{"type": "thing.done"}`)))
}

func TestLoadRefusesAnInvalidDocument(t *testing.T) {
	_, err := openapitest.Load(t.Context(), []byte(`{"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
		"paths": {"/x": {"get": {"responses": {"200": {"description": "x",
			"content": {"application/json": {"schema": {"type": "strin"}}}}}}}}}`))
	require.Error(t, err)
}
