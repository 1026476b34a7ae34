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
	"github.com/screenflow/screenflow/providers/authenticate"
	authfake "github.com/screenflow/screenflow/providers/authenticate/fake"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/workflows"
)

// Authenticate's settings. The paths its docs leave uncertain can be corrected without a release.
var (
	authenticateBaseURL      = registry.Setting{Name: "AUTHENTICATE_BASE_URL", Default: authenticate.DefaultBaseURL}
	authenticateAPIKey       = registry.Setting{Name: "AUTHENTICATE_API_KEY"}
	authenticateCompanyCode  = registry.Setting{Name: "AUTHENTICATE_COMPANY_ACCESS_CODE"}
	authenticateWebhookToken = registry.Setting{Name: "AUTHENTICATE_WEBHOOK_TOKEN"}
	authenticatePathCriminal = registry.Setting{Name: "AUTHENTICATE_PATH_CRIMINAL_SEARCH", Default: authenticate.DefaultPaths.CriminalSearch}
	authenticatePathResult   = registry.Setting{Name: "AUTHENTICATE_PATH_TEST_RESULT", Default: authenticate.DefaultPaths.TestResult}
	authenticatePathInitiate = registry.Setting{Name: "AUTHENTICATE_PATH_INITIATE_PDF", Default: authenticate.DefaultPaths.InitiatePDF}
	authenticatePathRetrieve = registry.Setting{Name: "AUTHENTICATE_PATH_RETRIEVE_PDF", Default: authenticate.DefaultPaths.RetrievePDF}
)

const (
	devFakeAuthenticate     = "127.0.0.1:8091"
	devAuthenticateCompany  = "dev-company"
	authenticateCheckType   = "criminal"
	authenticateWebhookPath = "/webhooks/authenticate/"
)

// Authenticate is the Authenticate provider: criminal searches and the sex offender check, with
// unsigned webhooks sent to a URL whose last segment is a secret token.
type Authenticate struct {
	baseURL, apiKey, companyCode string
	// webhookTokens are the tokens a webhook URL may end with: the first is the one Subscribe
	// registers, the others are accepted while a rotation is under way.
	webhookTokens []string
	paths         authenticate.Paths
}

func (*Authenticate) Name() string { return authenticate.Name }

func (*Authenticate) Settings() []registry.Setting {
	return []registry.Setting{authenticateBaseURL, authenticateAPIKey, authenticateCompanyCode, authenticateWebhookToken,
		authenticatePathCriminal, authenticatePathResult, authenticatePathInitiate, authenticatePathRetrieve}
}

