package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/migrations"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

func TestDevCallbackReceiverPrintsVerifiedCallbacksAndRefusesOthers(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	// Signed by Svix's implementation: the receiver verifies any Standard Webhooks signer.
	signer, err := svix.NewWebhook(secret)
	require.NoError(t, err)
	verifier, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	var out bytes.Buffer
	srv := httptest.NewServer(devCallbackHandler(verifier, &out))
	t.Cleanup(srv.Close)

	body := []byte(`{"id":"msg_1","type":"screening.result_changed","timestamp":"2026-11-29T20:31:10Z","sequence":7,` +
		`"data":{"screening_id":"s-1","status":"completed","result":"consider","previous_result":"clear","links":{"screening":"/v1/screenings/s-1"}}}`)
	send := func(body []byte, signed []byte) int {
		now := time.Now()
		signature, err := signer.Sign("msg_1", now, signed)
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("webhook-id", "msg_1")
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("webhook-signature", signature)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	require.Equal(t, http.StatusNoContent, send(body, body))
	require.Equal(t, "callback verified  screening.result_changed screening s-1 #7 status=completed result=consider was=clear\n",
		out.String())

	out.Reset()
	require.Equal(t, http.StatusBadRequest, send(bytes.Replace(body, []byte("consider"), []byte("clear"), 1), body))
	require.Contains(t, out.String(), "callback msg_1 NOT verified")
}

func TestDevEndpointIsRegisteredOnceAndAgainWhenItIsGone(t *testing.T) {
	ctx := context.Background()
	db, url := testenv.NewDBURL(t)
	require.NoError(t, migrations.Up(ctx, db.DB))
	key := vault.NewKey()
	cfg, err := loadConfig(func(name string) string {
		return map[string]string{"DATABASE_URL": url, "SCREENFLOW_ENCRYPTION_KEY": key}[name]
	})
	require.NoError(t, err)
	_, st, _, err := cfg.openSealedStore(ctx)
	require.NoError(t, err)
	tenant, tenantKey, err := st.CreateTenant(ctx, "dev")
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), devCallbackFileName)
	const callbackURL = "http://127.0.0.1:8088/hr-callbacks"

	secret, err := ensureDevEndpoint(ctx, cfg, file, tenantKey, callbackURL)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	again, err := ensureDevEndpoint(ctx, cfg, file, tenantKey, callbackURL)
	require.NoError(t, err)
	require.Equal(t, secret, again, "a restart keeps the endpoint and its secret")
	endpoints, err := st.WebhookEndpoints(ctx, tenant.ID)
	require.NoError(t, err)
	require.Len(t, endpoints, 1)
	require.Equal(t, callbackURL, endpoints[0].URL)
	require.ElementsMatch(t, store.CallbackEventTypes, []string(endpoints[0].EventTypes))

	require.NoError(t, st.DeleteWebhookEndpoint(ctx, tenant.ID, endpoints[0].ID))
	renewed, err := ensureDevEndpoint(ctx, cfg, file, tenantKey, callbackURL)
	require.NoError(t, err)
	require.NotEqual(t, secret, renewed, "an endpoint deleted through the API is registered anew")
	endpoints, err = st.WebhookEndpoints(ctx, tenant.ID)
	require.NoError(t, err)
	require.Len(t, endpoints, 1)
}
