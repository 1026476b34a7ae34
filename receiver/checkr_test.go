package receiver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/mocks"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/checkr"
	checkrfake "github.com/screenflow/screenflow/providers/checkr/fake"
	"github.com/screenflow/screenflow/receiver"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/workflows"
)

const checkrReportEvent = `{"id":"57a1142c4772617d5c010000","object":"event","type":"report.created",` +
	`"created_at":"2016-08-02T21:44:12Z","data":{"object":{"id":"f4bda8bd0201d322e41301aa","object":"report",` +
	`"status":"pending","package":"tasker_standard","candidate_id":"3cd3d2bf54acfd7207caa276","document_ids":[]}},` +
	`"account_id":"5d78dfa52ea938723b2f2ba3"}`

func (h *webhookHarness) postCheckr(t *testing.T, body []byte, signature string) webhookAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.base+"/webhooks/checkr", bytes.NewReader(body))
	require.NoError(t, err)
	if signature != "" {
		req.Header.Set(checkr.SignatureHeader, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := webhookAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func TestCheckrWebhookAcceptsASignatureUnderEitherKey(t *testing.T) {
	h := newWebhookHarness(t, 0)
	partner := []byte(checkrReportEvent)
	direct := bytes.Replace(partner, []byte("57a1142c"), []byte("67a1142c"), 1)

	a := h.postCheckr(t, partner, checkr.Sign(checkrClientSecret, partner))
	require.Equal(t, http.StatusOK, a.status, a.raw)
	a = h.postCheckr(t, direct, checkr.Sign(checkrDirectKey, direct))
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Equal(t, "duplicate", h.postCheckr(t, direct, checkr.Sign(checkrDirectKey, direct)).body["status"])

	var subject string
	require.NoError(t, h.db.Get(&subject, `SELECT subject FROM webhook_events WHERE event_id = '57a1142c4772617d5c010000'`))
	require.Equal(t, "candidate:3cd3d2bf54acfd7207caa276", subject, "a report routes by its candidate, routed when it was created")
	require.Equal(t, 2, h.storedCount(t))
}

func TestCheckrWebhookAcceptsAPreviousKeyDuringARotation(t *testing.T) {
	h := &webhookHarness{db: testenv.NewDB(t), relay: &webhookRelay{}}
	engine := receiver.New(receiver.Config{Providers: configuredProviders(t, map[string]string{
		"CHECKR_API_KEY": "direct-new", "CHECKR_OAUTH_CLIENT_SECRET": "secret-new",
		"CHECKR_WEBHOOK_PREVIOUS_KEYS": "direct-old,secret-old"})},
		store.New(h.db), nil, h.relay, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	h.base = srv.URL

	body := []byte(checkrReportEvent)
	a := h.postCheckr(t, body, checkr.Sign("secret-old", body))
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Equal(t, "stored", a.body["status"], "an event signed before the rotation is kept")
	other := bytes.Replace(body, []byte("57a1142c"), []byte("77a1142c"), 1)
	require.Equal(t, http.StatusUnauthorized, h.postCheckr(t, other, checkr.Sign("secret-older", other)).status)
	require.Equal(t, 1, h.storedCount(t))
}

func TestCheckrWebhookRejectsOtherSignaturesAndStoresNothing(t *testing.T) {
	h := newWebhookHarness(t, 0)
	body := []byte(checkrReportEvent)
	for name, sig := range map[string]string{
		"missing": "", "other key": checkr.Sign("someone-else", body), "not hex": "xyz",
		"other body": checkr.Sign(checkrDirectKey, []byte(`{}`)),
	} {
		require.Equal(t, http.StatusUnauthorized, h.postCheckr(t, body, sig).status, name)
	}
	require.Equal(t, 0, h.storedCount(t), "nothing unauthentic is stored")
	notJSON := []byte(`nope`)
	require.Equal(t, http.StatusOK, h.postCheckr(t, notJSON, checkr.Sign(checkrDirectKey, notJSON)).status)
	h.requireUnparsed(t, "checkr", notJSON, "JSON")
}

// oauthHarness serves the receiver with Checkr OAuth configured against the fake Checkr.
type oauthHarness struct {
	url      string
	st       *store.Store
	fake     *checkrfake.Server
	temporal *mocks.Client
	vault    *vault.Vault
	keyA     string
	tenantA  store.Tenant
}

func newOAuthHarness(t *testing.T) *oauthHarness {
	t.Helper()
	f := checkrfake.New(checkrfake.Options{ClientID: "client-1", ClientSecret: "secret-1"})
	fakeSrv := httptest.NewServer(f)
	t.Cleanup(func() { fakeSrv.Close(); f.Close() })
	f.SetBaseURL(fakeSrv.URL)
	key, err := vault.ParseKey(vault.NewKey())
	require.NoError(t, err)
	v, err := vault.New(key)
	require.NoError(t, err)
	st := store.New(testenv.NewDB(t))
	h := &oauthHarness{st: st, fake: f, temporal: mocks.NewClient(t), vault: v}
	h.tenantA, h.keyA, err = st.CreateTenant(context.Background(), "A")
	require.NoError(t, err)
	srv := httptest.NewServer(receiver.New(receiver.Config{Providers: configuredProviders(t, nil), Checkr: receiver.CheckrConfig{
		ClientID: "client-1", ClientSecret: "secret-1", AuthorizeURL: fakeSrv.URL + "/authorize",
		RedirectURL: "https://screenflow.example/oauth/checkr/callback",
		Client:      checkr.NewClient(fakeSrv.URL, "", nil), Vault: v,
	}}, st, h.temporal, &webhookRelay{}, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func (h *oauthHarness) connect(t *testing.T) string {
	t.Helper()
	return h.connectAs(t, h.keyA)
}

// connectAs starts a connection as the tenant of apiKey and returns the state Checkr sends back.
func (h *oauthHarness) connectAs(t *testing.T, apiKey string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url+"/v1/integrations/checkr/connect", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	checkContract(t, req, resp.StatusCode, resp.Header, raw)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "/authorize/client-1/signup", loc.Path)
	require.Equal(t, "https://screenflow.example/oauth/checkr/callback", loc.Query().Get("redirect_uri"))
	return loc.Query().Get("state")
}

func (h *oauthHarness) callback(t *testing.T, query url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(h.url + "/oauth/checkr/callback?" + query.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	checkContract(t, resp.Request, resp.StatusCode, resp.Header, raw)
	var body map[string]any
	require.NoError(t, json.Unmarshal(raw, &body))
	return resp.StatusCode, body
}

func TestCheckrOAuthConnectsAnAccountWithItsTokenSealed(t *testing.T) {
	h := newOAuthHarness(t)
	state := h.connect(t)
	code, account := h.fake.Authorize("")
	h.temporal.On("SignalWithStartWorkflow", mock.Anything, workflows.CheckrAccountWorkflowID(account),
		workflows.CheckrAccountEventSignal, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil, nil).Once()

	status, body := h.callback(t, url.Values{"code": {code}, "state": {state}})
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, account, body["account"])
	require.Equal(t, string(store.CheckrAwaitingCredentialing), body["status"])
	acct, err := h.st.TenantCheckrAccount(context.Background(), h.tenantA.ID, account)
	require.NoError(t, err)
	token, err := h.vault.Open(acct.AccessTokenSealed, []byte(account))
	require.NoError(t, err, "the token is sealed, bound to its account")
	require.Equal(t, checkr.TokenFingerprint(string(token)), *acct.AccessTokenFingerprint)
	_, err = h.vault.Open(acct.AccessTokenSealed, []byte("another-account"))
	require.Error(t, err, "a sealed token cannot be moved to another account's row")
	route, err := h.st.Route(context.Background(), "checkr", checkr.SubjectFor("token", *acct.AccessTokenFingerprint))
	require.NoError(t, err)
	require.Equal(t, workflows.CheckrAccountWorkflowID(account), route, "token.deauthorized will find the account")

	replay, body := h.callback(t, url.Values{"code": {code}, "state": {state}})
	require.Equal(t, http.StatusBadRequest, replay, "a state is single-use")
	require.Equal(t, "invalid_state", body["error"])
}

// A tenant that connects an account another tenant holds gets 409, and the token its code was
// already exchanged for is revoked at Checkr instead of left live with nobody holding it.
func TestCheckrOAuthRefusedConnectionRevokesItsToken(t *testing.T) {
	h := newOAuthHarness(t)
	h.temporal.On("SignalWithStartWorkflow", mock.Anything, mock.Anything, workflows.CheckrAccountEventSignal,
		mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil, nil).Once()
	code, account := h.fake.Authorize("")
	status, body := h.callback(t, url.Values{"code": {code}, "state": {h.connect(t)}})
	require.Equal(t, http.StatusOK, status, body)

	_, keyB, err := h.st.CreateTenant(context.Background(), "B")
	require.NoError(t, err)
	code, _ = h.fake.Authorize(account)
	status, body = h.callback(t, url.Values{"code": {code}, "state": {h.connectAs(t, keyB)}})
	require.Equal(t, http.StatusConflict, status, body)
	require.Equal(t, "account_owned_elsewhere", body["error"])
	require.Equal(t, 1, h.fake.LiveTokens(account), "only the owner's token is live")
}

func TestCheckrOAuthCallbackRejectsBadRequests(t *testing.T) {
	h := newOAuthHarness(t)
	state := h.connect(t)
	for name, q := range map[string]url.Values{
		"no code":       {"state": {state}},
		"no state":      {"code": {"abc"}},
		"unknown state": {"code": {"abc"}, "state": {"not-a-state-we-issued"}},
	} {
		status, body := h.callback(t, q)
		require.Equal(t, http.StatusBadRequest, status, name)
		require.NotEmpty(t, body["message"], name)
	}
	status, body := h.callback(t, url.Values{"code": {"not-a-code"}, "state": {state}})
	require.Equal(t, http.StatusBadGateway, status, "Checkr refuses the code")
	require.Equal(t, "token_exchange_failed", body["error"])
}

func TestAPICheckrChecksNeedAUsableAccount(t *testing.T) {
	h := newAPIHarness(t)
	ctx := context.Background()
	_, err := h.store.ConnectCheckrAccount(ctx, h.tenantA.ID, "acct-ok", []byte("sealed"), "fp-ok")
	require.NoError(t, err)
	_, err = h.store.ConnectCheckrAccount(ctx, h.tenantA.ID, "acct-gone", []byte("sealed"), "fp-gone")
	require.NoError(t, err)
	_, err = h.store.MarkCheckrDeauthorized(ctx, "acct-gone", "fp-gone")
	require.NoError(t, err)
	withCheck := func(check map[string]any) string {
		req := apiValidRequest()
		req["checks"] = []any{check}
		return apiJSON(t, req)
	}
	for name, c := range map[string]struct {
		check        map[string]any
		field, words string
	}{
		"no account and no direct key": {map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "report"},
			"checks[0].account", "CHECKR_API_KEY"},
		"another tenant's or unknown account": {map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "report", "account": "acct-other"},
			"checks[0].account", "not a Checkr account connected"},
		"deauthorized account": {map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "report", "account": "acct-gone"},
			"checks[0].account", "deauthorized"},
		"no package": {map[string]any{"provider": "checkr", "mode": "report", "account": "acct-ok"}, "checks[0].package", "required"},
		"bad mode":   {map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "email", "account": "acct-ok"}, "checks[0].mode", "invitation or report"},
	} {
		a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, withCheck(c.check))
		require.Equal(t, http.StatusUnprocessableEntity, a.status, name)
		require.Contains(t, a.body["fields"].(map[string]any)[c.field], c.words, name)
	}

	a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, withCheck(map[string]any{
		"provider": "checkr", "package": "tasker_standard", "mode": "invitation", "account": "acct-ok"}))
	require.Equal(t, http.StatusCreated, a.status, string(a.raw))
	check := a.body["checks"].([]any)[0].(map[string]any)
	require.Equal(t, "tasker_standard", check["type"])
	require.Equal(t, map[string]any{"package": "tasker_standard", "mode": "invitation", "account": "acct-ok"}, check["options"])
}
