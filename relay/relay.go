// Package relay hands what Postgres holds to Temporal: stored webhook events become signals to the
// workflows their subjects route to, and screenings whose workflow could not be started are
// started. Postgres is the record; the relay retries until Temporal has it.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// Providers is what the relay needs of the provider registry (registry.Registry).
type Providers interface {
	// Translate turns a stored webhook body into the signal its workflow expects; it wraps
	// registry.ErrUnknownProvider for a provider it does not know.
	Translate(provider string, body []byte) (registry.Signal, error)
	// CheckWorkflow names a provider's check workflow, for the screenings the sweep starts.
	CheckWorkflow(provider string) string
	// Revive names the workflow to start for a signal whose target is not running (see
	// registry.Reviver); ok false: the event is discarded.
	Revive(provider, workflowID string, sig registry.Signal) (workflowType string, input any, ok bool)
}

// Config tunes the relay. Zero values take the defaults.
type Config struct {
	// UnroutableAfter is how long an event may wait for a route before it is marked unroutable.
	// Routes are written right after a provider call returns, so real waits are seconds.
	UnroutableAfter time.Duration
	SweepInterval   time.Duration
	// BatchSize is the most events one claim leases; the relay holds at most heldBatches times as
	// many.
	BatchSize int
	// Concurrency is how many workflows the relay signals at once. Each workflow's events go one
	// at a time, in id order.
	Concurrency int
	// Lease is how long a claim keeps other relays off its events. The relay starts no signal that
	// could outlast its lease, so a lease shorter than twice SignalTimeout is raised to that.
	Lease         time.Duration
	SignalTimeout time.Duration
	MaxBackoff    time.Duration
	// StartGrace is how old an unstarted screening must be before the sweep starts it, leaving
	// the HR API's own start attempt time to finish.
	StartGrace time.Duration
	// Timing goes into the input of the screening workflows the sweep starts.
	Timing workflows.Timing
	// Observer, when set, is told what became of every event the relay claimed (metrics).
	Observer Observer
}

// Observer is told of each claimed event's outcome (see outcomeName) and, for every outcome, how
// long ago the event was stored (metrics.Relay is one).
type Observer interface {
	ObserveDelivery(provider, outcome string, sinceStored time.Duration)
}

// Outcomes of a claimed event, as an Observer is told them, besides the inbox statuses
// store.InboxDelivered (signalled, or noted in its check's record), store.InboxUnroutable and
// store.InboxDiscarded.
const (
	OutcomeRetried       = "retried"        // Temporal or Postgres failed; tried again after a backoff
	OutcomeAwaitingRoute = "awaiting_route" // its subject has no route yet; looked at again when one is written
	OutcomeReleased      = "released"       // not tried: the relay is stopping, its lease is short, or Temporal is down
)

// outcomeName names what became of a claimed event.
func outcomeName(o store.Outcome) string {
	switch {
	case o.Status != store.InboxPending:
		return o.Status
	case o.AwaitingRoute:
		return OutcomeAwaitingRoute
	case o.Attempted:
		return OutcomeRetried
	default:
		return OutcomeReleased
	}
}

// observe tells the Observer, if any, what became of e.
func (r *Relay) observe(e store.InboxEvent, o store.Outcome) {
	if r.cfg.Observer != nil {
		r.cfg.Observer.ObserveDelivery(e.Provider, outcomeName(o), time.Since(e.ReceivedAt))
	}
}

