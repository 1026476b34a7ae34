package relay_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/relay"
	"github.com/screenflow/screenflow/store"
)

type observedDelivery struct {
	provider, outcome string
	sinceStored       time.Duration
}

// deliveryRecorder records what the relay tells its Observer.
type deliveryRecorder struct {
	mu   sync.Mutex
	seen []observedDelivery
}

func (r *deliveryRecorder) ObserveDelivery(provider, outcome string, sinceStored time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, observedDelivery{provider, outcome, sinceStored})
}

func (r *deliveryRecorder) outcomes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var outcomes []string
	for _, o := range r.seen {
		outcomes = append(outcomes, o.outcome)
	}
	return outcomes
}

func TestRelayTellsItsObserverWhatBecameOfEachEvent(t *testing.T) {
	recorder := &deliveryRecorder{}
	h := newRelayHarness(t, relay.Config{MaxBackoff: time.Hour, Observer: recorder})
	ctx := context.Background()
	run := h.startCollector(t, 1)
	h.store(t, "thing:observed", "early")
	time.Sleep(20 * time.Millisecond)

	h.relay.SweepOnce(ctx)
	require.Equal(t, []string{relay.OutcomeAwaitingRoute}, recorder.outcomes())

	require.NoError(t, h.st.AddRoute(ctx, "test", "thing:observed", run.GetID()))
	h.relay.SweepOnce(ctx)
	require.NoError(t, run.Get(ctx, nil))
	require.Equal(t, []string{relay.OutcomeAwaitingRoute, store.InboxDelivered}, recorder.outcomes())
	delivered := recorder.seen[1]
	require.Equal(t, "test", delivered.provider)
	require.GreaterOrEqual(t, delivered.sinceStored, 20*time.Millisecond, "timed from the event's storing")

	h.store(t, "thing:observed", "too late")
	h.relay.SweepOnce(ctx)
	require.Equal(t, []string{relay.OutcomeAwaitingRoute, store.InboxDelivered, store.InboxDiscarded}, recorder.outcomes())
}

func TestRelayTellsItsObserverOfUnroutableEvents(t *testing.T) {
	recorder := &deliveryRecorder{}
	h := newRelayHarness(t, relay.Config{UnroutableAfter: time.Nanosecond, Observer: recorder})
	h.store(t, "thing:nobody", "orphan")

	h.relay.SweepOnce(context.Background())

	require.Equal(t, []string{store.InboxUnroutable}, recorder.outcomes())
}
