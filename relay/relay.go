// Package relay hands what Postgres holds to Temporal: stored webhook events become signals to the
// workflows their subjects route to, and screenings whose workflow could not be started are
// started. Postgres is the record; the relay retries until Temporal has it.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

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
	BatchSize       int
	SignalTimeout   time.Duration
	MaxBackoff      time.Duration
	// StartGrace is how old an unstarted screening must be before the sweep starts it, leaving
	// the HR API's own start attempt time to finish.
	StartGrace time.Duration
	// Timing goes into the input of the screening workflows the sweep starts.
	Timing workflows.Timing
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
	if c.SignalTimeout <= 0 {
		c.SignalTimeout = 5 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Minute
	}
	if c.StartGrace <= 0 {
		c.StartGrace = 10 * time.Second
	}
	return c
}

// Relay delivers stored events and starts pending screenings.
type Relay struct {
	store     *store.Store
	temporal  client.Client
	providers Providers
	cfg       Config
	log       *slog.Logger
	notify    chan int64
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
// ctx is done.
func (r *Relay) Run(ctx context.Context) {
	ticker := time.NewTicker(r.cfg.SweepInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-r.notify:
			if _, err := r.deliver(ctx, id, 1); err != nil && ctx.Err() == nil {
				r.log.Warn("relay: fast-path delivery failed; the sweep will retry", "event_row", id, "error", err)
			}
		case <-ticker.C:
			r.SweepOnce(ctx)
		}
	}
}

// SweepOnce delivers every due event and starts every screening left unstarted.
func (r *Relay) SweepOnce(ctx context.Context) {
	for {
		n, err := r.deliver(ctx, 0, r.cfg.BatchSize)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("relay: sweep failed", "error", err)
			}
			break
		}
		if n < r.cfg.BatchSize {
			break
		}
	}
	if err := r.startUnstarted(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("relay: starting pending screenings failed", "error", err)
	}
}

func (r *Relay) deliver(ctx context.Context, eventID int64, limit int) (int, error) {
	return r.store.ProcessDueEvents(ctx, eventID, limit, r.handle)
}

func (r *Relay) handle(ctx context.Context, e store.InboxEvent) store.Disposition {
	log := r.log.With("provider", e.Provider, "event_id", e.EventID, "event_type", e.EventType)
	sig, err := r.providers.Translate(e.Provider, e.Body)
	if errors.Is(err, registry.ErrUnknownProvider) {
		return store.Disposition{Status: store.InboxUnroutable, Error: "no translator for provider " + e.Provider}
	}
	if err != nil {
		// The receiver parsed this body before storing it, so this is a bug, not bad input: keep it.
		return store.Disposition{Status: store.InboxUnroutable, Error: "translate: " + err.Error()}
	}
	target := sig.WorkflowID
	if target == "" && e.WorkflowID != nil {
		target = *e.WorkflowID
	}
	if target == "" {
		if time.Since(e.ReceivedAt) > r.cfg.UnroutableAfter {
			log.Warn("relay: no route appeared for the event's subject; marked unroutable", "subject", e.Subject)
			return store.Disposition{Status: store.InboxUnroutable,
				Error: fmt.Sprintf("no route for subject %q after %s", e.Subject, r.cfg.UnroutableAfter)}
		}
		return store.Disposition{Status: store.InboxPending, RetryAt: r.retryAt(e.Attempts),
			Error: fmt.Sprintf("no route for subject %q yet", e.Subject)}
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.SignalTimeout)
	defer cancel()
	if sig.StartWorkflow != nil {
		_, err = r.temporal.SignalWithStartWorkflow(sctx, target, sig.Name, sig.Arg,
			client.StartWorkflowOptions{ID: target, TaskQueue: workflows.TaskQueue}, sig.StartWorkflow, sig.StartInput)
	} else {
		err = r.temporal.SignalWorkflow(sctx, target, "", sig.Name, sig.Arg)
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// The target is not running: it has closed (routes are written by running workflows), or an
		// account's workflow never started. The provider may start one to take the event.
		if workflowType, input, ok := r.providers.Revive(e.Provider, target, sig); ok {
			_, err = r.temporal.SignalWithStartWorkflow(sctx, target, sig.Name, sig.Arg,
				client.StartWorkflowOptions{ID: target, TaskQueue: workflows.TaskQueue}, workflowType, input)
		}
	}
	switch {
	case err == nil:
		return store.Disposition{Status: store.InboxDelivered}
	case errors.As(err, &notFound):
		log.Info("relay: the event's workflow has closed; discarded", "workflow_id", target)
		return store.Disposition{Status: store.InboxDiscarded, Error: "workflow closed: " + target}
	default:
		return store.Disposition{Status: store.InboxPending, RetryAt: r.retryAt(e.Attempts),
			Error: "signal: " + err.Error(), StopBatch: true}
	}
}

// retryAt backs off exponentially from one second up to MaxBackoff.
func (r *Relay) retryAt(attempts int) time.Time {
	backoff := r.cfg.MaxBackoff
	if attempts < 20 {
		backoff = min(time.Second<<attempts, r.cfg.MaxBackoff)
	}
	return time.Now().Add(backoff)
}

func (r *Relay) startUnstarted(ctx context.Context) error {
	pending, err := r.store.UnstartedScreenings(ctx, time.Now().Add(-r.cfg.StartGrace), r.cfg.BatchSize)
	if err != nil {
		return err
	}
	for _, scr := range pending {
		if err := r.StartScreening(ctx, scr); err != nil {
			return err
		}
	}
	return nil
}

// StartScreening starts a stored screening's workflow and records that it started.
func (r *Relay) StartScreening(ctx context.Context, scr store.Screening) error {
	checks, err := r.store.ScreeningChecks(ctx, scr.ID)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.SignalTimeout)
	defer cancel()
	in := workflows.NewScreeningInput(scr.ID, scr.TenantID, checks, r.cfg.Timing, r.providers.CheckWorkflow)
	if err := workflows.StartScreening(sctx, r.temporal, in); err != nil {
		return err
	}
	return r.store.MarkWorkflowStarted(ctx, scr.ID)
}
