package receiver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
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

// newIngestServer serves the receiver as serve does, its webhooks group-committed by a
// store.InboxWriter with the default settings, and returns its URL.
func newIngestServer(b *testing.B) string {
	st := store.New(testenv.NewDB(b))
	inbox := store.NewInboxWriter(st, store.InboxWriterConfig{})
	b.Cleanup(inbox.Close)
	engine := receiver.New(receiver.Config{Inbox: inbox,
		Providers: configuredProviders(b, map[string]string{"COMPLYCUBE_WEBHOOK_SECRET": webhookSecret})},
		st, nil, &webhookRelay{}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(engine)
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkComplyCubeWebhookIngest is the whole webhook path over real HTTP, one webhook at a
// time: read, verify, parse, store, acknowledge. Compare it with BenchmarkInboxInsertBaseline from
// the same run. Alone, each webhook waits the inbox's flush interval for others to share its
// transaction.
func BenchmarkComplyCubeWebhookIngest(b *testing.B) {
	url := newIngestServer(b) + "/webhooks/complycube"
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

// concurrentClients is the number of webhooks in flight at once in the parallel benchmarks, as
// in issue 9's measurement (32 concurrent clients).
const concurrentClients = 32

// runConcurrently runs op from concurrentClients goroutines, each call with a fresh event id.
func runConcurrently(b *testing.B, op func(eventID string) error) {
	var next atomic.Int64
	b.SetParallelism(max(1, concurrentClients/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(fmt.Sprintf("bench-%d", next.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkInboxInsertBaselineParallel is BenchmarkInboxInsertBaseline from 32 concurrent
// clients, each insert its own transaction: the rate Postgres gives single-row inserts.
func BenchmarkInboxInsertBaselineParallel(b *testing.B) {
	st := store.New(testenv.NewDB(b))
	runConcurrently(b, func(id string) error {
		_, _, err := st.InsertWebhookEvent(context.Background(), store.NewInboxEvent{
			Provider: "complycube", EventID: id, EventType: "check.completed.clear",
			Subject: "check:5ed3918fbf06f30008e552c9", Headers: map[string]string{"Content-Type": "application/json"},
			Body: complyCubeEventBody(id, "check.completed.clear"),
		})
		return err
	})
}

// BenchmarkComplyCubeWebhookIngestParallel is the whole webhook path over real HTTP from 32
// concurrent clients. Compare it with BenchmarkInboxInsertBaselineParallel from the same run.
func BenchmarkComplyCubeWebhookIngestParallel(b *testing.B) {
	url := newIngestServer(b) + "/webhooks/complycube"
	// One kept-alive connection per client, as the default transport keeps only two idle.
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrentClients}}
	runConcurrently(b, func(id string) error {
		body := complyCubeEventBody(id, "check.completed.clear")
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set(complycube.SignatureHeader, complycube.Sign(webhookSecret, body))
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}
