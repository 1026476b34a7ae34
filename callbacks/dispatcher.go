package callbacks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/screenflow/screenflow/store"
)

// Config tunes the dispatcher. Zero values take the defaults.
type Config struct {
	Policy Policy
	// Timeout bounds one attempt, connection and answer included.
	Timeout time.Duration
	// SweepInterval is how often the dispatcher looks for due deliveries when it found none.
	SweepInterval time.Duration
	// BatchSize is the most deliveries one claim leases; Concurrency how many are sent at once.
	BatchSize   int
	Concurrency int
	// FirstRetry is the back-off after a first failed attempt; it doubles with each failure up to
	// MaxBackoff, and each wait is jittered down by up to half.
	FirstRetry time.Duration
	MaxBackoff time.Duration
	// RetryWindow is how long a delivery is retried before it is given up: an attempt that fails
	// this long after the delivery was written (or redelivered) is its last.
	RetryWindow time.Duration
	// FailureBudget: an endpoint whose every attempt has failed for this long is disabled.
	FailureBudget time.Duration
	// LogRetention is how long the delivery log keeps a finished delivery and its attempts;
	// PurgeInterval how often the dispatcher deletes those older.
	LogRetention  time.Duration
	PurgeInterval time.Duration
}

// The defaults: retried for a day with back-off from 5 s to 2 h (20 to 30 attempts); an endpoint
// failing for three days running is disabled.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultFirstRetry    = 5 * time.Second
	DefaultMaxBackoff    = 2 * time.Hour
	DefaultRetryWindow   = 24 * time.Hour
	DefaultFailureBudget = 72 * time.Hour
	DefaultLogRetention  = 30 * 24 * time.Hour
	DefaultPurgeInterval = time.Hour
)

// purgeBatch bounds one purge's DELETE, so that it holds its locks briefly.
const purgeBatch = 1000

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.FirstRetry <= 0 {
		c.FirstRetry = DefaultFirstRetry
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.RetryWindow <= 0 {
		c.RetryWindow = DefaultRetryWindow
	}
	if c.FailureBudget <= 0 {
		c.FailureBudget = DefaultFailureBudget
	}
	if c.LogRetention <= 0 {
		c.LogRetention = DefaultLogRetention
	}
	if c.PurgeInterval <= 0 {
		c.PurgeInterval = DefaultPurgeInterval
	}
	return c
}

// lease is how long a claim keeps other dispatchers off its deliveries: a batch is sent
// Concurrency at a time, each bounded by Timeout, with room to record the outcomes.
func (c Config) lease() time.Duration {
	rounds := (c.BatchSize + c.Concurrency - 1) / c.Concurrency
	return time.Duration(rounds+1)*c.Timeout + 30*time.Second
}

// Dispatcher sends the outbox's due deliveries. Several dispatchers (one per serve replica) may
// share a database: each delivery is leased to one of them at a time.
type Dispatcher struct {
	store  *store.Store
	cfg    Config
	client *http.Client
	log    *slog.Logger
}

// NewDispatcher builds a dispatcher.
func NewDispatcher(st *store.Store, cfg Config, log *slog.Logger) *Dispatcher {
	cfg = cfg.withDefaults()
	return &Dispatcher{store: st, cfg: cfg, client: cfg.Policy.Client(cfg.Timeout), log: log.With("component", "callbacks")}
}

// Run delivers due deliveries until ctx is done. After a full batch it looks again at once, since
// a delivered event may have let its screening's next one through; otherwise it waits a sweep.
// Every PurgeInterval it also purges the delivery log.
func (d *Dispatcher) Run(ctx context.Context) {
	var purged time.Time
	for {
		if time.Since(purged) >= d.cfg.PurgeInterval {
			purged = time.Now()
			if n, err := d.PurgeLog(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("callback delivery log not purged", "error", err)
			} else if n > 0 {
				d.log.Info("callback delivery log purged", "deliveries", n)
			}
		}
		n, err := d.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("callbacks not claimed", "error", err)
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.cfg.SweepInterval):
		}
	}
}

