package receiver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/receiver"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// apiRelay records the workflow starts the API asks for. Like the real relay, a start that
// succeeds marks the screening's workflow as started.
type apiRelay struct {
	store   *store.Store
	mu      sync.Mutex
	started []store.Screening
	err     error
}

func (r *apiRelay) Notify(int64) {}

func (r *apiRelay) StartScreening(ctx context.Context, scr store.Screening) error {
	r.mu.Lock()
	r.started = append(r.started, scr)
	err := r.err
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return r.store.MarkWorkflowStarted(ctx, scr.ID)
}

func (r *apiRelay) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func (r *apiRelay) starts() []store.Screening {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.started)
}

// apiLogs keeps what the server logged, to check that it logs no PII and no API keys.
type apiLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *apiLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *apiLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type apiHarness struct {
	url      string
	db       *sqlx.DB
	store    *store.Store
	temporal *mocks.Client
	relay    *apiRelay
	logs     *apiLogs
	tenantA  store.Tenant
	keyA     string
	keyB     string
}

func newAPIHarness(t *testing.T) *apiHarness {
	t.Helper()
	db := testenv.NewDB(t)
	st := store.New(db)
	h := &apiHarness{db: db, store: st, temporal: mocks.NewClient(t), relay: &apiRelay{store: st}, logs: &apiLogs{}}
	var err error
	h.tenantA, h.keyA, err = st.CreateTenant(t.Context(), "Tenant A")
	require.NoError(t, err)
	_, h.keyB, err = st.CreateTenant(t.Context(), "Tenant B")
	require.NoError(t, err)

	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(receiver.New(receiver.Config{Providers: configuredProviders(t, nil)}, st, h.temporal, h.relay, log))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

type apiAnswer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// call sends a request with key as the bearer token (none when key is "") and header's
// name/value pairs, and checks the answer against the OpenAPI contract.
func (h *apiHarness) call(t *testing.T, method, path, key, body string, header ...string) apiAnswer {
	t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	checkContract(t, req, resp.StatusCode, resp.Header, raw)
	a := apiAnswer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// create posts a valid screening for tenant A and returns its id.
func (h *apiHarness) create(t *testing.T) string {
	t.Helper()
	a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, apiValidRequest()))
	require.Equal(t, http.StatusCreated, a.status, string(a.raw))
	return a.body["id"].(string)
}

func (h *apiHarness) screeningCount(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, h.db.Get(&n, `SELECT count(*) FROM screenings`))
	return n
}

func apiValidRequest() map[string]any {
	return map[string]any{
		"candidate": map[string]any{
			"reference": "emp-42", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
			"dob": "1990-12-10", "address_line1": "12 St James's Square", "city": "London",
			"postal_code": "SW1Y 4JH", "country": "GBR",
		},
		"checks": []any{map[string]any{"provider": "complycube", "type": "standard_screening_check"}},
	}
}

func apiJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func apiCandidate(req map[string]any) map[string]any { return req["candidate"].(map[string]any) }

func apiCheck(req map[string]any, i int) map[string]any {
	return req["checks"].([]any)[i].(map[string]any)
}

func TestAPIRejectsRequestsWithoutAValidKey(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	cases := map[string]string{
		"missing":          "",
		"unknown key":      "Bearer sf_live_not-a-key",
		"basic scheme":     "Basic " + h.keyA,
		"no token":         "Bearer",
		"blank token":      "Bearer   ",
		"no space":         "Bearer" + h.keyA,
		"token with space": "Bearer " + h.keyA + " extra",
	}
	for name, header := range cases {
		a := h.call(t, http.MethodGet, "/v1/screenings/"+uuid.NewString(), "", "", "Authorization", header)
		require.Equal(t, http.StatusUnauthorized, a.status, name)
		require.Equal(t, "Bearer", a.header.Get("WWW-Authenticate"), name)
		require.Equal(t, "unauthorized", a.body["error"], name)
		require.NotEmpty(t, a.body["message"], name)
	}

	a := h.call(t, http.MethodGet, "/v1/screenings/"+uuid.NewString(), "", "", "Authorization", "bearer "+h.keyA)
	require.Equal(t, http.StatusNotFound, a.status, "the scheme is case-insensitive")
}

