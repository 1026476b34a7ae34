package complycube_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/complycube/fake"
)

const apiKey = "test_key_123"

// newFakeAPI serves a fake ComplyCube whose checks complete only when the test says so. It
// returns a client for it and the fake's HTTP server.
func newFakeAPI(t *testing.T) (*fake.Server, *complycube.Client, *httptest.Server) {
	t.Helper()
	f := fake.New(fake.Options{APIKey: apiKey, CompletionDelay: -1})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	return f, complycube.NewClient(srv.URL+"/v1", apiKey, srv.Client()), srv
}

func newPerson(email string) complycube.CreateClientRequest {
	return complycube.CreateClientRequest{
		Type:          "person",
		Email:         email,
		PersonDetails: &complycube.PersonDetails{FirstName: "Jane", LastName: "Roe", DOB: "1990-02-03", Nationality: "GB"},
		ExternalID:    "chk_1",
	}
}

func TestClientCreateAndGetCheck(t *testing.T) {
	f, c, _ := newFakeAPI(t)
	ctx := context.Background()

	cl, err := c.CreateClient(ctx, newPerson("jane@example.com"))
	require.NoError(t, err)
	assert.Len(t, cl.ID, 24)
	assert.Equal(t, "person", cl.Type)
	assert.Equal(t, "chk_1", cl.ExternalID)
	assert.False(t, cl.CreatedAt.IsZero())

	created, err := c.CreateCheck(ctx, complycube.CreateCheckRequest{ClientID: cl.ID, Type: "standard_screening_check"})
	require.NoError(t, err)
	assert.Len(t, created.ID, 24)
	assert.Equal(t, cl.ID, created.ClientID)
	assert.Equal(t, "standard_screening_check", created.Type)
	assert.Equal(t, complycube.StatusPending, created.Status)
	assert.Nil(t, created.Result)
	assert.Equal(t, 1, f.ChecksCreated())

	got, err := c.GetCheck(ctx, created.ID)
	require.NoError(t, err)
	assert.Equal(t, created, got)

	require.NoError(t, f.CompleteCheck(created.ID, complycube.OutcomeAttention))
	got, err = c.GetCheck(ctx, created.ID)
	require.NoError(t, err)
	assert.Equal(t, complycube.StatusComplete, got.Status)
	require.NotNil(t, got.Result)
	assert.Equal(t, complycube.OutcomeAttention, got.Result.Outcome)
	assert.False(t, got.UpdatedAt.Before(got.CreatedAt))
}

func TestClientListChecksFollowsPages(t *testing.T) {
	f := fake.New(fake.Options{APIKey: apiKey, CompletionDelay: -1})
	t.Cleanup(f.Close)
	var mu sync.Mutex
	var listQueries []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/checks" {
			mu.Lock()
			listQueries = append(listQueries, r.URL.Query())
			mu.Unlock()
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := complycube.NewClient(srv.URL+"/v1", apiKey, srv.Client())
	complycube.SetPageSize(c, 2)
	ctx := context.Background()

	cl, err := c.CreateClient(ctx, newPerson("jane@example.com"))
	require.NoError(t, err)
	other, err := c.CreateClient(ctx, newPerson("john@example.com"))
	require.NoError(t, err)
	_, err = c.CreateCheck(ctx, complycube.CreateCheckRequest{ClientID: other.ID, Type: "document_check"})
	require.NoError(t, err)

	want := map[string]string{}
	for _, typ := range complycube.CheckTypes[:5] {
		ch, err := c.CreateCheck(ctx, complycube.CreateCheckRequest{ClientID: cl.ID, Type: typ})
		require.NoError(t, err)
		want[ch.ID] = typ
	}

	got, err := c.ListChecks(ctx, cl.ID)
	require.NoError(t, err)
	gotTypes := map[string]string{}
	for _, ch := range got {
		assert.Equal(t, cl.ID, ch.ClientID)
		gotTypes[ch.ID] = ch.Type
	}
	assert.Len(t, got, 5)
	assert.Equal(t, want, gotTypes)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, listQueries, 3, "5 checks at 2 a page")
	for i, q := range listQueries {
		assert.Equal(t, cl.ID, q.Get("clientId"))
		assert.Equal(t, "2", q.Get("pageSize"))
		assert.Equal(t, []string{"1", "2", "3"}[i], q.Get("page"))
	}
}

