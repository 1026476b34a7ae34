package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/screenflow/screenflow/providers/complycube"
)

// attackTimeout bounds one request of the load generator.
const attackTimeout = time.Minute

// attack runs one vegeta attack to its end (the duration, or the targets running out) and returns
// every request's result.
func attack(ctx context.Context, tr vegeta.Targeter, pacer vegeta.Pacer, du time.Duration, opts ...func(*vegeta.Attacker)) []*vegeta.Result {
	a := vegeta.NewAttacker(append([]func(*vegeta.Attacker){vegeta.Timeout(attackTimeout), vegeta.KeepAlive(true)}, opts...)...)
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			a.Stop()
		case <-finished:
		}
	}()
	var results []*vegeta.Result
	for r := range a.Attack(tr, pacer, du, "loadbench") {
		if r.Method == "" {
			continue // a worker that found no target left
		}
		results = append(results, r)
	}
	return results
}

// closedLoop is an attack of at most n requests in flight, each sent as soon as one is answered.
func closedLoop(n int) []func(*vegeta.Attacker) {
	return []func(*vegeta.Attacker){vegeta.Workers(uint64(n)), vegeta.MaxWorkers(uint64(n))}
}

// unpaced sends as fast as the workers allow.
var unpaced = vegeta.Rate{}

// perSecond is an open-loop pace.
func perSecond(rate int) vegeta.Rate { return vegeta.Rate{Freq: max(rate, 1), Per: time.Second} }

// targetsOnce hands out each target once, then stops the attack.
func targetsOnce(targets []vegeta.Target) vegeta.Targeter {
	var next atomic.Int64
	return func(t *vegeta.Target) error {
		i := next.Add(1) - 1
		if i >= int64(len(targets)) {
			return vegeta.ErrNoTargets
		}
		*t = targets[i]
		return nil
	}
}

// outcome sums up an attack's results.
type outcome struct {
	ok        int
	failed    int
	firstErr  string
	first     time.Time // the first request sent
	lastEnd   time.Time // the last answer received
	latencies []time.Duration
}

func summarize(results []*vegeta.Result, wantCode int) outcome {
	var o outcome
	for _, r := range results {
		if o.first.IsZero() || r.Timestamp.Before(o.first) {
			o.first = r.Timestamp
		}
		if end := r.End(); end.After(o.lastEnd) {
			o.lastEnd = end
		}
		if int(r.Code) != wantCode {
			o.failed++
			if o.firstErr == "" {
				o.firstErr = fmt.Sprintf("%s %s: %d %s %s", r.Method, r.URL, r.Code, r.Error, truncate(r.Body, 300))
			}
			continue
		}
		o.ok++
		o.latencies = append(o.latencies, r.Latency)
	}
	slices.Sort(o.latencies)
	return o
}

// slowAck is the ack latency target: acknowledgements slower than it are located in their stage,
// to tell a stall of a moment from a stage that fell behind its rate.
const slowAck = 50 * time.Millisecond

// slowRequests counts the requests slower than a threshold and when, from the first request of
// their attack (outcome.first), the first and the last of them were sent.
type slowRequests struct {
	count    int
	from, to time.Duration
}

func findSlow(results []*vegeta.Result, first time.Time, over time.Duration) slowRequests {
	var slow slowRequests
	for _, r := range results {
		if r.Latency <= over {
			continue
		}
		at := r.Timestamp.Sub(first)
		if slow.count == 0 || at < slow.from {
			slow.from = at
		}
		slow.to = max(slow.to, at)
		slow.count++
	}
	return slow
}

// rate is successful requests per second, from the first request sent to the last answer.
func (o outcome) rate() float64 {
	span := o.lastEnd.Sub(o.first).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(o.ok) / span
}

func (o outcome) err(what string) error {
	if o.failed == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d of %d requests failed; first: %s", what, o.failed, o.failed+o.ok, o.firstErr)
}

