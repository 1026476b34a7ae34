//go:build fault && linux

package faultsuite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	authfake "github.com/screenflow/screenflow/providers/authenticate/fake"
	checkrfake "github.com/screenflow/screenflow/providers/checkr/fake"
	complycubefake "github.com/screenflow/screenflow/providers/complycube/fake"
	"github.com/screenflow/screenflow/vault"
)

const (
	deployAuthKey         = "deploy-authenticate-key"
	deployAuthCompany     = "deploy-company"
	deployAuthToken       = "deploy0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c"
	deployCheckrKey       = "deploy-checkr-direct-key"
	deployCheckrClientID  = "deploy-checkr-client"
	deployCheckrSecret    = "deploy-checkr-client-secret"
	deployDeadline        = 5 * time.Minute
	deployWaitingWithin   = time.Minute
	deployCompletedWithin = 2 * time.Minute
)

// deployment is the deploy test's system: one platform, the previous and the current release's
// binaries, the three provider fakes served in this process and holding back every completion
// until the test says so, and serve and the worker of whichever release is running.
type deployment struct {
	*platform
	previous, current release
	from              string // where the previous release was named
	env               []string
	apiURL            string
	apiKey            string

	complycube   *complycubefake.Server
	authenticate *authfake.Server
	checkr       *checkrfake.Server

	serve, worker *proc
	stopped       []*proc // the previous release's, after the deploy

	credentialedAccount string // a Checkr account credentialed before the deploy
	gatedAccount        string // a Checkr account credentialed only after it
	screenings          []*deployScreening
	skipped             []string // scenarios the previous release cannot run
	judged              bool
}

// deployScreening is one screening the previous release started, and what the test learnt of it.
type deployScreening struct {
	N        int
	Scenario string
	InFlight inFlight
	ID       string
	Checks   []deployCheck
	Before   string // its checks' statuses at the deploy
}

// inFlight is what of a screening is under way while the deploy happens.
type inFlight string

const (
	// nothingInFlight: the screening waits on its providers all through the deploy.
	nothingInFlight inFlight = ""
	// activityInFlight: its ComplyCube result arrived before the deploy, and the report download
	// the previous release scheduled is failing (ComplyCube answers 503): the current worker runs
	// the activity with the previous release's input.
	activityInFlight inFlight = "activity"
	// signalInFlight: its ComplyCube result arrived after the previous worker stopped and before
	// the previous serve did: the previous relay signalled it, and the current worker takes the
	// signal.
	signalInFlight inFlight = "signal"
)

type deployCheck struct {
	ID       string
	Provider string
	Mode     string // Checkr's: report or invitation
	Account  string // Checkr's integrated account, if any
}

// scenario is a screening to start: its checks as POST /v1/screenings takes them.
type scenario struct {
	name     string
	checks   []map[string]any
	inFlight inFlight
}

// TestDeploy starts screenings of every provider on the previous release (its binary built from
// git), leaves them waiting on the providers, replaces serve and the worker by the current
// binary's after its migrate, lets the providers complete everything, and requires every
// screening completed with its documents, and no workflow task failed in any workflow.
func TestDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("deploy test: needs Postgres and the Temporal dev server; run without -short")
	}
	l := newLedger()
	ctx, cancel := context.WithTimeout(context.Background(), deployDeadline)
	defer cancel()

	var d *deployment
	l.phase("setup: both binaries built, Postgres, Temporal, fakes", func() { d = startDeployment(ctx, t, l) })
	// Registered after the platform's cleanups, so it runs before them, while everything is up.
	t.Cleanup(d.explainFailure)
	l.phase("previous release: migrate, serve, worker", func() { d.startPrevious(ctx) })
	l.phase("previous release: screenings started and waiting", func() {
		d.startScreenings(ctx)
		d.awaitWaiting(ctx)
	})
	l.phase("deploy: previous stopped, current migrate, serve, worker", func() { d.deploy(ctx) })
	// The previous release's candidates and documents are in the clear and its Checkr tokens in
	// the single-key format: rotation seals them all under the key while everything runs.
	l.phase("keys rotate, while serve and worker run", func() { t.Log(d.command(ctx, d.current, "keys", "rotate")) })
	l.phase("providers complete everything", func() { d.completeAll(ctx) })
	l.phase("settle", func() { d.settle(ctx) })

	table, violations := d.judge(ctx)
	d.judged = true
	t.Log("deploy ledger\n" + table)
	for _, v := range violations {
		t.Error(v)
	}
}

