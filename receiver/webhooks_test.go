package receiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/builtin"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/receiver"
	"github.com/screenflow/screenflow/store"
)

const (
	webhookSecret      = "whsec-test-secret"
	checkrDirectKey    = "checkr-direct-api-key"
	checkrClientSecret = "checkr-partner-client-secret"
	authenticateToken  = "4f9c2a7e1b3d5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4"
)

// webhookRelay records which stored events the receiver asked to deliver.
type webhookRelay struct {
	mu       sync.Mutex
	notified []int64
}

func (r *webhookRelay) Notify(id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notified = append(r.notified, id)
}

func (r *webhookRelay) StartScreening(context.Context, store.Screening) error { return nil }

func (r *webhookRelay) notifications() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.notified...)
}

type webhookHarness struct {
	url   string
	base  string
	db    *sqlx.DB
	relay *webhookRelay
}

func newWebhookHarness(t *testing.T, maxBytes int64) *webhookHarness {
	db := testenv.NewDB(t)
	// The events the tests send are about resources screenflow created, which have routes.
	st := store.New(db)
	require.NoError(t, st.AddRoute(t.Context(), complycube.Name, "check:"+complyCubeCheckID, "complycube-check"))
	require.NoError(t, st.AddRoute(t.Context(), authenticate.Name, "user:uac-123", "authenticate-check"))
	return newWebhookHarnessOn(t, db, maxBytes)
}

func newWebhookHarnessOn(t *testing.T, db *sqlx.DB, maxBytes int64) *webhookHarness {
	h := &webhookHarness{db: db, relay: &webhookRelay{}}
	st := store.New(db)
	// As serve configures it: events about subjects without a route wait for one in the inbox.
	inbox := store.NewInboxWriter(st, store.InboxWriterConfig{AwaitRouteFor: time.Hour})
	t.Cleanup(inbox.Close)
	engine := receiver.New(receiver.Config{MaxWebhookBytes: maxBytes, Providers: configuredProviders(t, map[string]string{
		"COMPLYCUBE_WEBHOOK_SECRET": webhookSecret, "AUTHENTICATE_WEBHOOK_TOKEN": authenticateToken,
		"CHECKR_API_KEY": checkrDirectKey, "CHECKR_OAUTH_CLIENT_SECRET": checkrClientSecret}),
		Inbox: inbox}, st, nil, h.relay, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(engine)
	// Registered after the inbox's, so the server stops before the inbox closes.
	t.Cleanup(srv.Close)
	h.base = srv.URL
	h.url = srv.URL + "/webhooks/complycube"
	return h
}

// configuredProviders is screenflow's providers configured from env alone.
func configuredProviders(t testing.TB, env map[string]string) *registry.Registry {
	t.Helper()
	providers := builtin.Providers()
	require.NoError(t, providers.Configure(func(name string) string { return env[name] }))
	return providers
}

type webhookAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (h *webhookHarness) post(t *testing.T, body []byte, signature string) webhookAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Basic c2VjcmV0")
	if signature != "" {
		req.Header.Set(complycube.SignatureHeader, signature)
	}
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := webhookAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (h *webhookHarness) storedCount(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, h.db.Get(&n, `SELECT count(*) FROM webhook_events`))
	return n
}

// complyCubeCheckID is the check the tests' ComplyCube events are about.
const complyCubeCheckID = "5ed3918fbf06f30008e552c9"

func complyCubeEventBody(id, typ string) []byte {
	return complyCubeCheckEventBody(id, typ, complyCubeCheckID)
}

func complyCubeCheckEventBody(id, typ, checkID string) []byte {
	return []byte(`{"id":"` + id + `","type":"` + typ + `","resourceType":"check",` +
		`"payload":{"id":"` + checkID + `","outcome":"clear","status":"complete",` +
		`"createdAt":"2020-01-01T11:14:23.964Z","updatedAt":"2020-01-01T11:14:23.964Z"},` +
		`"createdAt":"2020-01-01T11:14:23.964Z"}`)
}

