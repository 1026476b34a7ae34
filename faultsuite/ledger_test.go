//go:build fault && linux

package faultsuite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/screenflow/screenflow/workflows"
)

// ledger keeps what the suite did and when: the faults it caused and how long each phase took.
type ledger struct {
	start  time.Time
	mu     sync.Mutex
	faults []entry
	phases []entry
}

type entry struct {
	at   time.Duration // since the suite started
	took time.Duration // phases only
	what string
}

func newLedger() *ledger { return &ledger{start: time.Now()} }

func (l *ledger) fault(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults = append(l.faults, entry{at: time.Since(l.start), what: fmt.Sprintf(format, args...)})
}

// phase runs f and records how long it took.
func (l *ledger) phase(name string, f func()) {
	began := time.Now()
	f()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phases = append(l.phases, entry{at: began.Sub(l.start), took: time.Since(began), what: name})
}

func (l *ledger) timings() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "phase\tstarted\ttook")
	for _, p := range l.phases {
		fmt.Fprintf(w, "%s\t+%s\t%s\n", p.what, seconds(p.at), seconds(p.took))
	}
	fmt.Fprintf(w, "total\t\t%s\n", seconds(time.Since(l.start)))
	w.Flush()
	return b.String()
}

func (l *ledger) faultLog() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, f := range l.faults {
		fmt.Fprintf(&b, "  +%-8s %s\n", seconds(f.at), f.what)
	}
	return b.String()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// The rows the ledger reads from Postgres.
type (
	inboxRow struct {
		EventID  string `db:"event_id"`
		Type     string `db:"event_type"`
		Subject  string `db:"subject"`
		Status   string `db:"status"`
		Attempts int    `db:"attempts"`
	}
	checkRow struct {
		ID              string       `db:"id"`
		ScreeningID     string       `db:"screening_id"`
		Status          string       `db:"status"`
		Outcome         string       `db:"outcome"`
		FailureReason   string       `db:"failure_reason"`
		ClientID        string       `db:"provider_client_id"`
		ProviderCheckID string       `db:"provider_check_id"`
		ScreeningStatus string       `db:"screening_status"`
		Result          string       `db:"result"`
		CompletedAt     sql.NullTime `db:"completed_at"` // the screening's
	}
	timelineRow struct {
		ScreeningID string `db:"screening_id"`
		DedupeKey   string `db:"dedupe_key"`
		Kind        string `db:"kind"`
		Detail      string `db:"detail"`
	}
	documentRow struct {
		CheckID string `db:"check_id"`
		SHA256  string `db:"sha256"`
	}
)

func (r *run) inbox(ctx context.Context) ([]inboxRow, error) {
	var rows []inboxRow
	err := r.db.SelectContext(ctx, &rows, `SELECT event_id, event_type, subject, status, attempts
		FROM webhook_events WHERE provider = 'complycube' ORDER BY id`)
	return rows, err
}

func (r *run) checks(ctx context.Context) (map[string]checkRow, error) {
	var rows []checkRow
	err := r.db.SelectContext(ctx, &rows, `SELECT c.id, c.screening_id, c.status, coalesce(c.outcome, '') AS outcome,
			coalesce(c.failure_reason, '') AS failure_reason, coalesce(c.provider_client_id, '') AS provider_client_id,
			coalesce(c.provider_check_id, '') AS provider_check_id, s.status AS screening_status,
			coalesce(s.result, '') AS result, s.completed_at
		FROM checks c JOIN screenings s ON s.id = c.screening_id`)
	byID := make(map[string]checkRow, len(rows))
	for _, c := range rows {
		byID[c.ID] = c
	}
	return byID, err
}

// routed is the set of subjects the routes table sends somewhere.
func (r *run) routed(ctx context.Context) (map[string]bool, error) {
	var subjects []string
	err := r.db.SelectContext(ctx, &subjects, `SELECT subject FROM routes WHERE provider = 'complycube'`)
	set := make(map[string]bool, len(subjects))
	for _, s := range subjects {
		set[s] = true
	}
	return set, err
}

