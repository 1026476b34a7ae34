package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/store"
)

// checkBase is what every provider check workflow shares: the check's identity, timeline writes
// that do not hold the workflow up, and how a check ends when it fails or is canceled.
type checkBase struct {
	screeningID string
	checkID     string
	recording   int // timeline writes in flight
	// localWrites: the check writes to Postgres through local activities (see storeWrite); it
	// started with fewerEventsChange.
	localWrites bool
}

// record writes a timeline entry without holding up the workflow.
func (b *checkBase) record(ctx workflow.Context, entry activities.TimelineInput) {
	var sa *activities.Screenings
	b.recordWith(ctx, sa.RecordCheckEvent, activities.CheckEventInput{
		ScreeningID: b.screeningID, CheckID: b.checkID, Timeline: entry,
	})
}

// recordWith runs a recording activity without holding up the workflow.
func (b *checkBase) recordWith(ctx workflow.Context, activity, input any) {
	b.recording++
	workflow.Go(ctx, func(gctx workflow.Context) {
		defer func() { b.recording-- }()
		_ = storeWrite(gctx, b.localWrites, activity, input).Get(gctx, nil)
	})
}

// finishRecording waits for timeline writes still in flight: they must land before the workflow
// closes.
func (b *checkBase) finishRecording(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return b.recording == 0 })
}

func (b *checkBase) update(ctx workflow.Context, in activities.CheckUpdateInput) error {
	var sa *activities.Screenings
	in.CheckID = b.checkID
	return storeWrite(ctx, b.localWrites, sa.UpdateCheck, in).Get(ctx, nil)
}

// updateUnlessLocal writes the check's submission as workflows started before fewerEventsChange
// do; with it, the activity that placed the check at the provider wrote it.
func (b *checkBase) updateUnlessLocal(ctx workflow.Context, in activities.CheckUpdateInput) error {
	if b.localWrites {
		return nil
	}
	return b.update(ctx, in)
}

// fail ends the check as failed with a reason the HR platform can read.
func (b *checkBase) fail(ctx workflow.Context, reason string) (CheckResult, error) {
	if errors.Is(ctx.Err(), workflow.ErrCanceled) {
		return CheckResult{}, temporal.NewCanceledError()
	}
	showStep(ctx, "**Failed**: "+reason)
	err := b.update(ctx, activities.CheckUpdateInput{
		Status: store.StatusFailed, FailureReason: reason,
		Timeline: activities.TimelineInput{DedupeKey: "check.failed:" + b.checkID, Kind: "check.failed",
			Detail: reason, OccurredAt: workflow.Now(ctx)},
	})
	if err != nil {
		return CheckResult{}, err
	}
	return CheckResult{CheckID: b.checkID, Status: store.StatusFailed, FailureReason: reason}, nil
}

// cancel records the cancellation on a context that is not canceled itself, then reports it.
func (b *checkBase) cancel(ctx workflow.Context) (CheckResult, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	showStep(dctx, "**Canceled** on request")
	err := b.update(dctx, activities.CheckUpdateInput{
		Status: store.StatusCanceled,
		Timeline: activities.TimelineInput{DedupeKey: "check.canceled:" + b.checkID, Kind: "check.canceled",
			Detail: "canceled", OccurredAt: workflow.Now(dctx)},
	})
	if err != nil {
		return CheckResult{}, err
	}
	return CheckResult{CheckID: b.checkID, Status: store.StatusCanceled}, temporal.NewCanceledError()
}

// endCanceled ends the check as canceled for a reason that is not a request to cancel the
// screening (the provider canceled it, or access to the account was revoked).
func (b *checkBase) endCanceled(ctx workflow.Context, reason string) (CheckResult, error) {
	showStep(ctx, "**Canceled**: "+reason)
	err := b.update(ctx, activities.CheckUpdateInput{
		Status: store.StatusCanceled, FailureReason: reason,
		Timeline: activities.TimelineInput{DedupeKey: "check.canceled:" + b.checkID, Kind: "check.canceled",
			Detail: reason, OccurredAt: workflow.Now(ctx)},
	})
	if err != nil {
		return CheckResult{}, err
	}
	return CheckResult{CheckID: b.checkID, Status: store.StatusCanceled, FailureReason: reason}, nil
}

// complete ends the check with its outcome and documents.
func (b *checkBase) complete(ctx workflow.Context, outcome, detail string, docs []activities.DocumentRef) (CheckResult, error) {
	showStep(ctx, "**Completed**: "+detail)
	err := b.update(ctx, activities.CheckUpdateInput{
		Status: store.StatusCompleted, Outcome: outcome,
		Timeline: activities.TimelineInput{DedupeKey: activities.CheckCompletedKey(b.checkID), Kind: "check.completed",
			Detail: detail, OccurredAt: workflow.Now(ctx)},
	})
	if err != nil {
		return CheckResult{}, err
	}
	return CheckResult{CheckID: b.checkID, Status: store.StatusCompleted, Outcome: outcome, Documents: docs}, nil
}

