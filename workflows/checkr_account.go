package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/store"
)

// Signals of CheckrAccountWorkflow.
const (
	// CheckrAccountEventSignal carries a CheckrAccountEvent: the account was connected (OAuth),
	// credentialed or deauthorized.
	CheckrAccountEventSignal = "checkr-account-event"
	// CheckrAccountStateSignal carries a CheckrAccountState to the check workflows subscribed to
	// the account (see activities.CheckrAccounts.SubscribeCheckrAccount).
	CheckrAccountStateSignal = "checkr-account-state"
)

// Kinds of CheckrAccountEvent.
const (
	CheckrAccountConnected    = "connected"
	CheckrAccountCredentialed = "credentialed"
	CheckrAccountDeauthorized = "deauthorized"
)

// CheckrAccountWorkflowName is the type name the worker registers CheckrAccountWorkflow under.
const CheckrAccountWorkflowName = "CheckrAccountWorkflow"

const checkrAccountWorkflowPrefix = "checkr-account/"

// CheckrAccountWorkflowID is the workflow of one integrated Checkr account: its id is Checkr's
// account id, which is not PII.
func CheckrAccountWorkflowID(accountID string) string { return checkrAccountWorkflowPrefix + accountID }

// CheckrAccountIDOf returns the account whose workflow id this is, and false for any other id.
func CheckrAccountIDOf(workflowID string) (string, bool) {
	accountID, ok := strings.CutPrefix(workflowID, checkrAccountWorkflowPrefix)
	return accountID, ok && accountID != ""
}

// seenAccountEvents bounds how many applied event ids the workflow remembers. The inbox keeps one
// row per event id, so an event comes twice only when the relay signals it again after a crash
// between the signal and marking it delivered: moments apart, far fewer than this many events.
const seenAccountEvents = 256

// tellPageSize is how many subscribers the workflow tells at once, between which it takes in new
// events and may continue as new.
const tellPageSize = 200

// tellRetryInterval is how long telling waits after the subscribers could not be listed.
const tellRetryInterval = time.Hour

// CheckrAccountInput starts (or continues) an account's workflow. Its size is bounded whatever the
// number of the account's checks and events, as continue-as-new needs: the subscribers are in
// Postgres, and only the last seenAccountEvents event ids travel.
type CheckrAccountInput struct {
	AccountID string
	// Status is carried over by continue-as-new. "" (a first start, or a start after the workflow
	// had stopped) makes the workflow read it from Postgres and tell every subscriber.
	Status     store.CheckrAccountStatus
	SeenEvents []string // oldest first
	// Telling, carried over by continue-as-new, means that the subscribers after TellAfter (in
	// workflow id order) have yet to be told Status.
	Telling   bool
	TellAfter string
}

// CheckrAccountEvent is something that happened to the account.
type CheckrAccountEvent struct {
	Kind    string
	EventID string                    // the provider's event id, or a unique id for a connection
	Status  store.CheckrAccountStatus // for connected: the status Postgres recorded (credentialed when Checkr said so early)
	// TokenFingerprint, for deauthorized, names the revoked token (see checkr.TokenFingerprint).
	TokenFingerprint string
}

// CheckrAccountState is the account's state as check workflows are told it.
type CheckrAccountState struct {
	AccountID string
	Status    store.CheckrAccountStatus
}

// CheckrAccountWorkflow is the credentialed gate of one integrated account. Checkr checks wait
// for it to say "credentialed"; "deauthorized" ends the checks in flight. Events may come in any
// order, before the OAuth callback finished and while the workflow is not running: whichever
// comes first starts it (signal-with-start; the relay through registry.Reviver), and nothing is
// dropped. Checks subscribe in Postgres, where the workflow pages through them to tell them.
func CheckrAccountWorkflow(ctx workflow.Context, in CheckrAccountInput) error {
	w := &checkrAccount{accountID: in.AccountID, status: in.Status, seen: in.SeenEvents,
		telling: in.Telling, tellAfter: in.TellAfter}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (CheckrAccountState, error) {
		return CheckrAccountState{AccountID: w.accountID, Status: w.status}, nil
	}); err != nil {
		return err
	}
	if w.status == "" {
		// Postgres has the record the callback and the webhooks write first; subscribers may have
		// been told otherwise by a run that stopped, or not at all while none ran.
		w.status = store.CheckrAwaitingCredentialing
		w.refresh(ctx)
		w.tellEveryone()
	}
	selector := workflow.NewSelector(ctx)
	selector.AddReceive(workflow.GetSignalChannel(ctx, CheckrAccountEventSignal), func(c workflow.ReceiveChannel, _ bool) {
		var ev CheckrAccountEvent
		c.Receive(ctx, &ev)
		w.apply(ctx, ev)
	})
	for {
		// Events first: they may change what subscribers are to be told.
		for selector.HasPending() {
			selector.Select(ctx)
		}
		if w.telling {
			w.tellNextPage(ctx)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Continuing as new with no signal pending, in the task that checked: none is lost.
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() && !selector.HasPending() {
			return workflow.NewContinueAsNewError(ctx, CheckrAccountWorkflow, w.input())
		}
		if !w.telling {
			showStep(ctx, fmt.Sprintf("Account %s is **%s**; waiting for Checkr's account events", w.accountID, w.status))
			selector.Select(ctx)
		}
	}
}

