package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/workflows"
)

// bench runs the phases against one stack.
type bench struct {
	cfg   config
	s     *stack
	out   io.Writer
	runID string // makes every reference, idempotency key and event id of the run unique
}

// The one-check screenings whose histories the bench counts: every provider, and every mode of a
// provider that takes in a different sequence of events.
var historyProviders = []struct {
	name  string
	check map[string]any
}{
	{"complycube", complyCubeCheck},
	{"authenticate", map[string]any{"provider": "authenticate", "type": "criminal"}},
	{"authenticate-options", map[string]any{"provider": "authenticate", "type": "criminal",
		"options": map[string]any{"sex_offender": true, "pdf_report": true}}},
	{"checkr-report", map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "report"}},
	{"checkr-invitation", map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "invitation"}},
}

var complyCubeCheck = map[string]any{"provider": "complycube", "type": "standard_screening_check"}

// measure runs every phase in an order that keeps each one's leftovers out of the next: the
// ingest's webhooks, about checks nobody ordered, stay pending in the inbox, so ingest goes last.
func measure(ctx context.Context, cfg config, s *stack, out io.Writer) (*Report, error) {
	b := &bench{cfg: cfg, s: s, out: out, runID: randomHex(4)}
	rep := &Report{StartedAt: time.Now().UTC(), Source: s.source, CPUs: runtime.NumCPU(), Sizes: Sizes{
		IngestSeconds: cfg.ingestDuration.Seconds(), IngestClients: cfg.ingestClients, AckSeconds: cfg.ackDuration.Seconds(),
		DeliveryN: cfg.deliveryN, Signalers: cfg.signalers, LatencyN: cfg.latencyN, OpenN: cfg.openN, OpenChunk: cfg.openChunk,
		Creators: cfg.creators, ReadRatePerSec: cfg.readRate, ReadSeconds: cfg.readDuration.Seconds(),
		ExternalStack: cfg.external(),
	}, Stages: cfg.stages.names()}
	phases := []struct {
		name   string
		chosen bool
		run    func(context.Context, *Report) error
	}{
		{"history events of a one-check screening per provider", cfg.stages[stageHistory], b.measureHistory},
		{"relay delivery against the bare SDK, then webhook-to-state latency", cfg.stages[stageDelivery], b.measureDelivery},
		{fmt.Sprintf("%d open screenings", cfg.openN), cfg.stages[stageOpen], b.measureOpen},
		{"screening creation against the bare SDK start", cfg.stages[stageCreation] && !cfg.stages[stageOpen], b.measureCreation},
		{"ingest against the raw insert, then ack latency", cfg.stages[stageIngest], b.measureIngest},
	}
	for _, p := range phases {
		if !p.chosen {
			continue
		}
		started := time.Now()
		b.logf("== %s", p.name)
		if err := p.run(ctx, rep); err != nil {
			return rep, fmt.Errorf("%s: %w", p.name, err)
		}
		b.logf("   done in %s", time.Since(started).Round(time.Millisecond))
	}
	rep.FinishedAt = time.Now().UTC()
	return rep, nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.out, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// measureHistory completes one screening with one check of each provider and counts the events
// in the histories of its workflow and its children.
func (b *bench) measureHistory(ctx context.Context, rep *Report) error {
	var all []screening
	for _, p := range historyProviders {
		created, _, err := b.createScreenings(ctx, 1, p.check, "history-"+p.name, 1)
		if err != nil {
			return err
		}
		all = append(all, created...)
	}
	// Authenticate and Checkr reports finish by themselves; ComplyCube's completion is held for
	// the bench, and the fake Checkr candidate never completes an invitation by itself.
	for i, p := range historyProviders {
		switch {
		case p.check["provider"] == complycube.Name:
			if err := b.completeComplyCube(ctx, all[i:i+1]); err != nil {
				return err
			}
		case p.check["mode"] == "invitation":
			if err := b.completeCheckrInvitation(ctx, all[i]); err != nil {
				return err
			}
		}
	}
	if _, err := b.waitCompleted(ctx, all); err != nil {
		return err
	}
	for i, p := range historyProviders {
		fig, err := b.history(ctx, workflows.ScreeningWorkflowID(all[i].ID))
		if err != nil {
			return err
		}
		fig.Provider = p.name
		rep.History = append(rep.History, fig)
		b.logf("   %s: %d history events in %d workflows", p.name, fig.Events, fig.Workflows)
	}
	return nil
}

// completeComplyCube completes waiting ComplyCube screenings and sends their completions.
func (b *bench) completeComplyCube(ctx context.Context, screenings []screening) error {
	if err := b.waitWaiting(ctx, screenings); err != nil {
		return err
	}
	if err := b.s.fakes.completeChecks(ctx, providerCheckIDs(screenings), b.cfg.waitTimeout); err != nil {
		return err
	}
	webhooks := b.s.fakes.holder.take(providerCheckIDs(screenings))
	return summarize(attack(ctx, targetsOnce(b.webhookTargets(webhooks)), unpaced, 0, closedLoop(1)...), http.StatusOK).
		err("completion webhooks")
}

// completeCheckrInvitation waits until the screening's Checkr check has sent its invitation, as
// the check's status query tells, and has the fake candidate complete it.
func (b *bench) completeCheckrInvitation(ctx context.Context, s screening) error {
	workflowID := workflows.CheckWorkflowID(s.ID, checkr.Name, s.CheckID)
	var status workflows.CheckrCheckStatus
	err := waitUntil(ctx, time.Minute, "the Checkr invitation sent", func() (bool, string, error) {
		res, err := b.s.tc.QueryWorkflow(ctx, workflowID, "", workflows.QueryStatus)
		if err != nil {
			return false, err.Error(), nil
		}
		if err := res.Get(&status); err != nil {
			return false, "", err
		}
		return status.InvitationID != "", "no invitation yet", nil
	})
	if err != nil {
		return err
	}
	return b.s.fakes.checkr.CompleteInvitation(status.InvitationID)
}

// history counts the events of a closed workflow and of every child it started, recursively. A
// child is read by its run: an event that comes after a check's workflow closed starts an
// amendment workflow under the same id, whose history is not the check's.
func (b *bench) history(ctx context.Context, workflowID string) (HistoryFigure, error) {
	var fig HistoryFigure
	type run struct{ workflowID, runID string }
	pending := []run{{workflowID: workflowID}}
	for len(pending) > 0 {
		r := pending[0]
		pending = pending[1:]
		if err := b.waitClosed(ctx, r.workflowID, r.runID); err != nil {
			return fig, err
		}
		events := 0
		iter := b.s.tc.GetWorkflowHistory(ctx, r.workflowID, r.runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return fig, fmt.Errorf("history of %s: %w", r.workflowID, err)
			}
			events++
			if a := ev.GetChildWorkflowExecutionStartedEventAttributes(); a != nil {
				pending = append(pending, run{a.GetWorkflowExecution().GetWorkflowId(), a.GetWorkflowExecution().GetRunId()})
			}
		}
		if r.workflowID == workflowID {
			fig.ParentEvents = events
		}
		fig.Events += events
		fig.Workflows++
	}
	return fig, nil
}

