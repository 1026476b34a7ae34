package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/screenflow/screenflow/codec"
	"github.com/screenflow/screenflow/devenv"
	"github.com/screenflow/screenflow/devenv/testenv"
	authfake "github.com/screenflow/screenflow/providers/authenticate/fake"
	checkrfake "github.com/screenflow/screenflow/providers/checkr/fake"
	"github.com/screenflow/screenflow/providers/complycube/fake"
	"github.com/screenflow/screenflow/receiver/openapitest"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const (
	e2eComplyCubeKey    = "e2e-complycube-key"
	e2eComplyCubeSecret = "e2e-webhook-secret"
	e2eAuthKey          = "e2e-authenticate-key"
	e2eAuthCompany      = "e2e-company"
	e2eAuthToken        = "e2e0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4"
	e2eCheckrKey        = "e2e-checkr-direct-key"
	e2eCheckrClientID   = "e2e-checkr-client"
	e2eCheckrSecret     = "e2e-checkr-client-secret"
	candidateEmail      = "ada.lovelace@example.com"
	candidateLastName   = "Lovelace-Byron"
	candidateDOB        = "1990-12-10"
)

// stack is screenflow as the binary runs it (serve and worker, from this package), wired to a
// real Temporal server, a real Postgres and the fake ComplyCube over real HTTP.
type stack struct {
	cfg      config
	apiURL   string
	apiKey   string
	fake     *fake.Server
	auth     *authfake.Server
	checkr   *checkrfake.Server
	temporal client.Client
	db       *store.Store
	procs    *stackProcesses // serve and worker; restart replaces them
	// contract, when set, is what request checks every answer against (see checkContract).
	contract *openapitest.Contract
}

type stackOptions struct {
	temporalAddress   string
	completionDelay   time.Duration
	checkrReportDelay time.Duration
	timing            workflows.Timing
	// env adds to or overrides the stack's settings, e.g. a second webhook secret.
	env map[string]string
}

func startStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	db, dbURL := testenv.NewDBURL(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	apiURL := "http://" + ln.Addr().String()

	f := fake.New(fake.Options{APIKey: e2eComplyCubeKey, WebhookSecret: e2eComplyCubeSecret,
		WebhookURL: apiURL + "/webhooks/complycube", CompletionDelay: opts.completionDelay})
	fakeSrv := httptest.NewServer(f)
	af := authfake.New(authfake.Options{APIKey: e2eAuthKey, CompanyAccessCode: e2eAuthCompany,
		SearchDelay: 150 * time.Millisecond, PDFDelay: 100 * time.Millisecond, RateLimit: 50 * time.Millisecond})
	authSrv := httptest.NewServer(af)
	af.SetBaseURL(authSrv.URL)
	cf := checkrfake.New(checkrfake.Options{APIKey: e2eCheckrKey, ClientID: e2eCheckrClientID, ClientSecret: e2eCheckrSecret,
		WebhookURL: apiURL + "/webhooks/checkr", ReportDelay: opts.checkrReportDelay, InvitationDelay: -1})
	checkrSrv := httptest.NewServer(cf)
	cf.SetBaseURL(checkrSrv.URL)

	env := map[string]string{
		"DATABASE_URL":                     dbURL,
		"TEMPORAL_ADDRESS":                 opts.temporalAddress,
		"TEMPORAL_NAMESPACE":               "default",
		"COMPLYCUBE_API_KEY":               e2eComplyCubeKey,
		"COMPLYCUBE_BASE_URL":              fakeSrv.URL + "/v1",
		"COMPLYCUBE_WEBHOOK_SECRET":        e2eComplyCubeSecret,
		"AUTHENTICATE_BASE_URL":            authSrv.URL,
		"AUTHENTICATE_API_KEY":             e2eAuthKey,
		"AUTHENTICATE_COMPANY_ACCESS_CODE": e2eAuthCompany,
		"AUTHENTICATE_WEBHOOK_TOKEN":       e2eAuthToken,
		"CHECKR_BASE_URL":                  checkrSrv.URL,
		"CHECKR_API_KEY":                   e2eCheckrKey,
		"CHECKR_OAUTH_CLIENT_ID":           e2eCheckrClientID,
		"CHECKR_OAUTH_CLIENT_SECRET":       e2eCheckrSecret,
		"CHECKR_AUTHORIZE_URL":             checkrSrv.URL + "/authorize",
		"CHECKR_OAUTH_REDIRECT_URL":        apiURL + "/oauth/checkr/callback",
		"SCREENFLOW_ENCRYPTION_KEY":        e2eEncryptionKey(t),
		"RELAY_UNROUTABLE_AFTER":           "1h",
		"RELAY_MAX_BACKOFF":                "1s",
		"WEBHOOK_MAX_BYTES":                "1048576",
	}
	if opts.timing.WebhookDeadline > 0 {
		env["CHECK_WEBHOOK_DEADLINE"] = opts.timing.WebhookDeadline.String()
	}
	if opts.timing.PollInterval > 0 {
		env["CHECK_POLL_INTERVAL"] = opts.timing.PollInterval.String()
	}
	maps.Copy(env, opts.env)
	cfg, err := loadConfig(func(name string) string { return env[name] })
	require.NoError(t, err)
	procs := &stackProcesses{log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	procs.start(cfg, ln)
	// The test's client reads workflow results and answers to queries: it decrypts as serve does.
	tc, err := client.Dial(client.Options{HostPort: opts.temporalAddress, DataConverter: codec.DataConverter(cfg.PayloadCodec)})
	require.NoError(t, err)
	t.Cleanup(func() {
		procs.stop(t)
		tc.Close()
		fakeSrv.Close()
		f.Close()
		authSrv.Close()
		af.Close()
		checkrSrv.Close()
		cf.Close()
	})

	var out bytes.Buffer
	t.Setenv("DATABASE_URL", dbURL)
	require.NoError(t, run(context.Background(), []string{"migrate"}, &out))
	require.NoError(t, run(context.Background(), []string{"tenant", "create", "acme"}, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	apiKey := lines[len(lines)-1]

	// The Authenticate webhook is registered the way an operator does it.
	for name, value := range map[string]string{"AUTHENTICATE_BASE_URL": authSrv.URL, "AUTHENTICATE_API_KEY": e2eAuthKey,
		"AUTHENTICATE_COMPANY_ACCESS_CODE": e2eAuthCompany, "AUTHENTICATE_WEBHOOK_TOKEN": e2eAuthToken, "PUBLIC_BASE_URL": apiURL} {
		t.Setenv(name, value)
	}
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"providers", "subscribe", "authenticate"}, &out))
	require.Contains(t, out.String(), apiURL+"/webhooks/authenticate/")
	require.NotContains(t, out.String(), e2eAuthToken, "the token is not printed")
	return &stack{cfg: cfg, apiURL: apiURL, apiKey: apiKey, fake: f, auth: af, checkr: cf, temporal: tc, db: store.New(db),
		procs: procs}
}

type screeningJSON struct {
	ID     string       `json:"id"`
	Status store.Status `json:"status"`
	Result string       `json:"result"`
	Checks []struct {
		ID            string       `json:"id"`
		Provider      string       `json:"provider"`
		Status        store.Status `json:"status"`
		Outcome       string       `json:"outcome"`
		FailureReason string       `json:"failure_reason"`
		Searches      []struct {
			SearchStatus string `json:"search_status"`
		} `json:"searches"`
	} `json:"checks"`
	Documents []struct {
		ID          string `json:"id"`
		CheckID     string `json:"check_id"`
		Kind        string `json:"kind"`
		ContentType string `json:"content_type"`
		Size        int64  `json:"size"`
		SHA256      string `json:"sha256"`
		URL         string `json:"url"`
	} `json:"documents"`
	Timeline []struct {
		Kind   string `json:"kind"`
		Detail string `json:"detail"`
	} `json:"timeline"`
}

