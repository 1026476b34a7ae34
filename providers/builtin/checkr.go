package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/checkr"
	checkrfake "github.com/screenflow/screenflow/providers/checkr/fake"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// Checkr's settings.
var (
	checkrBaseURL      = registry.Setting{Name: "CHECKR_BASE_URL", Default: checkr.DefaultBaseURL}
	checkrAPIKey       = registry.Setting{Name: "CHECKR_API_KEY"}
	checkrClientID     = registry.Setting{Name: "CHECKR_OAUTH_CLIENT_ID"}
	checkrClientSecret = registry.Setting{Name: "CHECKR_OAUTH_CLIENT_SECRET"}
	checkrAuthorizeURL = registry.Setting{Name: "CHECKR_AUTHORIZE_URL", Default: checkr.DefaultAuthorizeURL}
	checkrRedirectURL  = registry.Setting{Name: "CHECKR_OAUTH_REDIRECT_URL"}
	// checkrPreviousKeys are keys that signed webhooks before a rotation (an API key or client
	// secret just replaced), comma-separated: Checkr retries an event for a day, and events signed
	// with the old key keep coming meanwhile.
	checkrPreviousKeys = registry.Setting{Name: "CHECKR_WEBHOOK_PREVIOUS_KEYS"}
	// checkrDeletionContact is whom a request to remove a candidate's PII names as its requester,
	// as Checkr requires: the deployment's privacy contact.
	checkrDeletionContact = registry.Setting{Name: "CHECKR_DELETION_CONTACT_EMAIL"}
)

const (
	devFakeCheckr          = "127.0.0.1:8092"
	devCheckrClient        = "dev-client"
	devCheckrDeletionEmail = "privacy@screenflow.example"
)