// deliveries sums up the fake's delivery attempts by event id.
type eventDeliveries struct {
	typ       string
	attempts  int
	failed    int // attempts answered non-2xx or not answered
	acked     bool
	gaveUp    bool
	firstTry  time.Time
	ackedTry  time.Time // start of the attempt answered 2xx
	ackedCode int
}

func (r *run) deliveries() map[string]*eventDeliveries {
	by := map[string]*eventDeliveries{}
	for _, d := range r.fake.Deliveries() {
		e := by[d.EventID]
		if e == nil {
			e = &eventDeliveries{typ: d.Type, firstTry: d.At}
			by[d.EventID] = e
		}
		e.attempts++
		if d.At.Before(e.firstTry) {
			e.firstTry = d.At
		}
		ok := d.Err == "" && d.StatusCode >= 200 && d.StatusCode <= 299
		if ok && !e.acked {
			e.acked, e.ackedTry, e.ackedCode = true, d.At, d.StatusCode
		}
		if !ok {
			e.failed++
		}
		e.gaveUp = e.gaveUp || d.GaveUp
	}
	return by
}

// screeningRow is one line of the ledger's table.
type screeningRow struct {
	sc            *screening
	check         checkRow
	trap          string
	scrCompleted  int // timeline entries screening.completed
	chkCompleted  int // timeline entries check.completed
	clients       []string
	fakeChecks    []string
	docs          int
	pdfOK         bool
	events        int // stored events about the check and its recorded client
	eventsSettled int // of those, delivered or discarded
	via           string
	wfScreening   string
	wfCheck       string
}

// verdict is the ledger's judgement: what is wrong.
type verdict struct {
	violations []string
}

func (v *verdict) violate(format string, args ...any) {
	v.violations = append(v.violations, fmt.Sprintf(format, args...))
}

