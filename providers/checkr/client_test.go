package checkr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/checkr/fake"
)

const (
	apiKey       = "sk_test_direct_123"
	clientID     = "partner_client_1"
	clientSecret = "partner_secret_456"
	pkg          = "tasker_standard"
)

// newFakeAPI serves a fake Checkr with a direct account and a partner application, whose reports
// and invitations move only when the test says so. It returns a client for the direct account and
// the fake's HTTP server.
func newFakeAPI(t *testing.T, opts fake.Options) (*fake.Server, *checkr.Client, *httptest.Server) {
	t.Helper()
	opts.APIKey, opts.ClientID, opts.ClientSecret = apiKey, clientID, clientSecret
	if opts.ReportDelay == 0 {
		opts.ReportDelay = -1
	}
	if opts.InvitationDelay == 0 {
		opts.InvitationDelay = -1
	}
	f := fake.New(opts)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	f.SetBaseURL(srv.URL)
	return f, checkr.NewClient(srv.URL, apiKey, srv.Client()), srv
}

func newCandidate(customID string) checkr.CandidateRequest {
	return checkr.CandidateRequest{
		Email: "jane.roe@example.com", FirstName: "Jane", LastName: "Roe", DOB: "1990-02-03",
		SSN: "111-22-3333", Zipcode: "90401", Phone: "5555550100", CustomID: customID,
	}
}

func createCandidate(t *testing.T, c *checkr.Client, customID string) checkr.Candidate {
	t.Helper()
	cd, err := c.CreateCandidate(context.Background(), newCandidate(customID))
	require.NoError(t, err)
	return cd
}

func apiError(t *testing.T, err error) *checkr.APIError {
	t.Helper()
	var apiErr *checkr.APIError
	require.ErrorAs(t, err, &apiErr)
	return apiErr
}

func TestClientDirectReport(t *testing.T) {
	f, c, _ := newFakeAPI(t, fake.Options{})
	ctx := context.Background()

	cd := createCandidate(t, c, "scr_1")
	assert.Regexp(t, "^[0-9a-f]{24}$", cd.ID)
	assert.Equal(t, "scr_1", cd.CustomID)
	assert.False(t, cd.CreatedAt.IsZero())
	assert.Equal(t, 1, f.CandidatesCreated())

	rep, err := c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: cd.ID,
		WorkLocations: []checkr.WorkLocation{{Country: "US", State: "CA", City: "San Francisco"}}})
	require.NoError(t, err)
	assert.Regexp(t, "^[0-9a-f]{24}$", rep.ID)
	assert.Equal(t, checkr.ReportPending, rep.Status)
	assert.Empty(t, rep.Result, "null while pending")
	assert.Empty(t, rep.Assessment)
	assert.Empty(t, rep.Adjudication, "null adjudication")
	assert.Equal(t, pkg, rep.Package)
	assert.Equal(t, cd.ID, rep.CandidateID)
	assert.Empty(t, rep.DocumentIDs)
	assert.Nil(t, rep.CompletedAt)
	assert.Equal(t, 1, f.ReportsCreated())

	got, err := c.GetReport(ctx, rep.ID)
	require.NoError(t, err)
	assert.Equal(t, rep, got)

	require.NoError(t, f.CompleteReport(rep.ID))
	got, err = c.GetReport(ctx, rep.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.ReportComplete, got.Status)
	assert.Equal(t, checkr.ResultClear, got.Result)
	assert.Equal(t, checkr.AssessmentEligible, got.Assessment)
	require.NotNil(t, got.CompletedAt)
	assert.False(t, got.CompletedAt.Before(got.CreatedAt))
	require.Len(t, got.DocumentIDs, 1)

	doc, err := c.GetDocument(ctx, got.DocumentIDs[0])
	require.NoError(t, err)
	assert.Equal(t, got.DocumentIDs[0], doc.ID)
	assert.Equal(t, checkr.DocumentPDFReport, doc.Type)
	assert.Equal(t, "application/pdf", doc.ContentType)
	assert.NotEmpty(t, doc.Filename)
	pdf, err := c.Download(ctx, doc.DownloadURI)
	require.NoError(t, err)
	want, ok := f.DocumentPDF(doc.ID)
	require.True(t, ok)
	assert.Equal(t, want, pdf)
	assert.Equal(t, int64(len(pdf)), doc.Filesize)
	assert.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")))

	f.SetResult(checkr.ResultConsider)
	second, err := c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: cd.ID})
	require.NoError(t, err)
	require.NoError(t, f.CompleteReport(second.ID))
	got, err = c.GetReport(ctx, second.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.ResultConsider, got.Result)
	assert.Equal(t, checkr.AssessmentReview, got.Assessment)
}

