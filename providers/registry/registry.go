// Package registry is the one list of providers that the receiver, the relay, the screening
// workflow's input, the worker and `screenflow dev` read. A provider is a value that implements
// Provider (and any of the optional interfaces below); adding one is its own package and one line
// in the list that cmd/screenflow builds (see providers/builtin).
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

// Provider is what every provider supplies.
type Provider interface {
	// Name names the provider in the HR API, webhook paths (/webhooks/<name>), routes, the inbox,
	// workflow ids and the prefix of its activities. Lower case, never changed once deployed.
	Name() string

	// Settings lists the environment variables the provider reads; a test holds the README's
	// configuration table to them.
	Settings() []Setting
	// Configure reads the provider's settings through env and checks them, with an error that
	// names the variable. It is called once at start-up, before anything else.
	Configure(env Env) error

	// ValidateCheck reads one check of POST /v1/screenings (the whole JSON object of the check)
	// and returns what is stored, or field errors keyed by the check's JSON fields ("type"). An
	// error means the JSON does not fit the check's shape (a string where a boolean goes).
	ValidateCheck(raw json.RawMessage) (Check, FieldErrors, error)

	// VerifyWebhook reports whether a webhook comes from the provider: a signature over body, or
	// the secret token in the path (/webhooks/<name>/<token>; "" when there is none). It must fail
	// closed: a missing secret verifies nothing.
	VerifyWebhook(header http.Header, token string, body []byte) bool
	// ParseWebhook reads what the inbox needs of an authentic body.
	ParseWebhook(body []byte) (Envelope, error)
	// Translate turns a stored body into the signal its workflow takes. Whatever it returns is
	// written to workflow history: it must carry no PII.
	Translate(body []byte) (Signal, error)

	// CheckWorkflow is the type name of the workflow that runs one check (its input is
	// workflows.CheckInput), as Register registers it.
	CheckWorkflow() string
	// Register registers the provider's workflows, and its activities under ActivityPrefix.
	Register(w Worker, deps Deps) error
}

// TenantChecks is implemented by providers whose checks need the tenant's own records to be
// valid (e.g. a connected account): field errors keyed by the check's JSON fields.
type TenantChecks interface {
	ValidateTenantCheck(ctx context.Context, st *store.Store, tenantID string, c Check) (FieldErrors, error)
}

// Warner is implemented by providers that can run configured but crippled (a webhook secret
// missing): the warnings are logged at start-up.
type Warner interface {
	Warnings() []string
}

// Reviver is implemented by providers whose events may reach a workflow that is not running: an
// account's workflow that has not started or has stopped, a check's that closed before a late
// amendment (an upgraded report). Revive names the workflow to start under that id, and its input,
// for the relay to deliver the signal with signal-with-start; ok false leaves the event discarded.
// No event about a resource screenflow created should need that.
type Reviver interface {
	Revive(workflowID string, sig Signal) (workflowType string, input any, ok bool)
}

// Subscriber is implemented by providers whose webhooks are registered through their API:
// `screenflow providers subscribe <name>`.
type Subscriber interface {
	Subscribe(ctx context.Context, publicBaseURL string, out io.Writer) error
}

// DevFake is implemented by providers that bring a fake for `screenflow dev`: it starts the fake
// and returns the settings that point the provider at it (applied before Configure).
type DevFake interface {
	StartDevFake(ctx context.Context, dev DevEnv) (DevFakeRun, error)
}

// DevEnv is what a fake needs to know of the dev stack.
type DevEnv struct {
	APIURL        string // the HR API and webhooks, e.g. http://127.0.0.1:8080
	PublicBaseURL string // PUBLIC_BASE_URL, or APIURL when it is not set
	Env           Env    // the real environment: a setting it has wins over the fake's
	Log           *slog.Logger
}

// DevFakeRun is a running fake.
type DevFakeRun struct {
	Settings map[string]string // the provider's settings that point it at the fake
	Banner   string            // one line for dev's banner
	Stop     func()
	// Started, when set, runs once the provider is configured with Settings (e.g. to subscribe
	// the webhook).
	Started func(ctx context.Context, out io.Writer) error
}

// Check is one validated check, as stored.
type Check struct {
	Type string
	// Options are the check's options as the check workflow reads them (workflows.CheckInput).
	Options json.RawMessage
	// AccountID is the provider account the check runs on, when the provider has several.
	AccountID string
}

// FieldErrors maps a JSON field to what is wrong with it, e.g. "type": "is required".
type FieldErrors map[string]string

// Envelope is what the inbox keeps of an event besides its body.
type Envelope struct {
	ID      string // de-duplicates the provider's retries
	Type    string
	Subject string // routes the event to the workflow that created the resource
	// Routed says that the event goes to the workflow its Subject routes to, not to one its Signal
	// names (Signal.WorkflowID). Such an event stored before its route exists waits in the inbox
	// until the route is written, without the relay looking at it. Left false, the relay decides.
	Routed bool
}