func (s *stack) request(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.apiURL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if s.contract != nil {
		require.NoError(t, s.contract.CheckResponse(context.Background(), req, resp.StatusCode, resp.Header, raw))
	}
	return resp.StatusCode, raw
}

// checkContract makes request check every answer against the OpenAPI contract the server serves.
func (s *stack) checkContract(t *testing.T) {
	t.Helper()
	contract, err := openapitest.Fetch(t.Context(), s.apiURL)
	require.NoError(t, err)
	s.contract = contract
}

func (s *stack) createScreening(t *testing.T, checks ...map[string]any) screeningJSON {
	t.Helper()
	if len(checks) == 0 {
		checks = []map[string]any{{"provider": "complycube", "type": "standard_screening_check"}}
	}
	status, raw := s.request(t, http.MethodPost, "/v1/screenings", map[string]any{
		"candidate": map[string]string{"reference": "emp-42", "first_name": "Ada", "last_name": candidateLastName,
			"email": candidateEmail, "dob": candidateDOB, "address_line1": "12 Analytical Row", "country": "GBR"},
		"checks": checks,
	})
	require.Equal(t, http.StatusCreated, status, string(raw))
	var scr screeningJSON
	require.NoError(t, json.Unmarshal(raw, &scr))
	t.Cleanup(func() {
		// A screening left running would be picked up by the next test's worker.
		_ = s.temporal.TerminateWorkflow(context.Background(), workflows.ScreeningWorkflowID(scr.ID), "", "test over")
	})
	return scr
}

func (s *stack) screening(t *testing.T, id string) screeningJSON {
	t.Helper()
	status, raw := s.request(t, http.MethodGet, "/v1/screenings/"+id, nil)
	require.Equal(t, http.StatusOK, status, string(raw))
	var scr screeningJSON
	require.NoError(t, json.Unmarshal(raw, &scr))
	return scr
}

func (s *stack) waitForStatus(t *testing.T, id string, want store.Status, within time.Duration) screeningJSON {
	t.Helper()
	var last screeningJSON
	require.Eventually(t, func() bool {
		last = s.screening(t, id)
		return last.Status == want
	}, within, 200*time.Millisecond, "screening never reached %s", want)
	return last
}

func (s *stack) providerCheckID(t *testing.T, checkID string) string {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		c, err := s.db.Check(context.Background(), checkID)
		require.NoError(t, err)
		if c.ProviderCheckID == nil {
			return false
		}
		id = *c.ProviderCheckID
		return true
	}, 30*time.Second, 100*time.Millisecond)
	return id
}

// assertReportDownloads checks the stored PDF is byte-identical to what the fake served.
func (s *stack) assertReportDownloads(t *testing.T, scr screeningJSON) {
	t.Helper()
	require.Len(t, scr.Documents, 1)
	served, ok := s.fake.ReportPDF(s.providerCheckID(t, scr.Checks[0].ID))
	require.True(t, ok)
	status, pdf := s.request(t, http.MethodGet, scr.Documents[0].URL, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, served, pdf)
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")))
	require.Equal(t, int64(len(served)), scr.Documents[0].Size)
}

// assertNoPIIInHistory reads the whole history of the screening's workflows.
// activityCompleted reports whether the workflow's history has a completed activity of that type.
func (s *stack) activityCompleted(t *testing.T, workflowID, activityType string) bool {
	t.Helper()
	scheduled := map[int64]string{}
	iter := s.temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil && scheduled[a.GetScheduledEventId()] == activityType {
			return true
		}
	}
	return false
}

