package relay_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/screenflow/screenflow/relay"
	"github.com/screenflow/screenflow/store"
)

// benchmarkRounds alternate the bare SDK and the relay, so that both meet the same load on a
// shared machine; each round signals benchmarkWorkflows waiting workflows.
const (
	benchmarkRounds    = 2
	benchmarkWorkflows = 1500
)

// BenchmarkRelayDelivery compares the relay's delivery rate with the bare SDK's on the same
// Temporal server, in the same run. In each round, benchmarkWorkflows waiting workflows are
// signalled by SignalWorkflow from 64 goroutines; then as many stored events, one for each of
// other waiting workflows, are delivered by one sweep (claim, signal, record). Run it with
// -benchtime=1x.
func BenchmarkRelayDelivery(b *testing.B) {
	h := newRelayHarness(b, relay.Config{Concurrency: 64})
	ctx := context.Background()
	for range b.N {
		var bareTime, relayTime time.Duration
		for range benchmarkRounds {
			bare := h.startWaiting(b, benchmarkWorkflows)
			start := time.Now()
			require.NoError(b, inParallel(64, bare, func(id string) error {
				return h.tc.SignalWorkflow(ctx, id, "", testSignal, "bare")
			}))
			bareTime += time.Since(start)
			h.awaitClosed(b, bare)

			routed := h.startWaiting(b, benchmarkWorkflows)
			events := make([]string, len(routed))
			for i, id := range routed {
				subject := "bench:" + id
				require.NoError(b, h.st.AddRoute(ctx, "test", subject, id))
				events[i], _ = h.store(b, subject, "relayed")
			}
			start = time.Now()
			h.relay.SweepOnce(ctx)
			relayTime += time.Since(start)
			for _, eventID := range events {
				require.Equal(b, store.InboxDelivered, h.status(b, eventID).Status)
			}
			h.awaitClosed(b, routed)
		}
		signals := float64(benchmarkRounds * benchmarkWorkflows)
		bareRate, relayRate := signals/bareTime.Seconds(), signals/relayTime.Seconds()
		b.ReportMetric(bareRate, "bare-signals/s")
		b.ReportMetric(relayRate, "relay-signals/s")
		b.ReportMetric(relayRate/bareRate, "relay/bare")
	}
}

// startWaiting starts n workflows that each wait for one signal, and returns their ids.
func (h *relayHarness) startWaiting(tb testing.TB, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "waiting-" + uuid.NewString()
	}
	require.NoError(tb, inParallel(32, ids, func(id string) error {
		_, err := h.tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
			ID: id, TaskQueue: h.queue, WorkflowExecutionTimeout: 5 * time.Minute,
		}, collectSignals, 1)
		return err
	}))
	// Both sides start timing with the worker idle: the workflows' first tasks done.
	time.Sleep(settle)
	return ids
}

// settle is long enough for the worker to run the first task of a round's waiting workflows.
const settle = 3 * time.Second

// awaitClosed waits until the signalled workflows have completed, so that their last tasks do
// not weigh on the next measurement.
func (h *relayHarness) awaitClosed(tb testing.TB, ids []string) {
	tb.Helper()
	require.NoError(tb, inParallel(32, ids, func(id string) error {
		return h.tc.GetWorkflow(context.Background(), id, "").Get(context.Background(), nil)
	}))
}

// inParallel calls fn for every item from at most workers goroutines, and returns the first error.
func inParallel(workers int, items []string, fn func(string) error) error {
	work := make(chan string)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var first error
			for item := range work {
				if err := fn(item); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		})
	}
	for _, item := range items {
		work <- item
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
