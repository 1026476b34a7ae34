package example_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/builtin"
	"github.com/screenflow/screenflow/providers/internal/example"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/receiver"
	"github.com/screenflow/screenflow/relay"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/worker"
	"github.com/screenflow/screenflow/workflows"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(testenv.Run(m))
}

const secret = "example-secret"

// TestANewProviderIsItsOwnPackageAndOneLine runs the example provider through the real receiver,
// relay and worker, on a real Temporal server and Postgres: the screening is ordered through the
// HR API, the provider's webhook is verified and stored, routed to the check workflow, and the
// check and screening complete. Nothing outside this package knows the provider but the list.
func TestANewProviderIsItsOwnPackageAndOneLine(t *testing.T) {
	providers := registry.MustNew(append(builtin.Providers().All(), &example.Provider{})...)
	require.NoError(t, providers.Configure(func(name string) string {
		return map[string]string{"EXAMPLE_WEBHOOK_SECRET": secret}[name]
	}))

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st := store.New(testenv.NewDB(t))
	tc := testenv.NewTemporalClient(t)
	log := slog.New(slog.DiscardHandler)
	w := sdkworker.New(tc, workflows.TaskQueue, sdkworker.Options{})
	// ComplyCube's activities have a CreateCheck too: the prefixes keep them apart.
	require.NoError(t, worker.Register(w, providers, registry.Deps{Store: st}))
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	rl := relay.New(st, tc, providers, relay.Config{SweepInterval: 100 * time.Millisecond, MaxBackoff: time.Second}, log)
	go rl.Run(ctx)
	srv := httptest.NewServer(receiver.New(receiver.Config{Providers: providers}, st, tc, rl, log))
	t.Cleanup(srv.Close)
	_, apiKey, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)

	var created struct {
		ID     string `json:"id"`
		Checks []struct {
			ID string `json:"id"`
		} `json:"checks"`
	}
	status := call(t, srv.URL+"/v1/screenings", apiKey, nil, map[string]any{
		"candidate": map[string]any{"reference": "emp-1", "first_name": "Ada", "last_name": "Lovelace",
			"email": "ada@example.com", "dob": "1990-12-10"},
		"checks": []any{map[string]any{"provider": example.Name, "type": example.CheckType}},
	}, &created)
	require.Equal(t, http.StatusCreated, status)
	providerCheckID := "ex-" + created.Checks[0].ID
	require.Eventually(t, func() bool {
		_, err := st.Route(ctx, example.Name, example.SubjectFor(providerCheckID))
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "the check workflow ordered the check and routed its events")

	body, err := json.Marshal(example.Event{ID: "ev-1", Type: example.EventCheckCompleted, CheckID: providerCheckID, Result: "clear"})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, webhook(t, srv.URL, body, "not-the-signature"), "unsigned: refused")
	require.Equal(t, http.StatusOK, webhook(t, srv.URL, body, example.Sign(secret, body)), "signed: stored")

	var got struct {
		Status store.Status `json:"status"`
		Result string       `json:"result"`
		Checks []struct {
			Status  store.Status `json:"status"`
			Outcome string       `json:"outcome"`
		} `json:"checks"`
	}
	require.Eventually(t, func() bool {
		require.Equal(t, http.StatusOK, call(t, srv.URL+"/v1/screenings/"+created.ID, apiKey, nil, nil, &got))
		return got.Status == store.StatusCompleted
	}, 30*time.Second, 100*time.Millisecond, "the screening completes")
	require.Equal(t, "clear", got.Result)
	require.Equal(t, store.StatusCompleted, got.Checks[0].Status)
	require.Equal(t, "clear", got.Checks[0].Outcome)
	// The relay records its outcomes a moment after the signals, in batches.
	var inbox store.InboxStatus
	require.Eventually(t, func() bool {
		inbox, err = st.WebhookEventStatus(ctx, example.Name, "ev-1")
		return err == nil && inbox.Status != store.InboxPending
	}, 10*time.Second, 50*time.Millisecond, "the stored event's outcome is recorded")
	require.Equal(t, store.InboxDelivered, inbox.Status, "the stored event was delivered as a signal")
}

func webhook(t *testing.T, baseURL string, body []byte, signature string) int {
	t.Helper()
	return call(t, baseURL+"/webhooks/"+example.Name, "", map[string]string{example.SignatureHeader: signature}, json.RawMessage(body), nil)
}

// call POSTs in (or GETs when in is nil) and decodes the answer into out.
func call(t *testing.T, url, apiKey string, header map[string]string, in, out any) int {
	t.Helper()
	method, body := http.MethodGet, []byte(nil)
	if in != nil {
		var err error
		method = http.MethodPost
		body, err = json.Marshal(in)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}
