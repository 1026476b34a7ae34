package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/complycube/fake"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/workflows"
)

// ComplyCube's settings. COMPLYCUBE_WEBHOOK_SECRET holds one secret, or several separated by
// commas while one is rotated (newest first).
var (
	complyCubeAPIKey        = registry.Setting{Name: "COMPLYCUBE_API_KEY"}
	complyCubeBaseURL       = registry.Setting{Name: "COMPLYCUBE_BASE_URL", Default: complycube.DefaultBaseURL}
	complyCubeWebhookSecret = registry.Setting{Name: "COMPLYCUBE_WEBHOOK_SECRET"}
)

// devFakeComplyCube is where `screenflow dev` serves the fake ComplyCube.
const devFakeComplyCube = "127.0.0.1:8090"

// complyCubeWebhookPath is where ComplyCube's webhooks come in.
const complyCubeWebhookPath = "/webhooks/" + complycube.Name

// ComplyCube is the ComplyCube provider: identity and screening checks, webhooks signed with
// HMAC-SHA256 in ComplyCube-Signature.
type ComplyCube struct {
	apiKey, baseURL string
	webhookSecrets  []string // any of them verifies a webhook
}

func (*ComplyCube) Name() string { return complycube.Name }

func (*ComplyCube) Settings() []registry.Setting {
	return []registry.Setting{complyCubeAPIKey, complyCubeBaseURL, complyCubeWebhookSecret}
}

func (p *ComplyCube) Configure(env registry.Env) error {
	p.apiKey, p.baseURL = complyCubeAPIKey.Get(env), complyCubeBaseURL.Get(env)
	p.webhookSecrets = complycube.ParseSecrets(complyCubeWebhookSecret.Get(env))
	return absoluteURL(complyCubeBaseURL.Name, p.baseURL)
}

