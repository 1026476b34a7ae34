package builtin

import (
	"context"
	"encoding/json"
	"net/http"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/complycube/fake"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/workflows"
)

// ComplyCube's settings.
var (
	complyCubeAPIKey        = registry.Setting{Name: "COMPLYCUBE_API_KEY"}
	complyCubeBaseURL       = registry.Setting{Name: "COMPLYCUBE_BASE_URL", Default: complycube.DefaultBaseURL}
	complyCubeWebhookSecret = registry.Setting{Name: "COMPLYCUBE_WEBHOOK_SECRET"}
)

// devFakeComplyCube is where `screenflow dev` serves the fake ComplyCube.
const devFakeComplyCube = "127.0.0.1:8090"

// ComplyCube is the ComplyCube provider: identity and screening checks, webhooks signed with
// HMAC-SHA256 in ComplyCube-Signature.
type ComplyCube struct {
	apiKey, baseURL, webhookSecret string
}

func (*ComplyCube) Name() string { return complycube.Name }

func (*ComplyCube) Settings() []registry.Setting {
	return []registry.Setting{complyCubeAPIKey, complyCubeBaseURL, complyCubeWebhookSecret}
}

func (p *ComplyCube) Configure(env registry.Env) error {
	p.apiKey, p.baseURL, p.webhookSecret = complyCubeAPIKey.Get(env), complyCubeBaseURL.Get(env), complyCubeWebhookSecret.Get(env)
	return absoluteURL(complyCubeBaseURL.Name, p.baseURL)
}

func (p *ComplyCube) Warnings() []string {
	var w []string
	if p.webhookSecret == "" {
		w = append(w, "COMPLYCUBE_WEBHOOK_SECRET is not set: every ComplyCube webhook will be refused with 401")
	}
	if p.apiKey == "" {
		w = append(w, "COMPLYCUBE_API_KEY is not set: ComplyCube will refuse every call")
	}
	return w
}

func (*ComplyCube) ValidateCheck(raw json.RawMessage) (registry.Check, registry.FieldErrors, error) {
	var c checkFields
	if err := json.Unmarshal(raw, &c); err != nil {
		return registry.Check{}, nil, err
	}
	errs := validateType(c.Type, complycube.CheckTypes)
	if c.hasOptions() {
		errs = merge(errs, noOptions(complycube.Name))
	}
	return registry.Check{Type: c.Type}, errs, nil
}

// VerifyWebhook checks ComplyCube-Signature with the webhook's secret. Fail closed: a missing
// secret verifies nothing.
func (p *ComplyCube) VerifyWebhook(header http.Header, _ string, body []byte) bool {
	return complycube.VerifySignature(p.webhookSecret, body, header.Get(complycube.SignatureHeader))
}

func (*ComplyCube) ParseWebhook(body []byte) (registry.Envelope, error) {
	ev, err := complycube.ParseEvent(body)
	return registry.Envelope{ID: ev.ID, Type: ev.Type, Subject: ev.Subject()}, err
}

// Translate keeps the summary only: client and document payloads carry PII.
func (*ComplyCube) Translate(body []byte) (registry.Signal, error) {
	ev, err := complycube.ParseEvent(body)
	if err != nil {
		return registry.Signal{}, err
	}
	return registry.Signal{Name: workflows.ComplyCubeEventSignal, Arg: ev.Summary()}, nil
}

func (*ComplyCube) CheckWorkflow() string { return workflows.ComplyCubeCheckWorkflowName }

func (p *ComplyCube) Register(w registry.Worker, deps registry.Deps) error {
	w.RegisterWorkflowWithOptions(workflows.ComplyCubeCheckWorkflow, workflow.RegisterOptions{Name: workflows.ComplyCubeCheckWorkflowName})
	w.RegisterActivityWithOptions(&activities.ComplyCube{Store: deps.Store, Client: p.client()},
		activity.RegisterOptions{Name: registry.ActivityPrefix(complycube.Name)})
	return nil
}

func (p *ComplyCube) client() *complycube.Client {
	return complycube.NewClient(p.baseURL, p.apiKey, nil)
}

// StartDevFake runs the fake ComplyCube, with secrets made up for this run unless the
// environment sets them. A COMPLYCUBE_BASE_URL in the environment means the real one: no fake.
func (*ComplyCube) StartDevFake(_ context.Context, dev registry.DevEnv) (registry.DevFakeRun, error) {
	if dev.Env(complyCubeBaseURL.Name) != "" {
		return registry.DevFakeRun{}, nil
	}
	apiKey := devSecret(dev.Env, complyCubeAPIKey.Name, "dev-", 16)
	secret := devSecret(dev.Env, complyCubeWebhookSecret.Name, "", 32)
	f := fake.New(fake.Options{
		APIKey: apiKey, WebhookURL: dev.APIURL + "/webhooks/complycube", WebhookSecret: secret,
		CompletionDelay: devCompletionDelay, Logger: dev.Log.With("component", "fake-complycube"),
	})
	stop, err := serveFake(complycube.Name, devFakeComplyCube, f, f.Close)
	if err != nil {
		return registry.DevFakeRun{}, err
	}
	baseURL := "http://" + devFakeComplyCube + "/v1"
	return registry.DevFakeRun{
		Settings: map[string]string{complyCubeAPIKey.Name: apiKey, complyCubeWebhookSecret.Name: secret,
			complyCubeBaseURL.Name: baseURL},
		Banner: "Fake ComplyCube      " + baseURL + "   (checks complete after " + devCompletionDelay.String() + ")",
		Stop:   stop,
	}, nil
}