func TestAPIAnswers503WhenTheKeyCannotBeChecked(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	require.NoError(t, h.db.Close())

	a := h.call(t, http.MethodGet, "/v1/screenings/"+uuid.NewString(), h.keyA, "")
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	require.NotEmpty(t, a.header.Get("Retry-After"))
	require.NotContains(t, h.logs.String(), h.keyA, "API keys are not logged")
}

func TestAPICreateScreeningStoresItAndStartsItsWorkflow(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)

	a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, apiValidRequest()))
	require.Equal(t, http.StatusCreated, a.status, string(a.raw))
	id := a.body["id"].(string)
	require.Equal(t, "/v1/screenings/"+id, a.header.Get("Location"))
	require.Empty(t, a.header.Get("Idempotent-Replayed"))
	require.Equal(t, string(store.StatusPending), a.body["status"])
	require.Nil(t, a.body["result"])
	require.Equal(t, map[string]any{"reference": "emp-42"}, a.body["candidate"])
	checks := a.body["checks"].([]any)
	require.Len(t, checks, 1)
	require.Equal(t, "complycube", checks[0].(map[string]any)["provider"])
	require.Equal(t, "standard_screening_check", checks[0].(map[string]any)["type"])

	starts := h.relay.starts()
	require.Len(t, starts, 1, "the workflow is started once")
	require.Equal(t, id, starts[0].ID)
	require.Equal(t, h.tenantA.ID, starts[0].TenantID)

	cand, err := h.store.CandidateForCheck(t.Context(), checks[0].(map[string]any)["id"].(string))
	require.NoError(t, err)
	require.Equal(t, "ada@example.com", cand.Email)
	require.Equal(t, "1990-12-10", cand.DOB)
	require.Equal(t, "GBR", cand.Country)

	get := h.call(t, http.MethodGet, "/v1/screenings/"+id, h.keyA, "")
	require.Equal(t, http.StatusOK, get.status)
	require.Equal(t, a.body["id"], get.body["id"])
	require.Equal(t, a.body["checks"], get.body["checks"])

	logs := h.logs.String()
	for _, secret := range []string{h.keyA, "ada@example.com", "Lovelace", "1990-12-10"} {
		require.NotContains(t, logs, secret, "no PII or API key is logged")
	}
}

func TestAPICreateScreeningSucceedsWhenTheWorkflowCannotStart(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	h.relay.fail(errors.New("temporal: connection refused"))

	id := h.create(t)
	require.Len(t, h.relay.starts(), 1)
	scr, err := h.store.Screening(t.Context(), h.tenantA.ID, id)
	require.NoError(t, err)
	require.Equal(t, store.StatusPending, scr.Status)
	require.Nil(t, scr.WorkflowStartedAt, "left for the relay's sweep")
	require.Contains(t, h.logs.String(), "will start it")
}