// DeliverDue claims one batch of due deliveries, sends them and records their outcomes. It returns
// how many it claimed.
func (d *Dispatcher) DeliverDue(ctx context.Context) (int, error) {
	due, err := d.store.ClaimDueCallbacks(ctx, d.cfg.BatchSize, d.cfg.lease())
	if err != nil {
		return 0, err
	}
	slots := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, c := range due {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			d.deliver(ctx, c)
		})
	}
	wg.Wait()
	return len(due), nil
}

// PurgeLog deletes the deliveries that finished longer than LogRetention ago, with their attempts,
// a batch at a time, and returns how many it deleted.
func (d *Dispatcher) PurgeLog(ctx context.Context) (int64, error) {
	cutoff := time.Now().Add(-d.cfg.LogRetention)
	var total int64
	for {
		n, err := d.store.PurgeCallbackDeliveries(ctx, cutoff, purgeBatch)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}

// deliver sends one delivery and records the attempt; nothing is held in a transaction meanwhile.
func (d *Dispatcher) deliver(ctx context.Context, c store.DueCallback) {
	started := time.Now()
	statusCode, sendErr := d.send(ctx, c, started)
	attempt := store.CallbackAttempt{DeliveryID: c.ID, LeaseID: c.LeaseID, EndpointID: c.EndpointID,
		AttemptedAt: started, Duration: time.Since(started), StatusCode: statusCode,
		Delivered: sendErr == nil, FailureBudget: d.cfg.FailureBudget}
	if sendErr != nil {
		if ctx.Err() != nil {
			// Stopping: the attempt was cut short by us, not failed by the endpoint. Its lease runs
			// out and a dispatcher sends it again.
			return
		}
		attempt.Error = sendErr.Error()
		if now := time.Now(); now.Sub(c.PendingSince) < d.cfg.RetryWindow {
			attempt.RetryAt = now.Add(d.backoff(c.Attempts + 1))
		}
	}
	// Recorded even while stopping: the endpoint has the callback, and not recording it would
	// send it again.
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	disabled, err := d.store.RecordCallbackAttempt(recordCtx, attempt)
	log := d.log.With("endpoint_id", c.EndpointID, "webhook_id", c.EventID, "screening_id", c.ScreeningID,
		"attempt", c.Attempts+1)
	switch {
	case err != nil:
		log.Warn("callback attempt not recorded; it will be sent again", "error", err)
	case disabled:
		log.Warn("webhook endpoint disabled: every delivery failed for longer than the failure budget",
			"failure_budget", d.cfg.FailureBudget)
	case sendErr != nil && attempt.RetryAt.IsZero():
		log.Warn("callback given up at the end of its retry window", "error", sendErr)
	case sendErr != nil:
		log.Info("callback failed; retrying", "error", sendErr, "retry_at", attempt.RetryAt)
	}
}

// backoff is the wait after the attempt-th failed attempt: FirstRetry doubled per earlier failure,
// at most MaxBackoff, less a random part of up to half, so that the retries of many deliveries
// that failed together spread out.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	wait := d.cfg.MaxBackoff
	if shift := attempt - 1; shift < 30 {
		wait = min(d.cfg.FirstRetry<<shift, d.cfg.MaxBackoff)
	}
	return wait - rand.N(wait/2+1)
}

// send posts the callback signed, and returns the status code of the answer (0 for none) and why
// it does not count as delivered.
func (d *Dispatcher) send(ctx context.Context, c store.DueCallback, now time.Time) (int, error) {
	signature, err := sign(c.Secrets, c.EventID, now, c.Payload)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(c.Payload))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "screenflow-callbacks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, c.EventID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, signature)
	resp, err := d.client.Do(req)
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		// Without the URL, which the tenant may have put a token in.
		return 0, urlErr.Err
	}
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Read (a bounded part) so that the connection can be reused; what it says does not matter.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// sign is the webhook-signature header: a v1 signature per secret, space-separated as the Standard
// Webhooks spec allows, so that a receiver holding either secret during a rotation verifies it.
func sign(secrets []string, id string, at time.Time, payload []byte) (string, error) {
	signatures := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			return "", fmt.Errorf("endpoint secret: %w", err)
		}
		signature, err := wh.Sign(id, at, payload)
		if err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
		signatures = append(signatures, signature)
	}
	return strings.Join(signatures, " "), nil
}
