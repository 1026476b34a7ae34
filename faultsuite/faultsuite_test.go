//go:build fault && linux

package faultsuite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	// total screenings, each with one ComplyCube check; the four fault phases complete a batch each.
	total     = 40
	batchSize = 10
	// overallDeadline bounds the whole run; every wait below is bounded by it as well as its own.
	overallDeadline = 10 * time.Minute

	// webhookDeadline and pollInterval are CHECK_WEBHOOK_DEADLINE and CHECK_POLL_INTERVAL: short, so
	// that a webhook lost for good is replaced by polling within the run, yet long enough that the
	// completions normally arrive by webhook, which is what the faults are aimed at.
	webhookDeadline = 3 * time.Minute
	pollInterval    = 5 * time.Second

	// completionEventsPerCheck: the fake sends check.completed and check.completed.<outcome>.
	completionEventsPerCheck = 2
	// trapAfter: the traps of the orders phase fire at the 10th creation after they are set, in the
	// middle of a stream of them.
	trapAfter = 10
	// temporalDownFor and postgresDownFor are how long each stays down.
	temporalDownFor = 5 * time.Second
	postgresDownFor = 3 * time.Second
)

// Batches: the screenings whose checks complete during each phase.
const (
	batchOrders       = "orders" // not a completion batch: the events of ordering (client.created, check.pending)
	batchTemporalDown = "a:temporal-down"
	batchWorkerKills  = "b:worker-kills"
	batchServeKills   = "c:serve-kills"
	batchPostgres     = "d:postgres-restart"
)

// screening is one the suite ordered, and what it learnt about it.
type screening struct {
	N               int
	ID              string
	CheckID         string
	ProviderCheckID string
	Batch           string
	Trap            string    // which trap's withheld answer was about this screening's check
	CompletedAtFake time.Time // when the suite completed its check at the fake
}

// run is one fault suite run on its stack.
type run struct {
	*stack
	screenings []*screening
	clientTrap *trap
	checkTrap  *trap
	reportTrap *trap
	// ackedWhileTemporalDown counts phase a's completion webhooks acknowledged and stored while
	// Temporal was stopped.
	ackedWhileTemporalDown int
	judged                 bool
}

// TestFaultSuite orders screenings on the real stack and completes them in four batches, each
// under a fault: (a) Temporal stopped, (b) the worker SIGKILLed, (c) serve SIGKILLed, (d) Postgres
// restarted. The orders themselves are placed while the worker is SIGKILLed with a ComplyCube
// answer in flight. Then the ledger is printed and held to its invariants.
func TestFaultSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: needs Postgres and the Temporal dev server; run without -short")
	}
	l := newLedger()
	ctx, cancel := context.WithTimeout(context.Background(), overallDeadline)
	defer cancel()

	var s *stack
	l.phase("setup", func() { s = startStack(ctx, t, l) })
	r := &run{stack: s}
	// Registered after the stack's cleanups, so it runs before them, while the stack is still up.
	t.Cleanup(r.explainFailure)

	l.phase("orders under worker kills", func() { r.orders(ctx) })
	l.phase("(a) temporal down", func() { r.temporalDown(ctx) })
	l.phase("(b) worker kills", func() { r.workerKills(ctx) })
	l.phase("(c) serve kills", func() { r.serveKills(ctx) })
	l.phase("(d) postgres restart", func() { r.postgresRestart(ctx) })
	l.phase("settle", func() { r.settle(ctx) })

	r.markTraps()
	table, v := r.judge(ctx)
	r.judged = true
	t.Log("fault suite ledger\n" + table)
	for _, m := range v.violations {
		t.Error(m)
	}
}