func TestAPICreateScreeningReportsEveryInvalidField(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	cases := map[string]struct {
		edit   func(req map[string]any)
		fields []string
	}{
		"missing email":      {func(r map[string]any) { delete(apiCandidate(r), "email") }, []string{"candidate.email"}},
		"bad email":          {func(r map[string]any) { apiCandidate(r)["email"] = "ada-at-example" }, []string{"candidate.email"}},
		"dob not a date":     {func(r map[string]any) { apiCandidate(r)["dob"] = "10/12/1990" }, []string{"candidate.dob"}},
		"dob impossible":     {func(r map[string]any) { apiCandidate(r)["dob"] = "1990-02-30" }, []string{"candidate.dob"}},
		"dob in the future":  {func(r map[string]any) { apiCandidate(r)["dob"] = tomorrow }, []string{"candidate.dob"}},
		"dob before 1900":    {func(r map[string]any) { apiCandidate(r)["dob"] = "1899-12-31" }, []string{"candidate.dob"}},
		"lowercase country":  {func(r map[string]any) { apiCandidate(r)["country"] = "gbr" }, []string{"candidate.country"}},
		"alpha-2 country":    {func(r map[string]any) { apiCandidate(r)["country"] = "GB" }, []string{"candidate.country"}},
		"long address":       {func(r map[string]any) { apiCandidate(r)["address_line1"] = strings.Repeat("a", 201) }, []string{"candidate.address_line1"}},
		"no checks":          {func(r map[string]any) { r["checks"] = []any{} }, []string{"checks"}},
		"checks missing":     {func(r map[string]any) { delete(r, "checks") }, []string{"checks"}},
		"unknown provider":   {func(r map[string]any) { apiCheck(r, 0)["provider"] = "acme" }, []string{"checks[0].provider"}},
		"missing check type": {func(r map[string]any) { delete(apiCheck(r, 0), "type") }, []string{"checks[0].type"}},
		"unknown check type": {func(r map[string]any) { apiCheck(r, 0)["type"] = "face_authentication_check" }, []string{"checks[0].type"}},
		"options on a complycube check": {func(r map[string]any) {
			apiCheck(r, 0)["options"] = map[string]any{"sex_offender": true}
		}, []string{"checks[0].options"}},
		"unknown authenticate type": {func(r map[string]any) {
			r["checks"] = []any{map[string]any{"provider": "authenticate", "type": "credit"}}
		}, []string{"checks[0].type"}},
		"too many checks": {func(r map[string]any) {
			r["checks"] = slices.Repeat([]any{apiCheck(r, 0)}, 11)
		}, []string{"checks"}},
		"candidate missing": {func(r map[string]any) { delete(r, "candidate") }, []string{
			"candidate.reference", "candidate.first_name", "candidate.last_name", "candidate.email", "candidate.dob"}},
		"several at once": {func(r map[string]any) {
			delete(apiCandidate(r), "first_name")
			r["checks"] = []any{apiCheck(r, 0), map[string]any{"provider": "complycube", "type": "nope"}}
		}, []string{"candidate.first_name", "checks[1].type"}},
	}
	for name, c := range cases {
		req := apiValidRequest()
		c.edit(req)
		a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, req))
		require.Equal(t, http.StatusUnprocessableEntity, a.status, name+": "+string(a.raw))
		require.Equal(t, "validation_failed", a.body["error"], name)
		fields := a.body["fields"].(map[string]any)
		require.ElementsMatch(t, c.fields, slices.Collect(maps.Keys(fields)), name)
		for key, message := range fields {
			require.NotEmpty(t, message, name+": "+key)
		}
	}

	req := apiValidRequest()
	apiCheck(req, 0)["type"] = "face_authentication_check"
	apiCheck(req, 0)["provider"] = "complycube"
	a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, req))
	require.Contains(t, a.body["fields"].(map[string]any)["checks[0].type"], "standard_screening_check",
		"the message lists the provider's check types")
	req["checks"] = []any{map[string]any{"provider": "acme"}}
	a = h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, req))
	require.Contains(t, a.body["fields"].(map[string]any)["checks[0].provider"], "complycube")

	a = h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, apiValidRequest()),
		"Idempotency-Key", strings.Repeat("k", 256))
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body["fields"], "Idempotency-Key")

	require.Zero(t, h.screeningCount(t), "nothing invalid is stored")
	require.Empty(t, h.relay.starts())
}

func TestAPICreateScreeningRejectsBrokenJSON(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	for name, body := range map[string]string{
		"empty":        "",
		"not json":     "candidate=ada",
		"truncated":    `{"candidate": {"reference": "emp-42"`,
		"array":        `[]`,
		"wrong type":   `{"candidate": {"email": 42}}`,
		"checks wrong": `{"checks": {"provider": "complycube"}}`,
	} {
		a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, body)
		require.Equal(t, http.StatusBadRequest, a.status, name+": "+string(a.raw))
		require.Equal(t, "invalid_json", a.body["error"], name)
		require.NotEmpty(t, a.body["message"], name)
	}
	a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, `{"candidate": {"email": 42}}`)
	require.Contains(t, a.body["message"], "candidate.email", "the message says which field")

	req := apiValidRequest()
	apiCandidate(req)["reference"] = strings.Repeat("r", 64<<10)
	a = h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, req))
	require.Equal(t, http.StatusRequestEntityTooLarge, a.status)
	require.Equal(t, "payload_too_large", a.body["error"])
	require.Zero(t, h.screeningCount(t))
}