func (b *bench) waitClosed(ctx context.Context, workflowID, runID string) error {
	return waitUntil(ctx, time.Minute, "workflow "+workflowID+" closed", func() (bool, string, error) {
		desc, err := b.s.tc.DescribeWorkflowExecution(ctx, workflowID, runID)
		if err != nil {
			return false, "", err
		}
		status := desc.GetWorkflowExecutionInfo().GetStatus()
		return status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING, status.String(), nil
	})
}

// measureDelivery measures the bare SDK's signal rate on idle workflows, then the relay's delivery
// of deliveryN screenings' completions sent at once, then how fast the worker completes those
// screenings, then the webhook-to-state latency of latencyN more, their completions sent open loop
// at half that completion rate.
//
// The bench's own worker is paused (SIGSTOP) while the relay delivers, as no worker polls the
// baseline's workflows: both rates are then those of the signal path alone, not shared with the
// work the signals set off, which on one box takes the same CPUs. It is resumed to complete them.
func (b *bench) measureDelivery(ctx context.Context, rep *Report) error {
	n, m := b.cfg.deliveryN, b.cfg.latencyN
	if !b.cfg.stages[stageLatency] {
		m = 0
	}
	backlogN := 0
	if b.s.encryptionKey != "" {
		backlogN = n
	}
	created, _, err := b.createScreenings(ctx, n+backlogN+m, complyCubeCheck, "delivery", b.cfg.creators)
	if err != nil {
		return err
	}
	if err := b.waitWaiting(ctx, created); err != nil {
		return err
	}
	if err := b.s.fakes.completeChecks(ctx, providerCheckIDs(created), b.cfg.waitTimeout); err != nil {
		return err
	}
	atOnce, backlog, halfRate := created[:n], created[n:n+backlogN], created[n+backlogN:]
	webhooks := b.s.fakes.holder.take(providerCheckIDs(atOnce))

	fig := &DeliveryFigures{Screenings: n, Webhooks: len(webhooks)}
	rep.Delivery = fig
	before, err := b.sdkBaseline(ctx, "delivery-before", n, len(webhooks), webhooks[0].Body)
	if err != nil {
		return err
	}
	fig.SDKStartsPerSec = before.startsPerSec
	b.logf("   bare SDK: %.0f starts/s, %.0f signals/s", before.startsPerSec, before.signalsPerSec)

	resume, err := b.s.pauseWorker()
	if err != nil {
		return err
	}
	defer resume()
	fig.WorkerPaused = b.s.worker != nil
	b.quiet(ctx, "the webhooks sent at once")
	sent := summarize(attack(ctx, targetsOnce(b.webhookTargets(webhooks)), unpaced, 0, closedLoop(b.cfg.signalers)...), http.StatusOK)
	if err := sent.err("completion webhooks"); err != nil {
		return err
	}
	delivered, err := b.waitDelivered(ctx, webhooks)
	if err != nil {
		return err
	}
	var lastDelivered time.Time
	var inboxToSignal []time.Duration
	for _, d := range delivered {
		if d.Status != "delivered" {
			continue
		}
		fig.Delivered++
		lastDelivered = maxTime(lastDelivered, *d.DeliveredAt)
		inboxToSignal = append(inboxToSignal, d.DeliveredAt.Sub(d.ReceivedAt))
	}
	slices.Sort(inboxToSignal)
	fig.InboxToSignalP50, fig.InboxToSignalP99 = percentileMs(inboxToSignal, 50), percentileMs(inboxToSignal, 99)
	if span := lastDelivered.Sub(sent.first).Seconds(); span > 0 {
		fig.RelayPerSec = float64(fig.Delivered) / span
	}
	b.logf("   relay: %d of %d delivered, %.0f/s", fig.Delivered, fig.Webhooks, fig.RelayPerSec)
	if len(backlog) > 0 {
		if err := b.measureBacklog(ctx, fig, b.s.fakes.holder.take(providerCheckIDs(backlog))); err != nil {
			return err
		}
		b.logf("   relay from a stored backlog: %d delivered, %.0f/s", fig.BacklogDelivered, fig.BacklogPerSec)
	}
	// The bare SDK's rate moves from one minute to the next on a shared box: measured again after
	// the relay, with the worker still paused, the baseline is the mean of both. On a running
	// stack, whose worker now completes the screenings, it is measured before only.
	after := before
	if fig.WorkerPaused {
		if after, err = b.sdkBaseline(ctx, "delivery-after", n, len(webhooks), webhooks[0].Body); err != nil {
			return err
		}
		b.logf("   bare SDK again: %.0f signals/s", after.signalsPerSec)
	}
	fig.SDKSignalsBeforePerSec, fig.SDKSignalsAfterPerSec = before.signalsPerSec, after.signalsPerSec
	fig.SDKSignalsPerSec = (before.signalsPerSec + after.signalsPerSec) / 2
	fig.SDKSignalsDrainPerSec = (before.drainPerSec + after.drainPerSec) / 2
	fig.Ratio = ratio(fig.RelayPerSec, fig.SDKSignalsPerSec)
	fig.BacklogRatio = ratio(fig.BacklogPerSec, fig.SDKSignalsDrainPerSec)

	// With the worker paused, the screenings' work starts when it resumes; otherwise it started
	// with the first webhook.
	workFrom := sent.first
	if fig.WorkerPaused {
		workFrom = time.Now()
	}
	resume()
	signalled := created[:n+backlogN]
	if _, err := b.waitCompleted(ctx, signalled); err != nil {
		return err
	}
	// The rate is that of screening workflows closed, not of completed_at: a screening's status is
	// settled by its last check's write, and its workflow's remaining tasks still load the stack.
	closedAt, err := b.waitScreeningsClosed(ctx, signalled)
	if err != nil {
		return err
	}
	var last time.Time
	for _, t := range closedAt {
		last = maxTime(last, t)
	}
	if span := last.Sub(workFrom).Seconds(); span > 0 {
		fig.CompletionsPerSec = float64(len(closedAt)) / span
	}
	b.logf("   worker: %d screenings completed and their workflows closed at %.1f/s", len(closedAt), fig.CompletionsPerSec)
	if !b.cfg.stages[stageLatency] {
		return nil
	}
	return b.measureStateLatency(ctx, rep, halfRate)
}