func TestComplyCubeWebhookStoresVerifiedEventAndAcknowledges(t *testing.T) {
	h := newWebhookHarness(t, 0)
	body := complyCubeEventBody("5ed170fe99c81a0007b9a3d3", "check.completed.clear")

	a := h.post(t, body, complycube.Sign(webhookSecret, body))
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Equal(t, "stored", a.body["status"])

	var row struct {
		ID        int64  `db:"id"`
		EventType string `db:"event_type"`
		Subject   string `db:"subject"`
		Status    string `db:"status"`
		Body      []byte `db:"body"`
		Headers   []byte `db:"headers"`
	}
	require.NoError(t, h.db.Get(&row, `SELECT id, event_type, subject, status, body, headers FROM webhook_events
		WHERE provider = 'complycube' AND event_id = '5ed170fe99c81a0007b9a3d3'`))
	require.Equal(t, "check.completed.clear", row.EventType)
	require.Equal(t, "check:5ed3918fbf06f30008e552c9", row.Subject)
	require.Equal(t, store.InboxPending, row.Status)
	require.Equal(t, body, row.Body, "the raw body is kept byte for byte")
	var headers map[string]string
	require.NoError(t, json.Unmarshal(row.Headers, &headers))
	require.Equal(t, complycube.Sign(webhookSecret, body), headers["Complycube-Signature"])
	require.NotContains(t, headers, "Authorization", "credentials are not stored")
	require.Equal(t, []int64{row.ID}, h.relay.notifications(), "the relay is asked to deliver it at once")
}

func TestComplyCubeWebhookDuplicateIsAcknowledgedAndStoredOnce(t *testing.T) {
	h := newWebhookHarness(t, 0)
	body := complyCubeEventBody("ev-dup", "check.completed.clear")
	sig := complycube.Sign(webhookSecret, body)

	first := h.post(t, body, sig)
	second := h.post(t, body, sig)
	require.Equal(t, http.StatusOK, first.status)
	require.Equal(t, http.StatusOK, second.status)
	require.Equal(t, "duplicate", second.body["status"])
	require.Equal(t, 1, h.storedCount(t))
	require.Len(t, h.relay.notifications(), 1, "a duplicate is not delivered again")
}

// TestAnEventWithoutARouteWaitsForItWithoutTheRelay: an event about a check whose route is not
// written yet (the provider was quicker than the activity that writes it, or the check is not
// ours) is stored and acknowledged, but parked: the relay is not asked to deliver it, so it costs
// no claim. Writing the route makes it due.
func TestAnEventWithoutARouteWaitsForItWithoutTheRelay(t *testing.T) {
	h := newWebhookHarness(t, 0)
	body := complyCubeCheckEventBody("ev-early", "check.completed.clear", "60a1b2c3d4e5f60718293a4b")
	a := h.post(t, body, complycube.Sign(webhookSecret, body))
	require.Equal(t, 200, a.status, a.raw)
	require.Equal(t, "stored", a.body["status"])
	require.Empty(t, h.relay.notifications(), "nothing to deliver until the route exists")

	type inboxRow struct {
		Status    string  `db:"status"`
		Due       bool    `db:"due"`
		LastError *string `db:"last_error"`
	}
	read := func() inboxRow {
		var row inboxRow
		require.NoError(t, h.db.Get(&row, `SELECT status, next_attempt_at <= now() AS due, last_error FROM webhook_events
			WHERE provider = 'complycube' AND event_id = 'ev-early'`))
		return row
	}
	row := read()
	require.Equal(t, store.InboxPending, row.Status)
	require.False(t, row.Due, "parked until the route is written or RELAY_UNROUTABLE_AFTER has passed")
	require.Equal(t, `no route for subject "check:60a1b2c3d4e5f60718293a4b" yet`, *row.LastError)

	require.NoError(t, store.New(h.db).AddRoute(t.Context(), complycube.Name, "check:60a1b2c3d4e5f60718293a4b", "complycube-check-2"))
	require.True(t, read().Due, "the route wakes it")
}

func TestComplyCubeWebhooksSentAtOnceAreEachStoredOnce(t *testing.T) {
	h := newWebhookHarness(t, 0)
	const events = 16
	statuses := make(chan string, 2*events)
	var wg sync.WaitGroup
	for i := range 2 * events {
		// Each event twice, both copies in flight at once, as a provider's retry can be.
		body := complyCubeEventBody(fmt.Sprintf("ev-at-once-%d", i%events), "check.completed.clear")
		wg.Go(func() {
			a := h.post(t, body, complycube.Sign(webhookSecret, body))
			if a.status != http.StatusOK {
				t.Errorf("status %d: %s", a.status, a.raw)
			}
			statuses <- fmt.Sprint(a.body["status"])
		})
	}
	wg.Wait()
	close(statuses)
	count := map[string]int{}
	for status := range statuses {
		count[status]++
	}
	require.Equal(t, map[string]int{"stored": events, "duplicate": events}, count)
	require.Equal(t, events, h.storedCount(t))
	require.Len(t, h.relay.notifications(), events, "each stored event is delivered once")
}