func TestAPICreateScreeningIsIdempotent(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	body := apiJSON(t, apiValidRequest())

	first := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, body, "Idempotency-Key", "order-1")
	require.Equal(t, http.StatusCreated, first.status, string(first.raw))
	replay := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, body, "Idempotency-Key", "order-1")
	require.Equal(t, http.StatusCreated, replay.status, string(replay.raw))
	require.Equal(t, "true", replay.header.Get("Idempotent-Replayed"))
	require.Equal(t, first.body["id"], replay.body["id"])
	require.Equal(t, first.header.Get("Location"), replay.header.Get("Location"))
	require.Equal(t, 1, h.screeningCount(t))
	require.Len(t, h.relay.starts(), 1, "a started workflow is not started again")

	other := apiValidRequest()
	apiCandidate(other)["email"] = "someone.else@example.com"
	conflict := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, other), "Idempotency-Key", "order-1")
	require.Equal(t, http.StatusConflict, conflict.status)
	require.Equal(t, "idempotency_conflict", conflict.body["error"])

	second := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, body, "Idempotency-Key", "order-2")
	require.Equal(t, http.StatusCreated, second.status)
	require.NotEqual(t, first.body["id"], second.body["id"])
	ofB := h.call(t, http.MethodPost, "/v1/screenings", h.keyB, body, "Idempotency-Key", "order-1")
	require.Equal(t, http.StatusCreated, ofB.status, "keys are per tenant")
	require.Empty(t, ofB.header.Get("Idempotent-Replayed"))
	require.Equal(t, 3, h.screeningCount(t))
}

func TestAPIReplayStartsAWorkflowThatCouldNotStart(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	body := apiJSON(t, apiValidRequest())
	h.relay.fail(errors.New("temporal down"))
	first := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, body, "Idempotency-Key", "order-1")
	require.Equal(t, http.StatusCreated, first.status)

	h.relay.fail(nil)
	replay := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, body, "Idempotency-Key", "order-1")
	require.Equal(t, http.StatusCreated, replay.status)
	require.Len(t, h.relay.starts(), 2)
	scr, err := h.store.Screening(t.Context(), h.tenantA.ID, first.body["id"].(string))
	require.NoError(t, err)
	require.NotNil(t, scr.WorkflowStartedAt)
}

// apiSaveReport stores a report on the screening's first check, as the ComplyCube activity does.
func apiSaveReport(t *testing.T, h *apiHarness, screeningID string, content []byte) store.Document {
	t.Helper()
	checks, err := h.store.ScreeningChecks(t.Context(), screeningID)
	require.NoError(t, err)
	doc, err := h.store.SaveDocument(t.Context(), checks[0].ID, "complycube_report", "application/pdf", content)
	require.NoError(t, err)
	return doc
}

func TestAPITenantsSeeOnlyTheirOwnScreenings(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	id := h.create(t)
	doc := apiSaveReport(t, h, id, []byte("%PDF-1.7 report"))

	notFound := h.call(t, http.MethodGet, "/v1/screenings/"+uuid.NewString(), h.keyB, "")
	require.Equal(t, http.StatusNotFound, notFound.status)
	require.Equal(t, "not_found", notFound.body["error"])
	for name, a := range map[string]apiAnswer{
		"screening": h.call(t, http.MethodGet, "/v1/screenings/"+id, h.keyB, ""),
		"document":  h.call(t, http.MethodGet, "/v1/screenings/"+id+"/documents/"+doc.ID, h.keyB, ""),
		"cancel":    h.call(t, http.MethodPost, "/v1/screenings/"+id+"/cancel", h.keyB, ""),
		"malformed": h.call(t, http.MethodGet, "/v1/screenings/not-a-uuid", h.keyA, ""),
		"bad doc":   h.call(t, http.MethodGet, "/v1/screenings/"+id+"/documents/not-a-uuid", h.keyA, ""),
		"other doc": h.call(t, http.MethodGet, "/v1/screenings/"+id+"/documents/"+uuid.NewString(), h.keyA, ""),
	} {
		require.Equal(t, http.StatusNotFound, a.status, name)
		require.Equal(t, notFound.raw, a.raw, "%s: answered exactly like a screening that does not exist", name)
	}

	scr, err := h.store.Screening(t.Context(), h.tenantA.ID, id)
	require.NoError(t, err)
	require.Equal(t, store.StatusPending, scr.Status, "tenant B's cancel did nothing")
}

