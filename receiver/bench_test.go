package receiver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/screenflow/screenflow/devenv"
	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/migrations"
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
// store.InboxWriter with serve's default settings, and returns its URL.
func newIngestServer(b *testing.B, db *sqlx.DB) string {
	st := store.New(db)
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
	url := newIngestServer(b, testenv.NewDB(b)) + "/webhooks/complycube"
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

// postgresServers are the two servers the parallel benchmarks run on: the tests' own (fsync off)
// and one with fsync on, as in production, where a commit waits for its WAL flush.
var postgresServers = []struct {
	name string
	db   func(b *testing.B) *sqlx.DB
}{
	{"fsync=off", func(b *testing.B) *sqlx.DB { return testenv.NewDB(b) }},
	{"fsync=on", durableDB},
}

// BenchmarkInboxInsertBaselineParallel is BenchmarkInboxInsertBaseline from 32 concurrent
// clients, each insert its own transaction: the rate Postgres gives single-row inserts.
func BenchmarkInboxInsertBaselineParallel(b *testing.B) {
	for _, server := range postgresServers {
		b.Run(server.name, func(b *testing.B) { benchmarkInboxInsertBaselineParallel(b, server.db(b)) })
	}
}

func benchmarkInboxInsertBaselineParallel(b *testing.B, db *sqlx.DB) {
	st := store.New(db)
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
// concurrent clients. Compare it with BenchmarkInboxInsertBaselineParallel from the same run, on
// the same server.
func BenchmarkComplyCubeWebhookIngestParallel(b *testing.B) {
	for _, server := range postgresServers {
		b.Run(server.name, func(b *testing.B) { benchmarkComplyCubeWebhookIngestParallel(b, server.db(b)) })
	}
}

func benchmarkComplyCubeWebhookIngestParallel(b *testing.B, db *sqlx.DB) {
	url := newIngestServer(b, db) + "/webhooks/complycube"
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

// durablePostgres is this test binary's Postgres with fsync on, started on first use and stopped
// by TestMain (stopDurablePostgres).
var durablePostgres struct {
	once  sync.Once
	pg    *devenv.Postgres
	dir   string
	admin *sqlx.DB
	err   error
}

// durableDB returns a fresh, migrated database on the Postgres with fsync on, dropped at cleanup.
func durableDB(b *testing.B) *sqlx.DB {
	b.Helper()
	d := &durablePostgres
	d.once.Do(func() {
		if d.dir, d.err = os.MkdirTemp("", "screenflow-bench-postgres-"); d.err != nil {
			return
		}
		// MkdirTemp makes it 0700; when we are root the server runs as another user and must enter it.
		if d.err = os.Chmod(d.dir, 0o755); d.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if d.pg, d.err = devenv.StartPostgres(ctx, devenv.PostgresOptions{Dir: filepath.Join(d.dir, "data")}); d.err != nil {
			return
		}
		d.admin, d.err = sqlx.Open("postgres", d.pg.AdminURL())
	})
	if d.err != nil {
		b.Fatal(d.err)
	}
	name := "bench_" + strings.ToLower(rand.Text())
	if _, err := d.admin.Exec("CREATE DATABASE " + name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if _, err := d.admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			b.Error(err)
		}
	})
	db, err := sqlx.Open("postgres", strings.Replace(d.pg.URL, "/screenflow?", "/"+name+"?", 1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := migrations.Up(context.Background(), db.DB); err != nil {
		b.Fatal(err)
	}
	return db
}

// stopDurablePostgres stops and removes the Postgres durableDB started, if it did.
func stopDurablePostgres() error {
	d := &durablePostgres
	if d.pg == nil {
		return nil
	}
	if d.admin != nil {
		d.admin.Close()
	}
	if err := d.pg.Stop(); err != nil {
		return err
	}
	return os.RemoveAll(d.dir)
}