func startDeployment(ctx context.Context, t *testing.T, l *ledger) *deployment {
	t.Helper()
	d := &deployment{platform: startPlatform(ctx, t, l, "deploy")}
	ref, from, err := previousReleaseRef()
	if err != nil {
		t.Fatal(err)
	}
	d.from = from
	if d.previous, err = buildRelease(ctx, d.root, ref, filepath.Join(d.dir, "previous")); err != nil {
		t.Fatal(err)
	}
	d.current = release{name: "current", bin: filepath.Join(d.dir, "current", "screenflow"), providers: providersIn(d.root)}
	if err := buildScreenflow(ctx, d.root, d.current.bin); err != nil {
		t.Fatal(err)
	}
	l.fault("previous release %s (from %s), current: the working tree", short(d.previous.commit), from)

	// serve's address is the same for both releases: the fakes' webhooks and Checkr's OAuth
	// redirect point at it.
	httpAddr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	d.apiURL = "http://" + httpAddr
	fakeLog, err := os.Create(filepath.Join(d.dir, "fakes.log"))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(fakeLog, nil))
	// Every fake holds its results back until the test completes them.
	d.complycube = complycubefake.New(complycubefake.Options{APIKey: complyCubeKey, WebhookSecret: complyCubeSecret,
		WebhookURL: d.apiURL + "/webhooks/complycube", CompletionDelay: -1, Logger: logger})
	complycubeSrv := httptest.NewServer(d.complycube)
	d.authenticate = authfake.New(authfake.Options{APIKey: deployAuthKey, CompanyAccessCode: deployAuthCompany,
		SearchDelay: -1, PDFDelay: 100 * time.Millisecond, RateLimit: 50 * time.Millisecond, Logger: logger})
	authenticateSrv := httptest.NewServer(d.authenticate)
	d.authenticate.SetBaseURL(authenticateSrv.URL)
	d.checkr = checkrfake.New(checkrfake.Options{APIKey: deployCheckrKey, ClientID: deployCheckrClientID,
		ClientSecret: deployCheckrSecret, WebhookURL: d.apiURL + "/webhooks/checkr", ReportDelay: -1, InvitationDelay: -1,
		Logger: logger})
	checkrSrv := httptest.NewServer(d.checkr)
	d.checkr.SetBaseURL(checkrSrv.URL)
	t.Cleanup(func() {
		for _, srv := range []*httptest.Server{complycubeSrv, authenticateSrv, checkrSrv} {
			srv.Close()
		}
		d.complycube.Close()
		d.authenticate.Close()
		d.checkr.Close()
		fakeLog.Close()
	})

	// One environment for both releases, as a deploy keeps its settings; nothing is inherited from
	// the test's environment but PATH and HOME. The deadlines are an hour: every result arrives
	// by webhook, after the deploy.
	d.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + d.pg.URL,
		"TEMPORAL_ADDRESS=" + d.temporalAddr,
		"TEMPORAL_NAMESPACE=default",
		"HTTP_ADDR=" + httpAddr,
		"PUBLIC_BASE_URL=" + d.apiURL,
		"COMPLYCUBE_BASE_URL=" + complycubeSrv.URL + "/v1",
		"COMPLYCUBE_API_KEY=" + complyCubeKey,
		"COMPLYCUBE_WEBHOOK_SECRET=" + complyCubeSecret,
		"AUTHENTICATE_BASE_URL=" + authenticateSrv.URL,
		"AUTHENTICATE_API_KEY=" + deployAuthKey,
		"AUTHENTICATE_COMPANY_ACCESS_CODE=" + deployAuthCompany,
		"AUTHENTICATE_WEBHOOK_TOKEN=" + deployAuthToken,
		"CHECKR_BASE_URL=" + checkrSrv.URL,
		"CHECKR_API_KEY=" + deployCheckrKey,
		"CHECKR_OAUTH_CLIENT_ID=" + deployCheckrClientID,
		"CHECKR_OAUTH_CLIENT_SECRET=" + deployCheckrSecret,
		"CHECKR_AUTHORIZE_URL=" + checkrSrv.URL + "/authorize",
		"CHECKR_OAUTH_REDIRECT_URL=" + d.apiURL + "/oauth/checkr/callback",
		"SCREENFLOW_ENCRYPTION_KEY=" + vault.NewKey(),
		"CHECK_WEBHOOK_DEADLINE=1h",
		"CHECK_POLL_INTERVAL=1h",
		"RELAY_MAX_BACKOFF=1s",
		"LOG_LEVEL=info",
		"LOG_FORMAT=text",
	}
	t.Cleanup(func() {
		// Stopped before Temporal and Postgres, and gracefully: both must shut down cleanly.
		for _, p := range []*proc{d.serve, d.worker} {
			if p == nil {
				continue
			}
			if err := p.stop(); err != nil {
				t.Error(err)
			}
		}
	})
	return d
}

