package workflows

import (
	"maps"
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/store"
)

// Signals of CheckrAccountWorkflow.
const (
	// CheckrAccountEventSignal carries a CheckrAccountEvent: the account was connected (OAuth),
	// credentialed or deauthorized.
	CheckrAccountEventSignal = "checkr-account-event"
	// CheckrSubscribeSignal carries a CheckrSubscription: a check workflow asks to be told the
	// account's state now and whenever it changes.
	CheckrSubscribeSignal = "checkr-subscribe"
	// CheckrAccountStateSignal carries a CheckrAccountState to subscribed check workflows.
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

// CheckrAccountWorkflowID is the workflow of one integrated Checkr account: its id is Checkr's
// account id, which is not PII.
func CheckrAccountWorkflowID(accountID string) string { return "checkr-account/" + accountID }

// CheckrAccountInput starts (or continues) an account's workflow.
type CheckrAccountInput struct {
	AccountID   string
	Status      store.CheckrAccountStatus // carried over by continue-as-new; "" at first start
	Subscribers []string                  // check workflow ids, carried over by continue-as-new
	SeenEvents  []string
}

// CheckrAccountEvent is something that happened to the account.
type CheckrAccountEvent struct {
	Kind    string
	EventID string                    // the provider's event id, or a unique id for a connection
	Status  store.CheckrAccountStatus // for connected: the status Postgres recorded (credentialed when Checkr said so early)
	// TokenFingerprint, for deauthorized, names the revoked token (see checkr.TokenFingerprint).
	TokenFingerprint string
}

// CheckrSubscription names the check workflow to keep informed.
type CheckrSubscription struct {
	WorkflowID string
}

// CheckrAccountState is the account's state as check workflows are told it.
type CheckrAccountState struct {
	AccountID string
	Status    store.CheckrAccountStatus
}

// CheckrAccountWorkflow is the credentialed gate of one integrated account. Checkr checks wait
// for it to say "credentialed"; "deauthorized" ends the checks in flight. Events may come in any
// order and before the OAuth callback finished: the workflow is started by whichever comes first
// (signal-with-start), and nothing is dropped.
func CheckrAccountWorkflow(ctx workflow.Context, in CheckrAccountInput) error {
	w := &checkrAccount{accountID: in.AccountID, status: in.Status, subscribers: map[string]bool{}, seen: map[string]bool{}}
	if w.status == "" {
		w.status = store.CheckrAwaitingCredentialing
	}
	for _, s := range in.Subscribers {
		w.subscribers[s] = true
	}
	for _, e := range in.SeenEvents {
		w.seen[e] = true
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (CheckrAccountState, error) {
		return CheckrAccountState{AccountID: w.accountID, Status: w.status}, nil
	}); err != nil {
		return err
	}
	events := workflow.GetSignalChannel(ctx, CheckrAccountEventSignal)
	subscriptions := workflow.GetSignalChannel(ctx, CheckrSubscribeSignal)
	selector := workflow.NewSelector(ctx)
	selector.AddReceive(events, func(c workflow.ReceiveChannel, _ bool) {
		var ev CheckrAccountEvent
		c.Receive(ctx, &ev)
		w.apply(ctx, ev)
	})
	selector.AddReceive(subscriptions, func(c workflow.ReceiveChannel, _ bool) {
		var sub CheckrSubscription
		c.Receive(ctx, &sub)
		w.refresh(ctx)
		w.subscribers[sub.WorkflowID] = true
		w.tell(ctx, sub.WorkflowID)
	})
	for !workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
		selector.Select(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	// Signals that arrived with the last task must not be lost across continue-as-new.
	for selector.HasPending() {
		selector.Select(ctx)
	}
	return workflow.NewContinueAsNewError(ctx, CheckrAccountWorkflow, w.input())
}

type checkrAccount struct {
	accountID   string
	status      store.CheckrAccountStatus
	subscribers map[string]bool
	seen        map[string]bool
}

func (w *checkrAccount) apply(ctx workflow.Context, ev CheckrAccountEvent) {
	if ev.EventID != "" && w.seen[ev.EventID] {
		return
	}
	w.seen[ev.EventID] = true
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
		w.tellAll(ctx)
	}
}

// refresh takes the status Postgres holds: the record the callback and the webhooks write
// first, so that a signal lost while Temporal was down cannot leave the gate stale.
func (w *checkrAccount) refresh(ctx workflow.Context) {
	var a *activities.CheckrAccounts
	var status store.CheckrAccountStatus
	err := workflow.ExecuteActivity(storeActivityOptions(ctx), checkrActivity(a.ReadCheckrAccountStatus), w.accountID).Get(ctx, &status)
	if err == nil && status != "" && status != w.status {
		w.status = status
		w.tellAll(ctx)
	}
}

func (w *checkrAccount) tellAll(ctx workflow.Context) {
	// Sorted: commands must come in the same order when the workflow replays.
	for _, id := range slices.Sorted(maps.Keys(w.subscribers)) {
		w.tell(ctx, id)
	}
	if w.status == store.CheckrDeauthorized {
		// The checks in flight end on this news; checks ordered after a reconnection subscribe anew.
		clear(w.subscribers)
	}
}

// tell sends the account's state to one subscriber. A subscriber that has finished is forgotten.
func (w *checkrAccount) tell(ctx workflow.Context, workflowID string) {
	err := workflow.SignalExternalWorkflow(ctx, workflowID, "", CheckrAccountStateSignal,
		CheckrAccountState{AccountID: w.accountID, Status: w.status}).Get(ctx, nil)
	if err != nil {
		delete(w.subscribers, workflowID)
	}
}

func (w *checkrAccount) input() CheckrAccountInput {
	return CheckrAccountInput{AccountID: w.accountID, Status: w.status,
		Subscribers: slices.Sorted(maps.Keys(w.subscribers)), SeenEvents: slices.Sorted(maps.Keys(w.seen))}
}