// sdkRates is one measurement of the bare SDK: its workflow starts, and its signals from start to
// end and from the first answered to the last (drainRate).
type sdkRates struct{ startsPerSec, signalsPerSec, drainPerSec float64 }

// sdkBaseline starts one idle workflow per delivered screening, lets a worker of the bench's own
// run each one's first task, as the screenings' first tasks ran, and stops it; it then signals them
// as many times as the relay will, and terminates them. Signalled, such a workflow needs a new
// workflow task scheduled, as a waiting screening's check does; one whose first task never ran has
// it pending already, and a signal to it costs the server less than the relay's signals do.
func (b *bench) sdkBaseline(ctx context.Context, label string, workflows, signals int, payload []byte) (sdkRates, error) {
	idle, startsPerSec, err := b.startIdleWorkflows(ctx, label, workflows)
	if err != nil {
		return sdkRates{}, err
	}
	b.quiet(ctx, "the bare SDK's signals")
	done := make([]time.Time, signals)
	start := time.Now()
	took, err := parallel(ctx, signals, b.cfg.signalers, func(ctx context.Context, i int) error {
		err := b.s.tc.SignalWorkflow(ctx, idle[i%len(idle)], "", "loadbench-event", payload)
		done[i] = time.Now()
		return err
	})
	if err != nil {
		return sdkRates{}, fmt.Errorf("signal idle workflows: %w", err)
	}
	rates := sdkRates{startsPerSec: startsPerSec, signalsPerSec: float64(signals) / took.Seconds(), drainPerSec: drainRate(start, done)}
	return rates, b.terminateIdleWorkflows(ctx, idle)
}

// startIdleWorkflows starts n idle workflows from as many goroutines as the API has creators,
// lets a worker of the bench's own run each one's first task and stops it, and returns their
// IDs and how many were started per second.
func (b *bench) startIdleWorkflows(ctx context.Context, label string, n int) ([]string, float64, error) {
	idle := make([]string, n)
	for i := range idle {
		idle[i] = fmt.Sprintf("loadbench-idle/%s/%s/%d", b.runID, label, i)
	}
	w := worker.New(b.s.tc, idleTaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(idleWorkflow, workflow.RegisterOptions{Name: idleWorkflowType})
	if err := w.Start(); err != nil {
		return nil, 0, fmt.Errorf("start the idle workflows' worker: %w", err)
	}
	var startsPerSec float64
	took, err := parallel(ctx, len(idle), b.cfg.creators, func(ctx context.Context, i int) error {
		_, err := b.s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: idle[i], TaskQueue: idleTaskQueue,
			WorkflowExecutionTimeout: time.Hour}, idleWorkflowType)
		return err
	})
	if err == nil {
		startsPerSec = float64(len(idle)) / took.Seconds()
		err = b.waitFirstTasksDone(ctx, idle)
	}
	w.Stop()
	if err != nil {
		return nil, 0, fmt.Errorf("idle workflows: %w", err)
	}
	return idle, startsPerSec, nil
}

func (b *bench) terminateIdleWorkflows(ctx context.Context, idle []string) error {
	_, err := parallel(ctx, len(idle), b.cfg.signalers, func(ctx context.Context, i int) error {
		return b.s.tc.TerminateWorkflow(ctx, idle[i], "", "loadbench baseline measured")
	})
	return err
}