// orders places every screening while the worker is SIGKILLed twice, each time with a ComplyCube
// creation done and its answer withheld: first a client, then a check.
func (r *run) orders(ctx context.Context) {
	half := total / 2
	r.clientTrap = r.spy.setTrap(routeCreateClient, nil, trapAfter, func() {
		r.worker.kill("trap: the fake created a client, its answer withheld")
	})
	r.create(ctx, 1, half)
	r.awaitTrap(ctx, r.clientTrap)

	r.checkTrap = r.spy.setTrap(routeCreateCheck, nil, trapAfter, func() {
		r.worker.kill("trap: the fake created a check, its answer withheld")
	})
	r.create(ctx, half+1, total)
	r.awaitTrap(ctx, r.checkTrap)

	// The activities the kills interrupted are retried once their start-to-close timeout (a
	// minute for provider calls) has passed.
	err := waitFor(ctx, 4*time.Minute, "every check ordered at ComplyCube and recorded", func() (bool, string) {
		checks, err := r.checks(ctx)
		if err != nil {
			return false, err.Error()
		}
		n := 0
		for _, sc := range r.screenings {
			if id := checks[sc.CheckID].ProviderCheckID; id != "" {
				sc.ProviderCheckID = id
				n++
			}
		}
		return n == total, fmt.Sprintf("%d of %d checks recorded", n, total)
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// temporalDown stops Temporal, completes a batch, requires every completion webhook stored and
// acknowledged while it is down, and starts it again at the same address and database file.
func (r *run) temporalDown(ctx context.Context) {
	batch := r.batch(0, batchTemporalDown)
	if err := r.stopTemporal(); err != nil {
		r.t.Fatal(err)
	}
	r.complete(batch)
	for _, e := range r.awaitAcknowledged(ctx, batch, time.Minute) {
		// Pending: stored and acknowledged, and not yet delivered, for there is no Temporal.
		if e.Status == "pending" {
			r.ackedWhileTemporalDown++
		}
	}
	// Down a while longer, so that the worker's polls and the relay's deliveries fail and back off.
	sleep(ctx, time.Until(r.tStopped.Add(temporalDownFor)))
	if err := r.startTemporalAgain(ctx); err != nil {
		r.t.Fatal(err)
	}
	// The batch finishes before the next phase kills the worker, so that its time to complete
	// measures the recovery from this fault alone.
	back := time.Now()
	r.awaitFinished(ctx, batch, 2*time.Minute)
	r.ledger.fault("batch %s finished, %s after temporal was back", batchTemporalDown, time.Since(back).Round(100*time.Millisecond))
}

// workerKills completes a batch and SIGKILLs the worker three times while the events are relayed
// and the reports downloaded: once with the answer to one of the batch's report downloads
// withheld, twice on a timer.
func (r *run) workerKills(ctx context.Context) {
	batch := r.batch(1, batchWorkerKills)
	ours := map[string]bool{}
	for _, sc := range batch {
		ours[sc.ProviderCheckID] = true
	}
	r.reportTrap = r.spy.setTrap(routeGetReport, func(report createdResource) bool { return ours[report.ID] }, 1, func() {
		r.worker.kill("trap: the fake answered a report download, its answer withheld")
	})
	r.complete(batch)
	r.awaitTrap(ctx, r.reportTrap)
	for i := range 2 {
		sleep(ctx, 1500*time.Millisecond)
		if err := r.worker.restart(ctx, fmt.Sprintf("timed kill %d of 2, the batch's events being relayed", i+1)); err != nil {
			r.t.Fatal(err)
		}
	}
	r.awaitAcknowledged(ctx, batch, time.Minute)
}

// serveKills completes a batch one check at a time and SIGKILLs serve three times while the
// webhooks arrive, each time right after a check completed, with its first attempts in flight and
// the earlier ones' retries coming in.
func (r *run) serveKills(ctx context.Context) {
	batch := r.batch(2, batchServeKills)
	kills := 0
	for i, sc := range batch {
		r.complete([]*screening{sc})
		if i%3 == 1 { // after the 2nd, 5th and 8th check
			kills++
			if err := r.serve.restart(ctx, fmt.Sprintf("kill %d of 3, right after check %d of the batch completed", kills, i+1)); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		sleep(ctx, 150*time.Millisecond)
	}
	r.awaitAcknowledged(ctx, batch, 2*time.Minute)
}

// postgresRestart completes half a batch, stops Postgres with those webhooks in flight, completes
// the other half while it is down, and starts it again on the same port and data directory.
func (r *run) postgresRestart(ctx context.Context) {
	batch := r.batch(3, batchPostgres)
	r.complete(batch[:batchSize/2])
	if err := r.stopPostgres(); err != nil {
		r.t.Fatal(err)
	}
	r.complete(batch[batchSize/2:])
	sleep(ctx, time.Until(r.pgStopped.Add(postgresDownFor)))
	if err := r.startPostgresAgain(ctx); err != nil {
		r.t.Fatal(err)
	}
	r.awaitAcknowledged(ctx, batch, 2*time.Minute)
}

// settle waits until every screening has finished, every routed event has been relayed, the fake
// has nothing left to retry, and every workflow has closed.
func (r *run) settle(ctx context.Context) {
	r.awaitFinished(ctx, r.screenings, 5*time.Minute)
	err := waitFor(ctx, time.Minute, "every routed event relayed", func() (bool, string) {
		var n int
		err := r.db.GetContext(ctx, &n, `SELECT count(*) FROM webhook_events e
			WHERE e.provider = 'complycube' AND e.status = 'pending'
			  AND EXISTS (SELECT 1 FROM routes r WHERE r.provider = e.provider AND r.subject = e.subject)`)
		if err != nil {
			return false, err.Error()
		}
		return n == 0, fmt.Sprintf("%d routed events pending", n)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	err = waitFor(ctx, time.Minute, "every webhook acknowledged or given up", func() (bool, string) {
		open := 0
		for _, d := range r.deliveries() {
			if !d.acked && !d.gaveUp {
				open++
			}
		}
		return open == 0, fmt.Sprintf("%d webhooks still being retried", open)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	// The screening's status is written by its workflow's last activity, just before it closes.
	err = waitFor(ctx, time.Minute, "every workflow closed", func() (bool, string) {
		open := 0
		for _, st := range r.workflowStatuses(ctx) {
			if st == "Running" {
				open++
			}
		}
		return open == 0, fmt.Sprintf("%d workflows running", open)
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// awaitFinished waits until every one of the screenings has finished: completed, failed or
// canceled. Which one it should be is for the ledger to judge.
func (r *run) awaitFinished(ctx context.Context, screenings []*screening, within time.Duration) {
	err := waitFor(ctx, within, fmt.Sprintf("%d screenings finished", len(screenings)), func() (bool, string) {
		checks, err := r.checks(ctx)
		if err != nil {
			return false, err.Error()
		}
		byStatus := map[string]int{}
		finished := 0
		for _, sc := range screenings {
			st := checks[sc.CheckID].ScreeningStatus
			byStatus[st]++
			if st == "completed" || st == "failed" || st == "canceled" {
				finished++
			}
		}
		return finished == len(screenings), countsText(byStatus)
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

func (r *run) create(ctx context.Context, from, to int) {
	for n := from; n <= to; n++ {
		id, checkID, err := r.createScreening(ctx, n)
		if err != nil {
			r.t.Fatalf("screening %d: %v", n, err)
		}
		r.screenings = append(r.screenings, &screening{N: n, ID: id, CheckID: checkID})
	}
}

// awaitTrap waits for a worker-killing trap to fire, then starts the worker again.
func (r *run) awaitTrap(ctx context.Context, tr *trap) {
	select {
	case <-tr.fired:
	case <-time.After(2 * time.Minute):
		r.t.Fatalf("the trap on %s never fired", tr.route)
	case <-ctx.Done():
		r.t.Fatalf("waiting for the trap on %s: %v", tr.route, ctx.Err())
	}
	if err := r.worker.start(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// batch names the i-th batch of screenings.
func (r *run) batch(i int, name string) []*screening {
	batch := r.screenings[i*batchSize : (i+1)*batchSize]
	for _, sc := range batch {
		sc.Batch = name
	}
	return batch
}

// complete completes the checks at the fake, which sends their webhooks at once.
func (r *run) complete(screenings []*screening) {
	for _, sc := range screenings {
		if err := r.fake.CompleteCheck(sc.ProviderCheckID, "clear"); err != nil {
			r.t.Fatalf("screening %d: %v", sc.N, err)
		}
		sc.CompletedAtFake = time.Now()
	}
}

// awaitAcknowledged waits until every completion webhook of the batch is in the inbox and the
// fake has seen it acknowledged, and returns their inbox rows as they were then.
func (r *run) awaitAcknowledged(ctx context.Context, batch []*screening, within time.Duration) []inboxRow {
	subjects := map[string]bool{}
	for _, sc := range batch {
		subjects["check:"+sc.ProviderCheckID] = true
	}
	want := len(batch) * completionEventsPerCheck
	var got []inboxRow
	err := waitFor(ctx, within, "the "+batch[0].Batch+" batch's completion webhooks stored and acknowledged", func() (bool, string) {
		inbox, err := r.inbox(ctx)
		if err != nil {
			return false, err.Error()
		}
		delivered := r.deliveries()
		got = got[:0]
		for _, e := range inbox {
			if d := delivered[e.EventID]; subjects[e.Subject] && strings.HasPrefix(e.Type, "check.completed") && d != nil && d.acked {
				got = append(got, e)
			}
		}
		return len(got) == want, fmt.Sprintf("%d of %d", len(got), want)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return got
}

// markTraps notes on each screening which trap's withheld answer was about its check.
func (r *run) markTraps() {
	for _, sc := range r.screenings {
		var traps []string
		if r.clientTrap != nil && sc.CheckID == r.clientTrap.hit.Owner {
			traps = append(traps, "client")
		}
		if r.checkTrap != nil && sc.ProviderCheckID == r.checkTrap.hit.ID {
			traps = append(traps, "check")
		}
		if r.reportTrap != nil && sc.ProviderCheckID == r.reportTrap.hit.ID {
			traps = append(traps, "report")
		}
		sc.Trap = strings.Join(traps, "+")
	}
}

// explainFailure prints what there is to see when the suite failed: the ledger as far as it can
// be read, if the failure came before it, and the tails of serve's, the worker's and Temporal's
// logs.
func (r *run) explainFailure() {
	if !r.t.Failed() {
		return
	}
	if !r.judged {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r.markTraps()
		table, v := r.judge(ctx)
		r.t.Log("fault suite ledger (at the failure)\n" + table)
		const shown = 20
		for _, m := range v.violations[:min(shown, len(v.violations))] {
			r.t.Log("also wrong: " + m)
		}
		if len(v.violations) > shown {
			r.t.Logf("and %d more", len(v.violations)-shown)
		}
	}
	for _, name := range []string{"serve", "worker", "temporal"} {
		path := filepath.Join(r.dir, name+".log")
		r.t.Logf("--- tail of %s ---\n%s", path, tail(path, 3000))
	}
}
