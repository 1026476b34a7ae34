package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/worker"
)

// runWorker runs the Temporal worker until ctx is done.
func runWorker(ctx context.Context, cfg config, log *slog.Logger) error {
	for _, w := range cfg.warnings() {
		log.Warn(w)
	}
	db, st, v, err := cfg.openSealedStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	m := startWorkerMetrics(ctx, cfg, log)
	defer m.close()
	cfg.Metrics.Temporal = m.temporal

	tc, err := dialTemporal(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer tc.Close()

	w, err := startWorker(ctx, tc, cfg, registry.Deps{Store: st, Vault: v}, log)
	if err != nil {
		return err
	}
	setUpPurgeSchedule(ctx, tc, cfg, log)
	log.Info("worker started", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace)
	<-ctx.Done()
	w.Stop()
	return nil
}

// workerSizes are the Temporal worker's limits: how many workflow tasks, activities and local
// activities it runs at once, how many pollers ask Temporal for each kind of task, and how many
// workflows it keeps in memory between their tasks. A workflow that is not kept is replayed from
// its whole history at its next task: a cache smaller than the workflows moving at once (a screening
// and each of its checks are one each) makes every task a replay, and throughput collapses.
type workerSizes struct {
	WorkflowTasks, Activities, LocalActivities int
	WorkflowPollers, ActivityPollers           int
	WorkflowCache                              int
}

func loadWorkerSizes(env registry.Env) (workerSizes, error) {
	var sizes workerSizes
	for _, setting := range []struct {
		setting registry.Setting
		value   *int
	}{
		{settingWorkflowTasks, &sizes.WorkflowTasks},
		{settingActivities, &sizes.Activities},
		{settingLocalActivities, &sizes.LocalActivities},
		{settingWorkflowPollers, &sizes.WorkflowPollers},
		{settingActivityPollers, &sizes.ActivityPollers},
		{settingWorkflowCache, &sizes.WorkflowCache},
	} {
		n, err := envCount(env, setting.setting)
		if err != nil {
			return sizes, err
		}
		*setting.value = n
	}
	return sizes, nil
}

func (s workerSizes) options() sdkworker.Options {
	return sdkworker.Options{
		MaxConcurrentWorkflowTaskExecutionSize:  s.WorkflowTasks,
		MaxConcurrentActivityExecutionSize:      s.Activities,
		MaxConcurrentLocalActivityExecutionSize: s.LocalActivities,
		MaxConcurrentWorkflowTaskPollers:        s.WorkflowPollers,
		MaxConcurrentActivityTaskPollers:        s.ActivityPollers,
	}
}

// startWorker starts the worker, retrying while Temporal answers but cannot serve it yet (its
// namespace not registered, its store failing): a worker that exits instead needs a supervisor
// to come back, and one started with the server, as in docker-compose, would never run.
func startWorker(ctx context.Context, tc client.Client, cfg config, deps registry.Deps, log *slog.Logger) (sdkworker.Worker, error) {
	// The cache is the SDK's, shared by every worker of the process.
	sdkworker.SetStickyWorkflowCacheSize(cfg.Worker.WorkflowCache)
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		// A worker whose Start failed is not started again: each attempt gets a new one.
		w, err := worker.NewWithOptions(tc, cfg.Providers, deps, cfg.Worker.options())
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