func TestClientIdempotencyLookups(t *testing.T) {
	f, c, _ := newFakeAPI(t, fake.Options{})
	ctx := context.Background()

	_, ok, err := c.FindCandidate(ctx, "scr_1")
	require.NoError(t, err)
	assert.False(t, ok, "nothing created yet")

	cd := createCandidate(t, c, "scr_1")
	other := createCandidate(t, c, "scr_2")
	found, ok, err := c.FindCandidate(ctx, "scr_1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, cd, found)
	_, ok, err = c.FindCandidate(ctx, "scr_")
	require.NoError(t, err)
	assert.False(t, ok, "custom_id matches exactly")

	reports, err := c.ListReports(ctx, cd.ID)
	require.NoError(t, err)
	assert.Empty(t, reports)
	invitations, err := c.ListInvitations(ctx, cd.ID)
	require.NoError(t, err)
	assert.Empty(t, invitations)

	rep, err := c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: cd.ID})
	require.NoError(t, err)
	_, err = c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: other.ID})
	require.NoError(t, err)
	inv, err := c.CreateInvitation(ctx, checkr.InvitationRequest{Package: pkg, CandidateID: cd.ID})
	require.NoError(t, err)
	_, err = c.CreateInvitation(ctx, checkr.InvitationRequest{Package: pkg, CandidateID: other.ID})
	require.NoError(t, err)

	reports, err = c.ListReports(ctx, cd.ID)
	require.NoError(t, err)
	require.Len(t, reports, 1)
	assert.Equal(t, rep, reports[0])
	invitations, err = c.ListInvitations(ctx, cd.ID)
	require.NoError(t, err)
	require.Len(t, invitations, 1)
	assert.Equal(t, inv, invitations[0])
	assert.Equal(t, 2, f.ReportsCreated())
}

func TestClientInvitation(t *testing.T) {
	f, c, srv := newFakeAPI(t, fake.Options{})
	ctx := context.Background()
	cd := createCandidate(t, c, "scr_1")

	inv, err := c.CreateInvitation(ctx, checkr.InvitationRequest{Package: pkg, CandidateID: cd.ID,
		WorkLocations: []checkr.WorkLocation{{Country: "US", State: "NY"}}})
	require.NoError(t, err)
	assert.Equal(t, checkr.InvitationPending, inv.Status)
	assert.Equal(t, cd.ID, inv.CandidateID)
	assert.Equal(t, pkg, inv.Package)
	assert.Empty(t, inv.ReportID)
	assert.True(t, strings.HasPrefix(inv.InvitationURL, srv.URL+"/"), inv.InvitationURL)
	assert.Equal(t, 7*24*time.Hour, inv.ExpiresAt.Sub(inv.CreatedAt), "invitations expire after 7 days")

	resp, err := srv.Client().Get(inv.InvitationURL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the invitation URL opens")

	require.NoError(t, f.CompleteInvitation(inv.ID))
	got, err := c.GetInvitation(ctx, inv.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.InvitationCompleted, got.Status)
	require.NotEmpty(t, got.ReportID)

	rep, err := c.GetReport(ctx, got.ReportID)
	require.NoError(t, err)
	assert.Equal(t, checkr.ReportPending, rep.Status)
	assert.Equal(t, cd.ID, rep.CandidateID)
	assert.Equal(t, pkg, rep.Package)
	assert.Equal(t, 1, f.ReportsCreated(), "the completed invitation ordered the report")

	second, err := c.CreateInvitation(ctx, checkr.InvitationRequest{Package: pkg, CandidateID: cd.ID})
	require.NoError(t, err)
	require.NoError(t, f.ExpireInvitation(second.ID))
	got, err = c.GetInvitation(ctx, second.ID)
	require.NoError(t, err)
	assert.Equal(t, checkr.InvitationExpired, got.Status)
	assert.Empty(t, got.ReportID)
}

func TestClientListsFollowPages(t *testing.T) {
	f := fake.New(fake.Options{APIKey: apiKey, ReportDelay: -1})
	t.Cleanup(f.Close)
	var mu sync.Mutex
	var listQueries []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/reports" {
			mu.Lock()
			listQueries = append(listQueries, r.URL.Query())
			mu.Unlock()
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := checkr.NewClient(srv.URL, apiKey, srv.Client())
	checkr.SetPageSize(c, 2)
	ctx := context.Background()

	cd := createCandidate(t, c, "scr_1")
	other := createCandidate(t, c, "scr_2")
	_, err := c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: other.ID})
	require.NoError(t, err)
	want := map[string]bool{}
	for range 5 {
		rep, err := c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: cd.ID})
		require.NoError(t, err)
		want[rep.ID] = true
	}

	got, err := c.ListReports(ctx, cd.ID)
	require.NoError(t, err)
	gotIDs := map[string]bool{}
	for _, r := range got {
		assert.Equal(t, cd.ID, r.CandidateID)
		gotIDs[r.ID] = true
	}
	assert.Len(t, got, 5)
	assert.Equal(t, want, gotIDs)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, listQueries, 3, "5 reports at 2 a page")
	for i, q := range listQueries {
		assert.Equal(t, cd.ID, q.Get("candidate_id"))
		assert.Equal(t, "2", q.Get("per_page"))
		assert.Equal(t, []string{"1", "2", "3"}[i], q.Get("page"))
	}
}