func (p *Authenticate) Configure(env registry.Env) error {
	p.baseURL, p.apiKey = authenticateBaseURL.Get(env), authenticateAPIKey.Get(env)
	p.companyCode, p.webhookTokens = authenticateCompanyCode.Get(env), webhookTokens(authenticateWebhookToken.Get(env))
	p.paths = authenticate.Paths{
		CriminalSearch: authenticatePathCriminal.Get(env), TestResult: authenticatePathResult.Get(env),
		InitiatePDF: authenticatePathInitiate.Get(env), RetrievePDF: authenticatePathRetrieve.Get(env),
	}
	var problems []string
	if err := absoluteURL(authenticateBaseURL.Name, p.baseURL); err != nil {
		problems = append(problems, err.Error())
	}
	for _, s := range []registry.Setting{authenticatePathCriminal, authenticatePathResult, authenticatePathInitiate, authenticatePathRetrieve} {
		if !strings.HasPrefix(s.Get(env), "/") {
			problems = append(problems, fmt.Sprintf("%s=%q must be a path starting with /", s.Name, s.Get(env)))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// webhookTokens reads AUTHENTICATE_WEBHOOK_TOKEN, a comma-separated list: spaces around a token
// and empty entries (a trailing comma) are ignored.
func webhookTokens(setting string) []string {
	var tokens []string
	for token := range strings.SplitSeq(setting, ",") {
		if token = strings.TrimSpace(token); token != "" {
			tokens = append(tokens, token)
		}
	}
	return tokens
}

func (p *Authenticate) Warnings() []string {
	if len(p.webhookTokens) == 0 {
		return []string{"AUTHENTICATE_WEBHOOK_TOKEN is not set: every Authenticate webhook will be refused with 401"}
	}
	return nil
}

// authenticateCheck is an Authenticate check in POST /v1/screenings; absent options take their
// defaults.
type authenticateCheck struct {
	checkFields
	Options *struct {
		SexOffender *bool `json:"sex_offender"`
		PDFReport   *bool `json:"pdf_report"`
	} `json:"options"`
}

// ValidateCheck stores every option explicit, with the defaults applied: the PDF report is on
// unless turned off.
func (*Authenticate) ValidateCheck(raw json.RawMessage) (registry.Check, registry.FieldErrors, error) {
	var c authenticateCheck
	if err := json.Unmarshal(raw, &c); err != nil {
		return registry.Check{}, nil, err
	}
	opts := workflows.AuthenticateOptions{PDFReport: true}
	if c.Options != nil && c.Options.SexOffender != nil {
		opts.SexOffender = *c.Options.SexOffender
	}
	if c.Options != nil && c.Options.PDFReport != nil {
		opts.PDFReport = *c.Options.PDFReport
	}
	// json.Marshal cannot fail on a struct of bools.
	stored, _ := json.Marshal(opts)
	return registry.Check{Type: c.Type, Options: stored}, validateType(c.Type, []string{authenticateCheckType}), nil
}

// VerifyWebhook checks the URL's token against each configured one. Authenticate documents no
// signature, so the unguessable token is the credential (constant time, fail closed), and the
// workflow re-reads state from Authenticate's API before it acts on anything terminal.
func (p *Authenticate) VerifyWebhook(_ http.Header, token string, _ []byte) bool {
	return authenticate.TokenMatches(p.webhookTokens, token)
}

// WebhookEventTypes are the event types Authenticate's webhooks carry, for the metrics' event_type
// label.
func (*Authenticate) WebhookEventTypes() []string {
	return []string{authenticate.EventUserPIIUpdate, authenticate.EventSelfVerificationTryStatus,
		authenticate.EventCriminalStatusUpdate, authenticate.EventAllCriminalComplete, authenticate.EventUploadIDReview,
		authenticate.EventUploadPassportReview, authenticate.EventPDFReportGeneration,
		authenticate.EventSexOffenderStatusUpdate, authenticate.EventMonitoringRecordFound}
}

// ParseWebhook keys the inbox by the SHA-256 of the body, not by Authenticate's "id", which its
// documentation never says is unique per event: keyed by the id, a second event about the same
// user or order would be acknowledged as a duplicate and lost. A retry resends the same bytes.
func (*Authenticate) ParseWebhook(body []byte) (registry.Envelope, error) {
	ev, err := authenticate.ParseEvent(body)
	return registry.Envelope{ID: ev.Key, Type: ev.Event, Subject: ev.Subject(), Routed: true}, err
}

// Translate keeps the summary only: it has no PII, and no report link either. The events the check
// workflow only records are informational, and every event whose timeline entry the event alone
// tells carries it as its note.
func (*Authenticate) Translate(body []byte) (registry.Signal, error) {
	ev, err := authenticate.ParseEvent(body)
	if err != nil {
		return registry.Signal{}, err
	}
	summary := ev.Summary()
	informational, promptAfter := workflows.AuthenticateEventInformational(summary)
	return registry.Signal{Name: workflows.AuthenticateEventSignal, Arg: summary,
		Note: workflows.AuthenticateEventNote(summary), Informational: informational, PromptAfter: promptAfter}, nil
}

func (*Authenticate) CheckWorkflow() string { return workflows.AuthenticateCheckWorkflowName }

// Revive takes an event about a check whose workflow has closed (a monitoring hit, a late search
// update, a new report): an AuthenticateAmendmentWorkflow under the check workflow's id reads
// Authenticate's API again and amends what the HR platform sees, so that no event about a user
// screenflow created is discarded.
func (*Authenticate) Revive(workflowID string, sig registry.Signal) (string, any, bool) {
	in, ok := workflows.NewAmendmentInput(workflowID, authenticate.Name)
	if !ok || sig.Name != workflows.AuthenticateEventSignal {
		return "", nil, false
	}
	return workflows.AuthenticateAmendmentWorkflowName, in, true
}

func (p *Authenticate) Register(w registry.Worker, deps registry.Deps) error {
	w.RegisterWorkflowWithOptions(workflows.AuthenticateCheckWorkflow, workflow.RegisterOptions{Name: workflows.AuthenticateCheckWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.AuthenticateAmendmentWorkflow, workflow.RegisterOptions{Name: workflows.AuthenticateAmendmentWorkflowName})
	w.RegisterActivityWithOptions(&activities.Authenticate{Store: deps.Store, Client: p.client()},
		activity.RegisterOptions{Name: registry.ActivityPrefix(authenticate.Name)})
	return nil
}

func (p *Authenticate) client() *authenticate.Client {
	return authenticate.NewClient(p.baseURL, p.apiKey, p.paths, nil)
}

// Subscribe registers the webhook URL with Authenticate (POST /company/webhook), a one-time step
// per deployment, and prints what it registered with the token masked.
func (p *Authenticate) Subscribe(ctx context.Context, publicBaseURL string, out io.Writer) error {
	var missing []string
	for name, value := range map[string]string{
		authenticateAPIKey.Name: p.apiKey, authenticateCompanyCode.Name: p.companyCode,
		authenticateWebhookToken.Name: strings.Join(p.webhookTokens, ","), "PUBLIC_BASE_URL": publicBaseURL,
	} {
		if value == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("set %s to subscribe", strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(publicBaseURL, "https://") && !strings.HasPrefix(publicBaseURL, "http://") {
		return errors.New("PUBLIC_BASE_URL must be an absolute http(s) URL, e.g. https://screenflow.example.com")
	}
	// Authenticate keeps one URL per company: the first token's. The others stay accepted until
	// they are removed from the setting, once Authenticate has stopped sending to them.
	token := p.webhookTokens[0]
	base := strings.TrimRight(publicBaseURL, "/") + authenticateWebhookPath
	if err := p.client().RegisterWebhook(ctx, p.companyCode, base+token); err != nil {
		return fmt.Errorf("register the webhook with Authenticate: %w", err)
	}
	fmt.Fprintf(out, "registered with Authenticate for company %s:\n  %s\n", p.companyCode, base+maskToken(token))
	return nil
}

// maskToken shows enough of a token to recognise it, not enough to use it.
func maskToken(token string) string {
	if len(token) <= 8 {
		return "****"
	}
	return token[:4] + "…" + token[len(token)-2:]
}

// StartDevFake runs the fake Authenticate and, once the stack is up, registers the webhook URL
// the way an operator would, with `providers subscribe authenticate`.
func (p *Authenticate) StartDevFake(_ context.Context, dev registry.DevEnv) (registry.DevFakeRun, error) {
	if dev.Env(authenticateBaseURL.Name) != "" {
		return registry.DevFakeRun{}, nil
	}
	apiKey := devSecret(dev.Env, authenticateAPIKey.Name, "dev-", 16)
	company := dev.Env(authenticateCompanyCode.Name)
	if company == "" {
		company = devAuthenticateCompany
	}
	f := authfake.New(authfake.Options{
		APIKey: apiKey, CompanyAccessCode: company,
		SearchDelay: devCompletionDelay / 2, Logger: dev.Log.With("component", "fake-authenticate"),
	})
	baseURL := "http://" + devFakeAuthenticate
	f.SetBaseURL(baseURL)
	stop, err := serveFake(authenticate.Name, devFakeAuthenticate, f, f.Close)
	if err != nil {
		return registry.DevFakeRun{}, err
	}
	return registry.DevFakeRun{
		Settings: map[string]string{authenticateBaseURL.Name: baseURL, authenticateAPIKey.Name: apiKey,
			authenticateCompanyCode.Name:  company,
			authenticateWebhookToken.Name: devSecret(dev.Env, authenticateWebhookToken.Name, "", 32)},
		Banner: "Fake Authenticate    " + baseURL,
		Stop:   stop,
		Started: func(ctx context.Context, out io.Writer) error {
			return p.Subscribe(ctx, dev.PublicBaseURL, out)
		},
	}, nil
}