// creationBaseline is the bare SDK start rate of n idle workflows, for a run whose delivery stage
// did not measure it.
func (b *bench) creationBaseline(ctx context.Context, n int) (float64, error) {
	idle, startsPerSec, err := b.startIdleWorkflows(ctx, "creation", n)
	if err != nil {
		return 0, err
	}
	return startsPerSec, b.terminateIdleWorkflows(ctx, idle)
}

// measureCreation, when the open screenings are not measured, creates one chunk of screenings as
// the open stage's first chunk is created, beside the bare SDK start baseline (the delivery
// stage's when it ran, else one of its own), and then completes them, so that nothing is left
// waiting for the next stage.
func (b *bench) measureCreation(ctx context.Context, rep *Report) error {
	n := min(b.cfg.openChunk, b.cfg.openN)
	fig := &OpenScreeningFigures{Screenings: n}
	rep.Open = fig
	if rep.Delivery != nil {
		fig.CreationBaselinePerSec = rep.Delivery.SDKStartsPerSec
	} else {
		baseline, err := b.creationBaseline(ctx, n)
		if err != nil {
			return err
		}
		fig.CreationBaselinePerSec = baseline
	}
	created, rate, err := b.createScreenings(ctx, n, complyCubeCheck, "creation", b.cfg.creators)
	if err != nil {
		return err
	}
	fig.CreationPerSec = rate
	fig.CreationRatio = ratio(rate, fig.CreationBaselinePerSec)
	b.logf("   created %d at %.0f/s (%.2f× the bare SDK start, %.0f/s)", n, rate, fig.CreationRatio, fig.CreationBaselinePerSec)
	if err := b.waitWaiting(ctx, created); err != nil {
		return err
	}
	if err := b.s.fakes.completeChecks(ctx, providerCheckIDs(created), b.cfg.waitTimeout); err != nil {
		return err
	}
	webhooks := b.s.fakes.holder.take(providerCheckIDs(created))
	sent := summarize(attack(ctx, targetsOnce(b.webhookTargets(webhooks)), unpaced, 0, closedLoop(b.cfg.ingestClients)...), http.StatusOK)
	if err := sent.err("completion webhooks"); err != nil {
		return err
	}
	_, err = b.waitCompleted(ctx, created)
	return err
}

const idleTaskQueue, idleWorkflowType = "loadbench-idle", "loadbench.Idle"

// idleWorkflow waits, as a check waits for its provider, until it is terminated.
func idleWorkflow(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return false })
}

// waitFirstTasksDone waits until no idle workflow has a workflow task pending.
func (b *bench) waitFirstTasksDone(ctx context.Context, ids []string) error {
	return waitUntil(ctx, time.Minute, "the idle workflows' first tasks done", func() (bool, string, error) {
		var pending atomic.Int64
		_, err := parallel(ctx, len(ids), b.cfg.creators, func(ctx context.Context, i int) error {
			desc, err := b.s.tc.DescribeWorkflowExecution(ctx, ids[i], "")
			if err == nil && desc.GetPendingWorkflowTask() != nil {
				pending.Add(1)
			}
			return err
		})
		if err != nil {
			return false, "", err
		}
		return pending.Load() == 0, fmt.Sprintf("%d with a task pending", pending.Load()), nil
	})
}

// measureBacklog measures the relay alone, on events already stored: the backlog screenings'
// completion webhooks are written to the inbox as the receiver writes them (sealed, with serve's
// key) while serve, and with it the relay, is stopped (SIGSTOP); the rate runs from serve's
// resumption to the last delivery. The webhooks sent at once also measure their own ingest on the
// same CPUs, which the bare SDK's signals do not pay for.
func (b *bench) measureBacklog(ctx context.Context, fig *DeliveryFigures, webhooks []heldWebhook) error {
	key, err := vault.ParseKey(b.s.encryptionKey)
	if err != nil {
		return err
	}
	keyring, err := vault.New(key)
	if err != nil {
		return err
	}
	inbox := store.NewSealed(b.s.db, keyring)
	resumeServe, err := b.s.pauseServe()
	if err != nil {
		return err
	}
	defer resumeServe()
	for _, w := range webhooks {
		ev, err := complycube.ParseEvent(w.Body)
		if err != nil {
			return fmt.Errorf("held webhook %s: %w", w.EventID, err)
		}
		if _, _, err := inbox.InsertWebhookEvent(ctx, store.NewInboxEvent{Provider: complycube.Name, EventID: ev.ID,
			EventType: ev.Type, Subject: ev.Subject(), Headers: map[string]string{"Content-Type": "application/json"},
			Body: w.Body}); err != nil {
			return err
		}
	}
	b.quiet(ctx, "the stored backlog's delivery")
	from := time.Now()
	resumeServe()
	delivered, err := b.waitDelivered(ctx, webhooks)
	if err != nil {
		return err
	}
	var deliveredAt []time.Time
	for _, d := range delivered {
		if d.Status == "delivered" {
			deliveredAt = append(deliveredAt, *d.DeliveredAt)
		}
	}
	fig.BacklogDelivered = len(deliveredAt)
	fig.BacklogFirstMs = float64(slices.MinFunc(deliveredAt, time.Time.Compare).Sub(from).Microseconds()) / 1000
	fig.BacklogPerSec = drainRate(from, deliveredAt)
	return nil
}

// drainRate is how many completions came after the first, per second from the first to the last:
// the pace once work flows, without the wait before it (a sweep's tick, a connection's first
// call). Completions at the first one's very time count with it, not in the pace. When all of
// them share that time, as in a run too small to have a pace, it is their number per second
// since start.
func drainRate(start time.Time, done []time.Time) float64 {
	if len(done) == 0 {
		return 0
	}
	first, last := slices.MinFunc(done, time.Time.Compare), slices.MaxFunc(done, time.Time.Compare)
	if !last.After(first) {
		return float64(len(done)) / first.Sub(start).Seconds()
	}
	after := 0
	for _, t := range done {
		if t.After(first) {
			after++
		}
	}
	return float64(after) / last.Sub(first).Seconds()
}

