package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/screenflow/screenflow/store"
)

// queryTimeout bounds the queries of one scrape, well inside Prometheus's default 10 s scrape
// timeout: a slow database leaves the scrape with the other metrics and database_up 0.
const queryTimeout = 3 * time.Second

// Database is what Postgres is read for at scrape time (store.Store).
type Database interface {
	PendingInboxByProvider(ctx context.Context) ([]store.PendingInbox, error)
	ScreeningsByStatus(ctx context.Context) ([]store.StatusCount, error)
	ChecksByStatus(ctx context.Context) ([]store.StatusCount, error)
}

// screeningStatuses are the statuses a screening can be in, reported at 0 when none is, so that
// a series does not vanish when its last screening moves on.
var screeningStatuses = []store.Status{store.StatusPending, store.StatusInProgress, store.StatusCompleted,
	store.StatusFailed, store.StatusCanceled}

// checkStatuses are a check's: a screening's and the two only checks have.
var checkStatuses = append([]store.Status{store.StatusAwaitingCredentialing, store.StatusActionRequired},
	screeningStatuses...)

var (
	inboxPendingDesc = prometheus.NewDesc(namespace+"_inbox_pending_events",
		"Webhook events stored and not yet delivered to their workflow, by provider.", []string{"provider"}, nil)
	inboxOldestDesc = prometheus.NewDesc(namespace+"_inbox_oldest_pending_age_seconds",
		"Age of the oldest webhook event not yet delivered, by provider; 0 when none is pending.", []string{"provider"}, nil)
	screeningsDesc = prometheus.NewDesc(namespace+"_screenings",
		"Screenings by status.", []string{"status"}, nil)
	checksDesc = prometheus.NewDesc(namespace+"_checks",
		"Checks by provider and status.", []string{"provider", "status"}, nil)
	databaseUpDesc = prometheus.NewDesc(namespace+"_database_up",
		"1 when the last scrape read the inbox, screenings and checks from Postgres, 0 when a query failed.", nil, nil)
)

// DatabaseCollector reads the inbox's backlog and the screenings and checks by status from
// Postgres at each scrape, so that every serve replica reports the same numbers, true whoever
// wrote the rows.
type DatabaseCollector struct {
	db        Database
	providers []string
	log       *slog.Logger
}

// NewDatabaseCollector reads db; providers (the configured ones) are reported at 0 when they have
// nothing pending or no checks.
func NewDatabaseCollector(db Database, providers []string, log *slog.Logger) *DatabaseCollector {
	return &DatabaseCollector{db: db, providers: providers, log: log}
}

// Describe implements prometheus.Collector.
func (c *DatabaseCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{inboxPendingDesc, inboxOldestDesc, screeningsDesc, checksDesc, databaseUpDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *DatabaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	up := 1.0
	if err := c.collect(ctx, ch); err != nil {
		c.log.Warn("metrics: reading Postgres for a scrape failed", "error", err)
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(databaseUpDesc, prometheus.GaugeValue, up)
}

// collect sends each family only once its query has answered: a failed query leaves its family
// out of the scrape rather than reporting zeros that are not true.
func (c *DatabaseCollector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	pending, err := c.db.PendingInboxByProvider(ctx)
	if err != nil {
		return err
	}
	byProvider := map[string]store.PendingInbox{}
	for _, p := range c.providers {
		byProvider[p] = store.PendingInbox{Provider: p}
	}
	for _, p := range pending {
		byProvider[p.Provider] = p
	}
	for provider, p := range byProvider {
		ch <- prometheus.MustNewConstMetric(inboxPendingDesc, prometheus.GaugeValue, float64(p.Count), provider)
		ch <- prometheus.MustNewConstMetric(inboxOldestDesc, prometheus.GaugeValue, p.OldestAgeSeconds, provider)
	}

	screenings, err := c.db.ScreeningsByStatus(ctx)
	if err != nil {
		return err
	}
	screeningCounts := map[store.Status]int64{}
	for _, s := range screeningStatuses {
		screeningCounts[s] = 0
	}
	for _, s := range screenings {
		screeningCounts[s.Status] = s.Count
	}
	for status, n := range screeningCounts {
		ch <- prometheus.MustNewConstMetric(screeningsDesc, prometheus.GaugeValue, float64(n), string(status))
	}

	checks, err := c.db.ChecksByStatus(ctx)
	if err != nil {
		return err
	}
	type providerStatus struct {
		provider string
		status   store.Status
	}
	checkCounts := map[providerStatus]int64{}
	for _, p := range c.providers {
		for _, s := range checkStatuses {
			checkCounts[providerStatus{p, s}] = 0
		}
	}
	for _, s := range checks {
		checkCounts[providerStatus{s.Provider, s.Status}] = s.Count
	}
	for k, n := range checkCounts {
		ch <- prometheus.MustNewConstMetric(checksDesc, prometheus.GaugeValue, float64(n), k.provider, string(k.status))
	}
	return nil
}
