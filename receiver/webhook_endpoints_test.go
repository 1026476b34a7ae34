package receiver_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/mocks"

	"github.com/screenflow/screenflow/callbacks"
	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/receiver"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

// endpointsHarness is the HR API with a sealing store and production's callback policy.
type endpointsHarness struct {
	url     string
	store   *store.Store
	tenantA store.Tenant
	keyA    string
	keyB    string
}

func newEndpointsHarness(t *testing.T) *endpointsHarness {
	t.Helper()
	key, err := vault.ParseKey(vault.NewKey())
	require.NoError(t, err)
	v, err := vault.New(key)
	require.NoError(t, err)
	st := store.NewSealed(testenv.NewDB(t), v)
	h := &endpointsHarness{store: st}
	h.tenantA, h.keyA, err = st.CreateTenant(t.Context(), "Tenant A")
	require.NoError(t, err)
	_, h.keyB, err = st.CreateTenant(t.Context(), "Tenant B")
	require.NoError(t, err)
	srv := httptest.NewServer(receiver.New(receiver.Config{Providers: configuredProviders(t, nil), Callbacks: callbacks.Policy{}},
		st, mocks.NewClient(t), &apiRelay{store: st}, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func (h *endpointsHarness) call(t *testing.T, method, path, key string, body any) (int, map[string]any) {
	t.Helper()
	return callJSON(t, method, h.url+path, key, body)
}

// callJSON sends body (none when nil) as JSON with key as the bearer token (none when empty),
// and returns the answer's status and its JSON object.
func callJSON(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

const publicCallbackURL = "https://93.184.215.14/screenflow"

func TestWebhookEndpointsAreCreatedWithASecretShownOnce(t *testing.T) {
	h := newEndpointsHarness(t)
	status, created := h.call(t, http.MethodPost, "/v1/webhook-endpoints", h.keyA, map[string]any{
		"url": publicCallbackURL, "event_types": []string{"screening.completed", "check.completed"}})
	require.Equal(t, http.StatusCreated, status, created)
	id := created["id"].(string)
	require.Regexp(t, `^whsec_[A-Za-z0-9+/]{43}=$`, created["secret"])
	require.Equal(t, true, created["enabled"])
	require.Equal(t, []any{"screening.completed", "check.completed"}, created["event_types"])

	status, got := h.call(t, http.MethodGet, "/v1/webhook-endpoints/"+id, h.keyA, nil)
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, got, "secret", "the secret is shown once")
	require.Equal(t, publicCallbackURL, got["url"])
	status, list := h.call(t, http.MethodGet, "/v1/webhook-endpoints", h.keyA, nil)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, list["webhook_endpoints"], 1)
	require.NotContains(t, list["webhook_endpoints"].([]any)[0], "secret")

	status, rotated := h.call(t, http.MethodPost, "/v1/webhook-endpoints/"+id+"/rotate-secret", h.keyA, nil)
	require.Equal(t, http.StatusOK, status)
	require.Regexp(t, `^whsec_`, rotated["secret"])
	require.NotEqual(t, created["secret"], rotated["secret"])
	expires, err := time.Parse(time.RFC3339Nano, rotated["previous_secret_expires_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), expires, time.Minute, "the old secret signs for a day")

	for _, call := range []struct{ method, path string }{
		{http.MethodGet, "/v1/webhook-endpoints/" + id},
		{http.MethodPost, "/v1/webhook-endpoints/" + id + "/rotate-secret"},
		{http.MethodGet, "/v1/webhook-endpoints/" + id + "/deliveries"},
		{http.MethodDelete, "/v1/webhook-endpoints/" + id},
	} {
		status, _ := h.call(t, call.method, call.path, h.keyB, nil)
		require.Equal(t, http.StatusNotFound, status, "another tenant: %s %s", call.method, call.path)
	}
	status, list = h.call(t, http.MethodGet, "/v1/webhook-endpoints", h.keyB, nil)
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, list["webhook_endpoints"])

	status, _ = h.call(t, http.MethodDelete, "/v1/webhook-endpoints/"+id, h.keyA, nil)
	require.Equal(t, http.StatusNoContent, status)
	status, _ = h.call(t, http.MethodGet, "/v1/webhook-endpoints/"+id, h.keyA, nil)
	require.Equal(t, http.StatusNotFound, status)
}

func TestWebhookEndpointRegistrationRefusesUnsafeURLsAndUnknownEvents(t *testing.T) {
	h := newEndpointsHarness(t)
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": "https://127.0.0.1/cb", "event_types": []string{"screening.completed"}}, "url"},
		{map[string]any{"url": "https://localhost/cb", "event_types": []string{"screening.completed"}}, "url"},
		{map[string]any{"url": "https://169.254.169.254/latest", "event_types": []string{"screening.completed"}}, "url"},
		{map[string]any{"url": "https://[fd12::1]/cb", "event_types": []string{"screening.completed"}}, "url"},
		{map[string]any{"url": "http://93.184.215.14/cb", "event_types": []string{"screening.completed"}}, "url"},
		{map[string]any{"url": publicCallbackURL, "event_types": []string{"screening.exploded"}}, "event_types"},
		{map[string]any{"url": publicCallbackURL, "event_types": []string{}}, "event_types"},
		{map[string]any{"url": publicCallbackURL, "event_types": []string{"check.updated", "check.updated"}}, "event_types"},
	} {
		status, answer := h.call(t, http.MethodPost, "/v1/webhook-endpoints", h.keyA, c.body)
		require.Equal(t, http.StatusUnprocessableEntity, status, c.body)
		require.Contains(t, answer["fields"], c.field, c.body)
	}
	status, _ := h.call(t, http.MethodPost, "/v1/webhook-endpoints", h.keyA, "not an object")
	require.Equal(t, http.StatusBadRequest, status)
	endpoints, err := h.store.WebhookEndpoints(t.Context(), h.tenantA.ID)
	require.NoError(t, err)
	require.Empty(t, endpoints)
}

func TestTheDeliveryLogListsAndRedeliversAnEndpointsCallbacks(t *testing.T) {
	h := newEndpointsHarness(t)
	status, created := h.call(t, http.MethodPost, "/v1/webhook-endpoints", h.keyA, map[string]any{
		"url": publicCallbackURL, "event_types": []string{"screening.created", "screening.canceled"}, "enabled": false})
	require.Equal(t, http.StatusCreated, status)
	require.Equal(t, false, created["enabled"])
	id := created["id"].(string)
	status, enabled := h.call(t, http.MethodPost, "/v1/webhook-endpoints/"+id+"/enable", h.keyA, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, true, enabled["enabled"])

	scr, _, err := h.store.CreateScreening(t.Context(), store.NewScreening{TenantID: h.tenantA.ID,
		Candidate: store.Candidate{Reference: "r", FirstName: "A", LastName: "B", Email: "a@b.c", DOB: "1990-01-01"},
		Checks:    []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}})
	require.NoError(t, err)
	_, err = h.store.CancelUnstarted(t.Context(), scr.ID)
	require.NoError(t, err)

	status, page := h.call(t, http.MethodGet, "/v1/webhook-endpoints/"+id+"/deliveries?limit=1", h.keyA, nil)
	require.Equal(t, http.StatusOK, status)
	deliveries := page["deliveries"].([]any)
	require.Len(t, deliveries, 1)
	newest := deliveries[0].(map[string]any)
	require.Equal(t, "screening.canceled", newest["event_type"])
	require.Equal(t, float64(2), newest["sequence"])
	require.Equal(t, "pending", newest["status"])
	require.Regexp(t, `^msg_`, newest["webhook_id"])
	require.Equal(t, []any{}, newest["attempts"])
	require.NotNil(t, page["next_before"])

	status, page = h.call(t, http.MethodGet, "/v1/webhook-endpoints/"+id+"/deliveries?before="+
		jsonNumber(page["next_before"]), h.keyA, nil)
	require.Equal(t, http.StatusOK, status)
	older := page["deliveries"].([]any)
	require.Len(t, older, 1)
	require.Equal(t, "screening.created", older[0].(map[string]any)["event_type"])
	require.Nil(t, page["next_before"])

	deliveryID := jsonNumber(older[0].(map[string]any)["id"])
	status, redelivered := h.call(t, http.MethodPost, "/v1/webhook-endpoints/"+id+"/deliveries/"+deliveryID+"/redeliver", h.keyA, nil)
	require.Equal(t, http.StatusAccepted, status, redelivered)
	require.Equal(t, "pending", redelivered["status"])
	require.Equal(t, older[0].(map[string]any)["webhook_id"], redelivered["webhook_id"])

	for _, path := range []string{"/deliveries/" + deliveryID + "/redeliver", "/deliveries/999999/redeliver", "/deliveries/x/redeliver"} {
		key := h.keyB
		if !strings.Contains(path, deliveryID) {
			key = h.keyA
		}
		status, _ = h.call(t, http.MethodPost, "/v1/webhook-endpoints/"+id+path, key, nil)
		require.Equal(t, http.StatusNotFound, status, path)
	}
	status, _ = h.call(t, http.MethodGet, "/v1/webhook-endpoints/"+id+"/deliveries?limit=1000", h.keyA, nil)
	require.Equal(t, http.StatusBadRequest, status)
}

func jsonNumber(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}