type checkrAccount struct {
	accountID string
	status    store.CheckrAccountStatus
	seen      []string
	telling   bool
	tellAfter string
}

func (w *checkrAccount) apply(ctx workflow.Context, ev CheckrAccountEvent) {
	if ev.EventID != "" {
		if slices.Contains(w.seen, ev.EventID) {
			return
		}
		w.seen = append(w.seen, ev.EventID)
		if len(w.seen) > seenAccountEvents {
			w.seen = slices.Clone(w.seen[len(w.seen)-seenAccountEvents:])
		}
	}
	var a *activities.CheckrAccounts
	sctx := storeActivityOptions(ctx)
	previous := w.status
	switch ev.Kind {
	case CheckrAccountConnected:
		w.status = ev.Status
	case CheckrAccountCredentialed:
		// Postgres keeps the fact even for an account not connected yet, and decides: a
		// deauthorized account stays so until it is connected again.
		var status store.CheckrAccountStatus
		if err := workflow.ExecuteActivity(sctx, checkrActivity(a.RecordCheckrCredentialed), w.accountID).Get(ctx, &status); err == nil && status != "" {
			w.status = status
		}
	case CheckrAccountDeauthorized:
		var revoked bool
		err := workflow.ExecuteActivity(sctx, checkrActivity(a.RecordCheckrDeauthorized), activities.DeauthorizationInput{
			AccountID: w.accountID, TokenFingerprint: ev.TokenFingerprint}).Get(ctx, &revoked)
		if err == nil && revoked {
			w.status = store.CheckrDeauthorized
		}
	}
	if w.status != previous {
		w.tellEveryone()
	}
}

// refresh takes the status Postgres holds, unless no tenant has connected the account yet.
func (w *checkrAccount) refresh(ctx workflow.Context) {
	var a *activities.CheckrAccounts
	var status store.CheckrAccountStatus
	err := workflow.ExecuteActivity(storeActivityOptions(ctx), checkrActivity(a.ReadCheckrAccountStatus), w.accountID).Get(ctx, &status)
	if err == nil && status != "" {
		w.status = status
	}
}

// tellEveryone starts telling every subscriber the status, from the first, also when a telling of
// an older status is under way: those told it already are told the new one too.
func (w *checkrAccount) tellEveryone() {
	w.telling, w.tellAfter = true, ""
}

// tellNextPage tells the next page of subscribers the account's state, all at once. A subscriber
// that cannot be told has finished, and is forgotten.
func (w *checkrAccount) tellNextPage(ctx workflow.Context) {
	var a *activities.CheckrAccounts
	sctx := storeActivityOptions(ctx)
	var page []string
	if err := workflow.ExecuteActivity(sctx, checkrActivity(a.ListCheckrSubscribers), activities.CheckrSubscribersPage{
		AccountID: w.accountID, After: w.tellAfter, Limit: tellPageSize}).Get(ctx, &page); err != nil {
		// Postgres was down for a day, or refused (or the workflow is being canceled): the page is
		// tried again later rather than at once, in a loop.
		_ = workflow.NewTimerWithOptions(ctx, tellRetryInterval,
			workflow.TimerOptions{Summary: "back off before listing the account's subscribers again"}).Get(ctx, nil)
		return
	}
	state := CheckrAccountState{AccountID: w.accountID, Status: w.status}
	told := make([]workflow.Future, len(page))
	for i, id := range page {
		told[i] = workflow.SignalExternalWorkflow(ctx, id, "", CheckrAccountStateSignal, state)
	}
	var finished []string
	for i, f := range told {
		if f.Get(ctx, nil) != nil {
			finished = append(finished, page[i])
		}
	}
	if ctx.Err() != nil {
		return // the failures are the cancellation's, not the subscribers'
	}
	if len(finished) > 0 {
		_ = workflow.ExecuteActivity(sctx, checkrActivity(a.UnsubscribeCheckrAccount), activities.CheckrUnsubscriptionInput{
			AccountID: w.accountID, WorkflowIDs: finished}).Get(ctx, nil)
	}
	if len(page) < tellPageSize {
		w.telling, w.tellAfter = false, ""
		return
	}
	w.tellAfter = page[len(page)-1]
}

func (w *checkrAccount) input() CheckrAccountInput {
	return CheckrAccountInput{AccountID: w.accountID, Status: w.status, SeenEvents: slices.Clone(w.seen),
		Telling: w.telling, TellAfter: w.tellAfter}
}
