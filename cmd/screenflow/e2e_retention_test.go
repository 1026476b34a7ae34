package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// triggerPurge runs the worker's purge schedule now, as `temporal schedule trigger` does, and
// returns what the run did.
func (s *stack) triggerPurge(t *testing.T) workflows.PurgeResult {
	t.Helper()
	ctx := context.Background()
	handle := s.temporal.ScheduleClient().GetHandle(ctx, workflows.PurgeScheduleID)
	require.Eventually(t, func() bool {
		_, input := describePurgeSchedule(t, handle)
		return input == s.cfg.purgeInput()
	}, 30*time.Second, 100*time.Millisecond, "the worker set the schedule up with its settings")
	before, err := handle.Describe(ctx)
	require.NoError(t, err)
	require.NoError(t, handle.Trigger(ctx, client.ScheduleTriggerOptions{}))
	var run *client.ScheduleWorkflowExecution
	require.Eventually(t, func() bool {
		now, err := handle.Describe(ctx)
		require.NoError(t, err)
		if now.Info.NumActions == before.Info.NumActions || len(now.Info.RecentActions) == 0 {
			return false
		}
		run = now.Info.RecentActions[len(now.Info.RecentActions)-1].StartWorkflowResult
		return run != nil
	}, 30*time.Second, 100*time.Millisecond, "the schedule started a purge")
	var result workflows.PurgeResult
	require.NoError(t, s.temporal.GetWorkflow(ctx, run.WorkflowID, run.FirstExecutionRunID).Get(ctx, &result))

	iter := s.temporal.GetWorkflowHistory(ctx, run.WorkflowID, run.FirstExecutionRunID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var history strings.Builder
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		history.WriteString(ev.String())
	}
	for _, pii := range []string{candidateEmail, candidateLastName, candidateDOB, "emp-42"} {
		require.NotContains(t, history.String(), pii, "the purge's history carries ids only")
	}
	return result
}