// listServer answers every list call with the items given, ignoring filters, as an API that does
// not know a filter would. nextHref is set on every page when endless.
func listServer(t *testing.T, items string, endless bool) *checkr.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := "null"
		if endless {
			next = `"https://elsewhere.example/v1/candidates?page=2"`
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"object":"list","data":%s,"next_href":%s,"previous_href":null,"count":3}`, items, next)
	}))
	t.Cleanup(srv.Close)
	return checkr.NewClient(srv.URL, apiKey, srv.Client())
}

func TestClientListsDoNotTrustFilters(t *testing.T) {
	ctx := context.Background()

	t.Run("candidates", func(t *testing.T) {
		c := listServer(t, `[
			{"id":"c3","custom_id":"scr_1","created_at":"2024-01-03T00:00:00Z"},
			{"id":"c2","custom_id":"scr_other","created_at":"2024-01-01T00:00:00Z"},
			{"id":"c1","custom_id":"scr_1","created_at":"2024-01-02T00:00:00Z"},
			{"id":"c0","custom_id":null,"created_at":"2023-01-01T00:00:00Z"}]`, false)
		cd, ok, err := c.FindCandidate(ctx, "scr_1")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "c1", cd.ID, "the oldest of those with the custom_id, never another's")

		_, ok, err = c.FindCandidate(ctx, "scr_nobody")
		require.NoError(t, err)
		assert.False(t, ok)
	})

	t.Run("reports and invitations", func(t *testing.T) {
		c := listServer(t, `[{"id":"r1","candidate_id":"cand_a"},{"id":"r2","candidate_id":"cand_b"},{"id":"r1","candidate_id":"cand_a"}]`, false)
		reports, err := c.ListReports(ctx, "cand_a")
		require.NoError(t, err)
		require.Len(t, reports, 1, "other candidates' and repeated items are left out")
		assert.Equal(t, "r1", reports[0].ID)
		invitations, err := c.ListInvitations(ctx, "cand_b")
		require.NoError(t, err)
		require.Len(t, invitations, 1)
		assert.Equal(t, "r2", invitations[0].ID)
	})

	t.Run("endless pages", func(t *testing.T) {
		c := listServer(t, `[{"id":"r1","candidate_id":"cand_a"}]`, true)
		_, err := c.ListReports(ctx, "cand_a")
		// Following next_href's address would have failed on its host instead.
		assert.ErrorContains(t, err, "more than 50 pages", "paged by number up to the bound, never answered from a partial list")
	})
}

func TestClientOAuth(t *testing.T) {
	f, direct, _ := newFakeAPI(t, fake.Options{})
	ctx := context.Background()

	code, accountID := f.Authorize("")
	require.NotEmpty(t, code)
	require.Regexp(t, "^[0-9a-f]{24}$", accountID)

	tok, err := direct.ExchangeToken(ctx, clientID, clientSecret, code)
	require.NoError(t, err)
	assert.Equal(t, accountID, tok.CheckrAccountID)
	require.NotEmpty(t, tok.AccessToken)
	assert.NotEqual(t, apiKey, tok.AccessToken)

	_, err = direct.ExchangeToken(ctx, clientID, clientSecret, code)
	assert.Equal(t, http.StatusBadRequest, apiError(t, err).StatusCode, "a code works once")
	assert.NotContains(t, err.Error(), code)

	c := direct.WithKey(tok.AccessToken)
	cd := createCandidate(t, c, "scr_1")

	_, err = c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: cd.ID})
	apiErr := apiError(t, err)
	assert.Equal(t, http.StatusForbidden, apiErr.StatusCode)
	assert.EqualError(t, err, "checkr: POST /v1/reports: HTTP 403", "Checkr's sentence is not a code")
	assert.False(t, apiErr.Retryable())
	_, err = c.CreateInvitation(ctx, checkr.InvitationRequest{Package: pkg, CandidateID: cd.ID})
	assert.Equal(t, http.StatusForbidden, apiError(t, err).StatusCode)
	assert.Zero(t, f.ReportsCreated())

	require.NoError(t, f.Credential(accountID))
	rep, err := c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: cd.ID})
	require.NoError(t, err)
	got, err := c.GetReport(ctx, rep.ID)
	require.NoError(t, err)
	assert.Equal(t, rep.ID, got.ID)

	// Accounts do not see each other's objects.
	_, err = direct.GetReport(ctx, rep.ID)
	assert.Equal(t, http.StatusNotFound, apiError(t, err).StatusCode)
	_, ok, err := direct.FindCandidate(ctx, "scr_1")
	require.NoError(t, err)
	assert.False(t, ok)

	// An existing account connects again: a new code and token for the same account.
	code2, again := f.Authorize(accountID)
	assert.Equal(t, accountID, again)
	tok2, err := direct.ExchangeToken(ctx, clientID, clientSecret, code2)
	require.NoError(t, err)
	assert.Equal(t, accountID, tok2.CheckrAccountID)
	assert.NotEqual(t, tok.AccessToken, tok2.AccessToken)

	require.NoError(t, c.Deauthorize(ctx))
	_, err = c.GetReport(ctx, rep.ID)
	assert.Equal(t, http.StatusUnauthorized, apiError(t, err).StatusCode, "a revoked token no longer works")
	err = c.Deauthorize(ctx)
	assert.Equal(t, http.StatusUnauthorized, apiError(t, err).StatusCode, "revoking twice")
	_, err = direct.WithKey(tok2.AccessToken).GetReport(ctx, rep.ID)
	assert.NoError(t, err, "the account's other token still works")

	t.Run("wrong client credentials", func(t *testing.T) {
		code, _ := f.Authorize("")
		for _, creds := range [][2]string{{clientID, "wrong"}, {"wrong", clientSecret}, {"", ""}} {
			_, err := direct.ExchangeToken(ctx, creds[0], creds[1], code)
			assert.Equal(t, http.StatusUnauthorized, apiError(t, err).StatusCode)
			assert.NotContains(t, err.Error(), clientSecret)
		}
		_, err := direct.ExchangeToken(ctx, clientID, clientSecret, code)
		assert.NoError(t, err, "refused exchanges do not use the code up")
	})
	t.Run("unknown code", func(t *testing.T) {
		_, err := direct.ExchangeToken(ctx, clientID, clientSecret, "made-up-code")
		assert.Equal(t, http.StatusBadRequest, apiError(t, err).StatusCode)
		assert.NotContains(t, err.Error(), "made-up-code")
	})
	t.Run("the API key is not an access token", func(t *testing.T) {
		err := direct.Deauthorize(ctx)
		assert.Equal(t, http.StatusUnauthorized, apiError(t, err).StatusCode)
		_, err = direct.GetReport(ctx, "nope")
		assert.Equal(t, http.StatusNotFound, apiError(t, err).StatusCode, "the key still works")
	})
}

func TestClientBasicAuth(t *testing.T) {
	f, _, _ := newFakeAPI(t, fake.Options{})
	type seen struct{ user, pass string }
	var mu sync.Mutex
	var auths []seen
	var oauthHeaders []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.URL.Path == "/oauth/tokens" {
			oauthHeaders = append(oauthHeaders, r.Header.Get("Authorization"))
		} else {
			u, p, ok := r.BasicAuth()
			assert.True(t, ok, "Basic auth on %s", r.URL.Path)
			auths = append(auths, seen{u, p})
		}
		mu.Unlock()
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c := checkr.NewClient(srv.URL, apiKey, srv.Client())

	cd := createCandidate(t, c, "scr_1")
	code, _ := f.Authorize("")
	tok, err := c.ExchangeToken(ctx, clientID, clientSecret, code)
	require.NoError(t, err)
	_, _, err = c.WithKey(tok.AccessToken).FindCandidate(ctx, "x")
	require.NoError(t, err)
	require.NoError(t, c.WithKey(tok.AccessToken).Deauthorize(ctx))

	_, err = checkr.NewClient(srv.URL, "sk_wrong", srv.Client()).GetReport(ctx, "r1")
	apiErr := apiError(t, err)
	assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
	assert.False(t, apiErr.Retryable())
	assert.NotContains(t, err.Error(), "sk_wrong")
	_ = cd

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []seen{{apiKey, ""}, {tok.AccessToken, ""}, {tok.AccessToken, ""}, {"sk_wrong", ""}}, auths,
		"the key or token as user name, an empty password")
	assert.Equal(t, []string{""}, oauthHeaders, "the token exchange sends no Basic auth")
}

func TestClientAPIErrors(t *testing.T) {
	ctx := context.Background()

	for _, tt := range []struct {
		status    int
		retryable bool
	}{
		{http.StatusServiceUnavailable, true},
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusTooManyRequests, true},
		{http.StatusRequestTimeout, true},
		{http.StatusBadRequest, false},
		{http.StatusUnauthorized, false},
		{http.StatusForbidden, false},
		{http.StatusNotFound, false},
		{http.StatusUnprocessableEntity, false},
	} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			f, c, _ := newFakeAPI(t, fake.Options{})
			f.FailAPI(1, tt.status)

			_, err := c.CreateCandidate(ctx, newCandidate("scr_1"))
			apiErr := apiError(t, err)
			assert.Equal(t, tt.status, apiErr.StatusCode)
			assert.Equal(t, tt.retryable, apiErr.Retryable())
			for _, pii := range []string{"jane", "Roe", "111-22-3333", "3333", "90401", "1990-02-03", apiKey} {
				assert.NotContains(t, err.Error(), pii, "request bodies carry PII, the key is a secret")
			}
			assert.Contains(t, err.Error(), "POST /v1/candidates")

			_, err = c.CreateCandidate(ctx, newCandidate("scr_1"))
			assert.NoError(t, err, "only the next call fails")
			assert.Equal(t, 1, f.CandidatesCreated(), "failed calls create nothing")
		})
	}

	t.Run("FailAPI covers OAuth calls", func(t *testing.T) {
		f, c, _ := newFakeAPI(t, fake.Options{})
		code, _ := f.Authorize("")
		f.FailAPI(1, http.StatusServiceUnavailable)
		_, err := c.ExchangeToken(ctx, clientID, clientSecret, code)
		assert.True(t, apiError(t, err).Retryable())
		_, err = c.ExchangeToken(ctx, clientID, clientSecret, code)
		assert.NoError(t, err, "the injected failure did not use the code up")
	})

	t.Run("validation error", func(t *testing.T) {
		_, c, _ := newFakeAPI(t, fake.Options{})
		_, err := c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: "e44aa283528e6fde7d542194"})
		apiErr := apiError(t, err)
		assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
		_, err = c.CreateCandidate(ctx, checkr.CandidateRequest{Email: "not an email"})
		apiErr = apiError(t, err)
		assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
		assert.NotContains(t, err.Error(), "not an email")
	})

	t.Run("error bodies", func(t *testing.T) {
		for _, tt := range []struct {
			name, contentType, body string
			want                    string
		}{
			{"error that is a code", "application/json", `{"error":"invalid_email"}`, "invalid_email"},
			{"error that is a sentence", "application/json", `{"error":"Email jane.roe@example.com is invalid"}`, ""},
			{"error that is a name", "application/json", `{"error":"Jane"}`, ""},
			{"errors", "application/json", `{"errors":["Email jane.roe@example.com is invalid","SSN 111-22-3333 is taken"]}`, ""},
			{"errors as a string", "application/json", `{"errors":"jane.roe@example.com"}`, ""},
			{"errors of another shape", "application/json", `{"errors":[{"field":"ssn","value":"111-22-3333"}]}`, ""},
			{"not JSON", "text/html", `<html>upstream echoed jane.roe@example.com</html>`, ""},
			{"empty", "application/json", ``, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", tt.contentType)
					w.WriteHeader(http.StatusBadRequest)
					_, _ = io.WriteString(w, tt.body)
				}))
				t.Cleanup(srv.Close)
				c := checkr.NewClient(srv.URL, apiKey, srv.Client())
				_, err := c.CreateCandidate(ctx, newCandidate("scr_1"))
				assert.Equal(t, &checkr.APIError{Provider: "checkr", Op: "POST /v1/candidates", StatusCode: http.StatusBadRequest,
					Code: tt.want}, apiError(t, err))
				for _, pii := range []string{"jane", "Jane", "Roe", "3333"} {
					assert.NotContains(t, err.Error(), pii)
				}
			})
		}
	})

	t.Run("transport error", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c := checkr.NewClient(srv.URL, apiKey, nil)
		_, _, err := c.FindCandidate(ctx, "scr_secretish")
		require.Error(t, err)
		var apiErr *checkr.APIError
		assert.False(t, errors.As(err, &apiErr), "transport errors are not API errors")
		var urlErr *url.Error
		assert.ErrorAs(t, err, &urlErr, "the cause stays wrapped")
		assert.EqualError(t, err, "checkr: GET /v1/candidates: connection refused")
		assert.NotContains(t, err.Error(), apiKey)
	})

	t.Run("cancelled context", func(t *testing.T) {
		_, c, _ := newFakeAPI(t, fake.Options{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.GetReport(cctx, "abc")
		assert.ErrorIs(t, err, context.Canceled)
	})

	t.Run("empty ids are refused before any call", func(t *testing.T) {
		c := checkr.NewClient("http://127.0.0.1:1", apiKey, nil)
		_, err := c.GetReport(ctx, "")
		assert.ErrorContains(t, err, "empty report id")
		_, err = c.ListReports(ctx, "")
		assert.ErrorContains(t, err, "empty candidate id")
		_, err = c.GetInvitation(ctx, "")
		assert.ErrorContains(t, err, "empty invitation id")
		_, err = c.ListInvitations(ctx, "")
		assert.ErrorContains(t, err, "empty candidate id")
		_, err = c.GetDocument(ctx, "")
		assert.ErrorContains(t, err, "empty document id")
		_, _, err = c.FindCandidate(ctx, "")
		assert.ErrorContains(t, err, "empty custom_id")
	})

	t.Run("token answer without access_token", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"checkr_account_id":"a1"}`)
		}))
		t.Cleanup(srv.Close)
		_, err := checkr.NewClient(srv.URL, "", srv.Client()).ExchangeToken(ctx, clientID, clientSecret, "code")
		assert.ErrorContains(t, err, "no access_token")
	})
}