func TestAPIGetScreeningShowsChecksDocumentsAndTimeline(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	id := h.create(t)
	checks, err := h.store.ScreeningChecks(t.Context(), id)
	require.NoError(t, err)
	checkID := checks[0].ID
	require.NoError(t, h.store.UpdateCheck(t.Context(), store.CheckUpdate{
		CheckID: checkID, Status: store.StatusInProgress,
		Timeline: store.TimelineEntry{DedupeKey: "check.submitted:" + checkID, Kind: "check.submitted",
			Detail: "ComplyCube standard_screening_check created"},
	}))
	doc := apiSaveReport(t, h, id, []byte("%PDF-1.7 report"))

	a := h.call(t, http.MethodGet, "/v1/screenings/"+id, h.keyA, "")
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	require.ElementsMatch(t, []string{"id", "status", "result", "candidate", "created_at", "updated_at",
		"completed_at", "checks", "documents", "timeline"}, slices.Collect(maps.Keys(a.body)))
	require.Equal(t, id, a.body["id"])
	require.Equal(t, string(store.StatusPending), a.body["status"])
	require.Nil(t, a.body["result"])
	require.Nil(t, a.body["completed_at"])
	require.Equal(t, map[string]any{"reference": "emp-42"}, a.body["candidate"], "only the reference")
	for _, pii := range []string{"ada@example.com", "Lovelace", "1990-12-10", "London"} {
		require.NotContains(t, string(a.raw), pii)
	}
	_, err = time.Parse(time.RFC3339Nano, a.body["created_at"].(string))
	require.NoError(t, err)

	require.Equal(t, []any{map[string]any{
		"id": checkID, "provider": "complycube", "type": "standard_screening_check", "status": "in_progress",
		"options": map[string]any{}, "searches": []any{}, "outcome": nil, "failure_reason": nil, "created_at": a.body["checks"].([]any)[0].(map[string]any)["created_at"],
		"completed_at": nil,
	}}, a.body["checks"])
	require.Equal(t, []any{map[string]any{
		"id": doc.ID, "check_id": checkID, "kind": "complycube_report", "content_type": "application/pdf",
		"size": float64(len("%PDF-1.7 report")), "sha256": doc.SHA256,
		"url": "/v1/screenings/" + id + "/documents/" + doc.ID,
	}}, a.body["documents"])

	timeline := a.body["timeline"].([]any)
	require.Len(t, timeline, 2)
	created, submitted := timeline[0].(map[string]any), timeline[1].(map[string]any)
	require.Equal(t, "screening.created", created["kind"])
	require.Nil(t, created["check_id"])
	require.Equal(t, "1 check(s) ordered", created["detail"])
	require.NotEmpty(t, created["at"])
	require.Equal(t, "check.submitted", submitted["kind"])
	require.Equal(t, checkID, submitted["check_id"])
	require.Equal(t, "ComplyCube standard_screening_check created", submitted["detail"])
}