// startPrevious migrates with the previous release, creates the tenant, registers the
// Authenticate webhook and starts the previous serve and worker.
func (d *deployment) startPrevious(ctx context.Context) {
	t := d.t
	d.command(ctx, d.previous, "migrate")
	out := d.command(ctx, d.previous, "tenant", "create", "deploy-test")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	d.apiKey = strings.TrimSpace(lines[len(lines)-1])
	if d.previous.providers["authenticate"] {
		d.command(ctx, d.previous, "providers", "subscribe", "authenticate")
	}
	d.serve = d.newProc("previous-serve", d.previous.bin, d.env, serveReady, "serve")
	d.worker = d.newProc("previous-worker", d.previous.bin, d.env, workerReady, "worker")
	for _, p := range []*proc{d.serve, d.worker} {
		if err := p.start(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// command runs a one-shot command of a release and fails the test if it fails.
func (d *deployment) command(ctx context.Context, r release, args ...string) string {
	out, err := runCommand(ctx, r.bin, d.env, args...)
	if err != nil {
		d.t.Fatalf("%s screenflow %s: %v\n%s", r.name, strings.Join(args, " "), err, out)
	}
	d.ledger.fault("%s: screenflow %s", r.name, strings.Join(args, " "))
	return out
}

// scenarios are the screenings the previous release starts: each provider alone in each of its
// ways, and all three in one screening.
func (d *deployment) scenarios() []scenario {
	complycube := map[string]any{"provider": "complycube", "type": "standard_screening_check"}
	return []scenario{
		{name: "complycube", checks: []map[string]any{complycube}},
		{name: "complycube, report download in flight", checks: []map[string]any{complycube}, inFlight: activityInFlight},
		{name: "complycube, result signalled mid-deploy", checks: []map[string]any{complycube}, inFlight: signalInFlight},
		{name: "authenticate, sex offender and PDF report", checks: []map[string]any{{"provider": "authenticate",
			"type": "criminal", "options": map[string]any{"sex_offender": true, "pdf_report": true}}}},
		{name: "checkr report, partner account", checks: []map[string]any{{"provider": "checkr", "package": "tasker_standard",
			"mode": "report", "account": d.credentialedAccount}}},
		{name: "checkr invitation, direct account", checks: []map[string]any{{"provider": "checkr",
			"package": "tasker_standard", "mode": "invitation"}}},
		{name: "checkr at the credentialing gate", checks: []map[string]any{{"provider": "checkr",
			"package": "tasker_standard", "mode": "report", "account": d.gatedAccount}}},
		{name: "all three providers", checks: []map[string]any{complycube, {"provider": "authenticate", "type": "criminal"},
			{"provider": "checkr", "package": "tasker_standard", "mode": "report"}}},
	}
}

// startScreenings connects the Checkr accounts and starts every scenario the previous release has
// the providers for. An older release given by SCREENFLOW_DEPLOY_FROM may lack some; the pinned
// one must run them all.
func (d *deployment) startScreenings(ctx context.Context) {
	t := d.t
	if d.previous.providers["checkr"] {
		d.credentialedAccount = d.connectCheckr(ctx)
		if err := d.checkr.Credential(d.credentialedAccount); err != nil {
			t.Fatal(err)
		}
		err := waitFor(ctx, 30*time.Second, "the partner account credentialed", func() (bool, string) {
			var status string
			err := d.db.GetContext(ctx, &status, `SELECT status FROM checkr_accounts WHERE id = $1`, d.credentialedAccount)
			return err == nil && status == "credentialed", fmt.Sprintf("status %q, %v", status, err)
		})
		if err != nil {
			t.Fatal(err)
		}
		d.gatedAccount = d.connectCheckr(ctx)
	}
	for _, sc := range d.scenarios() {
		var missing []string
		for _, c := range sc.checks {
			if p := c["provider"].(string); !d.previous.providers[p] {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			d.skipped = append(d.skipped, fmt.Sprintf("%s (the previous release has no %s)", sc.name, strings.Join(missing, ", ")))
			continue
		}
		d.startScreening(ctx, sc)
	}
	if d.from == previousReleaseFile && len(d.skipped) > 0 {
		t.Fatalf("the pinned previous release must run every scenario; skipped: %s", strings.Join(d.skipped, "; "))
	}
	if len(d.screenings) == 0 {
		t.Fatal("the previous release can run none of the scenarios")
	}
}

// connectCheckr connects a new Checkr account through the OAuth flow, as an HR platform and its
// customer do: our connect endpoint, Checkr's sign-up (the fake's Authorize), Checkr's redirect
// to our callback. The account is not credentialed yet.
func (d *deployment) connectCheckr(ctx context.Context) string {
	t := d.t
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.apiURL+"/v1/integrations/checkr/connect", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+d.apiKey)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authorize, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /v1/integrations/checkr/connect: %s, Location %q (%v)", resp.Status, resp.Header.Get("Location"), err)
	}
	code, account := d.checkr.Authorize("")
	callback := d.apiURL + "/oauth/checkr/callback?" + url.Values{"code": {code}, "state": {authorize.Query().Get("state")}}.Encode()
	status, raw := d.get(ctx, callback, "")
	if status != http.StatusOK {
		t.Fatalf("Checkr OAuth callback: %d %s", status, raw)
	}
	d.ledger.fault("checkr account %s connected through OAuth", account)
	return account
}

// startScreening starts one scenario through the HR API.
func (d *deployment) startScreening(ctx context.Context, sc scenario) {
	t := d.t
	n := len(d.screenings) + 1
	body, err := json.Marshal(map[string]any{
		"candidate": map[string]string{
			"reference": fmt.Sprintf("deploy-%02d", n), "first_name": "Grace", "last_name": fmt.Sprintf("Hopper-%02d", n),
			"email": fmt.Sprintf("candidate-%02d@example.com", n), "dob": "1990-12-09",
			"address_line1": "1 Loopback Lane", "country": "GBR",
		},
		"checks": sc.checks,
	})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.apiURL+"/v1/screenings", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+d.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("scenario %q: POST /v1/screenings: %s %s (%v)", sc.name, resp.Status, raw, err)
	}
	var created apiScreening
	if err := json.Unmarshal(raw, &created); err != nil {
		t.Fatal(err)
	}
	if len(created.Checks) != len(sc.checks) {
		t.Fatalf("scenario %q: %d checks ordered, %d answered: %s", sc.name, len(sc.checks), len(created.Checks), raw)
	}
	s := &deployScreening{N: n, Scenario: sc.name, InFlight: sc.inFlight, ID: created.ID}
	for i, c := range created.Checks {
		mode, _ := sc.checks[i]["mode"].(string)
		account, _ := sc.checks[i]["account"].(string)
		s.Checks = append(s.Checks, deployCheck{ID: c.ID, Provider: c.Provider, Mode: mode, Account: account})
	}
	d.screenings = append(d.screenings, s)
}

// apiScreening is what the test reads of GET /v1/screenings/{id}.
type apiScreening struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Result string `json:"result"`
	Checks []struct {
		ID       string `json:"id"`
		Provider string `json:"provider"`
		Status   string `json:"status"`
		Outcome  string `json:"outcome"`
	} `json:"checks"`
	Documents []struct {
		CheckID string `json:"check_id"`
		Size    int64  `json:"size"`
		SHA256  string `json:"sha256"`
		URL     string `json:"url"`
	} `json:"documents"`
}