// percentileMs is the nearest-rank percentile of sorted durations, in milliseconds.
func percentileMs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.5)
	rank = min(max(rank, 1), len(sorted))
	return float64(sorted[rank-1]) / float64(time.Millisecond)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// waitUntil polls cond every 250ms until it holds, for at most within. The error says what was
// awaited and what cond last said.
func waitUntil(ctx context.Context, within time.Duration, what string, cond func() (bool, string, error)) error {
	return waitUntilEvery(ctx, within, 250*time.Millisecond, what, cond)
}

// pollEvery is how often to look at n screenings in Postgres: seldom enough for thousands that
// the bench's own queries do not weigh on the system it measures. Figures never depend on it:
// they come from the timestamps Postgres recorded.
func pollEvery(n int) time.Duration {
	if n > 1000 {
		return 2 * time.Second
	}
	return 250 * time.Millisecond
}

func waitUntilEvery(ctx context.Context, within, every time.Duration, what string, cond func() (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last string
	for {
		ok, state, err := cond()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		last = state
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %s for %s: %w; last seen: %s", within, what, ctx.Err(), last)
		case <-time.After(every):
		}
	}
}

// parallel calls fn for 0..n-1 from the given number of goroutines and returns how long it took.
func parallel(ctx context.Context, n, goroutines int, fn func(ctx context.Context, i int) error) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := time.Now()
	for range min(goroutines, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(started), firstErr
}

// screening is one the bench created, with its one check.
type screening struct {
	ID              string
	CheckID         string
	Provider        string
	ProviderCheckID string // once the check waits at its provider
}

// createScreenings creates n screenings, each with the one check, through the HR API from the
// given number of clients, closed loop. It returns them and the creation rate.
func (b *bench) createScreenings(ctx context.Context, n int, check map[string]any, label string, clients int) ([]screening, float64, error) {
	targets := make([]vegeta.Target, n)
	for i := range targets {
		ref := fmt.Sprintf("%s-%s-%d", b.runID, label, i)
		body, err := json.Marshal(map[string]any{
			"candidate": map[string]string{"reference": ref, "first_name": "Ada", "last_name": fmt.Sprintf("Bench-%d", i),
				"email": fmt.Sprintf("candidate-%d@example.com", i), "dob": "1990-12-10",
				"address_line1": "1 Loopback Lane", "country": "GBR"},
			"checks": []map[string]any{check},
		})
		if err != nil {
			return nil, 0, err
		}
		targets[i] = vegeta.Target{Method: http.MethodPost, URL: b.s.apiURL + "/v1/screenings", Body: body,
			Header: http.Header{"Authorization": {"Bearer " + b.s.apiKey}, "Content-Type": {"application/json"},
				"Idempotency-Key": {ref}}}
	}
	results := attack(ctx, targetsOnce(targets), unpaced, 0, closedLoop(clients)...)
	o := summarize(results, http.StatusCreated)
	if err := o.err("POST /v1/screenings"); err != nil {
		return nil, 0, err
	}
	created := make([]screening, 0, n)
	for _, r := range results {
		var answer struct {
			ID     string `json:"id"`
			Checks []struct {
				ID       string `json:"id"`
				Provider string `json:"provider"`
			} `json:"checks"`
		}
		if err := json.Unmarshal(r.Body, &answer); err != nil || len(answer.Checks) != 1 {
			return nil, 0, fmt.Errorf("POST /v1/screenings answered %s", truncate(r.Body, 300))
		}
		created = append(created, screening{ID: answer.ID, CheckID: answer.Checks[0].ID, Provider: answer.Checks[0].Provider})
	}
	if len(created) != n {
		return nil, 0, fmt.Errorf("created %d screenings of %d", len(created), n)
	}
	return created, o.rate(), nil
}

func ids(screenings []screening) []string {
	out := make([]string, len(screenings))
	for i, s := range screenings {
		out[i] = s.ID
	}
	return out
}