func TestAPIErrorString(t *testing.T) {
	assert.Equal(t, "checkr: POST /v1/reports: HTTP 403, code: not_credentialed",
		(&checkr.APIError{Provider: "checkr", Op: "POST /v1/reports", StatusCode: 403, Code: "not_credentialed"}).Error())
}

func TestClientExpiredDownload(t *testing.T) {
	f, c, srv := newFakeAPI(t, fake.Options{DownloadTTL: -1})
	ctx := context.Background()
	cd := createCandidate(t, c, "scr_1")
	rep, err := c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: cd.ID})
	require.NoError(t, err)
	require.NoError(t, f.CompleteReport(rep.ID))
	rep, err = c.GetReport(ctx, rep.ID)
	require.NoError(t, err)

	doc, err := c.GetDocument(ctx, rep.DocumentIDs[0])
	require.NoError(t, err)
	link, err := url.Parse(doc.DownloadURI)
	require.NoError(t, err)
	token := link.Query().Get("token")
	require.NotEmpty(t, token)

	_, err = c.Download(ctx, doc.DownloadURI)
	require.ErrorIs(t, err, checkr.ErrDownloadExpired)
	assert.NotContains(t, err.Error(), token, "the link is a credential")

	f.SetDownloadTTL(time.Hour)
	fresh, err := c.GetDocument(ctx, rep.DocumentIDs[0])
	require.NoError(t, err)
	assert.NotEqual(t, doc.DownloadURI, fresh.DownloadURI, "a fresh token on every call")
	pdf, err := c.Download(ctx, fresh.DownloadURI)
	require.NoError(t, err, "a fresh download_uri works")
	want, _ := f.DocumentPDF(doc.ID)
	assert.Equal(t, want, pdf)
	_, err = c.Download(ctx, doc.DownloadURI)
	assert.ErrorIs(t, err, checkr.ErrDownloadExpired, "the old one stays expired")

	_, err = c.Download(ctx, srv.URL+"/downloads/"+doc.ID+"?token=guessed")
	assert.ErrorIs(t, err, checkr.ErrDownloadExpired, "a wrong token answers 403 like an expired one, as S3 does")
	_, err = c.Download(ctx, srv.URL+"/downloads/nope?token=guessed")
	assert.Equal(t, http.StatusNotFound, apiError(t, err).StatusCode)
	assert.NotErrorIs(t, err, checkr.ErrDownloadExpired)
}