func TestComplyCubeWebhookRejectsBadSignaturesAlikeAndStoresNothing(t *testing.T) {
	h := newWebhookHarness(t, 0)
	body := complyCubeEventBody("ev-sig", "check.completed.clear")
	cases := map[string]string{
		"missing":        "",
		"other secret":   complycube.Sign("not-the-secret", body),
		"other body":     complycube.Sign(webhookSecret, []byte(`{"id":"x","type":"y"}`)),
		"not hex":        "zz-not-a-signature",
		"uppercase hex":  strings.ToUpper(complycube.Sign(webhookSecret, body)) + "00",
		"truncated hmac": complycube.Sign(webhookSecret, body)[:32],
	}
	var bodies []string
	for name, sig := range cases {
		a := h.post(t, body, sig)
		require.Equal(t, http.StatusUnauthorized, a.status, name)
		bodies = append(bodies, a.raw)
	}
	for _, b := range bodies {
		require.Equal(t, bodies[0], b, "the answer does not tell why the signature failed")
	}
	require.Equal(t, 0, h.storedCount(t))
	require.Empty(t, h.relay.notifications())
}

// An authentic body that cannot be read as an event is kept and acknowledged, never refused: a
// refusal only makes the provider retry, and ComplyCube disables a webhook after ten failures.
func TestComplyCubeWebhookKeepsAuthenticBodiesItCannotRead(t *testing.T) {
	h := newWebhookHarness(t, 0)
	cases := map[string]struct {
		body    string
		message string
	}{
		"not json":     {`this is not json`, "JSON"},
		"json array":   {`[1,2,3]`, "JSON object"},
		"missing id":   {`{"type":"check.completed","payload":{}}`, "id"},
		"missing type": {`{"id":"ev-1","payload":{}}`, "type"},
	}
	for name, c := range cases {
		body := []byte(c.body)
		a := h.post(t, body, complycube.Sign(webhookSecret, body))
		require.Equal(t, http.StatusOK, a.status, name)
		require.Equal(t, "unparsed", a.body["status"], name)
		h.requireUnparsed(t, "complycube", body, c.message)
		require.Equal(t, "duplicate", h.post(t, body, complycube.Sign(webhookSecret, body)).body["status"], name+": a retry")
	}
	require.Equal(t, len(cases), h.storedCount(t))
	require.Empty(t, h.relay.notifications(), "nothing unparsed is handed to the relay")
}

// requireUnparsed asserts that body is stored as unparsed, with a reason that mentions message.
func (h *webhookHarness) requireUnparsed(t *testing.T, provider string, body []byte, message string) {
	t.Helper()
	sum := sha256.Sum256(body)
	st, err := store.New(h.db).WebhookEventStatus(context.Background(), provider, "unparsed:"+hex.EncodeToString(sum[:]))
	require.NoError(t, err)
	require.Equal(t, store.InboxUnparsed, st.Status)
	require.NotNil(t, st.LastError)
	require.Contains(t, *st.LastError, message)
}

func TestComplyCubeWebhookRefusesBodiesOverTheLimit(t *testing.T) {
	const limit = 1 << 20
	h := newWebhookHarness(t, limit)
	padding := func(total int) []byte {
		head := `{"id":"ev-big","type":"check.updated","payload":{"id":"c1","note":"`
		tail := `"}}`
		return []byte(head + strings.Repeat("a", total-len(head)-len(tail)) + tail)
	}

	over := padding(limit + 1)
	a := h.post(t, over, complycube.Sign(webhookSecret, over))
	require.Equal(t, http.StatusRequestEntityTooLarge, a.status)
	require.Equal(t, "payload_too_large", a.body["error"])
	require.Equal(t, 0, h.storedCount(t))

	exact := padding(limit)
	a = h.post(t, exact, complycube.Sign(webhookSecret, exact))
	require.Equal(t, http.StatusOK, a.status, "a body of exactly the limit is accepted whole")
	var stored []byte
	require.NoError(t, h.db.Get(&stored, `SELECT body FROM webhook_events WHERE event_id = 'ev-big'`))
	require.Equal(t, exact, stored)
}

func TestComplyCubeWebhookStoresUnknownEventTypes(t *testing.T) {
	h := newWebhookHarness(t, 0)
	body := []byte(`{"id":"ev-new","type":"something.brand.new","resourceType":"gadget","payload":{"id":"g1"}}`)

	a := h.post(t, body, complycube.Sign(webhookSecret, body))
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Equal(t, 1, h.storedCount(t))
}