func (c Config) withDefaults() Config {
	if c.UnroutableAfter <= 0 {
		c.UnroutableAfter = time.Hour
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
	if c.SignalTimeout <= 0 {
		c.SignalTimeout = 5 * time.Second
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	c.Lease = max(c.Lease, 2*c.SignalTimeout)
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Minute
	}
	if c.StartGrace <= 0 {
		c.StartGrace = 10 * time.Second
	}
	return c
}

// Relay delivers stored events and starts pending screenings. Several relays (one per serve
// replica) may share a database: each event is leased to one of them at a time.
type Relay struct {
	store     *store.Store
	temporal  client.Client
	providers Providers
	cfg       Config
	log       *slog.Logger
	notify    chan int64
	outage    outage
}

// New builds a relay.
func New(st *store.Store, tc client.Client, providers Providers, cfg Config, log *slog.Logger) *Relay {
	return &Relay{store: st, temporal: tc, providers: providers, cfg: cfg.withDefaults(), log: log,
		notify: make(chan int64, 1024)}
}

// Notify asks for an event just stored to be delivered now. It never blocks the webhook: when the
// queue is full the sweep delivers the event a moment later.
func (r *Relay) Notify(eventID int64) {
	select {
	case r.notify <- eventID:
	default:
	}
}

// Run delivers notified events at once and sweeps for everything else every SweepInterval, until
// ctx is done. It then releases the events it holds for another relay to take at once; a signal
// cut short may reach its workflow twice, which the workflow ignores.
func (r *Relay) Run(ctx context.Context) {
	d := r.startDeliveries(ctx)
	defer d.stop()
	ticker := time.NewTicker(r.cfg.SweepInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-r.notify:
			d.claimNotified(r.drainNotified(id))
		case <-ticker.C:
			d.sweep()
			r.startUnstarted(ctx)
		}
	}
}

// SweepOnce delivers every due event, waits until their outcomes are recorded, and starts every
// screening left unstarted.
func (r *Relay) SweepOnce(ctx context.Context) {
	d := r.startDeliveries(ctx)
	d.sweep()
	d.stop()
	r.startUnstarted(ctx)
}

// drainNotified returns first and whatever else is queued, up to a batch.
func (r *Relay) drainNotified(first int64) []int64 {
	ids := []int64{first}
	for len(ids) < r.cfg.BatchSize {
		select {
		case id := <-r.notify:
			ids = append(ids, id)
		default:
			return ids
		}
	}
	return ids
}

// claimedEvent is a leased event on its way to the workflow it targets.
type claimedEvent struct {
	event  store.InboxEvent
	signal registry.Signal
	target string
	// leaseEnds is read on the relay's clock before the claim was made, so it is never later
	// than the lease Postgres holds.
	leaseEnds time.Time
}

// prepare decides what to do with a claimed event: deliver it to its target, or the outcome
// that needs no Temporal call.
func (r *Relay) prepare(e store.InboxEvent, leaseEnds time.Time) (claimedEvent, *store.Outcome) {
	log := r.log.With("provider", e.Provider, "event_id", e.EventID, "event_type", e.EventType, "inbox_event", e.ID)
	outcome := func(status, reason string) *store.Outcome {
		return &store.Outcome{ID: e.ID, LeaseID: e.LeaseID, Status: status, Attempted: true, Error: reason}
	}
	sig, err := r.providers.Translate(e.Provider, e.Body)
	if errors.Is(err, registry.ErrUnknownProvider) {
		return claimedEvent{}, outcome(store.InboxUnroutable, "no translator for provider "+e.Provider)
	}
	if err != nil {
		// The receiver parsed this body before storing it, so this is a bug, not bad input: keep it.
		return claimedEvent{}, outcome(store.InboxUnroutable, "translate: "+err.Error())
	}
	target := sig.WorkflowID
	if target == "" && e.WorkflowID != nil {
		target = *e.WorkflowID
	}
	if target == "" {
		if time.Since(e.ReceivedAt) > r.cfg.UnroutableAfter {
			log.Warn("relay: no route appeared for the event's subject; marked unroutable", "subject", e.Subject)
			return claimedEvent{}, outcome(store.InboxUnroutable,
				fmt.Sprintf("no route for subject %q after %s", e.Subject, r.cfg.UnroutableAfter))
		}
		// Writing the route makes the event due (store.AddRoute), however their transactions
		// interleave: until then, or until it is to be marked unroutable, looking at it again
		// would find the same. Each look would cost a claim and a write, for every such event.
		waiting := outcome(store.InboxPending, store.AwaitingRouteError(e.Subject))
		waiting.RetryAt, waiting.AwaitingRoute = e.ReceivedAt.Add(r.cfg.UnroutableAfter), true
		return claimedEvent{}, waiting
	}
	return claimedEvent{event: e, signal: sig, target: target, leaseEnds: leaseEnds}, nil
}