func TestClientDownload(t *testing.T) {
	var mu sync.Mutex
	var headers []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		headers = append(headers, r.Header.Clone())
		mu.Unlock()
		switch r.URL.Path {
		case "/forbidden":
			w.WriteHeader(http.StatusForbidden)
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/broken":
			w.WriteHeader(http.StatusBadGateway)
		default:
			_, _ = io.WriteString(w, "%PDF-1.4 tiny")
		}
	}))
	t.Cleanup(srv.Close)
	c := checkr.NewClient("http://127.0.0.1:1", apiKey, srv.Client())
	ctx := context.Background()

	pdf, err := c.Download(ctx, srv.URL+"/ok?token=s3cret")
	require.NoError(t, err)
	assert.Equal(t, "%PDF-1.4 tiny", string(pdf))

	for _, path := range []string{"/forbidden", "/gone"} {
		_, err = c.Download(ctx, srv.URL+path+"?token=s3cret")
		assert.ErrorIs(t, err, checkr.ErrDownloadExpired, path)
		assert.NotContains(t, err.Error(), "s3cret")
	}

	_, err = c.Download(ctx, srv.URL+"/broken?token=s3cret")
	assert.True(t, apiError(t, err).Retryable())
	assert.NotErrorIs(t, err, checkr.ErrDownloadExpired)

	mu.Lock()
	for _, h := range headers {
		assert.Empty(t, h.Get("Authorization"), "the key never goes to a download_uri")
	}
	mu.Unlock()

	t.Run("transport errors do not quote the link", func(t *testing.T) {
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		_, err := c.Download(ctx, closed.URL+"/downloads/d1?token=s3cret")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cret")
		var urlErr *url.Error
		assert.ErrorAs(t, err, &urlErr, "the cause stays wrapped")

		_, err = c.Download(ctx, "http://[::1]:namedport/downloads/d1?token=s3cret")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cret")
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Download(cctx, srv.URL+"/ok?token=s3cret")
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotContains(t, err.Error(), "s3cret")
	})
}