func TestClientListChecksEmpty(t *testing.T) {
	_, c, _ := newFakeAPI(t)
	cl, err := c.CreateClient(context.Background(), newPerson("jane@example.com"))
	require.NoError(t, err)

	got, err := c.ListChecks(context.Background(), cl.ID)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestClientGetReport(t *testing.T) {
	f, c, _ := newFakeAPI(t)
	ctx := context.Background()
	cl, err := c.CreateClient(ctx, newPerson("jane@example.com"))
	require.NoError(t, err)
	ch, err := c.CreateCheck(ctx, complycube.CreateCheckRequest{ClientID: cl.ID, Type: "extensive_screening_check"})
	require.NoError(t, err)

	_, err = c.GetReport(ctx, ch.ID)
	var apiErr *complycube.APIError
	require.ErrorAs(t, err, &apiErr, "no report while the check is pending")
	assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
	assert.False(t, apiErr.Retryable())

	require.NoError(t, f.CompleteCheck(ch.ID, complycube.OutcomeClear))
	report, err := c.GetReport(ctx, ch.ID)
	require.NoError(t, err)
	want, ok := f.ReportPDF(ch.ID)
	require.True(t, ok)
	assert.Equal(t, "application/pdf", report.ContentType)
	assert.Equal(t, want, report.Data)
	assert.Equal(t, "%PDF-", string(report.Data[:5]))
}

func TestClientAPIErrors(t *testing.T) {
	ctx := context.Background()

	t.Run("wrong key", func(t *testing.T) {
		_, _, srv := newFakeAPI(t)
		c := complycube.NewClient(srv.URL+"/v1", "wrong", nil)
		_, err := c.GetCheck(ctx, "5ed3918fbf06f30008e552c9")
		var apiErr *complycube.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
		assert.Equal(t, "unauthorized", apiErr.Code)
		assert.EqualError(t, err, "complycube: GET /checks/5ed3918fbf06f30008e552c9: HTTP 401, code: unauthorized")
		assert.False(t, apiErr.Retryable())
	})

	for _, tt := range []struct {
		status    int
		retryable bool
	}{
		{http.StatusServiceUnavailable, true},
		{http.StatusInternalServerError, true},
		{http.StatusTooManyRequests, true},
		{http.StatusRequestTimeout, true},
		{http.StatusBadRequest, false},
		{http.StatusForbidden, false},
		{http.StatusUnprocessableEntity, false},
	} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			f, c, _ := newFakeAPI(t)
			f.FailAPI(1, tt.status)

			_, err := c.CreateClient(ctx, newPerson("jane@example.com"))
			var apiErr *complycube.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.status, apiErr.StatusCode)
			assert.Equal(t, tt.retryable, apiErr.Retryable())
			assert.NotContains(t, err.Error(), "jane@example.com", "request bodies carry PII")
			assert.NotContains(t, err.Error(), "Roe")

			_, err = c.CreateClient(ctx, newPerson("jane@example.com"))
			assert.NoError(t, err, "only the next call fails")
		})
	}

	t.Run("validation error", func(t *testing.T) {
		_, c, _ := newFakeAPI(t)
		_, err := c.CreateCheck(ctx, complycube.CreateCheckRequest{ClientID: "5ed3918fbf06f30008e552c9", Type: "document_check"})
		var apiErr *complycube.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
		assert.Equal(t, "resource_not_found", apiErr.Code)
		assert.EqualError(t, err, "complycube: POST /checks: HTTP 404, code: resource_not_found", "the message is not quoted")
	})

	t.Run("error body that is not JSON", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>upstream echoed jane@example.com</html>")
		}))
		t.Cleanup(srv.Close)
		c := complycube.NewClient(srv.URL+"/v1", apiKey, srv.Client())
		_, err := c.CreateClient(ctx, newPerson("jane@example.com"))
		var apiErr *complycube.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, &complycube.APIError{Provider: "complycube", Op: "POST /clients", StatusCode: http.StatusBadGateway}, apiErr)
		assert.True(t, apiErr.Retryable())
		assert.NotContains(t, err.Error(), "jane@example.com")
	})

	t.Run("transport error", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c := complycube.NewClient(srv.URL+"/v1", apiKey, nil)
		_, err := c.GetCheck(ctx, "abc")
		require.Error(t, err)
		var apiErr *complycube.APIError
		assert.False(t, errors.As(err, &apiErr), "transport errors are not API errors")
		var urlErr *url.Error
		assert.ErrorAs(t, err, &urlErr, "the cause stays wrapped")
	})

	t.Run("cancelled context", func(t *testing.T) {
		_, c, _ := newFakeAPI(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.GetCheck(cctx, "abc")
		assert.ErrorIs(t, err, context.Canceled)
	})

	t.Run("empty ids are refused before any call", func(t *testing.T) {
		c := complycube.NewClient("http://127.0.0.1:1/v1", apiKey, nil)
		_, err := c.GetCheck(ctx, "")
		assert.ErrorContains(t, err, "empty check id")
		_, err = c.ListChecks(ctx, "")
		assert.ErrorContains(t, err, "empty client id")
		_, err = c.GetReport(ctx, "")
		assert.ErrorContains(t, err, "empty check id")
	})
}