// judge reads the end state from Postgres, the fake, the spy and Temporal, prints the ledger and
// returns the verdict.
func (r *run) judge(ctx context.Context) (string, verdict) {
	var v verdict
	var out strings.Builder

	checks, err := r.checks(ctx)
	if err != nil {
		v.violate("read checks: %v", err)
	}
	inbox, err := r.inbox(ctx)
	if err != nil {
		v.violate("read inbox: %v", err)
	}
	routed, err := r.routed(ctx)
	if err != nil {
		v.violate("read routes: %v", err)
	}
	var timeline []timelineRow
	if err := r.db.SelectContext(ctx, &timeline, `SELECT screening_id, dedupe_key, kind, detail FROM timeline_entries ORDER BY id`); err != nil {
		v.violate("read timeline: %v", err)
	}
	var docs []documentRow
	if err := r.db.SelectContext(ctx, &docs, `SELECT check_id, sha256 FROM documents`); err != nil {
		v.violate("read documents: %v", err)
	}
	var dupKeys []string
	if err := r.db.SelectContext(ctx, &dupKeys, `SELECT screening_id || ' ' || dedupe_key FROM timeline_entries
		GROUP BY screening_id, dedupe_key HAVING count(*) > 1`); err != nil {
		v.violate("read timeline duplicates: %v", err)
	}
	for _, k := range dupKeys {
		v.violate("timeline entry written twice (screening, dedupe key): %s", k)
	}
	spyClients, spyChecks, answered := r.spy.snapshot()
	delivered := r.deliveries()
	wfStatus := r.workflowStatuses(ctx)

	// Who owns what: a client belongs to the check named by its externalId; a fake check to the
	// check its client belongs to.
	clientOwner := map[string]string{}
	clientsOf := map[string][]string{}
	for _, c := range spyClients {
		clientOwner[c.ID] = c.Owner
		clientsOf[c.Owner] = append(clientsOf[c.Owner], c.ID)
	}
	fakeChecksOf := map[string][]string{}
	for _, c := range spyChecks {
		owner := clientOwner[c.Owner]
		fakeChecksOf[owner] = append(fakeChecksOf[owner], c.ID)
	}
	if n := r.fake.ChecksCreated(); n != len(spyChecks) {
		v.violate("the fake counts %d checks created, the spy saw %d answered", n, len(spyChecks))
	}

	// Subjects of each screening's check and its recorded client, to attribute stored events.
	screeningOfSubject := map[string]*screening{}
	for _, sc := range r.screenings {
		c := checks[sc.CheckID]
		screeningOfSubject["check:"+c.ProviderCheckID] = sc
		screeningOfSubject["client:"+c.ClientID] = sc
	}
	orphanClients := map[string]bool{}

	var rows []screeningRow
	for _, sc := range r.screenings {
		c := checks[sc.CheckID]
		row := screeningRow{sc: sc, check: c, trap: sc.Trap, clients: clientsOf[sc.CheckID], fakeChecks: fakeChecksOf[sc.CheckID]}
		for _, e := range timeline {
			if e.ScreeningID != sc.ID {
				continue
			}
			switch e.Kind {
			case "screening.completed":
				row.scrCompleted++
			case "check.completed":
				row.chkCompleted++
			case "provider.event":
				if strings.HasPrefix(e.Detail, "check.completed") && !strings.Contains(e.Detail, "(ignored") {
					row.via = "webhook"
				}
			case "check.polling":
				if row.via == "" {
					row.via = "poll"
				}
			}
		}
		if row.via == "" {
			row.via = "?"
		}
		var docSum string
		for _, d := range docs {
			if d.CheckID == sc.CheckID {
				row.docs++
				docSum = d.SHA256
			}
		}
		if pdf, ok := r.fake.ReportPDF(c.ProviderCheckID); ok {
			sum := sha256.Sum256(pdf)
			row.pdfOK = docSum == hex.EncodeToString(sum[:])
		}
		for _, e := range inbox {
			if screeningOfSubject[e.Subject] == sc {
				row.events++
				if e.Status == "delivered" || e.Status == "discarded" {
					row.eventsSettled++
				}
			}
		}
		row.wfScreening = wfStatus[workflows.ScreeningWorkflowID(sc.ID)]
		row.wfCheck = wfStatus[workflows.CheckWorkflowID(sc.ID, "complycube", sc.CheckID)]
		rows = append(rows, row)

		// Every screening completed exactly once, with one client, one check and one report.
		name := fmt.Sprintf("screening %d (%s)", sc.N, sc.ID)
		if c.ScreeningStatus != "completed" || c.Result != "clear" || c.Status != "completed" || c.Outcome != "clear" {
			v.violate("%s: screening %s/%s, check %s/%s %s", name, c.ScreeningStatus, c.Result, c.Status, c.Outcome, c.FailureReason)
		}
		if row.scrCompleted != 1 {
			v.violate("%s: %d screening.completed timeline entries, want 1", name, row.scrCompleted)
		}
		if row.chkCompleted != 1 {
			v.violate("%s: %d check.completed timeline entries, want 1", name, row.chkCompleted)
		}
		switch {
		case len(row.clients) == 0:
			v.violate("%s: no ComplyCube client was created for its check", name)
		case len(row.clients) > 1:
			v.violate("%s: %d ComplyCube clients for one check: %s", name, len(row.clients), strings.Join(row.clients, ", "))
		}
		for _, id := range row.clients {
			if id != c.ClientID {
				orphanClients[id] = true
			}
		}
		if !slices.Contains(row.clients, c.ClientID) {
			v.violate("%s: the recorded client %q is not one the fake created for the check", name, c.ClientID)
		}
		if len(row.fakeChecks) != 1 || row.fakeChecks[0] != c.ProviderCheckID {
			v.violate("%s: checks at the fake %v, recorded %q: want exactly the recorded one", name, row.fakeChecks, c.ProviderCheckID)
		}
		if row.docs != 1 || !row.pdfOK {
			v.violate("%s: %d documents, byte-identical to the fake's report: %t", name, row.docs, row.pdfOK)
		}
		if row.wfScreening != "Completed" || row.wfCheck != "Completed" {
			v.violate("%s: workflows %s (screening), %s (check)", name, row.wfScreening, row.wfCheck)
		}
	}

	// Store, then acknowledge: every event the fake saw acknowledged is in the inbox.
	stored := map[string]inboxRow{}
	for _, e := range inbox {
		stored[e.EventID] = e
	}
	var sent, acked, attempts, failed, gaveUp, maxAttempts int
	for id, d := range delivered {
		sent++
		attempts += d.attempts
		failed += d.failed
		maxAttempts = max(maxAttempts, d.attempts)
		if d.acked {
			acked++
			if _, ok := stored[id]; !ok {
				v.violate("event %s (%s) was acknowledged with %d but is not in the inbox", id, d.typ, d.ackedCode)
			}
		} else {
			v.violate("event %s (%s) was never acknowledged (%d attempts, gave up: %t)", id, d.typ, d.attempts, d.gaveUp)
		}
		if d.gaveUp {
			gaveUp++
		}
	}
	if r.fake.WebhookDisabled() {
		v.violate("the fake disabled the webhook: a delivery failed every retry")
	}

	// Every stored event reached its workflow, or found it closed; only the orphan clients' events
	// have nowhere to go.
	byStatus := map[string]int{}
	for _, e := range inbox {
		byStatus[e.Status]++
		id, isClient := strings.CutPrefix(e.Subject, "client:")
		switch {
		case e.Status == "delivered" || e.Status == "discarded":
		case !routed[e.Subject] && isClient && orphanClients[id]:
		default:
			v.violate("event %s (%s, %s) is %s after %d relay attempts (routed: %t)", e.EventID, e.Type, e.Subject, e.Status, e.Attempts, routed[e.Subject])
		}
	}

	// The faults must have bitten, or the suite tested nothing.
	batches := r.batchStats(delivered, inbox, screeningOfSubject, orphanClients, checks)
	for _, b := range batches {
		switch b.name {
		case batchServeKills, batchPostgres:
			if b.failed == 0 {
				v.violate("phase %s: no webhook attempt failed, so the fault missed the webhooks", b.name)
			}
		}
	}
	if r.ackedWhileTemporalDown != batchSize*completionEventsPerCheck {
		v.violate("%d completion webhooks acknowledged while Temporal was down, want %d", r.ackedWhileTemporalDown, batchSize*completionEventsPerCheck)
	}
	for _, p := range []*proc{r.serve, r.worker} {
		for _, c := range p.crashes() {
			v.violate("%s", c)
		}
	}

	// The tables.
	tw := tabwriter.NewWriter(&out, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "#\tscreening\tbatch\ttrap\tstatus\tresult\ttook\tscr.completed\tchk.completed\tclients\tchecks\tdocs\tpdf\tevents(settled/stored)\tvia\tworkflows")
	for _, row := range rows {
		took := "-"
		if row.check.CompletedAt.Valid && !row.sc.CompletedAtFake.IsZero() {
			took = seconds(row.check.CompletedAt.Time.Sub(row.sc.CompletedAtFake))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d/%d\t%s\t%s/%s\n",
			row.sc.N, short(row.sc.ID), row.sc.Batch, dash(row.trap), row.check.ScreeningStatus, dash(row.check.Result), took,
			row.scrCompleted, row.chkCompleted, len(row.clients), len(row.fakeChecks), row.docs, okWord(row.pdfOK),
			row.eventsSettled, row.events, row.via, row.wfScreening, row.wfCheck)
	}
	tw.Flush()

	fmt.Fprintln(&out)
	tw = tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "webhooks by batch\tevents\tattempts\tfailed attempts\tmost attempts\tslowest ack\tslowest screening")
	for _, b := range batches {
		slowestScreening := "-"
		if b.slowestScreening > 0 {
			slowestScreening = seconds(b.slowestScreening)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", b.name, b.events, b.attempts, b.failed, b.maxAttempts,
			seconds(b.slowestAck), slowestScreening)
	}
	tw.Flush()

	fmt.Fprintf(&out, "\nwebhooks: %d events sent, %d acknowledged, %d stored; %d attempts, %d failed, most attempts for one event %d, given up %d\n",
		sent, acked, len(inbox), attempts, failed, maxAttempts, gaveUp)
	fmt.Fprintf(&out, "inbox: %s\n", countsText(byStatus))
	fmt.Fprintf(&out, "completion webhooks acknowledged while Temporal was down: %d\n", r.ackedWhileTemporalDown)
	fmt.Fprintf(&out, "at the fake: %d clients (%d orphaned), %d checks, for %d screening checks\n",
		len(spyClients), len(orphanClients), len(spyChecks), len(r.screenings))
	fmt.Fprintf(&out, "fake API answers: %s\n", countsText(answered))
	serveStarts, serveKills := r.serve.counts()
	workerStarts, workerKills := r.worker.counts()
	fmt.Fprintf(&out, "processes: serve %d runs, %d SIGKILLs; worker %d runs, %d SIGKILLs; temporal restarted by the watchdog %d times\n",
		serveStarts, serveKills, workerStarts, workerKills, r.watchdogRestarts())
	fmt.Fprintf(&out, "faults:\n%s", r.ledger.faultLog())
	fmt.Fprintf(&out, "timings:\n%s", r.ledger.timings())
	return out.String(), v
}

