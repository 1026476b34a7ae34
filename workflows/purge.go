package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/store"
)

// PurgeWorkflowName is the type name the worker registers PurgeWorkflow under.
const PurgeWorkflowName = "PurgeWorkflow"

// PurgeSummary is the purge's one line in the Temporal UI.
const PurgeSummary = "Retention purge: empty old webhook bodies, erase candidates past retention"

// PurgeDetails says, for the Temporal UI, what a purge run with in removes.
func PurgeDetails(in PurgeInput) string {
	bodies, candidates := "not purged", "not purged"
	if in.InboxBodyRetention > 0 {
		bodies = "emptied " + uiDuration(in.InboxBodyRetention) + " after they finished"
	}
	if in.ScreeningRetention > 0 {
		candidates = "erased " + uiDuration(in.ScreeningRetention) + " after their last screening finished, or their tenant's own retention"
	}
	return fmt.Sprintf("Webhook bodies (`INBOX_BODY_RETENTION`): %s\n\nCandidates (`SCREENING_RETENTION`): %s", bodies, candidates)
}

// PurgeScheduleID names the Temporal Schedule that runs PurgeWorkflow every PURGE_INTERVAL. Each
// run's workflow id is PurgeWorkflowID followed by the time the schedule ran it.
const (
	PurgeScheduleID = "screenflow-purge"
	PurgeWorkflowID = "screenflow-purge"
)

// PurgeKeyID is what the erasures the purge starts name as the key that asked for them.
const PurgeKeyID = store.RetentionKeyID

// PurgeInput is what one run of the purge keeps and how much it does. The schedule's action
// carries it, so the Temporal UI shows the settings a run used.
type PurgeInput struct {
	// InboxBodyRetention: webhook bodies finished longer ago are emptied (INBOX_BODY_RETENTION).
	// Zero skips them: an input that forgot it must not empty every body.
	InboxBodyRetention time.Duration
	// ScreeningRetention: candidates of tenants without a retention of their own are erased this
	// long after their last screening finished (SCREENING_RETENTION). Zero skips the candidates.
	ScreeningRetention time.Duration
	// InboxBatchSize is how many webhook bodies one statement empties.
	InboxBatchSize int
	// CandidateBatchSize is how many expired candidates one activity lists; each gets an erasure.
	CandidateBatchSize int
	// MaxBatches bounds a run, and so its history, for each of the two: what is left waits for the
	// next run.
	MaxBatches int
}

// DefaultPurgeBatches are the sizes the worker's schedule runs with: at most 1,000 erasures a run,
// each two or three events in the run's history. Webhook bodies go 1,000 a statement;
// store.PurgeWebhookBodies itself goes on while its statements come back full, so one activity
// usually empties everything due, and the bound holds if it stops early.
var DefaultPurgeBatches = PurgeInput{InboxBatchSize: 1000, CandidateBatchSize: 100, MaxBatches: 10}

// PurgeResult is what one run did.
type PurgeResult struct {
	InboxBodiesPurged int
	// ErasuresStarted counts the erasures this run started; ErasuresRunning those it found
	// started before (by an earlier run, or by DELETE /v1/candidates).
	ErasuresStarted int
	ErasuresRunning int
	// More says a bound stopped the run before it was done.
	More bool
}

// PurgeWorkflow is one run of the retention purge: it empties the bodies of webhook events kept
// longer than their retention (their rows stay), and starts ErasureWorkflow for every candidate
// whose screenings all finished longer ago than the tenant's retention. It carries ids only.
func PurgeWorkflow(ctx workflow.Context, in PurgeInput) (PurgeResult, error) {
	in = in.withDefaults()
	var result PurgeResult
	// A run that cannot reach Postgres gives up after an hour: the next run starts over, and until
	// this one ends the schedule skips them.
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// Emptying a backlog of bodies takes one activity many statements, each committed: one cut
		// short by the timeout is retried and carries on where it stopped.
		StartToCloseTimeout:    10 * time.Minute,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy:            storeRetryPolicy(),
	})
	var purge *activities.Purge

	for batch := 0; in.InboxBodyRetention > 0; batch++ {
		if batch == in.MaxBatches {
			result.More = true
			break
		}
		var purged int
		if err := workflow.ExecuteActivity(ctx, purge.PurgeInboxBodies, activities.PurgeInboxBodiesInput{
			Retention: in.InboxBodyRetention, BatchSize: in.InboxBatchSize,
		}).Get(ctx, &purged); err != nil {
			return result, err
		}
		result.InboxBodiesPurged += purged
		if purged < in.InboxBatchSize {
			break
		}
	}

	after := ""
	for batch := 0; in.ScreeningRetention > 0; batch++ {
		if batch == in.MaxBatches {
			result.More = true
			break
		}
		var expired []store.ExpiredCandidate
		if err := workflow.ExecuteActivity(ctx, purge.ExpiredCandidates, activities.ExpiredCandidatesInput{
			DefaultRetention: in.ScreeningRetention, After: after, Limit: in.CandidateBatchSize,
		}).Get(ctx, &expired); err != nil {
			return result, err
		}
		started, running, err := startErasures(ctx, expired)
		result.ErasuresStarted += started
		result.ErasuresRunning += running
		if err != nil {
			return result, err
		}
		if len(expired) < in.CandidateBatchSize {
			break
		}
		after = expired[len(expired)-1].ID
	}
	return result, nil
}

// startErasures starts an erasure per candidate and waits until each has started, not ended: an
// erasure cancels workflows and calls providers, and outlives the run (ParentClosePolicy abandon).
// One that is already running under the same id, because DELETE or an earlier run started it,
// counts as running.
func startErasures(ctx workflow.Context, expired []store.ExpiredCandidate) (started, running int, err error) {
	futures := make([]workflow.ChildWorkflowFuture, len(expired))
	for i, c := range expired {
		in := ErasureInput{TenantID: c.TenantID, KeyID: PurgeKeyID, CandidateIDs: []string{c.ID}}
		childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			// The id a DELETE of the candidate's reference takes when this row is its oldest.
			WorkflowID:            ErasureWorkflowID(c.ID),
			ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
			StaticSummary:         ErasureSummary(in, "its retention period ended"),
			TypedSearchAttributes: ErasureSearchAttributes(in),
			StaticDetails:         ErasureDetails(in),
		})
		futures[i] = workflow.ExecuteChildWorkflow(childCtx, ErasureWorkflowName, in)
	}
	for _, f := range futures {
		err := f.GetChildWorkflowExecution().Get(ctx, nil)
		switch {
		case err == nil:
			started++
		case temporal.IsWorkflowExecutionAlreadyStartedError(err):
			running++
		default:
			return started, running, err
		}
	}
	return started, running, nil
}

func (in PurgeInput) withDefaults() PurgeInput {
	if in.InboxBatchSize <= 0 {
		in.InboxBatchSize = DefaultPurgeBatches.InboxBatchSize
	}
	if in.CandidateBatchSize <= 0 {
		in.CandidateBatchSize = DefaultPurgeBatches.CandidateBatchSize
	}
	if in.MaxBatches <= 0 {
		in.MaxBatches = DefaultPurgeBatches.MaxBatches
	}
	return in
}