func TestClientRequestShape(t *testing.T) {
	type seen struct {
		method, escapedPath, rawQuery string
		header                        http.Header
	}
	var mu sync.Mutex
	var requests []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone()})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/reports":
			_, _ = io.WriteString(w, `{"contentType":"application/pdf","data":"JVBERi0="}`)
		case "/v1/checks":
			_, _ = io.WriteString(w, `{"page":1,"pageSize":100,"totalItems":0,"pages":0,"items":[]}`)
		default:
			_, _ = io.WriteString(w, `{"id":"x"}`)
		}
	}))
	t.Cleanup(srv.Close)
	c := complycube.NewClient(srv.URL+"/v1/", "key with spaces", srv.Client())
	ctx := context.Background()

	_, err := c.GetCheck(ctx, "a/b?c")
	require.NoError(t, err)
	_, err = c.ListChecks(ctx, "cl&x=1")
	require.NoError(t, err)
	report, err := c.GetReport(ctx, "id 1")
	require.NoError(t, err)
	assert.Equal(t, []byte("%PDF-"), report.Data)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, requests, 3)
	assert.Equal(t, "/v1/checks/a%2Fb%3Fc", requests[0].escapedPath)
	assert.Equal(t, "/v1/checks", requests[1].escapedPath)
	q, err := url.ParseQuery(requests[1].rawQuery)
	require.NoError(t, err)
	assert.Equal(t, url.Values{"clientId": {"cl&x=1"}, "page": {"1"}, "pageSize": {"100"}}, q)
	assert.Equal(t, "checkId=id+1", requests[2].rawQuery)
	for _, r := range requests {
		assert.Equal(t, http.MethodGet, r.method)
		assert.Equal(t, "key with spaces", r.header.Get("Authorization"), "the key as is, no Bearer")
		assert.Equal(t, "application/json", r.header.Get("Content-Type"))
		assert.Equal(t, "application/json", r.header.Get("Accept"))
	}
}