// Signal is what a stored event becomes.
type Signal struct {
	Name string
	Arg  any
	// WorkflowID, when set, is the target instead of the workflow the subject routes to, and the
	// workflow is started with StartWorkflow(StartInput) when it does not exist yet
	// (signal-with-start): for events that may come before anything created their workflow.
	WorkflowID    string
	StartWorkflow any
	StartInput    any

	// Note is the event's entry in its check's record, when the event alone tells it (no
	// ScreeningID or CheckID: the relay takes them from the check workflow the event routes to). The
	// relay writes it once the check's running workflow has the signal, so the workflow need not.
	Note *store.EventNote
	// Informational: the check workflow would only record the event (Note), nothing else. While the
	// check runs, the relay writes the note and signals nothing, which spares the workflow's history
	// the signal and the workflow task that takes it. An ended check's event is signalled all the
	// same: its amendment workflow acts on every event.
	Informational bool
	// PromptAfter names an event type after which an informational event is a prompt after all: when
	// one about the same subject was stored before it, the event is signalled.
	PromptAfter string
}

// Worker is the part of a Temporal worker (or of the test suite's environment) that registers.
type Worker interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Deps are what activities may need beyond the provider's own settings.
type Deps struct {
	Store *store.Store
	Vault *vault.Vault // nil when SCREENFLOW_ENCRYPTION_KEY is not set
}

// ActivityPrefix is the prefix of a provider's activity names: two providers' CreateCheck can
// never clash at worker start.
func ActivityPrefix(provider string) string { return provider + "." }

// Env looks a variable up; os.Getenv in production, a map in tests.
type Env func(name string) string

// Setting is one environment variable a provider reads, and its default.
type Setting struct {
	Name    string
	Default string
}

// Get reads a setting, or its default.
func (s Setting) Get(env Env) string {
	if v := env(s.Name); v != "" {
		return v
	}
	return s.Default
}

// Registry is the list of providers, by name.
type Registry struct {
	byName map[string]Provider
	names  []string
}

// New builds a registry. Two providers with one name are a programming error.
func New(providers ...Provider) (*Registry, error) {
	r := &Registry{byName: make(map[string]Provider, len(providers))}
	for _, p := range providers {
		name := p.Name()
		if name == "" || name != strings.ToLower(name) || strings.ContainsAny(name, "/. ") {
			return nil, fmt.Errorf("provider name %q: must be lower case, without '/', '.' or spaces", name)
		}
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("provider %q is registered twice", name)
		}
		r.byName[name] = p
		r.names = append(r.names, name)
	}
	sort.Strings(r.names)
	return r, nil
}

// MustNew is New for lists fixed in code.
func MustNew(providers ...Provider) *Registry {
	r, err := New(providers...)
	if err != nil {
		panic(err)
	}
	return r
}

// Configure configures every provider from env and reports every problem at once.
func (r *Registry) Configure(env Env) error {
	var problems []string
	for _, p := range r.All() {
		if err := p.Configure(env); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Get returns the provider of that name.
func (r *Registry) Get(name string) (Provider, bool) {
	p, ok := r.byName[name]
	return p, ok
}

// Names lists the providers' names, sorted.
func (r *Registry) Names() []string { return slices.Clone(r.names) }

// All lists the providers, sorted by name.
func (r *Registry) All() []Provider {
	out := make([]Provider, 0, len(r.names))
	for _, n := range r.names {
		out = append(out, r.byName[n])
	}
	return out
}

// Register registers every provider's workflows and activities.
func (r *Registry) Register(w Worker, deps Deps) error {
	for _, p := range r.All() {
		if err := p.Register(w, deps); err != nil {
			return fmt.Errorf("register %s: %w", p.Name(), err)
		}
	}
	return nil
}

// Settings lists every provider's settings, sorted by name.
func (r *Registry) Settings() []Setting {
	var all []Setting
	for _, p := range r.All() {
		all = append(all, p.Settings()...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

// ErrUnknownProvider is returned for a provider name that is not in the registry.
var ErrUnknownProvider = errors.New("unknown provider")

// Revive asks the named provider how to start a workflow that is not running for sig (see
// Reviver); ok is false when the provider has no answer.
func (r *Registry) Revive(provider, workflowID string, sig Signal) (workflowType string, input any, ok bool) {
	rv, isReviver := r.byName[provider].(Reviver)
	if !isReviver {
		return "", nil, false
	}
	return rv.Revive(workflowID, sig)
}

// Translate translates a stored body of the named provider (see Provider.Translate).
func (r *Registry) Translate(provider string, body []byte) (Signal, error) {
	p, ok := r.byName[provider]
	if !ok {
		return Signal{}, fmt.Errorf("%w %q", ErrUnknownProvider, provider)
	}
	return p.Translate(body)
}

// CheckWorkflow names the provider's check workflow; "" for a provider not in the registry.
func (r *Registry) CheckWorkflow(provider string) string {
	if p, ok := r.byName[provider]; ok {
		return p.CheckWorkflow()
	}
	return ""
}
