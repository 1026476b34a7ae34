package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/screenflow/screenflow/codec"
	"github.com/screenflow/screenflow/workflows"
)

// purgeInput is what each scheduled purge runs with: this worker's settings.
func (c config) purgeInput() workflows.PurgeInput {
	in := workflows.DefaultPurgeBatches
	in.InboxBodyRetention = c.InboxBodyRetention
	in.ScreeningRetention = c.Retention.DefaultScreening
	return in
}

// setUpPurgeSchedule sets the purge's schedule up (ensurePurgeSchedule), retrying while Temporal
// cannot take it, as startWorker does, until ctx is done: the worker runs meanwhile, and a purge
// late by a retry loses nothing.
func setUpPurgeSchedule(ctx context.Context, tc client.Client, cfg config, log *slog.Logger) {
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		err := ensurePurgeSchedule(ctx, tc, cfg)
		if err == nil || ctx.Err() != nil {
			return
		}
		log.Warn("purge schedule not set up yet; retrying", "in", delay, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// ensurePurgeSchedule creates the Temporal Schedule that runs the purge every PURGE_INTERVAL, or,
// when it exists, sets its interval and input to this worker's settings: the worker that started
// last decides. Workers starting together all succeed: one creates it, the others update it.
// A run still going when the next is due makes the schedule skip that one.
func ensurePurgeSchedule(ctx context.Context, tc client.Client, cfg config) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: cfg.Retention.PurgeInterval}}}
	action := &client.ScheduleWorkflowAction{
		ID:            workflows.PurgeWorkflowID,
		Workflow:      workflows.PurgeWorkflowName,
		Args:          []any{cfg.purgeInput()},
		TaskQueue:     workflows.TaskQueue,
		StaticSummary: workflows.PurgeSummary,
		StaticDetails: workflows.PurgeDetails(cfg.purgeInput()),
	}
	schedules := tc.ScheduleClient()
	_, err := schedules.Create(ctx, client.ScheduleOptions{
		ID:      workflows.PurgeScheduleID,
		Spec:    spec,
		Action:  action,
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		if err != nil {
			return fmt.Errorf("create the purge schedule: %w", err)
		}
		return nil
	}
	err = schedules.GetHandle(ctx, workflows.PurgeScheduleID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(current client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			schedule := current.Description.Schedule
			schedule.Spec = &spec
			schedule.Action = action
			if schedule.Policy == nil {
				schedule.Policy = &client.SchedulePolicies{}
			}
			schedule.Policy.Overlap = enums.SCHEDULE_OVERLAP_POLICY_SKIP
			return &client.ScheduleUpdate{Schedule: &schedule}, nil
		},
	})
	if errors.Is(err, codec.ErrCannotDecode) {
		// The schedule was written under an encryption key no longer loaded (a rotation dropped
		// it): it cannot be read to be updated, nor could its runs read their input. It holds only
		// settings, this worker's to write, so it is deleted, and the next attempt creates it.
		if err := schedules.GetHandle(ctx, workflows.PurgeScheduleID).Delete(ctx); err != nil {
			return fmt.Errorf("delete the purge schedule written under a key no longer loaded: %w", err)
		}
		return errors.New("the purge schedule was written under a key no longer loaded: deleted, to be created again")
	}
	if err != nil {
		return fmt.Errorf("update the purge schedule: %w", err)
	}
	return nil
}