// waitScreeningsClosed waits until the screenings' workflows have closed and returns when each closed.
func (b *bench) waitScreeningsClosed(ctx context.Context, screenings []screening) ([]time.Time, error) {
	closedAt := make([]time.Time, len(screenings))
	err := waitUntilEvery(ctx, b.cfg.waitTimeout, pollEvery(len(screenings)), "screening workflows closed", func() (bool, string, error) {
		var open atomic.Int64
		_, err := parallel(ctx, len(screenings), b.cfg.creators, func(ctx context.Context, i int) error {
			if !closedAt[i].IsZero() {
				return nil
			}
			desc, err := b.s.tc.DescribeWorkflowExecution(ctx, workflows.ScreeningWorkflowID(screenings[i].ID), "")
			if err != nil {
				return err
			}
			if closed := desc.GetWorkflowExecutionInfo().GetCloseTime(); closed != nil {
				closedAt[i] = closed.AsTime()
			} else {
				open.Add(1)
			}
			return nil
		})
		if err != nil {
			return false, "", err
		}
		return open.Load() == 0, fmt.Sprintf("%d still open", open.Load()), nil
	})
	return closedAt, err
}

type inboxRow struct {
	EventID     string     `db:"event_id"`
	Status      string     `db:"status"`
	ReceivedAt  time.Time  `db:"received_at"`
	DeliveredAt *time.Time `db:"delivered_at"`
}

// waitDelivered waits until none of the webhooks is pending in the inbox any more.
func (b *bench) waitDelivered(ctx context.Context, webhooks []heldWebhook) ([]inboxRow, error) {
	eventIDs := make([]string, len(webhooks))
	for i, w := range webhooks {
		eventIDs[i] = w.EventID
	}
	var rows []inboxRow
	err := waitUntil(ctx, b.cfg.waitTimeout, "completion webhooks relayed", func() (bool, string, error) {
		rows = rows[:0]
		err := b.s.db.SelectContext(ctx, &rows, `SELECT event_id, status, received_at, delivered_at FROM webhook_events
			WHERE provider = $1 AND event_id = ANY($2)`, complycube.Name, pq.Array(eventIDs))
		if err != nil {
			return false, "", err
		}
		pending := len(eventIDs) - len(rows)
		for _, r := range rows {
			if r.Status == "pending" {
				pending++
			}
		}
		return pending == 0, fmt.Sprintf("%d of %d not relayed yet", pending, len(eventIDs)), nil
	})
	return rows, err
}

// measureStateLatency sends the screenings' completions open loop at half the rate the stack
// completes screenings (half its capacity for the state measured) and measures, per screening,
// from the acknowledgement of its first completion webhook to the moment its status became
// completed (screenings.completed_at).
func (b *bench) measureStateLatency(ctx context.Context, rep *Report, screenings []screening) error {
	screeningsPerSec := rep.Delivery.CompletionsPerSec / 2
	rate := max(int(math.Round(screeningsPerSec*completionsPerCheck)), 1)
	fig := &StateLatencyFigures{Screenings: len(screenings), ScreeningsPerSecond: screeningsPerSec, WebhooksPerSecond: rate}
	rep.State = fig
	webhooks := b.s.fakes.holder.take(providerCheckIDs(screenings))
	b.quiet(ctx, "the completions sent open loop")
	results := attack(ctx, targetsOnce(b.webhookTargets(webhooks)), perSecond(rate), 0)
	if err := summarize(results, http.StatusOK).err("completion webhooks"); err != nil {
		return err
	}
	firstAck := map[string]time.Time{}
	for _, r := range results {
		check := checkOf(r)
		if t, ok := firstAck[check]; !ok || r.End().Before(t) {
			firstAck[check] = r.End()
		}
	}
	completedAt, err := b.waitCompleted(ctx, screenings)
	if err != nil {
		return err
	}
	stages, err := b.completionStages(ctx, screenings, webhooks)
	if err != nil {
		return err
	}
	var toSignal, toCheck, toScreening []time.Duration
	for _, s := range screenings {
		ack, st := firstAck[s.ProviderCheckID], stages[s.ProviderCheckID]
		toSignal = append(toSignal, st.signalled.Sub(ack))
		toCheck = append(toCheck, st.checkCompleted.Sub(ack))
		toScreening = append(toScreening, completedAt[s.ID].Sub(ack))
	}
	for _, d := range [][]time.Duration{toSignal, toCheck, toScreening} {
		slices.Sort(d)
	}
	fig.SignalP50Ms, fig.SignalP99Ms = percentileMs(toSignal, 50), percentileMs(toSignal, 99)
	fig.CheckP50Ms, fig.CheckP99Ms = percentileMs(toCheck, 50), percentileMs(toCheck, 99)
	fig.P50Ms, fig.P99Ms, fig.MaxMs = percentileMs(toScreening, 50), percentileMs(toScreening, 99), percentileMs(toScreening, 100)
	b.logf("   webhook to completed at %.1f screenings/s: p50 %s, p99 %s (signalled p50 %s, check completed p50 %s)",
		screeningsPerSec, ms(fig.P50Ms), ms(fig.P99Ms), ms(fig.SignalP50Ms), ms(fig.CheckP50Ms))
	// A screening is completed before its workflows have closed: the stages after this one are
	// measured once that work is done, not beside it.
	_, err = b.waitScreeningsClosed(ctx, screenings)
	return err
}

