package relay

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/screenflow/screenflow/store"
)

// recordWindow is how long the recorder gathers outcomes before it writes them. Signals finish
// one by one; written one by one, each would cost a commit, and Postgres would take CPU from
// Temporal on a shared box. The workflow has its signal already, so the wait delays nothing it
// sees: only delivered_at and an informational event's timeline note come that much later. On 2
// CPUs shared with Temporal, BenchmarkRelayDelivery gave 374-382 signals/s with 100 ms against
// 323-363/s with 20 ms (two runs each, bare SDK 408-481/s): at 20 ms, about fifty commits a
// second took that CPU.
const recordWindow = 100 * time.Millisecond

// heldBatches is how many claims' worth of events one relay may hold before it has recorded their
// outcomes. A claim waits for a whole batch of room, and room comes back only as outcomes are
// written: with two, RELAY_CONCURRENCY workflows' lanes stood idle between claims. With eight,
// the load benchmark's relay delivered 335-367/s at once and 370-410/s from a stored backlog
// against 326-341/s and 318-356/s with two (two runs each, same hour). At the rates Temporal takes
// signals, eight batches are seconds of work against RELAY_LEASE; an event whose lease runs short
// before its turn is released unattempted (deliver), never signalled late.
const heldBatches = 8

// recordTimeout bounds one batch of outcome writes. It does not follow the relay's context, so
// that a stopping relay still records what it did and releases what it did not.
const recordTimeout = 10 * time.Second

// deliveries moves claimed events to Temporal without holding a transaction open: events are
// leased in one short transaction, queued per target workflow, signalled by up to Concurrency
// goroutines (one per workflow, so that each workflow gets its events one at a time, in id
// order), and their outcomes are recorded in batches by one recorder.
type deliveries struct {
	r   *Relay
	ctx context.Context
	// held has a token for every event this relay holds leased and has not recorded: it bounds
	// what one relay takes, so that it can deliver what it takes within the lease.
	held chan struct{}
	// inFlight has a token for every workflow being signalled.
	inFlight chan struct{}

	mu sync.Mutex
	// queues holds, per target workflow, the events waiting for it in id order. A workflow has an
	// entry exactly while one goroutine delivers its events.
	queues map[string][]claimedEvent

	workers  sync.WaitGroup
	outcomes chan store.Outcome
	recorded chan struct{}
}

func (r *Relay) startDeliveries(ctx context.Context) *deliveries {
	held := heldBatches * r.cfg.BatchSize
	d := &deliveries{r: r, ctx: ctx, held: make(chan struct{}, held), inFlight: make(chan struct{}, r.cfg.Concurrency),
		queues: map[string][]claimedEvent{}, outcomes: make(chan store.Outcome, held), recorded: make(chan struct{})}
	go d.record()
	return d
}

// stop waits until every claimed event has been delivered or released and its outcome recorded.
// Nothing may be claimed once stop is called.
func (d *deliveries) stop() {
	d.workers.Wait()
	close(d.outcomes)
	<-d.recorded
}

// sweep claims due events, a batch at a time, for as long as claims come back full: it waits for
// room when this relay holds all it may, and stops while Temporal is down.
func (d *deliveries) sweep() {
	for {
		if _, down := d.r.outage.pausedUntil(); down {
			return
		}
		n := d.reserve(d.r.cfg.BatchSize, true)
		if n < d.r.cfg.BatchSize {
			d.unreserve(n)
			return
		}
		leaseEnds := time.Now().Add(d.r.cfg.Lease)
		events, err := d.r.store.ClaimDueEvents(d.ctx, n, d.r.cfg.Lease)
		d.unreserve(n - len(events))
		if err != nil {
			if d.ctx.Err() == nil {
				d.r.log.Warn("relay: claiming due events failed", "error", err)
			}
			return
		}
		d.dispatch(events, leaseEnds)
		if len(events) < n {
			return
		}
	}
}