// TestEndToEndRetentionPurgeErasesExpiredCandidatesAndEmptiesOldWebhookBodies: a tenant keeps its
// candidates for 1s, another for the default year; both screenings complete by webhook. The
// scheduled purge, triggered, erases the first tenant's candidate through the erasure workflow,
// audited as the retention's, leaves the other's, and empties every webhook body older than
// INBOX_BODY_RETENTION while keeping its row.
func TestEndToEndRetentionPurgeErasesExpiredCandidatesAndEmptiesOldWebhookBodies(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 200 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour},
		env:    map[string]string{"INBOX_BODY_RETENTION": "1s"}})
	ctx := context.Background()
	shortTenant, err := s.db.TenantByAPIKey(ctx, s.apiKey)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"tenant", "set-retention", shortTenant.ID, "1s"}, &out))
	require.NoError(t, run(ctx, []string{"tenant", "create", "keeps a year"}, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	yearTenant := *s
	yearTenant.apiKey = lines[len(lines)-1]

	expiring := s.createScreening(t)
	kept := yearTenant.createScreening(t)
	s.waitForStatus(t, expiring.ID, store.StatusCompleted, time.Minute)
	yearTenant.waitForStatus(t, kept.ID, store.StatusCompleted, time.Minute)
	require.Nil(t, s.screeningErasedAt(t, expiring.ID))
	db := s.db.DB()
	// Both retentions, the tenant's 1s and the inbox's 1s, run out once every webhook has been
	// delivered for over a second.
	require.Eventually(t, func() bool {
		var settled bool
		require.NoError(t, db.Get(&settled, `SELECT count(*) FILTER (WHERE status = 'pending') = 0
				AND coalesce(max(coalesce(delivered_at, received_at)) < now() - interval '1200 milliseconds', false)
			FROM webhook_events`))
		return settled
	}, 30*time.Second, 200*time.Millisecond, "every webhook delivered a while ago")
	var keptEvents int
	require.NoError(t, db.Get(&keptEvents, `SELECT count(*) FROM webhook_events e
		JOIN routes r ON r.provider = e.provider AND r.subject = e.subject
		WHERE r.workflow_id LIKE 'screening/' || $1 || '/%'`, kept.ID))
	require.Positive(t, keptEvents, "the kept candidate's check got webhooks")
	var allEvents int
	require.NoError(t, db.Get(&allEvents, `SELECT count(*) FROM webhook_events`))

	result := s.triggerPurge(t)
	require.Equal(t, 1, result.ErasuresStarted, "only the candidate of the tenant with 1s: %+v", result)
	require.Positive(t, result.InboxBodiesPurged)

	require.Eventually(t, func() bool { return s.screeningErasedAt(t, expiring.ID) != nil }, time.Minute, 200*time.Millisecond,
		"the expired candidate reads as erased")
	require.Nil(t, yearTenant.screeningErasedAt(t, kept.ID), "the other tenant's candidate is kept")
	require.Len(t, s.fake.DeletedClients(), 1, "ComplyCube was asked to delete the expired candidate only")
	var keptCandidate struct {
		Erased bool `db:"erased"`
		Sealed bool `db:"sealed"`
	}
	require.NoError(t, db.Get(&keptCandidate, `SELECT c.erased_at IS NOT NULL AS erased, c.pii_sealed IS NOT NULL AS sealed
		FROM candidates c JOIN screenings s ON s.candidate_id = c.id WHERE s.id = $1`, kept.ID))
	require.Equal(t, struct {
		Erased bool `db:"erased"`
		Sealed bool `db:"sealed"`
	}{false, true}, keptCandidate, "the kept candidate's data is still there")

	status, raw := s.request(t, http.MethodGet, "/v1/audit-events?screening_id="+expiring.ID, nil)
	require.Equal(t, http.StatusOK, status, string(raw))
	var audit struct {
		Events []struct {
			Action string `json:"action"`
			KeyID  string `json:"key_id"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal(raw, &audit))
	require.Contains(t, audit.Events, struct {
		Action string `json:"action"`
		KeyID  string `json:"key_id"`
	}{string(store.AuditCandidateErased), workflows.PurgeKeyID}, "the erasure is audited as the retention's, not a key's")

	var inbox struct {
		Rows   int `db:"rows"`
		Kept   int `db:"kept"`
		Bodies int `db:"bodies"`
	}
	require.NoError(t, db.Get(&inbox, `SELECT count(*) AS rows,
			count(*) FILTER (WHERE body_purged_at IS NULL) AS kept,
			count(*) FILTER (WHERE length(body) > 0) AS bodies
		FROM webhook_events`))
	require.Equal(t, allEvents, inbox.Rows, "the rows stay for audit")
	require.Zero(t, inbox.Kept, "every body is older than INBOX_BODY_RETENTION")
	require.Zero(t, inbox.Bodies)
	var keptEventsLeft int
	require.NoError(t, db.Get(&keptEventsLeft, `SELECT count(*) FROM webhook_events e
		JOIN routes r ON r.provider = e.provider AND r.subject = e.subject
		WHERE r.workflow_id LIKE 'screening/' || $1 || '/%' AND e.status = 'delivered' AND e.body_purged_at IS NOT NULL`, kept.ID))
	require.Equal(t, keptEvents, keptEventsLeft, "the kept candidate's events were emptied by the inbox's retention alone")

	again := s.triggerPurge(t)
	require.Equal(t, workflows.PurgeResult{}, again, "nothing is left for the next run")
}

// TestEndToEndPurgeScheduleSurvivesWorkersStartingTogether: several workers starting at once all
// set the schedule up without an error, and the last one's settings are the schedule's.
func TestEndToEndPurgeScheduleSurvivesWorkersStartingTogether(t *testing.T) {
	tc := testenv.NewTemporalClient(t)
	ctx := context.Background()
	handle := tc.ScheduleClient().GetHandle(ctx, workflows.PurgeScheduleID)
	// Another test's worker may have made it: start from none.
	_ = handle.Delete(ctx)
	cfg, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- ensurePurgeSchedule(ctx, tc, cfg) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	interval, input := describePurgeSchedule(t, handle)
	require.Equal(t, time.Hour, interval)
	require.Equal(t, cfg.purgeInput(), input)
	require.Equal(t, 8760*time.Hour, input.ScreeningRetention)

	cfg.Retention.PurgeInterval, cfg.Retention.DefaultScreening = 15*time.Minute, 2160*time.Hour
	require.NoError(t, ensurePurgeSchedule(ctx, tc, cfg))
	interval, input = describePurgeSchedule(t, handle)
	require.Equal(t, 15*time.Minute, interval)
	require.Equal(t, 2160*time.Hour, input.ScreeningRetention, "a worker with new settings updates the schedule")
}

func describePurgeSchedule(t *testing.T, handle client.ScheduleHandle) (time.Duration, workflows.PurgeInput) {
	t.Helper()
	d, err := handle.Describe(context.Background())
	require.NoError(t, err)
	require.Len(t, d.Schedule.Spec.Intervals, 1)
	require.Equal(t, enums.SCHEDULE_OVERLAP_POLICY_SKIP, d.Schedule.Policy.Overlap)
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	require.Equal(t, workflows.PurgeWorkflowName, action.Workflow)
	require.Len(t, action.Args, 1)
	var input workflows.PurgeInput
	require.NoError(t, e2eDataConverter(t).FromPayload(action.Args[0].(*common.Payload), &input))
	return d.Schedule.Spec.Intervals[0].Every, input
}