func providerCheckIDs(screenings []screening) []string {
	out := make([]string, len(screenings))
	for i, s := range screenings {
		out[i] = s.ProviderCheckID
	}
	return out
}

// waitWaiting waits until every screening's check is in progress at its provider, which is when
// its workflow waits for the result webhook, and fills in the provider's check ids.
func (b *bench) waitWaiting(ctx context.Context, screenings []screening) error {
	byScreening := map[string]string{}
	err := waitUntilEvery(ctx, b.cfg.waitTimeout, pollEvery(len(screenings)), "checks waiting at their provider", func() (bool, string, error) {
		var rows []struct {
			ScreeningID     string `db:"screening_id"`
			ProviderCheckID string `db:"provider_check_id"`
		}
		err := b.s.db.SelectContext(ctx, &rows, `SELECT screening_id::text AS screening_id, provider_check_id
			FROM checks WHERE screening_id = ANY($1::uuid[]) AND status = 'in_progress' AND provider_check_id IS NOT NULL`,
			pq.Array(ids(screenings)))
		if err != nil {
			return false, "", err
		}
		for _, r := range rows {
			byScreening[r.ScreeningID] = r.ProviderCheckID
		}
		return len(byScreening) == len(screenings), fmt.Sprintf("%d of %d waiting", len(byScreening), len(screenings)), nil
	})
	if err != nil {
		return err
	}
	for i := range screenings {
		screenings[i].ProviderCheckID = byScreening[screenings[i].ID]
	}
	return nil
}

// waitCompleted waits until every screening has ended and returns when each completed. A
// screening that ended otherwise than completed is an error.
func (b *bench) waitCompleted(ctx context.Context, screenings []screening) (map[string]time.Time, error) {
	completedAt := map[string]time.Time{}
	var notCompleted []string
	err := waitUntilEvery(ctx, b.cfg.waitTimeout, pollEvery(len(screenings)), "screenings completed", func() (bool, string, error) {
		var rows []struct {
			ID          string    `db:"id"`
			Status      string    `db:"status"`
			CompletedAt time.Time `db:"completed_at"`
		}
		err := b.s.db.SelectContext(ctx, &rows, `SELECT id::text AS id, status, completed_at FROM screenings
			WHERE id = ANY($1::uuid[]) AND completed_at IS NOT NULL`, pq.Array(ids(screenings)))
		if err != nil {
			return false, "", err
		}
		notCompleted = notCompleted[:0]
		for _, r := range rows {
			completedAt[r.ID] = r.CompletedAt
			if r.Status != "completed" {
				notCompleted = append(notCompleted, r.ID+" "+r.Status)
			}
		}
		return len(rows) == len(screenings), fmt.Sprintf("%d of %d ended", len(rows), len(screenings)), nil
	})
	if err != nil {
		return nil, err
	}
	if len(notCompleted) > 0 {
		return nil, fmt.Errorf("%d screenings ended otherwise than completed, e.g. %s", len(notCompleted), notCompleted[0])
	}
	return completedAt, nil
}

// webhookTargets are held ComplyCube webhooks as requests to screenflow, each tagged in its URL's
// query with its check, so that its answer can be matched to the check; the receiver ignores the
// query.
func (b *bench) webhookTargets(webhooks []heldWebhook) []vegeta.Target {
	targets := make([]vegeta.Target, len(webhooks))
	for i, w := range webhooks {
		header := http.Header{}
		header.Set("Content-Type", "application/json")
		header.Set(complycube.SignatureHeader, w.Signature)
		targets[i] = vegeta.Target{Method: http.MethodPost,
			URL:  b.s.apiURL + "/webhooks/complycube?" + url.Values{"check": {w.CheckID}}.Encode(),
			Body: w.Body, Header: header}
	}
	return targets
}

// checkOf is the check a webhook target was tagged with.
func checkOf(r *vegeta.Result) string {
	u, err := url.Parse(r.URL)
	if err != nil {
		return ""
	}
	return u.Query().Get("check")
}