// get sends a GET with the tenant's API key when path is one of ours (no key for a full URL).
func (d *deployment) get(ctx context.Context, pathOrURL, apiKey string) (int, []byte) {
	target := pathOrURL
	if strings.HasPrefix(pathOrURL, "/") {
		target = d.apiURL + pathOrURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, []byte(err.Error())
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	return resp.StatusCode, raw
}

func (d *deployment) screening(ctx context.Context, id string) (apiScreening, error) {
	status, raw := d.get(ctx, "/v1/screenings/"+id, d.apiKey)
	var scr apiScreening
	if status != http.StatusOK {
		return scr, fmt.Errorf("GET /v1/screenings/%s: %d %s", id, status, raw)
	}
	return scr, json.Unmarshal(raw, &scr)
}

// checkRecord is what the test reads of a check in Postgres: the provider's ids it needs to
// complete the check at the fake.
type checkRecord struct {
	Status           string  `db:"status"`
	ProviderClientID *string `db:"provider_client_id"`
	ProviderCheckID  *string `db:"provider_check_id"`
}

func (d *deployment) check(ctx context.Context, id string) (checkRecord, error) {
	var c checkRecord
	err := d.db.GetContext(ctx, &c, `SELECT status, provider_client_id, provider_check_id FROM checks WHERE id = $1`, id)
	return c, err
}

// invitationOf returns the Checkr invitation a check created, from the route to its workflow.
func (d *deployment) invitationOf(ctx context.Context, s *deployScreening, c deployCheck) (string, error) {
	var subjects []string
	err := d.db.SelectContext(ctx, &subjects, `SELECT subject FROM routes WHERE provider = 'checkr' AND workflow_id = $1
		AND subject LIKE 'invitation:%'`, checkWorkflowID(s, c))
	if err != nil || len(subjects) == 0 {
		return "", err
	}
	return strings.TrimPrefix(subjects[0], "invitation:"), nil
}

// waitingFor says what a check waits for at the provider, or why it is not waiting yet.
func (d *deployment) waitingFor(ctx context.Context, s *deployScreening, c deployCheck) (bool, string) {
	rec, err := d.check(ctx, c.ID)
	if err != nil {
		return false, err.Error()
	}
	switch {
	case c.Provider == "checkr" && c.Account == d.gatedAccount && c.Account != "":
		return rec.Status == "awaiting_credentialing", "credentialing, status " + rec.Status
	case c.Provider == "checkr" && c.Mode == "invitation":
		inv, err := d.invitationOf(ctx, s, c)
		return inv != "", fmt.Sprintf("the candidate, invitation %q (%v)", inv, err)
	case c.Provider == "authenticate":
		return rec.ProviderClientID != nil, "the searches, user recorded: " + fmt.Sprint(rec.ProviderClientID != nil)
	default:
		return rec.ProviderCheckID != nil, "the result, check recorded: " + fmt.Sprint(rec.ProviderCheckID != nil)
	}
}

// awaitWaiting waits until every check waits on its provider, every workflow is idle (no
// activity or workflow task pending) and every stored event has been relayed: the deploy then
// meets workflows at rest in their longest wait, as it does in production.
func (d *deployment) awaitWaiting(ctx context.Context) {
	tc := d.temporalClient(ctx)
	defer tc.Close()
	err := waitFor(ctx, deployWaitingWithin, "every screening waiting on its providers", func() (bool, string) {
		for _, s := range d.screenings {
			for _, c := range s.Checks {
				if ok, state := d.waitingFor(ctx, s, c); !ok {
					return false, fmt.Sprintf("screening %d, %s check waits for %s", s.N, c.Provider, state)
				}
			}
			for _, id := range workflowIDsOf(s) {
				if busy := workflowBusy(ctx, tc, id); busy != "" {
					return false, id + ": " + busy
				}
			}
		}
		var pending int
		if err := d.db.GetContext(ctx, &pending, `SELECT count(*) FROM webhook_events WHERE status = 'pending'`); err != nil {
			return false, err.Error()
		}
		return pending == 0, fmt.Sprintf("%d stored events not yet relayed", pending)
	})
	if err != nil {
		d.t.Fatal(err)
	}
	for _, s := range d.screenings {
		var statuses []string
		for _, c := range s.Checks {
			rec, err := d.check(ctx, c.ID)
			if err != nil {
				d.t.Fatal(err)
			}
			statuses = append(statuses, rec.Status)
		}
		s.Before = strings.Join(statuses, ",")
	}
}

// workflowBusy says what a workflow is doing, or "" when it waits with nothing pending.
func workflowBusy(ctx context.Context, tc client.Client, id string) string {
	desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
	switch {
	case err != nil:
		return err.Error()
	case desc.GetPendingWorkflowTask() != nil:
		return "workflow task pending"
	case len(desc.GetPendingActivities()) > 0:
		return fmt.Sprintf("activity %s pending", desc.GetPendingActivities()[0].GetActivityType().GetName())
	}
	return ""
}

// deploy replaces the previous release's serve and worker by the current's, as a deploy does:
// SIGTERM, migrate, start; the worker stops first. Meanwhile an activity and a signal of the
// previous release are left for the current one.
func (d *deployment) deploy(ctx context.Context) {
	t := d.t
	d.complycube.FailAPI(1_000_000, http.StatusServiceUnavailable)
	d.ledger.fault("complycube API answers 503 from now on")
	for _, s := range d.screeningsWith(activityInFlight) {
		d.completeInFlight(ctx, s)
		d.awaitFailingActivity(ctx, s)
	}
	d.stop(d.worker)
	for _, s := range d.screeningsWith(signalInFlight) {
		d.completeInFlight(ctx, s)
		d.awaitRelayed(ctx, s)
	}
	d.stop(d.serve)

	d.command(ctx, d.current, "migrate")
	d.serve = d.newProc("current-serve", d.current.bin, d.env, serveReady, "serve")
	d.worker = d.newProc("current-worker", d.current.bin, d.env, workerReady, "worker")
	for _, p := range []*proc{d.serve, d.worker} {
		if err := p.start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	d.complycube.FailAPI(0, 0)
	d.ledger.fault("complycube API answers again")
}

func (d *deployment) stop(p *proc) {
	if err := p.stop(); err != nil {
		d.t.Fatal(err)
	}
	d.ledger.fault("%s stopped (SIGTERM), cleanly", p.name)
	d.stopped = append(d.stopped, p)
}

// screeningsWith returns the screenings that have that in flight at the deploy.
func (d *deployment) screeningsWith(what inFlight) []*deployScreening {
	var of []*deployScreening
	for _, s := range d.screenings {
		if s.InFlight == what {
			of = append(of, s)
		}
	}
	return of
}

// completeInFlight completes the ComplyCube check of an in-flight scenario at the fake.
func (d *deployment) completeInFlight(ctx context.Context, s *deployScreening) {
	if err := d.completeCheck(ctx, s, s.Checks[0]); err != nil {
		d.t.Fatalf("screening %d (%s): %v", s.N, s.Scenario, err)
	}
	d.ledger.fault("screening %d: complycube check completed at the fake (%s in flight)", s.N, s.InFlight)
}

// awaitFailingActivity waits until the check's workflow has an activity that failed and waits
// for its next attempt.
func (d *deployment) awaitFailingActivity(ctx context.Context, s *deployScreening) {
	tc := d.temporalClient(ctx)
	defer tc.Close()
	id := checkWorkflowID(s, s.Checks[0])
	var failing string
	err := waitFor(ctx, deployWaitingWithin, "an activity of "+id+" failing", func() (bool, string) {
		desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return false, err.Error()
		}
		for _, a := range desc.GetPendingActivities() {
			if a.GetLastFailure() != nil {
				failing = fmt.Sprintf("%s, attempt %d", a.GetActivityType().GetName(), a.GetAttempt())
				return true, failing
			}
		}
		return false, fmt.Sprintf("%d activities pending, none failed yet", len(desc.GetPendingActivities()))
	})
	if err != nil {
		d.t.Fatal(err)
	}
	d.ledger.fault("screening %d: activity %s failing at the deploy", s.N, failing)
}

// awaitRelayed waits until the check's completion events are stored and signalled to its
// workflow.
func (d *deployment) awaitRelayed(ctx context.Context, s *deployScreening) {
	rec, err := d.check(ctx, s.Checks[0].ID)
	if err != nil {
		d.t.Fatal(err)
	}
	subject := "check:" + *rec.ProviderCheckID
	err = waitFor(ctx, deployWaitingWithin, "the completion events of "+subject+" relayed", func() (bool, string) {
		var delivered int
		err := d.db.GetContext(ctx, &delivered, `SELECT count(*) FROM webhook_events WHERE provider = 'complycube'
			AND subject = $1 AND event_type LIKE 'check.completed%' AND status = 'delivered'`, subject)
		return err == nil && delivered == completionEventsPerCheck, fmt.Sprintf("%d delivered (%v)", delivered, err)
	})
	if err != nil {
		d.t.Fatal(err)
	}
	d.ledger.fault("screening %d: completion signalled by the previous relay, no worker running", s.N)
}

// completeAll has the providers finish every check: results, searches, the candidate's
// invitation, the gated account's credentialing. Each sends its webhooks at once.
func (d *deployment) completeAll(ctx context.Context) {
	t := d.t
	if d.gatedAccount != "" {
		if err := d.checkr.Credential(d.gatedAccount); err != nil {
			t.Fatal(err)
		}
		d.ledger.fault("checkr account %s credentialed", d.gatedAccount)
	}
	for _, s := range d.screenings {
		if s.InFlight != nothingInFlight {
			continue // completed during the deploy
		}
		for _, c := range s.Checks {
			if err := d.completeCheck(ctx, s, c); err != nil {
				t.Fatalf("screening %d (%s), %s check: %v", s.N, s.Scenario, c.Provider, err)
			}
		}
	}
}

func (d *deployment) completeCheck(ctx context.Context, s *deployScreening, c deployCheck) error {
	rec, err := d.check(ctx, c.ID)
	if err != nil {
		return err
	}
	switch c.Provider {
	case "complycube":
		return d.complycube.CompleteCheck(*rec.ProviderCheckID, "clear")
	case "authenticate":
		return d.completeSearches(*rec.ProviderClientID)
	case "checkr":
		if c.Mode == "invitation" {
			inv, err := d.invitationOf(ctx, s, c)
			if err != nil {
				return err
			}
			if err := d.checkr.CompleteInvitation(inv); err != nil {
				return err
			}
		}
		// After the invitation or the credentialing, the check learns its report from a webhook.
		report, err := d.reportOf(ctx, c)
		if err != nil {
			return err
		}
		return d.checkr.CompleteReport(report)
	}
	return fmt.Errorf("no way to complete a %s check", c.Provider)
}

// completeSearches moves the user's searches step by step until every one is complete.
func (d *deployment) completeSearches(userAccessCode string) error {
	if err := d.authenticate.AdvanceSearches(userAccessCode); err != nil {
		return err
	}
	const mostSteps = 5
	for range mostSteps {
		// The fake answers an error once nothing is left to move.
		if d.authenticate.AdvanceSearches(userAccessCode) != nil {
			return nil
		}
	}
	return fmt.Errorf("the searches of user %s still move after %d steps", userAccessCode, mostSteps+1)
}

// reportOf waits until a Checkr check has recorded its report.
func (d *deployment) reportOf(ctx context.Context, c deployCheck) (string, error) {
	var report string
	err := waitFor(ctx, deployWaitingWithin, "the check's Checkr report recorded", func() (bool, string) {
		rec, err := d.check(ctx, c.ID)
		if err != nil {
			return false, err.Error()
		}
		if rec.ProviderCheckID != nil {
			report = *rec.ProviderCheckID
		}
		return report != "", "status " + rec.Status
	})
	return report, err
}

// settle waits until every screening has completed, or is stuck on a failed workflow task, and
// every workflow but the Checkr accounts' has closed. Waiting longer cannot undo a failed
// workflow task: the ledger says which.
func (d *deployment) settle(ctx context.Context) {
	tc := d.temporalClient(ctx)
	defer tc.Close()
	err := waitFor(ctx, deployCompletedWithin, "every screening completed and its workflows closed", func() (bool, string) {
		runs, err := listWorkflows(ctx, tc)
		if err != nil {
			return false, err.Error()
		}
		failedTasks, err := failedTasksOfRunning(ctx, tc, runs)
		if err != nil {
			return false, err.Error()
		}
		completed, stuck := 0, 0
		for _, s := range d.screenings {
			if scr, err := d.screening(ctx, s.ID); err == nil && scr.Status == "completed" {
				completed++
				continue
			}
			for _, r := range runs {
				if r.FailedTasks > 0 && slices.Contains(workflowIDsOf(s), r.ID) {
					stuck++
					break
				}
			}
		}
		open := 0
		for _, r := range runs {
			if r.Status == "Running" && r.Type != checkrAccountWorkflowType && r.FailedTasks == 0 {
				open++
			}
		}
		state := fmt.Sprintf("%d of %d screenings completed, %d stuck on a failed workflow task, %d workflows running, "+
			"%d failed workflow tasks", completed, len(d.screenings), stuck, open, failedTasks)
		return completed+stuck == len(d.screenings) && (open == 0 || stuck > 0), state
	})
	if err != nil {
		d.t.Error(err)
	}
}

// explainFailure shows the tails of every process's log when the test failed.
func (d *deployment) explainFailure() {
	if !d.t.Failed() {
		return
	}
	if !d.judged {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		table, _ := d.judge(ctx)
		d.t.Log("deploy ledger (at the failure)\n" + table)
	}
	for _, name := range []string{"previous-serve", "previous-worker", "current-serve", "current-worker", "temporal"} {
		path := filepath.Join(d.dir, name+".log")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		d.t.Logf("--- tail of %s ---\n%s", path, tail(path, 3000))
	}
}

// documentOK downloads a document through the HR API and checks it is the PDF its metadata says.
func (d *deployment) documentOK(ctx context.Context, path string, size int64, sum string) error {
	status, pdf := d.get(ctx, path, d.apiKey)
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: %d", path, status)
	}
	got := sha256.Sum256(pdf)
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || int64(len(pdf)) != size || hex.EncodeToString(got[:]) != sum {
		return fmt.Errorf("GET %s: %d bytes, not the %d-byte PDF with SHA-256 %s", path, len(pdf), size, sum)
	}
	return nil
}
