package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/worker"
)

// runWorker runs the Temporal worker until ctx is done.
func runWorker(ctx context.Context, cfg config, log *slog.Logger) error {
	if err := cfg.requireDatabase(); err != nil {
		return err
	}
	for _, w := range cfg.warnings() {
		log.Warn(w)
	}
	v, err := cfg.vault()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()

	tc, err := dialTemporal(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer tc.Close()

	w, err := startWorker(ctx, tc, cfg, registry.Deps{Store: store.New(db), Vault: v}, log)
	if err != nil {
		return err
	}
	log.Info("worker started", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace)
	<-ctx.Done()
	w.Stop()
	return nil
}

// startWorker starts the worker, retrying while Temporal answers but cannot serve it yet (its
// namespace not registered, its store failing): a worker that exits instead needs a supervisor
// to come back, and one started with the server, as in docker-compose, would never run.
func startWorker(ctx context.Context, tc client.Client, cfg config, deps registry.Deps, log *slog.Logger) (sdkworker.Worker, error) {
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		// A worker whose Start failed is not started again: each attempt gets a new one.
		w, err := worker.New(tc, cfg.Providers, deps)
		if err != nil {
			return nil, err
		}
		if err = w.Start(); err == nil {
			return w, nil
		}
		log.Warn("worker not started: temporal cannot serve it yet; retrying", "namespace", cfg.TemporalNamespace,
			"in", delay, "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("start worker: %w", err)
		case <-time.After(delay):
		}
	}
}

// dialTemporal waits for Temporal to answer, so that a worker started before the server (as in
// docker-compose) comes up by itself instead of crashing.
func dialTemporal(ctx context.Context, cfg config, log *slog.Logger) (client.Client, error) {
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		tc, err := client.DialContext(ctx, temporalOptions(cfg, log))
		if err == nil {
			return tc, nil
		}
		log.Warn("temporal is not reachable yet; retrying", "address", cfg.TemporalAddress, "in", delay, "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial temporal: %w", ctx.Err())
		case <-time.After(delay):
		}
	}
}