func TestComplyCubeWebhookAsksForRetryWhenPostgresIsDown(t *testing.T) {
	// Nothing listens on port 1: every connection attempt is refused, as when Postgres is down.
	down, err := sqlx.Open("postgres", "postgres://screenflow@127.0.0.1:1/screenflow?sslmode=disable&connect_timeout=2")
	require.NoError(t, err)
	t.Cleanup(func() { down.Close() })
	h := newWebhookHarnessOn(t, down, 0)
	body := complyCubeEventBody("ev-down", "check.completed.clear")

	a := h.post(t, body, complycube.Sign(webhookSecret, body))
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	require.NotEmpty(t, a.header.Get("Retry-After"))
	require.Empty(t, h.relay.notifications())
}

// noRedirects answers as a provider does: it does not follow a redirect with its POST.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (h *webhookHarness) postAuthenticate(t *testing.T, path string, body []byte) webhookAnswer {
	t.Helper()
	resp, err := noRedirects.Post(h.base+path, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := webhookAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

const authenticateEventBody = `{"id":"auth-ev-1","event":"CRIMINAL_REQUEST_STATUS_UPDATE","eventDate":"2020-12-07T19:18:32.076Z",` +
	`"order":{"userAccessCode":"uac-123","orderDetails":{"unique_identifier":"s-1","search_type":"COUNTY_CRIMINAL",` +
	`"search_status":"COMPLETE","search_sub_status":"CLEAR"}}}`

func TestAuthenticateWebhookStoresEventsSentToTheTokenURL(t *testing.T) {
	h := newWebhookHarness(t, 0)

	a := h.postAuthenticate(t, "/webhooks/authenticate/"+authenticateToken, []byte(authenticateEventBody))
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Equal(t, "stored", a.body["status"])
	again := h.postAuthenticate(t, "/webhooks/authenticate/"+authenticateToken, []byte(authenticateEventBody))
	require.Equal(t, "duplicate", again.body["status"])

	var row struct {
		Subject   string `db:"subject"`
		EventType string `db:"event_type"`
	}
	// Authenticate's events are keyed by the SHA-256 of their body: its "id" may be shared.
	require.NoError(t, h.db.Get(&row, `SELECT subject, event_type FROM webhook_events
		WHERE provider = 'authenticate' AND event_id = $1`, authenticate.BodyKey([]byte(authenticateEventBody))))
	require.Equal(t, "user:uac-123", row.Subject)
	require.Equal(t, "CRIMINAL_REQUEST_STATUS_UPDATE", row.EventType)
	require.Len(t, h.relay.notifications(), 1)
}

func TestAuthenticateWebhookRejectsAWrongOrMissingTokenAndStoresNothing(t *testing.T) {
	h := newWebhookHarness(t, 0)
	paths := []string{
		"/webhooks/authenticate",
		"/webhooks/authenticate/",
		"/webhooks/authenticate/wrong-token",
		"/webhooks/authenticate/" + authenticateToken[:len(authenticateToken)-1],
		"/webhooks/authenticate/" + authenticateToken + "0",
	}
	var bodies []string
	for _, p := range paths {
		a := h.postAuthenticate(t, p, []byte(authenticateEventBody))
		require.Equal(t, http.StatusUnauthorized, a.status, p)
		bodies = append(bodies, a.raw)
	}
	for _, b := range bodies {
		require.Equal(t, bodies[0], b, "the answer does not tell why the token failed")
	}
	require.Equal(t, 0, h.storedCount(t))
}

func TestAuthenticateWebhookKeepsUnreadableBodiesAndRefusesOversizedOnes(t *testing.T) {
	h := newWebhookHarness(t, 1024)
	path := "/webhooks/authenticate/" + authenticateToken
	for body, want := range map[string]string{
		`not json`: "JSON",
		`{"event":"USER_PII_UPDATE","order":{"userAccessCode":"u"}}`: "id",
		`{"id":"x","order":{"userAccessCode":"u"}}`:                  "event",
		`{"id":"x","event":"USER_PII_UPDATE","order":{}}`:            "userAccessCode",
	} {
		a := h.postAuthenticate(t, path, []byte(body))
		require.Equal(t, http.StatusOK, a.status, body)
		require.Equal(t, "unparsed", a.body["status"], body)
		h.requireUnparsed(t, "authenticate", []byte(body), want)
	}
	big := []byte(`{"id":"big","event":"USER_PII_UPDATE","order":{"userAccessCode":"` + strings.Repeat("u", 2000) + `"}}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, h.postAuthenticate(t, path, big).status)
	require.Equal(t, 4, h.storedCount(t), "the oversized body is not stored")
}