func TestClientBadReportData(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"contentType":"application/pdf","data":"not base64!"}`)
	}))
	t.Cleanup(srv.Close)
	c := complycube.NewClient(srv.URL+"/v1", apiKey, srv.Client())
	_, err := c.GetReport(context.Background(), "abc")
	assert.ErrorContains(t, err, "decode data")
}

func TestClientWebhooks(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var queries []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(body))
		queries = append(queries, r.URL.Query())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/webhooks":
			_, _ = io.WriteString(w, `{"id":"w1","url":"https://sf.example.com/webhooks/complycube","enabled":true,
				"events":["*"],"description":"d","secret":"s3cr3t","createdAt":"2024-01-01T00:00:00.000Z","updatedAt":"2024-01-01T00:00:00.000Z"}`)
		case r.Method == http.MethodGet && r.URL.Query().Get("page") == "1":
			_, _ = io.WriteString(w, `{"page":1,"pageSize":1,"totalItems":2,"pages":2,"items":[{"id":"w1","url":"https://a","enabled":true,"events":["*"]}]}`)
		default:
			_, _ = io.WriteString(w, `{"page":2,"pageSize":1,"totalItems":2,"pages":2,"items":[{"id":"w2","url":"https://b","enabled":false,"events":["check.pending"]}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	c := complycube.NewClient(srv.URL+"/v1", apiKey, srv.Client())
	complycube.SetPageSize(c, 1)
	ctx := context.Background()

	hook, err := c.CreateWebhook(ctx, complycube.CreateWebhookRequest{URL: "https://sf.example.com/webhooks/complycube",
		Enabled: true, Events: []string{complycube.AllEvents}, Description: "d"})
	require.NoError(t, err)
	assert.Equal(t, "w1", hook.ID)
	assert.Equal(t, "s3cr3t", hook.Secret)
	hooks, err := c.ListWebhooks(ctx)
	require.NoError(t, err)
	require.Len(t, hooks, 2)
	assert.Equal(t, "w2", hooks[1].ID)
	assert.False(t, hooks[1].Enabled)

	mu.Lock()
	defer mu.Unlock()
	assert.JSONEq(t, `{"url":"https://sf.example.com/webhooks/complycube","enabled":true,"events":["*"],"description":"d"}`, bodies[0])
	assert.Equal(t, []string{"1", "2"}, []string{queries[1].Get("page"), queries[2].Get("page")})
}

// A refusal whose message echoes the candidate's data keeps ComplyCube's status and type only.
func TestClientErrorThatEchoesTheCandidateQuotesNoneOfIt(t *testing.T) {
	f, c, _ := newFakeAPI(t)
	f.FailAPIWithBody(1, http.StatusUnprocessableEntity, []byte(`{"type":"validation_error",`+
		`"message":"Client Jane Roe (jane@example.com, born 1990-02-03) is invalid","param":"email"}`))
	_, err := c.CreateClient(context.Background(), newPerson("jane@example.com"))
	var apiErr *complycube.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, &complycube.APIError{Provider: "complycube", Op: "POST /clients",
		StatusCode: http.StatusUnprocessableEntity, Code: "validation_error"}, apiErr)
	assert.EqualError(t, err, "complycube: POST /clients: HTTP 422, code: validation_error")
}

func TestClientDeleteClientDeletesItsChecksAndCountsAMissingClientAsDeleted(t *testing.T) {
	f, c, _ := newFakeAPI(t)
	ctx := context.Background()
	cl, err := c.CreateClient(ctx, newPerson("jane@example.com"))
	require.NoError(t, err)
	check, err := c.CreateCheck(ctx, complycube.CreateCheckRequest{ClientID: cl.ID, Type: "standard_screening_check"})
	require.NoError(t, err)
	other, err := c.CreateClient(ctx, newPerson("john@example.com"))
	require.NoError(t, err)

	require.NoError(t, c.DeleteClient(ctx, cl.ID))
	assert.Equal(t, []string{cl.ID}, f.DeletedClients())
	_, found, err := c.FindClient(ctx, "chk_1")
	require.NoError(t, err)
	assert.True(t, found, "the other client, with the same externalId, is still there")
	_, err = c.GetCheck(ctx, check.ID)
	var apiErr *complycube.APIError
	require.ErrorAs(t, err, &apiErr, "the deleted client's check went with it")
	assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)

	require.NoError(t, c.DeleteClient(ctx, cl.ID), "deleting it again finds it gone, which is what was asked")
	assert.Equal(t, []string{cl.ID}, f.DeletedClients(), "the second call deleted nothing")
	assert.NotContains(t, f.DeletedClients(), other.ID)
	require.Error(t, c.DeleteClient(ctx, ""))

	f.FailAPI(1, http.StatusInternalServerError)
	err = c.DeleteClient(ctx, other.ID)
	require.ErrorAs(t, err, &apiErr, "a failure other than 404 is an error")
	assert.Equal(t, http.StatusInternalServerError, apiErr.StatusCode)
}
