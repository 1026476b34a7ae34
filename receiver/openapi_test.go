package receiver_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/receiver"
	"github.com/screenflow/screenflow/receiver/openapitest"
	"github.com/screenflow/screenflow/store"
)

// contractEngine is the receiver's engine with every route and no dependencies: enough to list
// its routes and serve /openapi.json, which need neither Postgres nor Temporal.
func contractEngine(t testing.TB) *gin.Engine {
	t.Helper()
	return receiver.New(receiver.Config{Providers: configuredProviders(t, nil), OperatorAPIKey: "operator-key",
		Metrics: http.NotFoundHandler()},
		nil, nil, nil, slog.New(slog.DiscardHandler))
}

// servedContract is the document GET /openapi.json serves, loaded once per test binary.
var servedContract struct {
	once     sync.Once
	contract *openapitest.Contract
	err      error
}

// apiContract is the contract every answer of the HR API is checked against.
func apiContract(t testing.TB) *openapitest.Contract {
	t.Helper()
	servedContract.once.Do(func() {
		rec := httptest.NewRecorder()
		contractEngine(t).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
		servedContract.contract, servedContract.err = openapitest.Load(context.Background(), rec.Body.Bytes())
	})
	require.NoError(t, servedContract.err)
	return servedContract.contract
}

// checkContract fails the test when an answer departs from the contract. A path that no route of
// the contract covers (e.g. DELETE /v1/candidates/ with no reference) is left alone: that every
// registered route is in the contract is TestOpenAPIDocumentsEveryRouteTheServerRegisters's job.
func checkContract(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	err := apiContract(t).CheckResponse(context.Background(), req, status, header, body)
	if errors.Is(err, openapitest.ErrNotInContract) {
		return
	}
	require.NoError(t, err)
}

func TestOpenAPIDocumentIsServedAsValidOpenAPI31(t *testing.T) {
	srv := httptest.NewServer(contractEngine(t))
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/openapi.json")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Cache-Control"), "public")
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)

	contract, err := openapitest.Fetch(t.Context(), srv.URL)
	require.NoError(t, err, "kin-openapi loads and validates it as OpenAPI 3.1 (JSON Schema 2020-12 schemas)")
	require.Equal(t, "3.1.0", contract.Doc.OpenAPI)
	require.True(t, contract.Doc.IsOpenAPI31OrLater())

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/openapi.json", nil)
	require.NoError(t, err)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotModified, resp.StatusCode, "a cached copy is revalidated, not downloaded again")
}

// The provider webhooks are left out of the contract: their bodies and signatures are each
// provider's, not ours to promise, and they exist only for the configured providers (a new
// provider is its own package and one registration line, not an edit of the HR API's contract).
func isProviderWebhook(path string) bool { return strings.HasPrefix(path, "/webhooks/") }

// The operator API is left out too: it is screenflow's operators', not the HR platforms' (their
// keys do not open it), and a deployment without OPERATOR_API_KEY does not serve it.
// So is /metrics, operators' too and guarded by METRICS_TOKEN.
func isOperatorAPI(path string) bool {
	return strings.HasPrefix(path, "/v1/operator/") || path == "/metrics"
}

// ginParam is a gin path parameter, ":id" or the catch-all "*reference".
var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

func TestOpenAPIDocumentsEveryRouteTheServerRegisters(t *testing.T) {
	var registered []string
	webhooks, operator := 0, 0
	for _, r := range contractEngine(t).Routes() {
		if isProviderWebhook(r.Path) {
			webhooks++
			continue
		}
		if isOperatorAPI(r.Path) {
			operator++
			continue
		}
		registered = append(registered, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	require.NotZero(t, webhooks, "the provider webhooks are registered under /webhooks/")
	require.NotZero(t, operator, "the operator API is registered under /v1/operator/")

	var documented []string
	doc := apiContract(t).Doc
	for path, item := range doc.Paths.Map() {
		require.False(t, isProviderWebhook(path), "%s: provider webhooks are not part of the contract", path)
		require.False(t, isOperatorAPI(path), "%s: the operator API is not part of the contract", path)
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(registered)
	slices.Sort(documented)
	require.Equal(t, registered, documented, "every route the server registers is in the contract, and nothing else")
}

func TestOpenAPIDocumentsEveryCallbackEvent(t *testing.T) {
	doc := apiContract(t).Doc
	var documented []string
	for eventType := range doc.Webhooks {
		documented = append(documented, eventType)
	}
	var enum []string
	for _, v := range doc.Components.Schemas["CallbackEventType"].Value.Enum {
		enum = append(enum, v.(string))
	}
	want := slices.Sorted(slices.Values(store.CallbackEventTypes))
	slices.Sort(documented)
	slices.Sort(enum)
	require.Equal(t, want, documented, "a webhook in the contract for every event an endpoint may subscribe to")
	require.Equal(t, want, enum, "and the subscribable event types listed as such")
}