func (s *stack) assertNoPIIInHistory(t *testing.T, scr screeningJSON) {
	t.Helper()
	ids := []string{workflows.ScreeningWorkflowID(scr.ID)}
	for _, c := range scr.Checks {
		ids = append(ids, workflows.CheckWorkflowID(scr.ID, c.Provider, c.ID))
	}
	for _, wfID := range ids {
		iter := s.temporal.GetWorkflowHistory(context.Background(), wfID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var history strings.Builder
		for iter.HasNext() {
			ev, err := iter.Next()
			require.NoError(t, err)
			history.WriteString(ev.String())
		}
		require.NotEmpty(t, history.String())
		for _, pii := range []string{candidateEmail, candidateLastName, candidateDOB} {
			require.NotContains(t, history.String(), pii, "workflow %s history carries PII", wfID)
		}
	}
}

func TestEndToEndScreeningCompletesByWebhook(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 500 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	s.fake.DuplicateWebhooks(true)
	s.checkContract(t)

	created := s.createScreening(t)
	require.Contains(t, []store.Status{store.StatusPending, store.StatusInProgress}, created.Status)
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, time.Minute)

	require.Equal(t, "clear", done.Result)
	require.Equal(t, store.StatusCompleted, done.Checks[0].Status)
	require.Equal(t, "clear", done.Checks[0].Outcome)
	var kinds []string
	for _, e := range done.Timeline {
		kinds = append(kinds, e.Kind+": "+e.Detail)
	}
	require.Contains(t, strings.Join(kinds, "\n"), "check.completed.clear", "provider events are in the timeline")
	s.assertReportDownloads(t, done)
	for _, d := range s.fake.Deliveries() {
		require.Equal(t, http.StatusOK, d.StatusCode, "every webhook, duplicates included, is acknowledged")
	}

	tenant, err := s.db.TenantByAPIKey(context.Background(), s.apiKey)
	require.NoError(t, err)
	query := fmt.Sprintf("ScreeningStatus = 'completed' AND TenantId = '%s'", tenant.ID)
	require.Eventually(t, func() bool {
		resp, err := s.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.Executions) == 1 &&
			resp.Executions[0].Execution.WorkflowId == workflows.ScreeningWorkflowID(created.ID)
	}, 30*time.Second, 250*time.Millisecond, "the Temporal UI finds the screening by its search attributes")
	s.assertNoPIIInHistory(t, done)
	s.recordHistories(t, "complycube-webhook", done)
}

func TestEndToEndLostWebhookIsReplacedByPolling(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 200 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: 2 * time.Second, PollInterval: 500 * time.Millisecond}})
	s.fake.DropWebhooks("check.completed", "check.completed.clear")

	created := s.createScreening(t)
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, time.Minute)

	require.Equal(t, "clear", done.Result)
	s.assertReportDownloads(t, done)
	var timeline []string
	for _, e := range done.Timeline {
		timeline = append(timeline, e.Kind)
	}
	require.Contains(t, timeline, "check.polling")
	s.recordHistories(t, "complycube-polling", done)
}