// completionStage is when a check's first completion webhook was signalled to its workflow, and
// when the check's status became completed, as Postgres recorded them.
type completionStage struct {
	signalled      time.Time
	checkCompleted time.Time
}

// completionStages reads, per provider check id, the stages of the screenings whose completion
// webhooks were sent.
func (b *bench) completionStages(ctx context.Context, screenings []screening, webhooks []heldWebhook) (map[string]completionStage, error) {
	checkOfEvent := make(map[string]string, len(webhooks))
	eventIDs := make([]string, len(webhooks))
	for i, w := range webhooks {
		checkOfEvent[w.EventID], eventIDs[i] = w.CheckID, w.EventID
	}
	delivered, err := b.waitDelivered(ctx, webhooks)
	if err != nil {
		return nil, err
	}
	stages := make(map[string]completionStage, len(screenings))
	for _, d := range delivered {
		if d.DeliveredAt == nil {
			continue
		}
		check := checkOfEvent[d.EventID]
		if st, seen := stages[check]; !seen || d.DeliveredAt.Before(st.signalled) {
			stages[check] = completionStage{signalled: *d.DeliveredAt}
		}
	}
	checkIDs := make([]string, len(screenings))
	providerCheck := make(map[string]string, len(screenings))
	for i, s := range screenings {
		checkIDs[i], providerCheck[s.CheckID] = s.CheckID, s.ProviderCheckID
	}
	var rows []struct {
		ID          string    `db:"id"`
		CompletedAt time.Time `db:"completed_at"`
	}
	if err := b.s.db.SelectContext(ctx, &rows, `SELECT id::text AS id, completed_at FROM checks
		WHERE id = ANY($1::uuid[]) AND completed_at IS NOT NULL`, pq.Array(checkIDs)); err != nil {
		return nil, fmt.Errorf("read when the checks completed: %w", err)
	}
	for _, r := range rows {
		st := stages[providerCheck[r.ID]]
		st.checkCompleted = r.CompletedAt
		stages[providerCheck[r.ID]] = st
	}
	for _, s := range screenings {
		if st := stages[s.ProviderCheckID]; st.signalled.IsZero() || st.checkCompleted.IsZero() {
			return nil, fmt.Errorf("check %s: no signal or no completion recorded", s.CheckID)
		}
	}
	return stages, nil
}

// measureOpen creates openN screenings, waits until all wait for ComplyCube, reads the processes'
// memory and the API's read latency while they are open, then completes them all.
func (b *bench) measureOpen(ctx context.Context, rep *Report) error {
	n := b.cfg.openN
	fig := &OpenScreeningFigures{Screenings: n}
	rep.Open = fig
	if rep.Delivery == nil {
		baseline, err := b.creationBaseline(ctx, min(b.cfg.openChunk, n))
		if err != nil {
			return err
		}
		fig.CreationBaselinePerSec = baseline
	}
	pids, err := b.s.processIDs()
	if err != nil {
		return err
	}
	before, err := processMemoryKB(pids)
	if err != nil {
		return err
	}

	started := time.Now()
	created, err := b.openInChunks(ctx, fig, rep)
	if err != nil {
		return err
	}
	fig.AllWaitingSeconds = time.Since(started).Seconds()
	b.logf("   all %d waiting after %s", n, seconds(fig.AllWaitingSeconds))
	// Let the worker and the relay finish what creating them queued before reading memory.
	time.Sleep(b.cfg.settleAfterOpen)
	open, err := processMemoryKB(pids)
	if err != nil {
		return err
	}
	fig.MemoryBeforeMB, fig.MemoryOpenMB, fig.MemoryPerThousandMB = map[string]float64{}, map[string]float64{}, map[string]float64{}
	var totalBefore, totalOpen int64
	for name, kb := range open {
		fig.MemoryBeforeMB[name] = float64(before[name]) / 1024
		fig.MemoryOpenMB[name] = float64(kb) / 1024
		fig.MemoryPerThousandMB[name] = float64(kb-before[name]) / 1024 * 1000 / float64(n)
		totalBefore += before[name]
		totalOpen += kb
	}
	if len(open) > 0 {
		fig.MemoryBeforeMB["total"] = float64(totalBefore) / 1024
		fig.MemoryOpenMB["total"] = float64(totalOpen) / 1024
		fig.MemoryPerThousandMB["total"] = float64(totalOpen-totalBefore) / 1024 * 1000 / float64(n)
	}
	b.logf("   memory while open: %s", memory(fig.MemoryOpenMB))

	reads := summarize(attack(ctx, b.readTargeter(created), perSecond(b.cfg.readRate), b.cfg.readDuration), http.StatusOK)
	if err := reads.err("GET /v1/screenings/{id}"); err != nil {
		return err
	}
	fig.ReadRequests = reads.ok
	fig.ReadP50Ms, fig.ReadP99Ms = percentileMs(reads.latencies, 50), percentileMs(reads.latencies, 99)
	b.logf("   API reads at %d/s: p50 %s, p99 %s", b.cfg.readRate, ms(fig.ReadP50Ms), ms(fig.ReadP99Ms))

	if err := b.s.fakes.completeChecks(ctx, providerCheckIDs(created), b.cfg.waitTimeout); err != nil {
		return err
	}
	webhooks := b.s.fakes.holder.take(providerCheckIDs(created))
	sent := summarize(attack(ctx, targetsOnce(b.webhookTargets(webhooks)), unpaced, 0, closedLoop(b.cfg.ingestClients)...), http.StatusOK)
	if err := sent.err("completion webhooks"); err != nil {
		return err
	}
	completedAt, err := b.waitCompleted(ctx, created)
	if err != nil {
		return err
	}
	var last time.Time
	for _, t := range completedAt {
		last = maxTime(last, t)
	}
	fig.Completed = len(completedAt)
	fig.CompleteAllSeconds = last.Sub(sent.first).Seconds()
	fig.CompletionsPerSecond = float64(fig.Completed) / fig.CompleteAllSeconds
	b.logf("   all %d completed %s after their first completion webhook", n, seconds(fig.CompleteAllSeconds))
	return nil
}