// batchStat sums up the webhooks about one batch's screenings: the fake's delivery attempts, and
// how long after the suite completed a check at the fake its screening completed. The completion
// webhooks are each batch's; the events of the orders phase (client.created, check.pending) are
// counted under it, and those about orphaned clients apart.
type batchStat struct {
	name                                  string
	events, attempts, failed, maxAttempts int
	slowestAck                            time.Duration // from the first attempt to the one acknowledged
	slowestScreening                      time.Duration // from the check's completion at the fake
}

const (
	batchOrphans      = "orphan clients"
	batchUnattributed = "unattributed"
)

func (r *run) batchStats(delivered map[string]*eventDeliveries, inbox []inboxRow, screeningOf map[string]*screening,
	orphanClients map[string]bool, checks map[string]checkRow) []batchStat {
	order := []string{batchOrders, batchTemporalDown, batchWorkerKills, batchServeKills, batchPostgres, batchOrphans, batchUnattributed}
	stats := map[string]*batchStat{}
	for _, name := range order {
		stats[name] = &batchStat{name: name}
	}
	for _, sc := range r.screenings {
		if b, c := stats[sc.Batch], checks[sc.CheckID]; b != nil && c.CompletedAt.Valid && !sc.CompletedAtFake.IsZero() {
			b.slowestScreening = max(b.slowestScreening, c.CompletedAt.Time.Sub(sc.CompletedAtFake))
		}
	}
	subjectOf := map[string]string{}
	for _, e := range inbox {
		subjectOf[e.EventID] = e.Subject
	}
	for id, d := range delivered {
		name := batchUnattributed
		if sc := screeningOf[subjectOf[id]]; sc != nil {
			name = batchOrders
			if strings.HasPrefix(d.typ, "check.completed") {
				name = sc.Batch
			}
		} else if client, ok := strings.CutPrefix(subjectOf[id], "client:"); ok && orphanClients[client] {
			name = batchOrphans
		}
		b := stats[name]
		b.events++
		b.attempts += d.attempts
		b.failed += d.failed
		b.maxAttempts = max(b.maxAttempts, d.attempts)
		if d.acked {
			b.slowestAck = max(b.slowestAck, d.ackedTry.Sub(d.firstTry))
		}
	}
	var out []batchStat
	for _, name := range order {
		if b := stats[name]; b.events > 0 {
			out = append(out, *b)
		}
	}
	return out
}

// workflowStatuses describes every screening's workflow and its check's, by workflow id.
func (r *run) workflowStatuses(ctx context.Context) map[string]string {
	statuses := map[string]string{}
	tc, err := client.DialContext(ctx, client.Options{HostPort: r.temporalAddr, Namespace: "default",
		Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return statuses
	}
	defer tc.Close()
	for _, sc := range r.screenings {
		for _, id := range []string{workflows.ScreeningWorkflowID(sc.ID), workflows.CheckWorkflowID(sc.ID, "complycube", sc.CheckID)} {
			desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				statuses[id] = "describe failed: " + err.Error()
				continue
			}
			statuses[id] = desc.GetWorkflowExecutionInfo().GetStatus().String()
		}
	}
	return statuses
}

func countsText(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func okWord(ok bool) string {
	if ok {
		return "same"
	}
	return "DIFF"
}