func TestAPIGetDocumentSendsTheStoredBytes(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	id := h.create(t)
	content := append([]byte("%PDF-1.7\n"), make([]byte, 100<<10)...)
	_, err := rand.Read(content[9:])
	require.NoError(t, err)
	doc := apiSaveReport(t, h, id, content)
	sum := sha256.Sum256(content)

	a := h.call(t, http.MethodGet, "/v1/screenings/"+id+"/documents/"+doc.ID, h.keyA, "")
	require.Equal(t, http.StatusOK, a.status)
	require.True(t, bytes.Equal(content, a.raw), "byte-identical")
	require.Equal(t, "application/pdf", a.header.Get("Content-Type"))
	require.Equal(t, "102409", a.header.Get("Content-Length"))
	require.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, a.header.Get("ETag"))
	require.Equal(t, hex.EncodeToString(sum[:]), a.header.Get("X-Content-SHA256"))
	require.Equal(t, `attachment; filename="complycube_report-`+doc.ID+`.pdf"`, a.header.Get("Content-Disposition"))
	require.Equal(t, "private, no-store", a.header.Get("Cache-Control"))
}

func TestAPICancelScreeningNotStartedCancelsItAtOnce(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	h.relay.fail(errors.New("temporal down"))
	id := h.create(t)

	a := h.call(t, http.MethodPost, "/v1/screenings/"+id+"/cancel", h.keyA, "")
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	require.Equal(t, string(store.StatusCanceled), a.body["status"])
	require.NotNil(t, a.body["completed_at"])
	require.Equal(t, string(store.StatusCanceled), a.body["checks"].([]any)[0].(map[string]any)["status"])
	timeline := a.body["timeline"].([]any)
	require.Equal(t, "screening.canceled", timeline[len(timeline)-1].(map[string]any)["kind"])

	again := h.call(t, http.MethodPost, "/v1/screenings/"+id+"/cancel", h.keyA, "")
	require.Equal(t, http.StatusConflict, again.status)
	require.Equal(t, "already_finished", again.body["error"])
	// The mock fails the test on any CancelWorkflow call: none was expected.
}

func TestAPICancelScreeningStartedAsksTheWorkflowToCancel(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	id := h.create(t)
	h.temporal.On("CancelWorkflow", mock.Anything, workflows.ScreeningWorkflowID(id), "").Return(nil).Once()

	a := h.call(t, http.MethodPost, "/v1/screenings/"+id+"/cancel", h.keyA, "")
	require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
	require.Equal(t, id, a.body["id"])
	require.Equal(t, string(store.StatusPending), a.body["status"], "the workflow records the cancellation later")
}

func TestAPICancelScreeningFinishedIsAConflict(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	id := h.create(t)
	result := "clear"
	require.NoError(t, h.store.SetScreeningConclusion(t.Context(), id, store.StatusCompleted, &result, store.TimelineEntry{}))

	a := h.call(t, http.MethodPost, "/v1/screenings/"+id+"/cancel", h.keyA, "")
	require.Equal(t, http.StatusConflict, a.status)
	require.Equal(t, "already_finished", a.body["error"])
}

func TestAPICancelScreeningWhenTemporalIsDownAsksForRetry(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	id := h.create(t)
	h.temporal.On("CancelWorkflow", mock.Anything, workflows.ScreeningWorkflowID(id), "").
		Return(serviceerror.NewUnavailable("connection refused")).Once()

	a := h.call(t, http.MethodPost, "/v1/screenings/"+id+"/cancel", h.keyA, "")
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	require.NotEmpty(t, a.header.Get("Retry-After"))
}

func TestAPICancelScreeningWhoseWorkflowClosed(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	gone := serviceerror.NewNotFound("workflow not found")
	cases := map[string]struct {
		cancelErr error
		finishes  bool // the workflow completes the screening before the cancel reaches it
		status    int
	}{
		// Temporal accepts a cancel of a closed workflow as a no-op.
		"closed, screening completed": {cancelErr: nil, finishes: true, status: http.StatusConflict},
		"gone, screening completed":   {cancelErr: gone, finishes: true, status: http.StatusConflict},
		"gone, final status pending":  {cancelErr: gone, finishes: false, status: http.StatusAccepted},
	}
	for name, c := range cases {
		id := h.create(t)
		h.temporal.On("CancelWorkflow", mock.Anything, workflows.ScreeningWorkflowID(id), "").
			Run(func(mock.Arguments) {
				if c.finishes {
					result := "clear"
					assert.NoError(t, h.store.SetScreeningConclusion(context.Background(), id, store.StatusCompleted, &result, store.TimelineEntry{}))
				}
			}).Return(c.cancelErr).Once()

		a := h.call(t, http.MethodPost, "/v1/screenings/"+id+"/cancel", h.keyA, "")
		require.Equal(t, c.status, a.status, name+": "+string(a.raw))
		if c.status == http.StatusConflict {
			require.Equal(t, "already_finished", a.body["error"], name)
		}
	}
}

