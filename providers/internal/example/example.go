// Package example is a provider that exists only for tests: everything a provider needs in one
// package — webhook verification and parsing, the signal, a check workflow and its activity — to
// show (and test) that a new provider is its own package plus one line in the registry's list.
package example

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

const (
	// Name is the provider's name.
	Name = "example"
	// SignatureHeader carries the hex HMAC-SHA256 of the body.
	SignatureHeader = "X-Example-Signature"
	// EventSignal carries an Event to the check workflow.
	EventSignal = "example-event"
	// CheckWorkflowName is the check workflow's type name.
	CheckWorkflowName = "ExampleCheckWorkflow"
	// EventCheckCompleted is the event that ends a check.
	EventCheckCompleted = "check.completed"
	// CheckType is the one type of check it runs.
	CheckType = "basic"
)

var webhookSecret = registry.Setting{Name: "EXAMPLE_WEBHOOK_SECRET"}

// Provider is the example provider.
type Provider struct {
	secret string
}

// Event is the provider's webhook body, and also the signal its check workflow takes: it has no
// PII.
type Event struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	CheckID string `json:"check_id"` // the provider's id of the check
	Result  string `json:"result"`
}

// Sign returns the signature of body under secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// SubjectFor is the subject that routes the events of one of the provider's checks.
func SubjectFor(providerCheckID string) string { return "check:" + providerCheckID }

func (*Provider) Name() string { return Name }

func (*Provider) Settings() []registry.Setting { return []registry.Setting{webhookSecret} }

func (p *Provider) Configure(env registry.Env) error {
	p.secret = webhookSecret.Get(env)
	return nil
}

func (*Provider) ValidateCheck(raw json.RawMessage) (registry.Check, registry.FieldErrors, error) {
	var c struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return registry.Check{}, nil, err
	}
	if c.Type != CheckType {
		return registry.Check{}, registry.FieldErrors{"type": "must be " + CheckType}, nil
	}
	return registry.Check{Type: c.Type}, nil, nil
}

func (p *Provider) VerifyWebhook(header http.Header, _ string, body []byte) bool {
	got, err := hex.DecodeString(header.Get(SignatureHeader))
	want, _ := hex.DecodeString(Sign(p.secret, body))
	return p.secret != "" && err == nil && hmac.Equal(got, want)
}

func (*Provider) ParseWebhook(body []byte) (registry.Envelope, error) {
	ev, err := parse(body)
	return registry.Envelope{ID: ev.ID, Type: ev.Type, Subject: SubjectFor(ev.CheckID), Routed: true}, err
}

func (*Provider) Translate(body []byte) (registry.Signal, error) {
	ev, err := parse(body)
	return registry.Signal{Name: EventSignal, Arg: ev}, err
}

func parse(body []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, err
	}
	if ev.ID == "" || ev.Type == "" || ev.CheckID == "" {
		return Event{}, errors.New("example: an event needs id, type and check_id")
	}
	return ev, nil
}

func (*Provider) CheckWorkflow() string { return CheckWorkflowName }

func (*Provider) Register(w registry.Worker, deps registry.Deps) error {
	w.RegisterWorkflowWithOptions(CheckWorkflow, workflow.RegisterOptions{Name: CheckWorkflowName})
	w.RegisterActivityWithOptions(&Activities{Store: deps.Store}, activity.RegisterOptions{Name: registry.ActivityPrefix(Name)})
	return nil
}

// Activities are the provider's activities.
type Activities struct {
	Store *store.Store
}

// CreateCheckInput names the check to order.
type CreateCheckInput struct {
	CheckID    string
	WorkflowID string
}

// CreateCheck "orders" the check: a real provider would call its API. Its name is the same as
// ComplyCube's activity's; the registry's prefix keeps them apart. The route is written before it
// returns, as for every provider.
func (a *Activities) CreateCheck(ctx context.Context, in CreateCheckInput) (string, error) {
	id := "ex-" + in.CheckID
	return id, a.Store.SetProviderCheck(ctx, in.CheckID, Name, id, SubjectFor(id), in.WorkflowID)
}

// CheckWorkflow orders the check and completes it with the result of its completion event.
func CheckWorkflow(ctx workflow.Context, in workflows.CheckInput) (workflows.CheckResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
	})
	var providerCheckID string
	if err := workflow.ExecuteActivity(ctx, registry.ActivityPrefix(Name)+"CreateCheck", CreateCheckInput{
		CheckID: in.CheckID, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
	}).Get(ctx, &providerCheckID); err != nil {
		return workflows.CheckResult{}, err
	}
	events := workflow.GetSignalChannel(ctx, EventSignal)
	var ev Event
	for ev.Type != EventCheckCompleted {
		events.Receive(ctx, &ev)
	}
	var sa *activities.Screenings
	err := workflow.ExecuteActivity(ctx, sa.UpdateCheck, activities.CheckUpdateInput{
		CheckID: in.CheckID, Status: store.StatusCompleted, Outcome: ev.Result,
		Timeline: activities.TimelineInput{DedupeKey: "check.completed:" + in.CheckID, Kind: "check.completed",
			Detail: "example check " + providerCheckID + ": " + ev.Result, OccurredAt: workflow.Now(ctx)},
	}).Get(ctx, nil)
	if err != nil {
		return workflows.CheckResult{}, err
	}
	return workflows.CheckResult{CheckID: in.CheckID, Status: store.StatusCompleted, Outcome: ev.Result}, nil
}
