package receiver_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/metrics"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/receiver"
	"github.com/screenflow/screenflow/store"
)

type observedWebhook struct{ provider, eventType, answer string }

// webhookRecorder records what the receiver tells its WebhookObserver.
type webhookRecorder struct {
	mu   sync.Mutex
	seen []observedWebhook
}

func (r *webhookRecorder) ObserveWebhook(provider, eventType, answer string, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if took > 0 {
		r.seen = append(r.seen, observedWebhook{provider, eventType, answer})
	}
}

func (r *webhookRecorder) observed() []observedWebhook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]observedWebhook(nil), r.seen...)
}

func TestEveryWebhookAnswerIsObservedWithItsEventType(t *testing.T) {
	st := store.New(testenv.NewDB(t))
	recorder := &webhookRecorder{}
	engine := receiver.New(receiver.Config{MaxWebhookBytes: 1024, Webhooks: recorder,
		Providers: configuredProviders(t, map[string]string{"COMPLYCUBE_WEBHOOK_SECRET": webhookSecret})},
		st, nil, &webhookRelay{}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	post := func(body []byte, signature string) int {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/complycube", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set(complycube.SignatureHeader, signature)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	body := complyCubeEventBody("ev-metrics-1", "check.completed")
	require.Equal(t, http.StatusOK, post(body, complycube.Sign(webhookSecret, body)))
	require.Equal(t, http.StatusOK, post(body, complycube.Sign(webhookSecret, body)))
	require.Equal(t, http.StatusUnauthorized, post(body, complycube.Sign("wrong", body)))
	unreadable := []byte(`{"id": 7`)
	require.Equal(t, http.StatusOK, post(unreadable, complycube.Sign(webhookSecret, unreadable)))
	large := bytes.Repeat([]byte("x"), 2048)
	require.Equal(t, http.StatusRequestEntityTooLarge, post(large, complycube.Sign(webhookSecret, large)))

	require.Equal(t, []observedWebhook{
		{"complycube", "check.completed", metrics.AnswerStored},
		{"complycube", "check.completed", metrics.AnswerDuplicate},
		{"complycube", "", metrics.AnswerRejectedSignature},
		{"complycube", "", metrics.AnswerUnparsed},
		{"complycube", "", metrics.AnswerTooLarge},
	}, recorder.observed())
}

func TestMetricsAreServedOnlyWhenGiven(t *testing.T) {
	served := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("screenflow_up 1\n")) })
	for _, handler := range []http.Handler{nil, served} {
		engine := receiver.New(receiver.Config{Providers: configuredProviders(t, nil), Metrics: handler},
			nil, nil, nil, slog.New(slog.DiscardHandler))
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if handler == nil {
			require.Equal(t, http.StatusNotFound, rec.Code)
			continue
		}
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "screenflow_up 1\n", rec.Body.String())
	}
}