func TestAPIHealth(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)

	a := h.call(t, http.MethodGet, "/healthz", "", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, map[string]any{"status": "ok"}, a.body)

	healthy := h.temporal.On("CheckHealth", mock.Anything, mock.Anything).Return(&client.CheckHealthResponse{}, nil)
	a = h.call(t, http.MethodGet, "/readyz", "", "")
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	require.Equal(t, map[string]any{"status": "ready",
		"checks": map[string]any{"postgres": "ok", "temporal": "ok"}}, a.body)

	healthy.Unset()
	h.temporal.On("CheckHealth", mock.Anything, mock.Anything).
		Return(nil, serviceerror.NewUnavailable("temporal is down")).Once()
	a = h.call(t, http.MethodGet, "/readyz", "", "")
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	checks := a.body["checks"].(map[string]any)
	require.Equal(t, "ok", checks["postgres"])
	require.Contains(t, checks["temporal"], "temporal is down")

	h.temporal.On("CheckHealth", mock.Anything, mock.Anything).Return(&client.CheckHealthResponse{}, nil)
	require.NoError(t, h.db.Close())
	a = h.call(t, http.MethodGet, "/readyz", "", "")
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	checks = a.body["checks"].(map[string]any)
	require.NotEqual(t, "ok", checks["postgres"])
	require.Equal(t, "ok", checks["temporal"])

	a = h.call(t, http.MethodGet, "/healthz", "", "")
	require.Equal(t, http.StatusOK, a.status, "liveness does not depend on Postgres")
}

func TestAPIAuthenticateCheckKeepsItsOptionsAndShowsItsSearches(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	req := apiValidRequest()
	req["checks"] = []any{
		map[string]any{"provider": "authenticate", "type": "criminal", "options": map[string]any{"sex_offender": true}},
		map[string]any{"provider": "authenticate", "type": "criminal"},
	}

	a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, req))
	require.Equal(t, http.StatusCreated, a.status, string(a.raw))
	checks := a.body["checks"].([]any)
	require.Equal(t, map[string]any{"sex_offender": true, "pdf_report": true}, checks[0].(map[string]any)["options"])
	require.Equal(t, map[string]any{"sex_offender": false, "pdf_report": true}, checks[1].(map[string]any)["options"],
		"absent options take their defaults: the PDF report is on")

	checkID := checks[0].(map[string]any)["id"].(string)
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	_, err := h.store.SaveSearch(t.Context(), store.Search{CheckID: checkID, UniqueIdentifier: "s-1",
		SearchType: "COUNTY_CRIMINAL", SearchStatus: "COMPLETE", SearchSubStatus: "CLEAR", ProviderUpdatedAt: at})
	require.NoError(t, err)

	get := h.call(t, http.MethodGet, "/v1/screenings/"+a.body["id"].(string), h.keyA, "")
	require.Equal(t, http.StatusOK, get.status)
	require.Equal(t, []any{map[string]any{"unique_identifier": "s-1", "search_type": "COUNTY_CRIMINAL",
		"search_status": "COMPLETE", "search_sub_status": "CLEAR", "updated_at": "2026-11-01T09:00:00Z"}},
		get.body["checks"].([]any)[0].(map[string]any)["searches"])
	require.Equal(t, []any{}, get.body["checks"].([]any)[1].(map[string]any)["searches"])
}