// openInChunks creates the open screenings openChunk at a time, each chunk as fast as the
// creators go, and starts the next chunk once the one before it is waiting, so that at most two
// chunks are on their way at once. All at once, 10,000 screenings queue 20,000 workflows' tasks in
// the Temporal dev server, whose SQLite store then slows to about one screening a second (the
// screenings' workflows all moving at once, not their number, is what it cannot take: 2,000 at
// once moved at 20 a second). The creation rate is the first chunk's.
func (b *bench) openInChunks(ctx context.Context, fig *OpenScreeningFigures, rep *Report) ([]screening, error) {
	n := b.cfg.openN
	created := make([]screening, 0, n)
	previous := 0 // where the chunk before the last one created starts
	for len(created) < n {
		chunk, rate, err := b.createScreenings(ctx, min(b.cfg.openChunk, n-len(created)), complyCubeCheck,
			fmt.Sprintf("open-%d", len(created)), b.cfg.creators)
		if err != nil {
			return nil, err
		}
		if len(created) == 0 {
			fig.CreationPerSec = rate
			if rep.Delivery != nil {
				fig.CreationBaselinePerSec = rep.Delivery.SDKStartsPerSec
			}
			fig.CreationRatio = ratio(rate, fig.CreationBaselinePerSec)
			b.logf("   created the first %d at %.0f/s", len(chunk), rate)
		}
		last := len(created)
		created = append(created, chunk...)
		if err := b.waitWaiting(ctx, created[previous:last]); err != nil {
			return nil, err
		}
		previous = last
		b.logf("   %d created, %d waiting", len(created), previous)
	}
	return created, b.waitWaiting(ctx, created[previous:])
}

// readTargeter reads random screenings of the set through the HR API.
func (b *bench) readTargeter(screenings []screening) vegeta.Targeter {
	header := http.Header{}
	header.Set("Authorization", "Bearer "+b.s.apiKey)
	return func(t *vegeta.Target) error {
		*t = vegeta.Target{Method: http.MethodGet, URL: b.s.apiURL + "/v1/screenings/" + screenings[mrand.IntN(len(screenings))].ID,
			Header: header}
		return nil
	}
}

// ingestInsert is the statement the store runs for each webhook, into the copy of the inbox.
const ingestInsert = `INSERT INTO loadbench_inbox_copy (provider, event_id, event_type, subject, headers, body, status, last_error)
	VALUES ($1, $2, $3, $4, $5, $6, 'pending', NULL) ON CONFLICT (provider, event_id) DO NOTHING RETURNING id`

// measureIngest measures the raw single-row insert of the inbox row into a copy of the inbox,
// then signed webhooks through HTTP, both closed loop with ingestClients clients for
// ingestDuration, then the ack latency open loop at half the ingest rate.
func (b *bench) measureIngest(ctx context.Context, rep *Report) error {
	fig := &IngestFigures{}
	rep.Ingest = fig
	var seq atomic.Int64
	nextWebhook := func() (eventID string, body []byte, signature string) {
		eventID = fmt.Sprintf("loadbench-%s-ingest-%d", b.runID, seq.Add(1))
		body = complyCubeEventBody(eventID, randomHex(12))
		return eventID, body, complycube.Sign(complyCubeSecret, body)
	}
	targeter := func(t *vegeta.Target) error {
		_, body, signature := nextWebhook()
		header := http.Header{}
		header.Set("Content-Type", "application/json")
		header.Set(complycube.SignatureHeader, signature)
		*t = vegeta.Target{Method: http.MethodPost, URL: b.s.apiURL + "/webhooks/complycube", Body: body, Header: header}
		return nil
	}

	// One webhook first, so that the baseline's rows carry the headers the receiver stores.
	eventID, body, signature := nextWebhook()
	if err := b.postWebhook(ctx, body, signature); err != nil {
		return fmt.Errorf("warm-up webhook: %w", err)
	}
	var headers []byte
	if err := b.s.db.GetContext(ctx, &headers, `SELECT headers FROM webhook_events WHERE provider = $1 AND event_id = $2`,
		complycube.Name, eventID); err != nil {
		return fmt.Errorf("read the warm-up webhook's stored headers: %w", err)
	}

	if _, err := b.s.db.ExecContext(ctx, `CREATE TABLE loadbench_inbox_copy (LIKE webhook_events INCLUDING ALL)`); err != nil {
		return fmt.Errorf("copy the inbox table: %w", err)
	}
	defer b.s.db.ExecContext(context.WithoutCancel(ctx), `DROP TABLE loadbench_inbox_copy`)
	b.quiet(ctx, "the raw insert")
	inserted, err := b.insertBaseline(ctx, headers)
	if err != nil {
		return err
	}
	fig.InsertBaselinePerSec = inserted
	b.logf("   raw inbox-row insert, %d clients: %.0f/s", b.cfg.ingestClients, inserted)

	b.quiet(ctx, "the webhook ingest")
	ingest := summarize(attack(ctx, targeter, unpaced, b.cfg.ingestDuration, closedLoop(b.cfg.ingestClients)...), http.StatusOK)
	if err := ingest.err("webhook ingest"); err != nil {
		return err
	}
	fig.IngestPerSec = ingest.rate()
	fig.Ratio = ratio(fig.IngestPerSec, fig.InsertBaselinePerSec)
	b.logf("   webhook ingest, %d clients: %.0f/s (%.2f×)", b.cfg.ingestClients, fig.IngestPerSec, fig.Ratio)
	if !b.cfg.stages[stageAck] {
		return nil
	}

	fig.AckRatePerSec = max(int(math.Round(fig.IngestPerSec/2)), 1)
	b.quiet(ctx, "the acknowledgements at half capacity")
	ackResults := attack(ctx, targeter, perSecond(fig.AckRatePerSec), b.cfg.ackDuration, vegeta.Workers(uint64(b.cfg.ingestClients)))
	acks := summarize(ackResults, http.StatusOK)
	if err := acks.err("webhook ingest at half capacity"); err != nil {
		return err
	}
	fig.AckRequests = acks.ok
	fig.AckP50Ms, fig.AckP99Ms, fig.AckMaxMs = percentileMs(acks.latencies, 50), percentileMs(acks.latencies, 99), percentileMs(acks.latencies, 100)
	b.logf("   ack latency at %d/s: p50 %s, p99 %s, max %s", fig.AckRatePerSec, ms(fig.AckP50Ms), ms(fig.AckP99Ms), ms(fig.AckMaxMs))
	if slow := findSlow(ackResults, acks.first, slowAck); slow.count > 0 {
		b.logf("   acks over %s: %d, sent from +%.1fs to +%.1fs of the stage", slowAck, slow.count, slow.from.Seconds(), slow.to.Seconds())
	}

	// The same rate of raw inserts: each waits for its commit's flush as each acknowledgement
	// does, so a stall of the disk shows in both.
	b.quiet(ctx, "the raw insert at half capacity")
	raw, err := b.insertLatencies(ctx, headers, fig.AckRatePerSec, b.cfg.ackDuration)
	if err != nil {
		return err
	}
	fig.AckBaselineP50Ms, fig.AckBaselineP99Ms, fig.AckBaselineMaxMs = percentileMs(raw, 50), percentileMs(raw, 99), percentileMs(raw, 100)
	fig.AckP99Ratio = ratio(fig.AckP99Ms, fig.AckBaselineP99Ms)
	b.logf("   raw inbox-row insert at %d/s: p50 %s, p99 %s, max %s", fig.AckRatePerSec, ms(fig.AckBaselineP50Ms),
		ms(fig.AckBaselineP99Ms), ms(fig.AckBaselineMaxMs))
	return nil
}