func (p *ComplyCube) Warnings() []string {
	var w []string
	if len(p.webhookSecrets) == 0 {
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

// VerifyWebhook checks ComplyCube-Signature with the webhook's secrets: while one is rotated,
// either verifies. Fail closed: without a secret nothing verifies.
func (p *ComplyCube) VerifyWebhook(header http.Header, _ string, body []byte) bool {
	return complycube.VerifySignatureAny(p.webhookSecrets, body, header.Get(complycube.SignatureHeader))
}

// WebhookEventTypes are the event types ComplyCube documents, for the metrics' event_type label.
func (*ComplyCube) WebhookEventTypes() []string {
	completed := complycube.EventCheckCompleted
	return []string{complycube.EventCheckPending, completed, completed + ".clear", completed + ".attention",
		completed + ".rejected", completed + ".match_confirmed", complycube.EventCheckFailed, complycube.EventCheckUpdated,
		complycube.EventCheckMonitoringAttention, complycube.EventClientCreated, "client.updated", "client.deleted"}
}

func (*ComplyCube) ParseWebhook(body []byte) (registry.Envelope, error) {
	ev, err := complycube.ParseEvent(body)
	return registry.Envelope{ID: ev.ID, Type: ev.Type, Subject: ev.Subject(), Routed: true}, err
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

// Revive takes an event for a check whose workflow has closed (a later outcome, a monitoring hit,
// anything about its client) with a ComplyCubeAmendmentWorkflow under the check workflow's id, so
// that no event about a check screenflow created is discarded.
func (*ComplyCube) Revive(workflowID string, sig registry.Signal) (string, any, bool) {
	if sig.Name != workflows.ComplyCubeEventSignal {
		return "", nil, false
	}
	in, ok := workflows.NewAmendmentInput(workflowID, complycube.Name)
	return workflows.ComplyCubeAmendmentWorkflowName, in, ok
}

func (p *ComplyCube) Register(w registry.Worker, deps registry.Deps) error {
	w.RegisterWorkflowWithOptions(workflows.ComplyCubeCheckWorkflow, workflow.RegisterOptions{Name: workflows.ComplyCubeCheckWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.ComplyCubeAmendmentWorkflow, workflow.RegisterOptions{Name: workflows.ComplyCubeAmendmentWorkflowName})
	w.RegisterActivityWithOptions(&activities.ComplyCube{Store: deps.Store, Client: p.client()},
		activity.RegisterOptions{Name: registry.ActivityPrefix(complycube.Name)})
	return nil
}

func (p *ComplyCube) client() *complycube.Client {
	return complycube.NewClient(p.baseURL, p.apiKey, nil)
}

// Subscribe registers PUBLIC_BASE_URL/webhooks/complycube with ComplyCube for every event type
// (POST /webhooks) and prints the webhook's secret: ComplyCube shows it once, in this answer, and
// screenflow keeps it nowhere, so this is the one time screenflow prints a secret. A webhook
// already registered for the URL is left as it is: its secret was shown when it was created.
func (p *ComplyCube) Subscribe(ctx context.Context, publicBaseURL string, out io.Writer) error {
	var missing []string
	if p.apiKey == "" {
		missing = append(missing, complyCubeAPIKey.Name)
	}
	if publicBaseURL == "" {
		missing = append(missing, "PUBLIC_BASE_URL")
	}
	if len(missing) > 0 {
		return fmt.Errorf("set %s to subscribe", strings.Join(missing, ", "))
	}
	// ComplyCube takes HTTPS URLs only, and says so itself: what is configured is sent as it is,
	// so that a fake on http can be subscribed to in development.
	if !strings.HasPrefix(publicBaseURL, "https://") && !strings.HasPrefix(publicBaseURL, "http://") {
		return errors.New("PUBLIC_BASE_URL must be an absolute URL, e.g. https://screenflow.example.com")
	}
	target := strings.TrimRight(publicBaseURL, "/") + complyCubeWebhookPath
	c := p.client()
	hooks, err := c.ListWebhooks(ctx)
	if err != nil {
		return fmt.Errorf("list ComplyCube's webhooks: %w", err)
	}
	for _, h := range hooks {
		if h.URL == target {
			fmt.Fprintf(out, "ComplyCube already has webhook %s for %s (enabled: %t); nothing changed.\n"+
				"Its secret was shown once, when it was created. To get a new one, delete the webhook at\n"+
				"ComplyCube and subscribe again.\n", h.ID, target, h.Enabled)
			return nil
		}
	}
	hook, err := c.CreateWebhook(ctx, complycube.CreateWebhookRequest{URL: target, Enabled: true,
		Events: []string{complycube.AllEvents}, Description: "screenflow: background screening events"})
	if err != nil {
		return fmt.Errorf("register the webhook with ComplyCube: %w", err)
	}
	if hook.Secret == "" {
		return fmt.Errorf("ComplyCube registered webhook %s but sent no secret: delete it at ComplyCube and subscribe again", hook.ID)
	}
	fmt.Fprintf(out, "registered with ComplyCube as webhook %s, for every event type:\n  %s\n\n"+
		"Its signing secret follows. ComplyCube shows it only now and screenflow keeps it nowhere:\n"+
		"this is the only time it is printed.\n\n  %s\n\n"+
		"Put it first in %s, before the secret in use now if there is one (new,old),\n"+
		"and restart screenflow serve. Until then, what this webhook sends is refused with 401\n"+
		"and ComplyCube retries it.\n",
		hook.ID, target, hook.Secret, complyCubeWebhookSecret.Name)
	return nil
}

// StartDevFake runs the fake ComplyCube, with secrets made up for this run unless the
// environment sets them. A COMPLYCUBE_BASE_URL in the environment means the real one: no fake.
func (*ComplyCube) StartDevFake(_ context.Context, dev registry.DevEnv) (registry.DevFakeRun, error) {
	if dev.Env(complyCubeBaseURL.Name) != "" {
		return registry.DevFakeRun{}, nil
	}
	apiKey := devSecret(dev.Env, complyCubeAPIKey.Name, "dev-", 16)
	secret := devSecret(dev.Env, complyCubeWebhookSecret.Name, "", 32)
	// The newest secret signs, as the webhook created with it would.
	signWith := ""
	if secrets := complycube.ParseSecrets(secret); len(secrets) > 0 {
		signWith = secrets[0]
	}
	f := fake.New(fake.Options{
		APIKey: apiKey, WebhookURL: dev.APIURL + complyCubeWebhookPath, WebhookSecret: signWith,
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