// deliver signals one event to its target and says what became of it. It makes no call that
// could outlast the event's lease, and none while Temporal is known to be down.
func (r *Relay) deliver(ctx context.Context, c claimedEvent) store.Outcome {
	e, sig, target := c.event, c.signal, c.target
	release := func(at time.Time) store.Outcome {
		return store.Outcome{ID: e.ID, LeaseID: e.LeaseID, Status: store.InboxPending, RetryAt: at}
	}
	if ctx.Err() != nil || time.Until(c.leaseEnds) < r.cfg.SignalTimeout {
		return release(time.Now())
	}
	check, isCheck := workflows.NewAmendmentInput(target, e.Provider)
	if sig.Informational && sig.Note != nil && isCheck {
		if noted, handled := r.noteInstead(ctx, c, check); handled {
			return noted
		}
	}
	if until, down := r.outage.pausedUntil(); down {
		return release(until)
	}
	log := r.log.With("provider", e.Provider, "event_id", e.EventID, "event_type", e.EventType, "inbox_event", e.ID,
		"workflow_id", target)
	if isCheck {
		log = log.With("screening_id", check.ScreeningID, "check_id", check.CheckID)
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.SignalTimeout)
	defer cancel()
	var err error
	if sig.StartWorkflow != nil {
		_, err = r.temporal.SignalWithStartWorkflow(sctx, target, sig.Name, sig.Arg,
			client.StartWorkflowOptions{ID: target, TaskQueue: workflows.TaskQueue}, sig.StartWorkflow, sig.StartInput)
	} else {
		err = r.temporal.SignalWorkflow(sctx, target, "", sig.Name, sig.Arg)
	}
	signalled := err == nil && sig.StartWorkflow == nil
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// The target is not running: it has closed (routes are written by running workflows), or an
		// account's workflow never started. The provider may start one to take the event.
		if workflowType, input, ok := r.providers.Revive(e.Provider, target, sig); ok {
			_, err = r.temporal.SignalWithStartWorkflow(sctx, target, sig.Name, sig.Arg,
				client.StartWorkflowOptions{ID: target, TaskQueue: workflows.TaskQueue,
					StaticSummary:         e.Provider + " events after the check finished (" + workflowType + ")",
					TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SearchAttrProvider.ValueSet([]string{e.Provider})),
				}, workflowType, input)
		}
	}
	outcome := store.Outcome{ID: e.ID, LeaseID: e.LeaseID, Attempted: true}
	switch {
	case err == nil:
		r.outage.over()
		log.Debug("relay: event delivered")
		outcome.Status, outcome.DeliveredAt = store.InboxDelivered, time.Now()
		// Only the check's own workflow leaves its events to the relay to record: an amendment
		// workflow, started now, records each with what it made of it.
		if signalled && isCheck {
			outcome.Note = checkNote(sig.Note, check)
		}
	case errors.As(err, &notFound):
		r.outage.over()
		log.Info("relay: the event's workflow has closed; discarded")
		outcome.Status, outcome.Error = store.InboxDiscarded, "workflow closed: "+target
	case ctx.Err() != nil:
		return release(time.Now())
	default:
		if !refusedThisEvent(err) {
			until := r.outage.begin(r.cfg.MaxBackoff)
			log.Warn("relay: Temporal did not take a signal; pausing deliveries", "until", until, "error", err)
		}
		outcome.Status, outcome.Error, outcome.RetryAt = store.InboxPending, "signal: "+err.Error(), r.retryAt(e.Attempts)
	}
	return outcome
}