func TestClientRequestShape(t *testing.T) {
	type seen struct {
		method, escapedPath, rawQuery, body string
		header                              http.Header
	}
	var mu sync.Mutex
	var requests []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests = append(requests, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(body), r.Header.Clone()})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/candidates" && r.Method == http.MethodGet:
			_, _ = io.WriteString(w, `{"data":[],"object":"list","next_href":null,"count":0}`)
		case r.URL.Path == "/oauth/tokens":
			_, _ = io.WriteString(w, `{"access_token":"tok","checkr_account_id":"a1"}`)
		case r.URL.Path == "/oauth/deauthorize":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":"x"}`)
		}
	}))
	t.Cleanup(srv.Close)
	c := checkr.NewClient(srv.URL+"/", "key with spaces", srv.Client())
	ctx := context.Background()

	_, err := c.GetReport(ctx, "a/b?c")
	require.NoError(t, err)
	_, _, err = c.FindCandidate(ctx, "scr&x=1")
	require.NoError(t, err)
	_, err = c.CreateCandidate(ctx, checkr.CandidateRequest{Email: "a@b.c", CustomID: "scr_1"})
	require.NoError(t, err)
	_, err = c.CreateReport(ctx, checkr.ReportRequest{Package: pkg, CandidateID: "c1"})
	require.NoError(t, err)
	_, err = c.ExchangeToken(ctx, clientID, clientSecret, "the-code")
	require.NoError(t, err)
	require.NoError(t, c.WithKey("tok").Deauthorize(ctx))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, requests, 6)

	assert.Equal(t, "/v1/reports/a%2Fb%3Fc", requests[0].escapedPath)
	assert.Equal(t, "/v1/candidates", requests[1].escapedPath)
	q, err := url.ParseQuery(requests[1].rawQuery)
	require.NoError(t, err)
	assert.Equal(t, url.Values{"custom_id": {"scr&x=1"}, "page": {"1"}, "per_page": {"100"}}, q)

	assert.Equal(t, http.MethodPost, requests[2].method)
	assert.JSONEq(t, `{"email":"a@b.c","custom_id":"scr_1"}`, requests[2].body, "empty fields are left out, the email never")
	assert.Equal(t, "application/json", requests[2].header.Get("Content-Type"))
	assert.JSONEq(t, `{"package":"tasker_standard","candidate_id":"c1"}`, requests[3].body)

	assert.Equal(t, "/oauth/tokens", requests[4].escapedPath)
	assert.JSONEq(t, `{"client_id":"partner_client_1","client_secret":"partner_secret_456","code":"the-code"}`, requests[4].body)
	assert.Empty(t, requests[4].header.Get("Authorization"))

	assert.Equal(t, "/oauth/deauthorize", requests[5].escapedPath)
	assert.Equal(t, http.MethodPost, requests[5].method)
	assert.Equal(t, "Basic dG9rOg==", requests[5].header.Get("Authorization"), "tok: in base64")

	for i, r := range requests {
		assert.Equal(t, "application/json", r.header.Get("Accept"))
		if i < 4 {
			user, pass, ok := (&http.Request{Header: r.header}).BasicAuth()
			assert.True(t, ok)
			assert.Equal(t, "key with spaces", user)
			assert.Empty(t, pass)
		}
	}
}