// checkrPackage is the shape of a Checkr package slug, e.g. tasker_standard.
var checkrPackage = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,99}$`)

// Checkr is the Checkr provider: reports on a direct account (CHECKR_API_KEY) or on customers'
// accounts connected through OAuth, each gated by its account's CheckrAccountWorkflow.
type Checkr struct {
	baseURL, apiKey, clientID, clientSecret, authorizeURL, redirectURL string
	previousKeys                                                       []string
	deletionContact                                                    string
}

func (*Checkr) Name() string { return checkr.Name }

func (*Checkr) Settings() []registry.Setting {
	return []registry.Setting{checkrBaseURL, checkrAPIKey, checkrClientID, checkrClientSecret, checkrAuthorizeURL,
		checkrRedirectURL, checkrPreviousKeys, checkrDeletionContact}
}

func (p *Checkr) Configure(env registry.Env) error {
	p.baseURL, p.apiKey = checkrBaseURL.Get(env), checkrAPIKey.Get(env)
	p.clientID, p.clientSecret = checkrClientID.Get(env), checkrClientSecret.Get(env)
	p.authorizeURL, p.redirectURL = checkrAuthorizeURL.Get(env), checkrRedirectURL.Get(env)
	p.previousKeys = nil
	for key := range strings.SplitSeq(checkrPreviousKeys.Get(env), ",") {
		if key = strings.TrimSpace(key); key != "" {
			p.previousKeys = append(p.previousKeys, key)
		}
	}
	p.deletionContact = checkrDeletionContact.Get(env)
	var badContact error
	if p.deletionContact != "" {
		// A plain address: Checkr's field takes no display name.
		if addr, err := mail.ParseAddress(p.deletionContact); err != nil || addr.Address != p.deletionContact {
			badContact = fmt.Errorf("%s must be a plain email address, such as privacy@example.com", checkrDeletionContact.Name)
		}
	}
	return errors.Join(absoluteURL(checkrBaseURL.Name, p.baseURL), absoluteURL(checkrAuthorizeURL.Name, p.authorizeURL),
		badContact)
}

// checkrCheck is a Checkr check in POST /v1/screenings: named by its package instead of a type.
type checkrCheck struct {
	checkFields
	Package string `json:"package"`
	Account string `json:"account"`
	Mode    string `json:"mode"`
}

// ValidateCheck checks what a Checkr check needs; whether its account may be used is known only
// to the database (see ValidateTenantCheck).
func (*Checkr) ValidateCheck(raw json.RawMessage) (registry.Check, registry.FieldErrors, error) {
	var c checkrCheck
	if err := json.Unmarshal(raw, &c); err != nil {
		return registry.Check{}, nil, err
	}
	errs := registry.FieldErrors{}
	if c.Package == "" {
		errs["package"] = "is required"
	} else if !checkrPackage.MatchString(c.Package) {
		errs["package"] = "must be a Checkr package slug, e.g. tasker_standard"
	}
	if c.Mode != activities.CheckrModeInvitation && c.Mode != activities.CheckrModeReport {
		errs["mode"] = "must be invitation or report"
	}
	if c.Type != "" && c.Type != c.Package {
		errs["type"] = "must be empty or the package: a Checkr check is named by its package"
	}
	if c.hasOptions() {
		errs = merge(errs, noOptions(checkr.Name))
	}
	// json.Marshal cannot fail on a struct of strings.
	stored, _ := json.Marshal(workflows.CheckrOptions{Package: c.Package, Mode: c.Mode, Account: c.Account})
	return registry.Check{Type: c.Package, Options: stored, AccountID: c.Account}, errs, nil
}

// ValidateTenantCheck refuses an account that is not one of the tenant's connected accounts or is
// deauthorized, and a check without one where no direct key is configured.
func (p *Checkr) ValidateTenantCheck(ctx context.Context, st *store.Store, tenantID string, c registry.Check) (registry.FieldErrors, error) {
	if c.AccountID == "" {
		if p.apiKey == "" {
			return registry.FieldErrors{"account": "is required: no direct Checkr account is configured (CHECKR_API_KEY); connect one at /v1/integrations/checkr/connect"}, nil
		}
		return nil, nil
	}
	acct, err := st.TenantCheckrAccount(ctx, tenantID, c.AccountID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return registry.FieldErrors{"account": "is not a Checkr account connected by this tenant"}, nil
	case err != nil:
		return nil, err
	case acct.Status == store.CheckrDeauthorized:
		return registry.FieldErrors{"account": "is deauthorized: reconnect it at /v1/integrations/checkr/connect before ordering checks"}, nil
	}
	return nil, nil
}

// VerifyWebhook checks X-Checkr-Signature made with the direct account's API key, the partner
// app's client secret, or one of the keys they replaced (CHECKR_WEBHOOK_PREVIOUS_KEYS): any is
// accepted.
func (p *Checkr) VerifyWebhook(header http.Header, _ string, body []byte) bool {
	keys := append([]string{p.apiKey, p.clientSecret}, p.previousKeys...)
	return checkr.VerifyAny(keys, body, header.Get(checkr.SignatureHeader))
}

// WebhookEventTypes are the event types Checkr's webhooks carry, for the metrics' event_type label.
func (*Checkr) WebhookEventTypes() []string {
	return []string{checkr.EventAccountCredentialed, checkr.EventTokenDeauthorized, checkr.EventReportCreated,
		checkr.EventReportUpdated, checkr.EventReportCompleted, checkr.EventReportUpgraded, checkr.EventReportSuspended,
		checkr.EventReportResumed, checkr.EventReportCanceled, checkr.EventReportDisputed, checkr.EventReportEngaged,
		checkr.EventReportPreAdverseAction, checkr.EventReportPostAdverseAction, checkr.EventInvitationCreated,
		checkr.EventInvitationCompleted, checkr.EventInvitationExpired, checkr.EventInvitationDeleted,
		checkr.EventCandidateCreated, checkr.EventCandidateUpdated, checkr.EventCandidateIDRequired,
		checkr.EventCandidateDriverLicenseRequired}
}

// ParseWebhook leaves account.credentialed unrouted: it goes to its account's workflow, which it
// may be the first to start (Translate).
func (*Checkr) ParseWebhook(body []byte) (registry.Envelope, error) {
	ev, err := checkr.ParseEvent(body)
	return registry.Envelope{ID: ev.ID, Type: ev.Type, Subject: ev.Subject(),
		Routed: ev.Type != checkr.EventAccountCredentialed}, err
}

// ScrubWebhook keeps the access token that token.deauthorized revokes out of the inbox: only its
// fingerprint, which finds the account, is stored (see registry.Scrubber).
func (*Checkr) ScrubWebhook(body []byte) []byte { return checkr.ScrubAccessCode(body) }

// Translate sends account events to the account's workflow (starting it if an early
// account.credentialed comes before the OAuth callback did) and the rest to the check workflows.
// Candidate payloads carry PII and token events the access code: only the summary travels.
func (*Checkr) Translate(body []byte) (registry.Signal, error) {
	ev, err := checkr.ParseEvent(body)
	if err != nil {
		return registry.Signal{}, err
	}
	switch ev.Type {
	case checkr.EventAccountCredentialed:
		accountID := ev.CredentialedAccountID()
		if accountID == "" {
			return registry.Signal{}, errors.New("account.credentialed names no account")
		}
		return registry.Signal{Name: workflows.CheckrAccountEventSignal,
			Arg:           workflows.CheckrAccountEvent{Kind: workflows.CheckrAccountCredentialed, EventID: ev.ID},
			WorkflowID:    workflows.CheckrAccountWorkflowID(accountID),
			StartWorkflow: workflows.CheckrAccountWorkflowName, StartInput: workflows.CheckrAccountInput{AccountID: accountID}}, nil
	case checkr.EventTokenDeauthorized:
		return registry.Signal{Name: workflows.CheckrAccountEventSignal,
			Arg: workflows.CheckrAccountEvent{Kind: workflows.CheckrAccountDeauthorized, EventID: ev.ID,
				TokenFingerprint: ev.DeauthorizedTokenFingerprint()}}, nil
	}
	summary := ev.Summary()
	return registry.Signal{Name: workflows.CheckrEventSignal, Arg: summary,
		Note: workflows.CheckrEventNote(summary), Informational: workflows.CheckrEventInformational(summary)}, nil
}

// Revive starts a workflow for an event whose workflow is not running (see registry.Reviver): an
// account's workflow for its account events (it had stopped, or never started because Temporal was
// down at the OAuth callback), and, under a check's workflow id once that has closed, a
// CheckrAmendmentWorkflow for what comes after the report completed (an upgrade, a dispute, an
// adjudication, a new result).
func (*Checkr) Revive(workflowID string, sig registry.Signal) (string, any, bool) {
	if accountID, ok := workflows.CheckrAccountIDOf(workflowID); ok && sig.Name == workflows.CheckrAccountEventSignal {
		return workflows.CheckrAccountWorkflowName, workflows.CheckrAccountInput{AccountID: accountID}, true
	}
	if in, ok := workflows.NewAmendmentInput(workflowID, checkr.Name); ok && sig.Name == workflows.CheckrEventSignal {
		return workflows.CheckrAmendmentWorkflowName, in, true
	}
	return "", nil, false
}

func (*Checkr) CheckWorkflow() string { return workflows.CheckrCheckWorkflowName }

func (p *Checkr) Register(w registry.Worker, deps registry.Deps) error {
	w.RegisterWorkflowWithOptions(workflows.CheckrCheckWorkflow, workflow.RegisterOptions{Name: workflows.CheckrCheckWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.CheckrAccountWorkflow, workflow.RegisterOptions{Name: workflows.CheckrAccountWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.CheckrAmendmentWorkflow, workflow.RegisterOptions{Name: workflows.CheckrAmendmentWorkflowName})
	prefix := activity.RegisterOptions{Name: registry.ActivityPrefix(checkr.Name)}
	w.RegisterActivityWithOptions(&activities.Checkr{Store: deps.Store, Client: p.Client(), Vault: deps.Vault,
		DeletionContact: p.deletionContact}, prefix)
	w.RegisterActivityWithOptions(&activities.CheckrAccounts{Store: deps.Store}, prefix)
	return nil
}

// Client is a client of Checkr's API with the direct account's key.
func (p *Checkr) Client() *checkr.Client { return checkr.NewClient(p.baseURL, p.apiKey, nil) }

// CheckrOAuth is what connecting customers' Checkr accounts needs.
type CheckrOAuth struct {
	DirectKey    bool // CHECKR_API_KEY is set: checks may use the direct account
	ClientID     string
	ClientSecret string
	AuthorizeURL string
	RedirectURL  string
}

// OAuth returns the partner app's settings.
func (p *Checkr) OAuth() CheckrOAuth {
	return CheckrOAuth{DirectKey: p.apiKey != "", ClientID: p.clientID, ClientSecret: p.clientSecret,
		AuthorizeURL: p.authorizeURL, RedirectURL: p.redirectURL}
}

// StartDevFake runs the fake Checkr as a partner app's world: a direct account, an OAuth client,
// and a stand-in for Checkr's hosted sign-up page that signs the account holder up at once,
// redirects back with a code, and credentials the account a few seconds later.
func (*Checkr) StartDevFake(_ context.Context, dev registry.DevEnv) (registry.DevFakeRun, error) {
	if dev.Env(checkrBaseURL.Name) != "" {
		return registry.DevFakeRun{}, nil
	}
	apiKey := devSecret(dev.Env, checkrAPIKey.Name, "dev-", 16)
	clientID := dev.Env(checkrClientID.Name)
	if clientID == "" {
		clientID = devCheckrClient
	}
	clientSecret := devSecret(dev.Env, checkrClientSecret.Name, "", 32)
	deletionContact := dev.Env(checkrDeletionContact.Name)
	if deletionContact == "" {
		deletionContact = devCheckrDeletionEmail
	}
	base := "http://" + devFakeCheckr
	f := checkrfake.New(checkrfake.Options{
		APIKey: apiKey, ClientID: clientID, ClientSecret: clientSecret,
		WebhookURL: dev.APIURL + "/webhooks/checkr", ReportDelay: devCompletionDelay, InvitationDelay: devCompletionDelay,
		Logger: dev.Log.With("component", "fake-checkr"),
	})
	f.SetBaseURL(base)
	mux := http.NewServeMux()
	mux.Handle("/", f)
	mux.HandleFunc("GET /authorize/{client}/signup", func(w http.ResponseWriter, r *http.Request) {
		code, account := f.Authorize("")
		time.AfterFunc(devCompletionDelay, func() { _ = f.Credential(account) })
		back := r.URL.Query().Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {r.URL.Query().Get("state")}}.Encode()
		http.Redirect(w, r, back, http.StatusFound)
	})
	stop, err := serveFake(checkr.Name, devFakeCheckr, mux, f.Close)
	if err != nil {
		return registry.DevFakeRun{}, err
	}
	return registry.DevFakeRun{
		Settings: map[string]string{checkrBaseURL.Name: base, checkrAuthorizeURL.Name: base + "/authorize",
			checkrAPIKey.Name: apiKey, checkrClientID.Name: clientID, checkrClientSecret.Name: clientSecret,
			checkrRedirectURL.Name: dev.APIURL + "/oauth/checkr/callback", checkrDeletionContact.Name: deletionContact},
		Banner: fmt.Sprintf("Fake Checkr          %s   (sign-up is instant; credentialed after %s)", base, devCompletionDelay),
		Stop:   stop,
	}, nil
}