// noteInstead records an informational event in its check's record rather than signalling it, when
// that is all its check's workflow would do with it (store.NoteSuffices): handled is false when the
// event is to be signalled after all.
func (r *Relay) noteInstead(ctx context.Context, c claimedEvent, check workflows.AmendmentInput) (outcome store.Outcome, handled bool) {
	e := c.event
	outcome = store.Outcome{ID: e.ID, LeaseID: e.LeaseID, Attempted: true}
	suffices, err := r.store.NoteSuffices(ctx, check.CheckID, e, c.signal.PromptAfter)
	switch {
	case ctx.Err() != nil:
		return store.Outcome{ID: e.ID, LeaseID: e.LeaseID, Status: store.InboxPending, RetryAt: time.Now()}, true
	case err != nil:
		outcome.Status, outcome.Error, outcome.RetryAt = store.InboxPending, err.Error(), r.retryAt(e.Attempts)
		return outcome, true
	case !suffices:
		return store.Outcome{}, false
	}
	outcome.Status, outcome.Note, outcome.DeliveredAt = store.InboxDelivered, checkNote(c.signal.Note, check), time.Now()
	return outcome, true
}

// checkNote is a provider's note of an event placed in the check it is about; nil without one.
func checkNote(note *store.EventNote, check workflows.AmendmentInput) *store.EventNote {
	if note == nil {
		return nil
	}
	placed := *note
	placed.ScreeningID, placed.CheckID = check.ScreeningID, check.CheckID
	return &placed
}

// refusedThisEvent tells an error about this one signal (a payload Temporal will not take, a
// workflow id taken by another type) from Temporal being unreachable or overloaded, which every
// other signal would meet too.
func refusedThisEvent(err error) bool {
	var invalid *serviceerror.InvalidArgument
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &invalid) || errors.As(err, &started)
}

// retryAt backs off exponentially from one second up to MaxBackoff.
func (r *Relay) retryAt(attempts int) time.Time {
	return time.Now().Add(backoff(attempts, r.cfg.MaxBackoff))
}

// backoff is one second doubled for each earlier failure, at most limit.
func backoff(failures int, limit time.Duration) time.Duration {
	if failures >= 20 {
		return limit
	}
	return min(time.Second<<failures, limit)
}

// outage remembers that Temporal is not taking signals, so that the relay waits for it instead
// of trying every event: a failure pauses every delivery of this relay, for twice as long after
// each pause that ended in another failure, up to MaxBackoff.
type outage struct {
	mu       sync.Mutex
	failures int
	until    time.Time
}

func (o *outage) pausedUntil() (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.until, time.Now().Before(o.until)
}

// begin pauses deliveries after a failure. Failures of the calls that were already in flight
// when the pause began do not lengthen it.
func (o *outage) begin(maxBackoff time.Duration) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	if time.Now().Before(o.until) {
		return o.until
	}
	o.until = time.Now().Add(backoff(o.failures, maxBackoff))
	o.failures++
	return o.until
}

func (o *outage) over() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failures = 0
}

// startUnstarted starts the screenings whose start failed, unless Temporal is known to be down.
func (r *Relay) startUnstarted(ctx context.Context) {
	if _, down := r.outage.pausedUntil(); down {
		return
	}
	pending, err := r.store.UnstartedScreenings(ctx, time.Now().Add(-r.cfg.StartGrace), r.cfg.BatchSize)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("relay: reading the screenings to start failed", "error", err)
		}
		return
	}
	for _, scr := range pending {
		if err := r.StartScreening(ctx, scr); err != nil {
			if ctx.Err() == nil {
				r.log.Warn("relay: starting a pending screening failed", "screening_id", scr.ID,
					"workflow_id", workflows.ScreeningWorkflowID(scr.ID), "error", err)
			}
			return
		}
	}
}

// StartScreening starts a stored screening's workflow and records that it started.
func (r *Relay) StartScreening(ctx context.Context, scr store.Screening) error {
	checks, err := r.store.ScreeningChecks(ctx, scr.ID)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.SignalTimeout)
	defer cancel()
	in := workflows.NewScreeningInput(scr, checks, r.cfg.Timing, r.providers.CheckWorkflow)
	if err := workflows.StartScreening(sctx, r.temporal, in); err != nil {
		return err
	}
	return r.store.MarkWorkflowStarted(ctx, scr.ID)
}
