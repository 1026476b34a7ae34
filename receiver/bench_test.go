package receiver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/receiver"
	"github.com/screenflow/screenflow/store"
)

// BenchmarkInboxInsertBaseline is the floor for the webhook path: one insert of the same row into
// the same Postgres, with no HTTP, signature or parsing.
func BenchmarkInboxInsertBaseline(b *testing.B) {
	st := store.New(testenv.NewDB(b))
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("bench-%d", i)
		if _, _, err := st.InsertWebhookEvent(ctx, store.NewInboxEvent{
			Provider: "complycube", EventID: id, EventType: "check.completed.clear",
			Subject: "check:5ed3918fbf06f30008e552c9", Headers: map[string]string{"Content-Type": "application/json"},
			Body: complyCubeEventBody(id, "check.completed.clear"),
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkComplyCubeWebhookIngest is the whole webhook path over real HTTP: read, verify,
// parse, store, acknowledge. Compare it with BenchmarkInboxInsertBaseline from the same run.
func BenchmarkComplyCubeWebhookIngest(b *testing.B) {
	engine := receiver.New(receiver.Config{Providers: configuredProviders(b, map[string]string{"COMPLYCUBE_WEBHOOK_SECRET": webhookSecret})},
		store.New(testenv.NewDB(b)), nil, &webhookRelay{}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(engine)
	defer srv.Close()
	url := srv.URL + "/webhooks/complycube"
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		body := complyCubeEventBody(fmt.Sprintf("bench-%d", i), "check.completed.clear")
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set(complycube.SignatureHeader, complycube.Sign(webhookSecret, body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		// Drained, so that the client reuses its connection as a provider's would.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