// Any form of a screening's id names the screening, and the workflow asked to cancel is the one
// the canonical id names: an upper-case id used to answer 202 and cancel nothing.
func TestAPIIdsAreCanonicalEverywhere(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	id := h.create(t)
	h.temporal.On("CancelWorkflow", mock.Anything, workflows.ScreeningWorkflowID(id), "").Return(nil).Once()

	for _, form := range []string{strings.ToUpper(id), "urn:uuid:" + id, "{" + id + "}"} {
		a := h.call(t, http.MethodGet, "/v1/screenings/"+url.PathEscape(form), h.keyA, "")
		require.Equal(t, http.StatusOK, a.status, form)
		require.Equal(t, id, a.body["id"], form)
	}
	a := h.call(t, http.MethodPost, "/v1/screenings/"+strings.ToUpper(id)+"/cancel", h.keyA, "")
	require.Equal(t, http.StatusAccepted, a.status, string(a.raw))

	for _, bad := range []string{"not-a-uuid", "1", strings.Repeat("f", 40)} {
		for _, path := range []string{"/v1/screenings/" + bad, "/v1/screenings/" + id + "/documents/" + bad} {
			a := h.call(t, http.MethodGet, path, h.keyA, "")
			require.Equal(t, http.StatusNotFound, a.status, path)
		}
		require.Equal(t, http.StatusNotFound, h.call(t, http.MethodPost, "/v1/screenings/"+bad+"/cancel", h.keyA, "").status)
	}
}

// Input that can never succeed gets a 4xx that says so, never 503 "retry later".
func TestAPIRefusesInputThatCanNeverSucceed(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	nul := apiValidRequest()
	apiCandidate(nul)["first_name"] = "Ada\x00"
	a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, nul))
	require.Equal(t, http.StatusUnprocessableEntity, a.status, string(a.raw))
	require.Contains(t, a.body["fields"], "candidate.first_name")

	// Go's HTTP stack refuses control characters in headers at both ends; other bytes pass.
	for name, key := range map[string]string{"not UTF-8": "key-\xff\xfe", "tab": "key\tkey"} {
		a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, apiValidRequest()), "Idempotency-Key", key)
		require.Equal(t, http.StatusUnprocessableEntity, a.status, name)
		require.Contains(t, a.body["fields"], "Idempotency-Key", name)
	}

	misspelt := apiValidRequest()
	misspelt["candidat"] = apiCandidate(misspelt)
	a = h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, misspelt))
	require.Equal(t, http.StatusBadRequest, a.status, "an unknown field is not dropped in silence")
	require.Contains(t, a.body["message"], "candidat")
	extra := apiValidRequest()
	apiCandidate(extra)["middle_name"] = "Augusta"
	require.Equal(t, http.StatusBadRequest, h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, extra)).status)

	a = h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, apiValidRequest())+` {"again": true}`)
	require.Equal(t, http.StatusBadRequest, a.status, "trailing data")
	require.Contains(t, a.body["message"], "more after")
	require.Zero(t, h.screeningCount(t))
}

func TestAPISearchesWithoutAProviderTimeShowNull(t *testing.T) {
	t.Parallel()
	h := newAPIHarness(t)
	req := apiValidRequest()
	req["checks"] = []any{map[string]any{"provider": "authenticate", "type": "criminal"}}
	a := h.call(t, http.MethodPost, "/v1/screenings", h.keyA, apiJSON(t, req))
	require.Equal(t, http.StatusCreated, a.status, string(a.raw))
	checkID := a.body["checks"].([]any)[0].(map[string]any)["id"].(string)
	_, err := h.store.SaveSearch(t.Context(), store.Search{CheckID: checkID, UniqueIdentifier: "s-1",
		SearchType: "COUNTY_CRIMINAL", SearchStatus: "PENDING", ProviderUpdatedAt: time.Unix(0, 0)})
	require.NoError(t, err)

	get := h.call(t, http.MethodGet, "/v1/screenings/"+a.body["id"].(string), h.keyA, "")
	search := get.body["checks"].([]any)[0].(map[string]any)["searches"].([]any)[0].(map[string]any)
	require.Contains(t, search, "updated_at")
	require.Nil(t, search["updated_at"], "not 1970-01-01T00:00:00Z")
}