func TestEndToEndWebhookWhileTemporalIsDown(t *testing.T) {
	cli, err := devenv.EnsureTemporalCLI(context.Background(), mustRepoRoot(t), os.Stderr)
	require.NoError(t, err)
	dir := t.TempDir()
	opts := devenv.TemporalOptions{CLIPath: cli, Headless: true, DBFile: filepath.Join(dir, "temporal.db"),
		SearchAttributes: workflows.SearchAttributeTypes}
	server, err := devenv.StartTemporal(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Stop() })
	// The restarted server must come back where the worker and the relay look for it.
	_, port, err := net.SplitHostPort(server.Address)
	require.NoError(t, err)
	opts.Port, err = strconv.Atoi(port)
	require.NoError(t, err)

	s := startStack(t, stackOptions{temporalAddress: server.Address, completionDelay: -1,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	created := s.createScreening(t)
	checkID := s.waitForStatus(t, created.ID, store.StatusInProgress, time.Minute).Checks[0].ID
	providerCheckID := s.providerCheckID(t, checkID)

	require.NoError(t, server.Stop())
	require.NoError(t, s.fake.CompleteCheck(providerCheckID, "clear"))

	var eventStatus store.InboxStatus
	require.Eventually(t, func() bool {
		for _, d := range s.fake.Deliveries() {
			if d.Type == "check.completed.clear" && d.StatusCode == http.StatusOK {
				st, err := s.db.WebhookEventStatus(context.Background(), "complycube", d.EventID)
				require.NoError(t, err)
				eventStatus = st
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "the webhook is acknowledged with 200 while Temporal is down")
	require.Equal(t, store.InboxPending, eventStatus.Status, "stored, waiting for Temporal")
	require.Equal(t, store.StatusInProgress, s.screening(t, created.ID).Status)

	server, err = devenv.StartTemporal(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Stop() })

	done := s.waitForStatus(t, created.ID, store.StatusCompleted, 2*time.Minute)
	require.Equal(t, "clear", done.Result)
	s.assertReportDownloads(t, done)
	var delivered store.InboxStatus
	require.Eventually(t, func() bool {
		delivered, err = s.db.WebhookEventStatus(context.Background(), "complycube", eventIDOf(t, s, "check.completed.clear"))
		return err == nil && delivered.Status == store.InboxDelivered
	}, 10*time.Second, 100*time.Millisecond)
}

func eventIDOf(t *testing.T, s *stack, eventType string) string {
	t.Helper()
	for _, d := range s.fake.Deliveries() {
		if d.Type == eventType {
			return d.EventID
		}
	}
	t.Fatalf("no %s delivery", eventType)
	return ""
}

func mustRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := devenv.RepoRoot()
	require.NoError(t, err)
	return root
}

func TestEndToEndCancelStopsTheCheck(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: -1,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	created := s.createScreening(t)
	s.providerCheckID(t, s.waitForStatus(t, created.ID, store.StatusInProgress, time.Minute).Checks[0].ID)

	status, raw := s.request(t, http.MethodPost, "/v1/screenings/"+created.ID+"/cancel", nil)
	require.Equal(t, http.StatusAccepted, status, string(raw))

	done := s.waitForStatus(t, created.ID, store.StatusCanceled, time.Minute)
	require.Equal(t, store.StatusCanceled, done.Checks[0].Status)
	status, raw = s.request(t, http.MethodPost, "/v1/screenings/"+created.ID+"/cancel", nil)
	require.Equal(t, http.StatusConflict, status, string(raw))
	require.Eventually(t, func() bool {
		desc, err := s.temporal.DescribeWorkflowExecution(context.Background(), workflows.ScreeningWorkflowID(created.ID), "")
		return err == nil && desc.WorkflowExecutionInfo.Status == enums.WORKFLOW_EXECUTION_STATUS_CANCELED
	}, 30*time.Second, 200*time.Millisecond)
	s.recordHistories(t, "complycube-canceled", done)
}

func TestEndToEndComplyCubeAndAuthenticateChecksCompleteWithBothReports(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	s.auth.DuplicateWebhooks(true)
	s.auth.ReorderWebhooks(true)

	created := s.createScreening(t,
		map[string]any{"provider": "complycube", "type": "standard_screening_check"},
		map[string]any{"provider": "authenticate", "type": "criminal", "options": map[string]any{"sex_offender": true}})
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, 2*time.Minute)

	require.Equal(t, "clear", done.Result)
	require.Len(t, done.Documents, 2)
	auth := done.Checks[1]
	require.Equal(t, "authenticate", auth.Provider)
	require.Equal(t, store.StatusCompleted, auth.Status)
	require.Equal(t, "clear", auth.Outcome)
	require.Len(t, auth.Searches, 4, "three criminal searches and the sex offender check")
	for _, sr := range auth.Searches {
		require.Equal(t, "COMPLETE", sr.SearchStatus)
	}

	served := map[string][]byte{}
	ccPDF, ok := s.fake.ReportPDF(s.providerCheckID(t, done.Checks[0].ID))
	require.True(t, ok)
	served[done.Checks[0].ID] = ccPDF
	res, err := s.temporal.QueryWorkflow(context.Background(),
		workflows.CheckWorkflowID(created.ID, "authenticate", auth.ID), "", workflows.QueryStatus)
	require.NoError(t, err)
	var st workflows.AuthenticateCheckStatus
	require.NoError(t, res.Get(&st))
	authPDF, ok := s.auth.ReportPDF(st.ReportUUID)
	require.True(t, ok)
	served[auth.ID] = authPDF
	for _, doc := range done.Documents {
		status, pdf := s.request(t, http.MethodGet, doc.URL, nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, served[doc.CheckID], pdf, "the %s report is byte-identical to what the fake served", doc.CheckID)
	}
	s.assertNoPIIInHistory(t, done)
	s.recordHistories(t, "complycube-authenticate", done)
}

// connectCheckr goes through the OAuth connection as an HR platform and its customer would:
// our connect endpoint, Checkr's sign-up (the fake's Authorize), Checkr's redirect to our callback.
func (s *stack) connectCheckr(t *testing.T, beforeCallback func(accountID string)) (accountID string, status store.CheckrAccountStatus) {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest(http.MethodGet, s.apiURL+"/v1/integrations/checkr/connect", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	authorize, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "/authorize/"+e2eCheckrClientID+"/signup", authorize.Path)
	state := authorize.Query().Get("state")
	require.NotEmpty(t, state)

	code, accountID := s.checkr.Authorize("")
	if beforeCallback != nil {
		beforeCallback(accountID)
	}
	callback := s.apiURL + "/oauth/checkr/callback?" + url.Values{"code": {code}, "state": {state}}.Encode()
	resp, err = http.Get(callback)
	require.NoError(t, err)
	var body map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, accountID, body["account"])

	replayed, err := http.Get(callback)
	require.NoError(t, err)
	replayed.Body.Close()
	require.Equal(t, http.StatusBadRequest, replayed.StatusCode, "a state is good for one callback only")
	return accountID, store.CheckrAccountStatus(body["status"])
}