// insertLatencies runs the raw insert of the inbox row open loop: rate a second for du, each
// started on time whether or not the earlier ones have finished. It returns how long each took,
// sorted.
func (b *bench) insertLatencies(ctx context.Context, headers []byte, rate int, du time.Duration) ([]time.Duration, error) {
	interval := time.Second / time.Duration(rate)
	latencies := make([]time.Duration, int(du/interval))
	errs := make(chan error, len(latencies))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range latencies {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Go(func() {
			began := time.Now()
			eventID := fmt.Sprintf("loadbench-%s-baseline-ack-%d", b.runID, i)
			if _, err := b.s.db.ExecContext(ctx, ingestInsert, complycube.Name, eventID, "check.completed.clear",
				"check:"+randomHex(12), headers, complyCubeEventBody(eventID, randomHex(12))); err != nil {
				errs <- err
			}
			latencies[i] = time.Since(began)
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("insert baseline at %d/s: %w", rate, err)
	}
	slices.Sort(latencies)
	return latencies, nil
}

// insertBaseline runs the store's insert of the inbox row, with the stored headers of a real
// webhook, into a copy of the inbox (same columns, defaults, constraints and indexes) from
// ingestClients connections for ingestDuration, and returns the rows inserted per second.
func (b *bench) insertBaseline(ctx context.Context, headers []byte) (float64, error) {
	var inserted atomic.Int64
	deadline := time.Now().Add(b.cfg.ingestDuration)
	took, err := parallel(ctx, b.cfg.ingestClients, b.cfg.ingestClients, func(ctx context.Context, client int) error {
		for i := 0; time.Now().Before(deadline); i++ {
			eventID := fmt.Sprintf("loadbench-%s-baseline-%d-%d", b.runID, client, i)
			rows, err := b.s.db.QueryContext(ctx, ingestInsert, complycube.Name, eventID, "check.completed.clear",
				"check:"+randomHex(12), headers, complyCubeEventBody(eventID, randomHex(12)))
			if err != nil {
				return err
			}
			for rows.Next() {
				inserted.Add(1)
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("insert baseline: %w", err)
	}
	return float64(inserted.Load()) / took.Seconds(), nil
}

// postWebhook sends one signed ComplyCube webhook and expects it acknowledged.
func (b *bench) postWebhook(ctx context.Context, body []byte, signature string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.s.apiURL+"/webhooks/complycube", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(complycube.SignatureHeader, signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, truncate(answer, 300))
	}
	return nil
}

// complyCubeEventBody is a check.completed.clear event as ComplyCube sends it, about a check no
// screening ordered.
func complyCubeEventBody(eventID, checkID string) []byte {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	return []byte(`{"id":"` + eventID + `","type":"check.completed.clear","resourceType":"check",` +
		`"payload":{"id":"` + checkID + `","outcome":"clear","status":"complete","createdAt":"` + now + `","updatedAt":"` + now + `"},` +
		`"createdAt":"` + now + `"}`)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func ratio(value, baseline float64) float64 {
	if baseline <= 0 {
		return 0
	}
	return value / baseline
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