func TestSignupURL(t *testing.T) {
	assert.Equal(t, "https://partners.checkr.com/authorize/client_1/signup?state=acct+42%2F%26",
		checkr.SignupURL(checkr.DefaultAuthorizeURL, "client_1", "acct 42/&"))
	assert.Equal(t, "https://partners.checkrhq-staging.net/authorize/a%2Fb/signup",
		checkr.SignupURL(checkr.StagingAuthorizeURL+"/", "a/b", ""))
}

func TestSecretsAreNotPrinted(t *testing.T) {
	c := checkr.NewClient(checkr.DefaultBaseURL, "sk_live_secret", nil)
	tok := checkr.Token{AccessToken: "oauth_secret_token", CheckrAccountID: "acct_1"}
	doc := checkr.Document{ID: "d1", Type: checkr.DocumentPDFReport, DownloadURI: "https://s3.example/d1?X-Amz-Signature=sig_secret"}
	wrapped := struct {
		C   *checkr.Client
		T   checkr.Token
		Doc checkr.Document
	}{c, tok, doc}

	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("x", "client", c, "token", tok, "doc", doc)
	out := fmt.Sprintf("%v %+v %#v %s %v %+v %#v", c, tok, doc, c, wrapped, wrapped, wrapped) + buf.String()
	for _, secret := range []string{"sk_live_secret", "oauth_secret_token", "sig_secret"} {
		assert.NotContains(t, out, secret)
	}
	assert.Contains(t, out, "acct_1")
	assert.Contains(t, out, "d1")

	// JSON keeps every field: a Token must be storable (encrypted) as is.
	b, err := json.Marshal(tok)
	require.NoError(t, err)
	assert.JSONEq(t, `{"access_token":"oauth_secret_token","checkr_account_id":"acct_1"}`, string(b))
}

// A refusal whose error echoes the candidate's data keeps Checkr's status, and its code only when
// the error is one.
func TestClientErrorThatEchoesTheCandidateQuotesNoneOfIt(t *testing.T) {
	f, c, _ := newFakeAPI(t, fake.Options{})
	ctx := context.Background()
	f.FailAPIWithBody(1, http.StatusBadRequest, []byte(`{"error":"Candidate Jane Roe (jane.roe@example.com, dob 1990-02-03) is invalid"}`))
	_, err := c.CreateCandidate(ctx, newCandidate("scr_1"))
	assert.Equal(t, &checkr.APIError{Provider: "checkr", Op: "POST /v1/candidates", StatusCode: http.StatusBadRequest}, apiError(t, err))
	assert.EqualError(t, err, "checkr: POST /v1/candidates: HTTP 400")

	f.FailAPIWithBody(1, http.StatusUnprocessableEntity, []byte(`{"error":"invalid_candidate","errors":["jane.roe@example.com is taken"]}`))
	_, err = c.CreateCandidate(ctx, newCandidate("scr_1"))
	assert.EqualError(t, err, "checkr: POST /v1/candidates: HTTP 422, code: invalid_candidate")
}