// claimNotified claims the events just stored. When this relay holds all it may, it sweeps
// instead, which waits for room and then takes the longest due events first.
func (d *deliveries) claimNotified(ids []int64) {
	if _, down := d.r.outage.pausedUntil(); down {
		return
	}
	n := d.reserve(len(ids), false)
	if n < len(ids) {
		d.unreserve(n)
		d.sweep()
		return
	}
	leaseEnds := time.Now().Add(d.r.cfg.Lease)
	events, err := d.r.store.ClaimEvents(d.ctx, ids, d.r.cfg.Lease)
	d.unreserve(n - len(events))
	if err != nil {
		if d.ctx.Err() == nil {
			d.r.log.Warn("relay: claiming notified events failed; the sweep will retry", "error", err)
		}
		return
	}
	d.dispatch(events, leaseEnds)
}

// reserve takes want tokens of held, waiting for them when wait is set and taking what is free
// otherwise. Waiting for a whole batch rather than claiming a few events at a time keeps the
// claims, one commit each, few. It returns how many it took, fewer than want only when it did not
// wait or the relay is stopping.
func (d *deliveries) reserve(want int, wait bool) int {
	for n := range want {
		if wait {
			select {
			case d.held <- struct{}{}:
				continue
			case <-d.ctx.Done():
				return n
			}
		}
		select {
		case d.held <- struct{}{}:
		default:
			return n
		}
	}
	return want
}

func (d *deliveries) unreserve(n int) {
	for range n {
		<-d.held
	}
}

// dispatch queues each claimed event behind the others of its workflow, and records at once the
// outcome of those that need no signal.
func (d *deliveries) dispatch(events []store.InboxEvent, leaseEnds time.Time) {
	for _, e := range events {
		c, outcome := d.r.prepare(e, leaseEnds)
		if outcome != nil {
			d.r.observe(e, *outcome)
			d.outcomes <- *outcome
			continue
		}
		d.mu.Lock()
		queue, delivering := d.queues[c.target]
		queue = append(queue, c)
		// Claims of the fast path and the sweep may interleave: keep the queue in id order.
		slices.SortFunc(queue, func(a, b claimedEvent) int { return cmp.Compare(a.event.ID, b.event.ID) })
		d.queues[c.target] = queue
		d.mu.Unlock()
		if !delivering {
			d.workers.Go(func() { d.deliverQueue(c.target) })
		}
	}
}

// deliverQueue delivers target's events one at a time until its queue is empty.
func (d *deliveries) deliverQueue(target string) {
	select {
	case d.inFlight <- struct{}{}:
		defer func() { <-d.inFlight }()
	case <-d.ctx.Done():
		// Stopping: deliver releases every event without calling Temporal.
	}
	for {
		d.mu.Lock()
		queue := d.queues[target]
		if len(queue) == 0 {
			delete(d.queues, target)
			d.mu.Unlock()
			return
		}
		next := queue[0]
		d.queues[target] = queue[1:]
		d.mu.Unlock()
		outcome := d.r.deliver(d.ctx, next)
		d.r.observe(next.event, outcome)
		d.outcomes <- outcome
	}
}

// record writes outcomes in batches and frees the room their events held.
func (d *deliveries) record() {
	defer close(d.recorded)
	for first := range d.outcomes {
		batch := d.collect(first)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(d.ctx), recordTimeout)
		recorded, err := d.r.store.RecordOutcomes(ctx, batch)
		cancel()
		switch {
		case err != nil:
			d.r.log.Warn("relay: recording delivery outcomes failed; the events are due again when their leases end",
				"events", len(batch), "error", err)
		case recorded < len(batch):
			d.r.log.Info("relay: leases ran out before their outcomes were recorded; other claims decide",
				"events", len(batch)-recorded)
		}
		d.unreserve(len(batch))
	}
}

// collect returns first and the outcomes that arrive within recordWindow after it, up to a
// batch.
func (d *deliveries) collect(first store.Outcome) []store.Outcome {
	batch := []store.Outcome{first}
	window := time.NewTimer(recordWindow)
	defer window.Stop()
	for len(batch) < cap(d.outcomes) {
		select {
		case o, ok := <-d.outcomes:
			if !ok {
				return batch
			}
			batch = append(batch, o)
		case <-window.C:
			return batch
		}
	}
	return batch
}