func (s *stack) checkStatus(t *testing.T, screeningID string, i int, want store.Status) screeningJSON {
	t.Helper()
	var last screeningJSON
	require.Eventually(t, func() bool {
		last = s.screening(t, screeningID)
		return last.Checks[i].Status == want
	}, time.Minute, 200*time.Millisecond, "check %d never reached %s", i, want)
	return last
}

func TestEndToEndCheckrConnectCredentialAndCompleteWithComplyCube(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		checkrReportDelay: 300 * time.Millisecond, timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	s.checkr.DuplicateWebhooks(true)
	account, status := s.connectCheckr(t, nil)
	require.Equal(t, store.CheckrAwaitingCredentialing, status)

	created := s.createScreening(t,
		map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "report", "account": account},
		map[string]any{"provider": "complycube", "type": "standard_screening_check"})
	waiting := s.checkStatus(t, created.ID, 0, store.StatusAwaitingCredentialing)
	tenant, err := s.db.TenantByAPIKey(context.Background(), s.apiKey)
	require.NoError(t, err)
	query := fmt.Sprintf("ScreeningStatus = 'awaiting_credentialing' AND TenantId = '%s'", tenant.ID)
	require.Eventually(t, func() bool {
		resp, err := s.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.Executions) == 1 &&
			resp.Executions[0].Execution.WorkflowId == workflows.CheckWorkflowID(created.ID, "checkr", waiting.Checks[0].ID)
	}, 30*time.Second, 250*time.Millisecond, "operators find the waiting check in the Temporal UI")
	require.Equal(t, int64(0), int64(s.checkr.ReportsCreated()), "nothing is ordered before credentialing")

	require.NoError(t, s.checkr.Credential(account))
	done := s.waitForStatus(t, created.ID, store.StatusCompleted, 2*time.Minute)
	require.Equal(t, "clear", done.Result)
	require.Equal(t, "clear", done.Checks[0].Outcome)
	require.Len(t, done.Documents, 2)
	for _, doc := range done.Documents {
		_, pdf := s.request(t, http.MethodGet, doc.URL, nil)
		if doc.CheckID == done.Checks[0].ID {
			checkrDocID := doc.Kind[strings.LastIndex(doc.Kind, "_")+1:]
			served, ok := s.checkr.DocumentPDF(checkrDocID)
			require.True(t, ok, doc.Kind)
			require.Equal(t, served, pdf, "the Checkr report is byte-identical to what the fake served")
		} else {
			served, ok := s.fake.ReportPDF(s.providerCheckID(t, doc.CheckID))
			require.True(t, ok)
			require.Equal(t, served, pdf)
		}
	}
	s.assertNoPIIInHistory(t, done)
	s.recordHistories(t, "checkr-complycube", done, workflows.CheckrAccountWorkflowID(account))
}

