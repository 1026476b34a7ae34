package receiver_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/receiver"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

const operatorKey = "operator-secret-key"

// notifyRelay records the events the operator API asks the relay to deliver at once.
type notifyRelay struct {
	apiRelay
	notifiedMu sync.Mutex
	notified   []int64
}

func (r *notifyRelay) Notify(id int64) {
	r.notifiedMu.Lock()
	defer r.notifiedMu.Unlock()
	r.notified = append(r.notified, id)
}

type operatorHarness struct {
	url       string
	store     *store.Store
	relay     *notifyRelay
	logs      *apiLogs
	tenantKey string
}

func newOperatorHarness(t *testing.T, operatorAPIKey string) *operatorHarness {
	t.Helper()
	key, err := vault.ParseKey(vault.NewKey())
	require.NoError(t, err)
	v, err := vault.New(key)
	require.NoError(t, err)
	st := store.NewSealed(testenv.NewDB(t), v)
	h := &operatorHarness{store: st, relay: &notifyRelay{apiRelay: apiRelay{store: st}}, logs: &apiLogs{}}
	_, h.tenantKey, err = st.CreateTenant(t.Context(), "Tenant A")
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(receiver.New(receiver.Config{Providers: configuredProviders(t, nil),
		OperatorAPIKey: operatorAPIKey}, st, nil, h.relay, log))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func (h *operatorHarness) call(t *testing.T, method, path, key string) (int, map[string]any) {
	t.Helper()
	return callJSON(t, method, h.url+path, key, nil)
}

// operatorPIIBody is a ComplyCube client event: it names the candidate.
const operatorPIIBody = `{"id":"evt_1","type":"client.updated","createdAt":"2026-11-29T10:00:00Z",
	"payload":{"id":"cli_1","firstName":"Augusta","lastName":"King","email":"augusta.king@example.com",
	"dateOfBirth":"1815-12-10","personDetails":{"nationality":"GB","phone":4479460000},"consent":true}}`

// storeUnroutable stores an event the relay gave up on, with a signature header.
func (h *operatorHarness) storeUnroutable(t *testing.T, eventID string) int64 {
	t.Helper()
	id, _, err := h.store.InsertWebhookEvent(t.Context(), store.NewInboxEvent{Provider: "complycube", EventID: eventID,
		EventType: "client.updated", Subject: "client:cli_1",
		Headers: map[string]string{"Complycube-Signature": "t=1,v1=abcdef", "Content-Type": "application/json"},
		Body:    []byte(operatorPIIBody)})
	require.NoError(t, err)
	claimed, err := h.store.ClaimEvents(t.Context(), []int64{id}, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	_, err = h.store.RecordOutcomes(t.Context(), []store.Outcome{{ID: id, LeaseID: claimed[0].LeaseID,
		Status: store.InboxUnroutable, Attempted: true, Error: "no route"}})
	require.NoError(t, err)
	return id
}

func TestOperatorAPIOpensOnlyToTheOperatorKey(t *testing.T) {
	h := newOperatorHarness(t, operatorKey)
	for name, key := range map[string]string{"no key": "", "a tenant's key": h.tenantKey, "a wrong key": operatorKey + "x"} {
		status, body := h.call(t, http.MethodGet, "/v1/operator/inbox?status=unroutable", key)
		require.Equal(t, http.StatusUnauthorized, status, name)
		require.Equal(t, "unauthorized", body["error"], name)
		status, _ = h.call(t, http.MethodPost, "/v1/operator/inbox/replay?status=unroutable", key)
		require.Equal(t, http.StatusUnauthorized, status, name)
	}
	status, body := h.call(t, http.MethodGet, "/v1/operator/inbox?status=unroutable", operatorKey)
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, body["events"])

	status, _ = h.call(t, http.MethodGet, "/v1/audit-events", operatorKey)
	require.Equal(t, http.StatusUnauthorized, status, "the operator key opens no tenant's API")
}

func TestOperatorAPIIsAbsentWithoutAKey(t *testing.T) {
	h := newOperatorHarness(t, "")
	for _, key := range []string{"", h.tenantKey} {
		status, _ := h.call(t, http.MethodGet, "/v1/operator/inbox?status=unroutable", key)
		require.Equal(t, http.StatusNotFound, status)
	}
}

func TestOperatorAPIListsAndShowsEventsMasked(t *testing.T) {
	h := newOperatorHarness(t, operatorKey)
	id := h.storeUnroutable(t, "evt_1")

	status, body := h.call(t, http.MethodGet, "/v1/operator/inbox?status=unroutable&provider=complycube&limit=10", operatorKey)
	require.Equal(t, http.StatusOK, status)
	events := body["events"].([]any)
	require.Len(t, events, 1)
	listed := events[0].(map[string]any)
	require.EqualValues(t, id, listed["id"])
	require.Equal(t, "evt_1", listed["event_id"])
	require.Equal(t, "client:cli_1", listed["subject"])
	require.EqualValues(t, 1, listed["attempts"])
	require.Equal(t, "no route", listed["last_error"])
	require.NotContains(t, listed, "body")

	status, body = h.call(t, http.MethodGet, "/v1/operator/inbox?status=lost&limit=0", operatorKey)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body["fields"], "status")
	require.Contains(t, body["fields"], "limit")

	status, shown := h.call(t, http.MethodGet, "/v1/operator/inbox/"+itoa(id), operatorKey)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"Complycube-Signature": "[secret]", "Content-Type": "application/json"}, shown["headers"])
	require.Equal(t, map[string]any{"id": "evt_1", "type": "client.updated", "createdAt": "2026-11-29T10:00:00Z",
		"payload": map[string]any{"id": "cli_1", "firstName": "[masked]", "lastName": "[masked]", "email": "[masked]",
			"dateOfBirth": "[masked]", "personDetails": map[string]any{"nationality": "[masked]", "phone": "[masked]"},
			"consent": true}}, shown["body"], "ids, types and times are shown; candidate data is not")
	raw, err := json.Marshal(shown)
	require.NoError(t, err)
	for _, pii := range []string{"Augusta", "King", "augusta.king", "1815", "4479460000", "abcdef"} {
		require.NotContains(t, string(raw), pii)
	}

	status, _ = h.call(t, http.MethodGet, "/v1/operator/inbox/999999", operatorKey)
	require.Equal(t, http.StatusNotFound, status)
	status, _ = h.call(t, http.MethodGet, "/v1/operator/inbox/x", operatorKey)
	require.Equal(t, http.StatusNotFound, status)

	logs := h.logs.String()
	require.Contains(t, logs, "operator audit")
	require.Contains(t, logs, "action=inbox.shown")
	require.NotContains(t, logs, "Augusta")
	require.NotContains(t, logs, operatorKey)
}