func TestClientRemoveCandidatePIIOnceAndCountsItDoneWhenItWasDoneBefore(t *testing.T) {
	f, direct, srv := newFakeAPI(t, fake.Options{})
	ctx := context.Background()
	const contact = "privacy@hr.example"

	cd := createCandidate(t, direct, "scr_1")
	require.NoError(t, direct.RemoveCandidatePII(ctx, cd.ID, contact))
	want := []fake.PIIRemoval{{CandidateID: cd.ID, AccountID: fake.DirectAccountID, ContactEmail: contact}}
	assert.Equal(t, want, f.PIIRemovals())
	kept, ok, err := direct.FindCandidate(ctx, "scr_1")
	require.NoError(t, err)
	assert.True(t, ok, "the candidate stays, without its personal data")
	assert.Equal(t, cd.ID, kept.ID)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/candidates/"+cd.ID, nil)
	require.NoError(t, err)
	req.SetBasicAuth(apiKey, "")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	for _, pii := range []string{"jane.roe@example.com", "Jane", "Roe", "1990-02-03", "90401", "5555550100", "3333"} {
		assert.NotContains(t, string(raw), pii)
	}

	require.NoError(t, direct.RemoveCandidatePII(ctx, cd.ID, contact),
		"Checkr refuses a second removal (400, already removed), which is what was asked for")
	require.NoError(t, direct.RemoveCandidatePII(ctx, "no-such-candidate", contact), "a candidate not there (404)")
	assert.Equal(t, want, f.PIIRemovals())

	// An integrated account's candidate is removed with its access token.
	code, account := f.Authorize("")
	tok, err := direct.ExchangeToken(ctx, clientID, clientSecret, code)
	require.NoError(t, err)
	integrated := direct.WithKey(tok.AccessToken)
	theirs := createCandidate(t, integrated, "scr_2")
	require.NoError(t, integrated.RemoveCandidatePII(ctx, theirs.ID, contact))
	assert.Equal(t, fake.PIIRemoval{CandidateID: theirs.ID, AccountID: account, ContactEmail: contact}, f.PIIRemovals()[1])

	err = checkr.NewClient(srv.URL, "sk_wrong", srv.Client()).RemoveCandidatePII(ctx, theirs.ID, contact)
	assert.Equal(t, http.StatusUnauthorized, apiError(t, err).StatusCode)
}

func TestClientRemoveCandidatePIIFailures(t *testing.T) {
	f, c, _ := newFakeAPI(t, fake.Options{})
	ctx := context.Background()
	cd := createCandidate(t, c, "scr_1")

	f.FailAPI(1, http.StatusServiceUnavailable)
	err := c.RemoveCandidatePII(ctx, cd.ID, "privacy@hr.example")
	assert.True(t, apiError(t, err).Retryable())
	assert.EqualError(t, err, "checkr: DELETE /v1/candidates/"+cd.ID+"/pii: HTTP 503")

	f.FailAPIWithBody(1, http.StatusBadRequest, []byte(`{"error":"Candidate is under review and cannot be removed"}`))
	err = c.RemoveCandidatePII(ctx, cd.ID, "privacy@hr.example")
	assert.False(t, apiError(t, err).Retryable(), "another 400 is a refusal, not a removal made before")

	f.FailAPI(1, http.StatusForbidden)
	err = c.RemoveCandidatePII(ctx, cd.ID, "privacy@hr.example")
	assert.Equal(t, http.StatusForbidden, apiError(t, err).StatusCode)

	err = c.RemoveCandidatePII(ctx, cd.ID, "not an email")
	assert.Equal(t, http.StatusBadRequest, apiError(t, err).StatusCode, "the fake checks the contact, as Checkr requires it")
	assert.Empty(t, f.PIIRemovals())

	assert.Error(t, c.RemoveCandidatePII(ctx, "", "privacy@hr.example"))
	assert.Error(t, c.RemoveCandidatePII(ctx, cd.ID, ""))

	// Checkr's sentence for a removal made before, ended with a full stop.
	f.FailAPIWithBody(1, http.StatusBadRequest, []byte(`{"error":"Candidate has already had PII removed."}`))
	assert.NoError(t, c.RemoveCandidatePII(ctx, cd.ID, "privacy@hr.example"))
	assert.Empty(t, f.PIIRemovals(), "the injected answer stood in for the fake")
}

func TestClientRemoveCandidatePIIRequestShape(t *testing.T) {
	var method, path, body, user string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		method, path, body = r.Method, r.URL.EscapedPath(), string(b)
		user, _, _ = r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c/1","object":"candidate"}`)
	}))
	t.Cleanup(srv.Close)
	c := checkr.NewClient(srv.URL, "tok", srv.Client())
	require.NoError(t, c.RemoveCandidatePII(context.Background(), "c/1", "privacy@hr.example"))
	assert.Equal(t, http.MethodDelete, method)
	assert.Equal(t, "/v1/candidates/c%2F1/pii", path)
	assert.JSONEq(t, `{"deletion_contact_email_address":"privacy@hr.example"}`, body)
	assert.Equal(t, "tok", user)
}