func TestEndToEndCheckrDeauthorizationWhileAReportIsPending(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: 300 * time.Millisecond,
		checkrReportDelay: -1, timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour}})
	// Checkr credentials the account before our OAuth callback has run: the event is delivered
	// to an account workflow started for it, and kept.
	account, status := s.connectCheckr(t, func(accountID string) {
		require.NoError(t, s.checkr.Credential(accountID))
		require.Eventually(t, func() bool {
			for _, d := range s.checkr.Deliveries() {
				if d.Type == "account.credentialed" {
					st, err := s.db.WebhookEventStatus(context.Background(), "checkr", d.EventID)
					return err == nil && st.Status == store.InboxDelivered
				}
			}
			return false
		}, 30*time.Second, 50*time.Millisecond, "the early account.credentialed is delivered, not bounced")
		// Delivered is not yet applied: the account's workflow records it in Postgres through an
		// activity, which the callback must not overtake for this test to see its effect.
		require.Eventually(t, func() bool {
			return s.activityCompleted(t, workflows.CheckrAccountWorkflowID(accountID), "checkr.RecordCheckrCredentialed")
		}, 30*time.Second, 50*time.Millisecond, "the early account.credentialed is recorded")
	})
	require.Equal(t, store.CheckrCredentialed, status, "the early account.credentialed is not lost")

	created := s.createScreening(t, map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "report", "account": account})
	s.providerCheckID(t, s.checkStatus(t, created.ID, 0, store.StatusInProgress).Checks[0].ID)

	code, raw := s.request(t, http.MethodPost, "/v1/integrations/checkr/"+account+"/disconnect", nil)
	require.Equal(t, http.StatusOK, code, string(raw))

	done := s.waitForStatus(t, created.ID, store.StatusCanceled, time.Minute)
	require.Equal(t, store.StatusCanceled, done.Checks[0].Status)
	require.Contains(t, done.Checks[0].FailureReason, "deauthorized")
	s.recordHistories(t, "checkr-deauthorized", done, workflows.CheckrAccountWorkflowID(account))

	code, raw = s.request(t, http.MethodPost, "/v1/screenings", map[string]any{
		"candidate": map[string]string{"reference": "emp-43", "first_name": "Ada", "last_name": candidateLastName,
			"email": candidateEmail, "dob": candidateDOB},
		"checks": []map[string]string{{"provider": "checkr", "package": "tasker_standard", "mode": "report", "account": account}},
	})
	require.Equal(t, http.StatusUnprocessableEntity, code, string(raw))
	require.Contains(t, string(raw), "deauthorized", "new checks on a deauthorized account are refused with a clear error")
}