func TestOperatorAPIReplaysOnce(t *testing.T) {
	h := newOperatorHarness(t, operatorKey)
	first := h.storeUnroutable(t, "evt_1")
	second := h.storeUnroutable(t, "evt_2")

	status, body := h.call(t, http.MethodPost, "/v1/operator/inbox/"+itoa(first)+"/replay", operatorKey)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, []any{map[string]any{"id": float64(first), "status": "unroutable", "replayed": true}}, body["results"])

	status, body = h.call(t, http.MethodPost, "/v1/operator/inbox/"+itoa(first)+"/replay", operatorKey)
	require.Equal(t, http.StatusOK, status)
	again := body["results"].([]any)[0].(map[string]any)
	require.Equal(t, false, again["replayed"], "the second replay is a no-op")
	require.Equal(t, "pending", again["status"])

	status, body = h.call(t, http.MethodPost, "/v1/operator/inbox/replay?status=unroutable&provider=complycube", operatorKey)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, []any{map[string]any{"id": float64(second), "status": "unroutable", "replayed": true}}, body["results"])

	status, body = h.call(t, http.MethodPost, "/v1/operator/inbox/replay?status=unroutable", operatorKey)
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, body["results"])

	status, _ = h.call(t, http.MethodPost, "/v1/operator/inbox/replay?status=pending", operatorKey)
	require.Equal(t, http.StatusBadRequest, status)

	h.relay.notifiedMu.Lock()
	require.Equal(t, []int64{first, second}, h.relay.notified, "each replayed event is handed to the relay at once, once")
	h.relay.notifiedMu.Unlock()
	for _, id := range []int64{first, second} {
		st, err := h.store.InboxEvent(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, store.InboxPending, st.Status)
		require.Zero(t, st.Attempts)
	}
	require.Contains(t, h.logs.String(), "action=inbox.replayed")
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func TestMaskInboxEventShowsNoBodyItCannotMask(t *testing.T) {
	purgedAt := time.Now()
	for name, c := range map[string]struct {
		detail store.InboxEventDetail
		note   string
	}{
		"not JSON": {store.InboxEventDetail{Body: []byte("name=Augusta King&dob=1815-12-10")},
			"the body is not JSON (32 bytes): not shown"},
		"purged": {store.InboxEventDetail{InboxEntry: store.InboxEntry{BodyPurgedAt: &purgedAt}},
			"the body was purged after INBOX_BODY_RETENTION"},
		"empty": {store.InboxEventDetail{}, "the body is empty"},
	} {
		m := receiver.MaskInboxEvent(c.detail)
		require.Nil(t, m.Body, name)
		require.Equal(t, c.note, m.BodyNote, name)
	}
	m := receiver.MaskInboxEvent(store.InboxEventDetail{
		Headers: map[string]string{"X-Checkr-Signature": "s", "Authorization": "Bearer t", "User-Agent": "Checkr-Webhooks"},
		Body: []byte(`{"id":"e1","type":"token.deauthorized","data":{"object":{"access_code_fingerprint":"f",` +
			`"access_token":"tok","birthDate":"1815-12-10","candidate_id":"c1","completed_at":"2026-01-01T00:00:00Z"}}}`)})
	require.Equal(t, map[string]string{"X-Checkr-Signature": "[secret]", "Authorization": "[secret]",
		"User-Agent": "Checkr-Webhooks"}, m.Headers)
	require.JSONEq(t, `{"id":"e1","type":"token.deauthorized","data":{"object":{"access_code_fingerprint":"[masked]",`+
		`"access_token":"[secret]","birthDate":"[masked]","candidate_id":"c1","completed_at":"2026-01-01T00:00:00Z"}}}`,
		string(m.Body))
}