// runCheck runs a check workflow's body and ends it the same way for every provider: canceled
// when the screening is canceled, and only once its timeline writes have landed.
func runCheck(ctx workflow.Context, b *checkBase, body func(workflow.Context) (CheckResult, error)) (CheckResult, error) {
	result, err := body(ctx)
	if errors.Is(ctx.Err(), workflow.ErrCanceled) {
		return b.cancel(ctx)
	}
	if err != nil {
		return CheckResult{}, err
	}
	if err := b.finishRecording(ctx); err != nil {
		return b.cancel(ctx)
	}
	return result, nil
}

// maxPolling bounds how long a check polls a provider that neither answers nor fails: past it the
// check fails with the reason instead of polling forever.
const maxPolling = 60 * 24 * time.Hour

// awaitOrPoll waits up to the webhook deadline for over() (a webhook said the provider finished).
// Past the deadline it calls onPolling, to say so in the timeline, and polls with activity; see
// pollUntil. byEvent reports that a webhook, not the poll, ended the wait. view shows the wait in
// the UI.
func awaitOrPoll(ctx workflow.Context, timing Timing, view awaitView, over func() bool, onPolling func(),
	activity, input, result any) (byEvent bool, err error) {
	view.showWaiting(ctx, timing.WebhookDeadline)
	arrived, err := view.awaitDeadline(ctx, timing.WebhookDeadline, over)
	if err != nil || arrived {
		return arrived, err
	}
	onPolling()
	view.showPolling(ctx, timing.PollInterval)
	return pollUntil(ctx, timing.PollInterval, view.pollSummary(timing.PollInterval), over, activity, input, result)
}

// pollUntil runs a polling activity whose retry policy is the loop: while it fails with a
// retryable error (the provider says "not yet") it runs again every interval, so a long wait adds
// nothing to history. When over is not nil and becomes true meanwhile (a webhook came), the poll
// is canceled and byEvent is true; result is then left alone. summary names the activity in the UI.
func pollUntil(ctx workflow.Context, interval time.Duration, summary string, over func() bool, activity, input, result any) (byEvent bool, err error) {
	pollCtx, cancelPoll := workflow.WithCancel(ctx)
	if over != nil {
		workflow.Go(ctx, func(gctx workflow.Context) {
			if workflow.Await(gctx, over) == nil {
				cancelPoll()
			}
		})
	}
	pollCtx = workflow.WithActivityOptions(pollCtx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: maxPolling,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: interval, BackoffCoefficient: 1, MaximumInterval: interval},
		Summary:                summary,
	})
	err = workflow.ExecuteActivity(pollCtx, activity, input).Get(pollCtx, result)
	if over != nil && over() {
		return true, nil
	}
	return false, err
}

// AmendmentInput starts a provider's amendment workflow, which takes the events that come for a
// check after its workflow closed, under that workflow's id (registry.Reviver). Ids only.
type AmendmentInput struct {
	ScreeningID string
	CheckID     string
}

// NewAmendmentInput reads the check that a provider's check workflow id names (see
// CheckWorkflowID): ok is false for any other id.
func NewAmendmentInput(workflowID, provider string) (in AmendmentInput, ok bool) {
	screeningID, named, checkID, ok := ParseWorkflowID(workflowID)
	if !ok || named != provider || checkID == "" {
		return AmendmentInput{}, false
	}
	return AmendmentInput{ScreeningID: screeningID, CheckID: checkID}, true
}

// amendmentBase is what every provider's amendment workflow shares: the check, its timeline writes,
// and the screening result still to derive again after an amended outcome.
type amendmentBase struct {
	checkBase
	// pending is the last change of the check's outcome whose screening result is not derived
	// again yet; nil when there is none.
	pending *activities.ScreeningResultInput
}

// amended notes that the check's outcome changed: the screening's result is derived again.
func (b *amendmentBase) amended(dedupeKey, reason string) {
	b.pending = &activities.ScreeningResultInput{ScreeningID: b.screeningID, DedupeKey: dedupeKey, Reason: reason}
}

// runAmendments is the loop of every amendment workflow: take the events waiting (take), derive
// the screening's result again after an amended outcome (the screening may still run, waiting for
// its other checks: it concludes on the outcomes they returned, so this waits for it, taking a new
// event first), and end once the timeline is written and no event came meanwhile. An event that
// comes as the workflow completes fails the completion, and is taken on the retry.
func (b *amendmentBase) runAmendments(ctx workflow.Context, events workflow.ReceiveChannel, take func() error) error {
	eventWaiting := func() bool { return events.Len() > 0 }
	for {
		showStep(ctx, "Taking the provider's events that came after check `"+b.checkID+"` finished")
		if err := take(); err != nil {
			return err
		}
		if b.pending != nil {
			showStep(ctx, "The check's outcome changed: deriving screening `"+b.screeningID+
				"`'s result again once the screening has concluded, every "+uiDuration(amendmentResultInterval))
			var sa *activities.Screenings
			byEvent, err := pollUntil(ctx, amendmentResultInterval, "derive the screening's result again once it has concluded",
				eventWaiting, sa.RederiveScreeningResult, *b.pending, nil)
			if byEvent {
				continue
			}
			if err != nil {
				return err
			}
			b.pending = nil
		}
		if err := b.finishRecording(ctx); err != nil {
			return err
		}
		if !eventWaiting() {
			showStep(ctx, "**Done**: the events after check `"+b.checkID+"` finished are recorded")
			return nil
		}
	}
}
