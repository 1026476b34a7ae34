package authenticate_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/authenticate/fake"
)

const (
	apiKey = "test_key_123"
	wait   = 5 * time.Second
	tick   = 5 * time.Millisecond
)

// newFakeAPI serves a fake Authenticate whose searches move only when the test says so. It
// returns a client for it and the fake's HTTP server.
func newFakeAPI(t *testing.T, opts fake.Options) (*fake.Server, *authenticate.Client, *httptest.Server) {
	t.Helper()
	opts.APIKey = apiKey
	if opts.SearchDelay == 0 {
		opts.SearchDelay = -1
	}
	f := fake.New(opts)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	f.SetBaseURL(srv.URL)
	return f, authenticate.NewClient(srv.URL, apiKey, authenticate.Paths{}, srv.Client()), srv
}

func newUser() authenticate.CreateUserRequest {
	return authenticate.CreateUserRequest{
		FirstName: "Jane", LastName: "Roe", DOB: "03-02-1990", Email: "jane.roe@example.com",
		HouseNumber: "221B", StreetName: "Baker Street", City: "Springfield", State: "IL", ZipCode: "62701", Country: "USA",
	}
}

func consent(code string) authenticate.ConsentRequest {
	return authenticate.ConsentRequest{
		UserAccessCode: code, IsBackgroundDisclosureAccepted: true, GLBPurposeAndDPPAPurpose: 1, FCRAPurpose: 1, FullName: "Jane Roe",
	}
}

// consentedUser creates a user and records its consent.
func consentedUser(t *testing.T, c *authenticate.Client) string {
	t.Helper()
	ctx := context.Background()
	code, err := c.CreateUser(ctx, newUser())
	require.NoError(t, err)
	require.NoError(t, c.Consent(ctx, consent(code)))
	return code
}

func apiError(t *testing.T, err error) *authenticate.APIError {
	t.Helper()
	var apiErr *authenticate.APIError
	require.ErrorAs(t, err, &apiErr)
	return apiErr
}

func TestClientScreening(t *testing.T) {
	f, c, _ := newFakeAPI(t, fake.Options{})
	ctx := context.Background()

	code, err := c.CreateUser(ctx, newUser())
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f-]{36}$`, code)
	assert.Equal(t, 1, f.UsersCreated())

	_, err = c.OrderCriminalSearches(ctx, code)
	apiErr := apiError(t, err)
	assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode, "no search before consent")
	assert.Empty(t, apiErr.Code, "Authenticate's sentence is not a code")
	assert.False(t, apiErr.Retryable())

	require.NoError(t, c.Consent(ctx, consent(code)))
	require.NoError(t, c.Consent(ctx, consent(code)), "consent recorded twice is what a retry does")

	tr, err := c.GetTestResult(ctx, code)
	require.NoError(t, err)
	assert.Equal(t, authenticate.TestResult{UserAccessCode: code}, tr, "nothing ordered yet")

	searches, err := c.OrderCriminalSearches(ctx, code)
	require.NoError(t, err)
	require.Len(t, searches, 3)
	ids := map[string]bool{}
	var types []string
	for _, s := range searches {
		ids[s.UniqueIdentifier] = true
		types = append(types, s.SearchType)
		assert.Equal(t, authenticate.SearchPending, s.SearchStatus)
		assert.Empty(t, s.SearchSubStatus)
	}
	assert.Len(t, ids, 3, "every search has its own identifier")
	assert.ElementsMatch(t, []string{"COUNTY_CRIMINAL", "COUNTY_CRIMINAL", "FEDERAL_CRIMINAL"}, types)

	_, err = c.OrderCriminalSearches(ctx, code)
	apiErr = apiError(t, err)
	assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode, "ordering twice is refused")
	assert.Equal(t, "already_recorded", apiErr.Code, "an answer saying \"already\" is named")

	require.NoError(t, c.OrderSexOffenderCheck(ctx, code))
	assert.Equal(t, http.StatusBadRequest, apiError(t, c.OrderSexOffenderCheck(ctx, code)).StatusCode)

	tr, err = c.GetTestResult(ctx, code)
	require.NoError(t, err)
	assert.Equal(t, code, tr.UserAccessCode)
	require.NotNil(t, tr.Criminal)
	assert.Equal(t, authenticate.SearchPending, tr.Criminal.Status)
	assert.Equal(t, searches, tr.Criminal.Searches)
	require.NotNil(t, tr.SexOffender)
	assert.Equal(t, authenticate.SearchTypeSexOffender, tr.SexOffender.SearchType)
	assert.Equal(t, authenticate.SearchPending, tr.SexOffender.SearchStatus)

	require.NoError(t, f.AdvanceSearches(code))
	tr, err = c.GetTestResult(ctx, code)
	require.NoError(t, err)
	assert.Equal(t, authenticate.SearchPending, tr.Criminal.Status, "in progress is not complete")
	for _, s := range append(tr.Criminal.Searches, *tr.SexOffender) {
		assert.Equal(t, authenticate.SearchInProgress, s.SearchStatus)
	}

	f.SetRecordFound(true)
	require.NoError(t, f.AdvanceSearches(code))
	tr, err = c.GetTestResult(ctx, code)
	require.NoError(t, err)
	assert.Equal(t, authenticate.SearchComplete, tr.Criminal.Status)
	for _, s := range append(tr.Criminal.Searches, *tr.SexOffender) {
		assert.Equal(t, authenticate.SearchComplete, s.SearchStatus)
		assert.Equal(t, authenticate.SubStatusRecordFound, s.SearchSubStatus)
	}
	assert.ErrorContains(t, f.AdvanceSearches(code), "already complete")
}

func TestClientUnknownUser(t *testing.T) {
	_, c, _ := newFakeAPI(t, fake.Options{})
	_, err := c.GetTestResult(context.Background(), "00000000-0000-4000-8000-000000000000")
	apiErr := apiError(t, err)
	assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
	assert.False(t, apiErr.Retryable())
	assert.Error(t, c.Consent(context.Background(), consent("00000000-0000-4000-8000-000000000000")),
		"only a 400 saying already is a recorded consent")
}

func TestClientPDFReport(t *testing.T) {
	f, c, _ := newFakeAPI(t, fake.Options{PDFDelay: 10 * time.Millisecond, RateLimit: time.Hour})
	ctx := context.Background()
	code := consentedUser(t, c)

	_, err := c.RetrievePDFReport(ctx, code)
	assert.Equal(t, http.StatusNotFound, apiError(t, err).StatusCode, "no report requested yet")

	started, err := c.InitiatePDFReport(ctx, code)
	require.NoError(t, err)
	assert.Equal(t, authenticate.PDFInitiated, started.Status)
	assert.NotEmpty(t, started.ReportUUID)
	assert.Empty(t, started.ReportLink)
	assert.True(t, started.Expires.IsZero())

	_, err = c.InitiatePDFReport(ctx, code)
	apiErr := apiError(t, err)
	assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode, "one request per user per RateLimit")
	assert.True(t, apiErr.Retryable())
	assert.Greater(t, apiErr.RetryAfter, 59*time.Minute)
	assert.LessOrEqual(t, apiErr.RetryAfter, time.Hour)
	assert.Equal(t, 1, f.PDFRequests(code), "a refused request is not counted")

	var done authenticate.PDFReport
	require.Eventually(t, func() bool {
		done, err = c.RetrievePDFReport(ctx, code)
		return err == nil && done.Status == authenticate.PDFCompleted
	}, wait, tick)
	assert.Equal(t, started.ReportUUID, done.ReportUUID)
	assert.Greater(t, time.Until(done.Expires), 9*time.Minute, "LinkTTL defaults to 10 minutes")

	pdf, err := c.DownloadReport(ctx, done.ReportLink)
	require.NoError(t, err)
	want, ok := f.ReportPDF(done.ReportUUID)
	require.True(t, ok)
	assert.Equal(t, want, pdf)
	assert.Equal(t, "%PDF-", string(pdf[:5]))

	again, err := c.RetrievePDFReport(ctx, code)
	require.NoError(t, err)
	assert.NotEqual(t, done.ReportLink, again.ReportLink, "every retrieval issues a fresh link")
	pdf, err = c.DownloadReport(ctx, again.ReportLink)
	require.NoError(t, err)
	assert.Equal(t, want, pdf)
	_, err = c.DownloadReport(ctx, done.ReportLink)
	assert.NoError(t, err, "an earlier link works until it expires")
}

func TestClientPDFRateLimitWindow(t *testing.T) {
	// Long enough that the second request falls inside the window on a loaded machine too.
	f, c, _ := newFakeAPI(t, fake.Options{PDFDelay: time.Millisecond, RateLimit: 500 * time.Millisecond})
	ctx := context.Background()
	code := consentedUser(t, c)

	_, err := c.InitiatePDFReport(ctx, code)
	require.NoError(t, err)
	_, err = c.InitiatePDFReport(ctx, code)
	apiErr := apiError(t, err)
	assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
	assert.Equal(t, time.Second, apiErr.RetryAfter, "Retry-After is in whole seconds, rounded up")

	require.Eventually(t, func() bool {
		_, err := c.InitiatePDFReport(ctx, code)
		return err == nil
	}, wait, tick, "a request is accepted once the window has passed")
	assert.Equal(t, 2, f.PDFRequests(code))
}

func TestClientExpiredLink(t *testing.T) {
	f, c, srv := newFakeAPI(t, fake.Options{PDFDelay: time.Millisecond, LinkTTL: -1})
	ctx := context.Background()
	code := consentedUser(t, c)
	_, err := c.InitiatePDFReport(ctx, code)
	require.NoError(t, err)
	var rep authenticate.PDFReport
	require.Eventually(t, func() bool {
		rep, err = c.RetrievePDFReport(ctx, code)
		return err == nil && rep.Status == authenticate.PDFCompleted
	}, wait, tick)

	link, err := url.Parse(rep.ReportLink)
	require.NoError(t, err)
	token := link.Query().Get("token")
	require.NotEmpty(t, token)
	assert.False(t, rep.Expires.After(time.Now()), "a negative LinkTTL issues expired links")

	_, err = c.DownloadReport(ctx, rep.ReportLink)
	require.ErrorIs(t, err, authenticate.ErrLinkExpired)
	assert.NotContains(t, err.Error(), token, "the link is a credential")

	f.SetLinkTTL(time.Hour)
	rep, err = c.RetrievePDFReport(ctx, code)
	require.NoError(t, err)
	_, err = c.DownloadReport(ctx, rep.ReportLink)
	require.NoError(t, err, "a fresh link works again")

	_, err = c.DownloadReport(ctx, srv.URL+"/reports/"+rep.ReportUUID+"?token=guessed")
	assert.False(t, errors.Is(err, authenticate.ErrLinkExpired), "a wrong token is not an expired link")
	assert.Equal(t, http.StatusNotFound, apiError(t, err).StatusCode)
}

func TestClientDownloadReport(t *testing.T) {
	var mu sync.Mutex
	var headers []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		headers = append(headers, r.Header.Clone())
		mu.Unlock()
		switch r.URL.Path {
		case "/forbidden":
			w.WriteHeader(http.StatusForbidden) // S3-style presigned links answer 403 once expired
		case "/broken":
			w.WriteHeader(http.StatusBadGateway)
		default:
			_, _ = io.WriteString(w, "%PDF-1.4 tiny")
		}
	}))
	t.Cleanup(srv.Close)
	c := authenticate.NewClient("http://127.0.0.1:1", apiKey, authenticate.Paths{}, srv.Client())
	ctx := context.Background()

	pdf, err := c.DownloadReport(ctx, srv.URL+"/ok?token=s3cret")
	require.NoError(t, err)
	assert.Equal(t, "%PDF-1.4 tiny", string(pdf))

	_, err = c.DownloadReport(ctx, srv.URL+"/forbidden?token=s3cret")
	assert.ErrorIs(t, err, authenticate.ErrLinkExpired)

	_, err = c.DownloadReport(ctx, srv.URL+"/broken?token=s3cret")
	assert.True(t, apiError(t, err).Retryable())
	assert.NotErrorIs(t, err, authenticate.ErrLinkExpired)

	mu.Lock()
	for _, h := range headers {
		assert.Empty(t, h.Get("Authorization"), "the API key never goes to a report link")
	}
	mu.Unlock()

	t.Run("transport errors do not quote the link", func(t *testing.T) {
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		_, err := c.DownloadReport(ctx, closed.URL+"/reports/r1?token=s3cret")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cret")
		var urlErr *url.Error
		assert.ErrorAs(t, err, &urlErr, "the cause stays wrapped")

		_, err = c.DownloadReport(ctx, "http://[::1]:namedport/reports/r1?token=s3cret")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cret")
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.DownloadReport(cctx, srv.URL+"/ok?token=s3cret")
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotContains(t, err.Error(), "s3cret")
	})
}

func TestClientRegisterWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []authenticate.Event
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e, err := authenticate.ParseEvent(body)
		assert.NoError(t, err)
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}))
	t.Cleanup(receiver.Close)
	f, c, _ := newFakeAPI(t, fake.Options{CompanyAccessCode: "company-1", PDFDelay: time.Millisecond})
	ctx := context.Background()

	assert.Equal(t, http.StatusForbidden, apiError(t, c.RegisterWebhook(ctx, "company-2", receiver.URL)).StatusCode)
	assert.Equal(t, http.StatusBadRequest, apiError(t, c.RegisterWebhook(ctx, "", receiver.URL)).StatusCode)
	assert.Equal(t, http.StatusBadRequest, apiError(t, c.RegisterWebhook(ctx, "company-1", "not a url")).StatusCode)
	require.NoError(t, c.RegisterWebhook(ctx, "company-1", receiver.URL+"/webhooks/authenticate/tok"))

	code := consentedUser(t, c)
	_, err := c.InitiatePDFReport(ctx, code)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	}, wait, tick)
	require.Eventually(t, func() bool { return len(f.Deliveries()) == 2 }, wait, tick)
	mu.Lock()
	defer mu.Unlock()
	for _, e := range got {
		assert.Equal(t, authenticate.EventPDFReportGeneration, e.Event)
		assert.Equal(t, authenticate.SubjectFor(code), e.Subject())
	}
}

func TestClientAPIErrors(t *testing.T) {
	ctx := context.Background()

	t.Run("wrong key", func(t *testing.T) {
		_, _, srv := newFakeAPI(t, fake.Options{})
		c := authenticate.NewClient(srv.URL, "wrong", authenticate.Paths{}, nil)
		_, err := c.CreateUser(ctx, newUser())
		apiErr := apiError(t, err)
		assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
		assert.False(t, apiErr.Retryable())
		assert.EqualError(t, err, "authenticate: POST /user/create: HTTP 401")
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
			f, c, _ := newFakeAPI(t, fake.Options{})
			f.FailAPI(1, tt.status)

			_, err := c.CreateUser(ctx, newUser())
			apiErr := apiError(t, err)
			assert.Equal(t, tt.status, apiErr.StatusCode)
			assert.Equal(t, tt.retryable, apiErr.Retryable())
			for _, pii := range []string{"jane", "Jane", "Roe", "1990", "Baker"} {
				assert.NotContains(t, err.Error(), pii, "request bodies carry PII")
			}

			_, err = c.CreateUser(ctx, newUser())
			assert.NoError(t, err, "only the next call fails")
		})
	}

	t.Run("validation error names the field, not the value", func(t *testing.T) {
		_, c, _ := newFakeAPI(t, fake.Options{})
		req := newUser()
		req.DOB = "1990-02-03"
		_, err := c.CreateUser(ctx, req)
		apiErr := apiError(t, err)
		assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
		assert.NotContains(t, err.Error(), "1990")
	})

	t.Run("error bodies", func(t *testing.T) {
		for _, tt := range []struct {
			name, body, want string
		}{
			{"errorMessage", `{"errorMessage":"jane@example.com is taken"}`, ""},
			{"message", `{"message":"Bad thing","data":"jane@example.com"}`, ""},
			{"already", `{"errorMessage":"Jane Roe (jane@example.com) is already registered"}`, "already_recorded"},
			{"already in message", `{"message":"Already done for jane@example.com"}`, "already_recorded"},
			{"already in error", `{"error":"already there: jane@example.com"}`, "already_recorded"},
			{"error not a string", `{"error":{"code":7},"message":"Bad thing"}`, ""},
			{"empty errorMessage", `{"errorMessage":"","message":"already"}`, "already_recorded"},
			{"code", `{"code":"user_exists","errorMessage":"jane@example.com exists"}`, "user_exists"},
			{"errorCode", `{"errorCode":"invalid_dob","errorMessage":"1990-02-03 is not DD-MM-YYYY"}`, "invalid_dob"},
			{"code that is text", `{"code":"Jane Roe","errorMessage":"jane@example.com exists"}`, ""},
			{"no known field", `{"detail":"jane@example.com"}`, ""},
			{"not JSON", `<html>upstream echoed jane@example.com</html>`, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusBadRequest)
					_, _ = io.WriteString(w, tt.body)
				}))
				t.Cleanup(srv.Close)
				c := authenticate.NewClient(srv.URL, apiKey, authenticate.Paths{}, srv.Client())
				_, err := c.CreateUser(ctx, newUser())
				apiErr := apiError(t, err)
				assert.Equal(t, tt.want, apiErr.Code)
				for _, pii := range []string{"jane", "Jane", "Roe", "1990"} {
					assert.NotContains(t, err.Error(), pii, "the body's text is never quoted")
				}
			})
		}
	})

	t.Run("Retry-After", func(t *testing.T) {
		for _, tt := range []struct {
			name, header string
			min, max     time.Duration
		}{
			{"seconds", "7", 7 * time.Second, 7 * time.Second},
			{"HTTP date", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat), 55 * time.Second, time.Minute},
			{"date in the past", "Mon, 02 Jan 2006 15:04:05 GMT", 0, 0},
			{"absent", "", 0, 0},
			{"garbage", "soon", 0, 0},
			{"negative", "-3", 0, 0},
		} {
			t.Run(tt.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tt.header != "" {
						w.Header().Set("Retry-After", tt.header)
					}
					w.WriteHeader(http.StatusServiceUnavailable)
				}))
				t.Cleanup(srv.Close)
				c := authenticate.NewClient(srv.URL, apiKey, authenticate.Paths{}, srv.Client())
				_, err := c.InitiatePDFReport(ctx, "u1")
				apiErr := apiError(t, err)
				assert.GreaterOrEqual(t, apiErr.RetryAfter, tt.min)
				assert.LessOrEqual(t, apiErr.RetryAfter, tt.max)
			})
		}
	})

	t.Run("no userAccessCode in the answer", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"success":true}`)
		}))
		t.Cleanup(srv.Close)
		c := authenticate.NewClient(srv.URL, apiKey, authenticate.Paths{}, srv.Client())
		_, err := c.CreateUser(ctx, newUser())
		assert.ErrorContains(t, err, "no userAccessCode")
	})

	t.Run("answer that is not JSON", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `<html>`)
		}))
		t.Cleanup(srv.Close)
		c := authenticate.NewClient(srv.URL, apiKey, authenticate.Paths{}, srv.Client())
		_, err := c.GetTestResult(ctx, "u1")
		assert.ErrorContains(t, err, "decode response")
	})

	t.Run("transport error", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c := authenticate.NewClient(srv.URL, apiKey, authenticate.Paths{}, nil)
		_, err := c.GetTestResult(ctx, "u1")
		require.Error(t, err)
		var apiErr *authenticate.APIError
		assert.False(t, errors.As(err, &apiErr), "transport errors are not API errors")
		var urlErr *url.Error
		assert.ErrorAs(t, err, &urlErr, "the cause stays wrapped")
	})

	t.Run("cancelled context", func(t *testing.T) {
		_, c, _ := newFakeAPI(t, fake.Options{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.GetTestResult(cctx, "u1")
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestClientRequestShape(t *testing.T) {
	type seen struct {
		method, path string
		header       http.Header
		body         map[string]any
	}
	var mu sync.Mutex
	var requests []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		mu.Lock()
		requests = append(requests, seen{r.Method, r.URL.Path, r.Header.Clone(), body})
		mu.Unlock()
		_, _ = io.WriteString(w, `{"userAccessCode":"u1","searches":[],"reportUUID":"r1","status":"INITIATED"}`)
	}))
	t.Cleanup(srv.Close)
	// Overriding one path leaves the others at their defaults.
	c := authenticate.NewClient(srv.URL+"/", "key", authenticate.Paths{CriminalSearch: "/v2/criminal"}, srv.Client())
	ctx := context.Background()

	_, err := c.CreateUser(ctx, authenticate.CreateUserRequest{FirstName: "A", LastName: "B", DOB: "01-02-2000", Email: "a@b.c"})
	require.NoError(t, err)
	require.NoError(t, c.Consent(ctx, authenticate.ConsentRequest{UserAccessCode: "u1", IsBackgroundDisclosureAccepted: true, GLBPurposeAndDPPAPurpose: 1, FCRAPurpose: 2, FullName: "A B"}))
	_, err = c.OrderCriminalSearches(ctx, "u1")
	require.NoError(t, err)
	require.NoError(t, c.OrderSexOffenderCheck(ctx, "u1"))
	_, err = c.GetTestResult(ctx, "u1")
	require.NoError(t, err)
	_, err = c.InitiatePDFReport(ctx, "u1")
	require.NoError(t, err)
	_, err = c.RetrievePDFReport(ctx, "u1")
	require.NoError(t, err)
	require.NoError(t, c.RegisterWebhook(ctx, "co1", "https://hooks.example.com/a?token=t"))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, requests, 8)
	user := map[string]any{"userAccessCode": "u1"}
	want := []struct {
		path string
		body map[string]any
	}{
		{"/user/create", map[string]any{"firstName": "A", "lastName": "B", "dob": "01-02-2000", "email": "a@b.c"}},
		{"/user/consent", map[string]any{"userAccessCode": "u1", "isBackgroundDisclosureAccepted": true,
			"GLBPurposeAndDPPAPurpose": float64(1), "FCRAPurpose": float64(2), "fullName": "A B"}},
		{"/v2/criminal", user},
		{"/user/verify/criminal/soc", user},
		{"/user/getTestResult", user},
		{"/user/initiate/pdf/report", user},
		{"/user/retrieve/pdf/report", user},
		{"/company/webhook", map[string]any{"companyAccessCode": "co1", "webhookURL": "https://hooks.example.com/a?token=t"}},
	}
	for i, r := range requests {
		assert.Equal(t, http.MethodPost, r.method)
		assert.Equal(t, want[i].path, r.path)
		assert.Equal(t, want[i].body, r.body, "%s: empty address fields are left out", r.path)
		assert.Equal(t, "Bearer key", r.header.Get("Authorization"))
		assert.Equal(t, "application/json", r.header.Get("Content-Type"))
		assert.Equal(t, "application/json", r.header.Get("Accept"))
	}
}

func TestDefaultPaths(t *testing.T) {
	assert.Equal(t, authenticate.Paths{
		CreateUser:     "/user/create",
		Consent:        "/user/consent",
		CriminalSearch: "/identity/request/criminal/report/seven",
		SexOffender:    "/user/verify/criminal/soc",
		TestResult:     "/user/getTestResult",
		InitiatePDF:    "/user/initiate/pdf/report",
		RetrievePDF:    "/user/retrieve/pdf/report",
		CompanyWebhook: "/company/webhook",
	}, authenticate.DefaultPaths)
	_, err := time.Parse(authenticate.DOBLayout, "31-12-1990")
	assert.NoError(t, err, "DD-MM-YYYY")
}

func TestAPIErrorString(t *testing.T) {
	err := &authenticate.APIError{Provider: "authenticate", Op: "POST /user/initiate/pdf/report", StatusCode: 429,
		RetryAfter: 3 * time.Second}
	assert.Equal(t, "authenticate: POST /user/initiate/pdf/report: HTTP 429 (retry after 3s)", err.Error())
	assert.Equal(t, "HTTP 500, code: oops", (&authenticate.APIError{StatusCode: 500, Code: "oops"}).Error())
}

// A refusal whose message echoes the candidate's data keeps Authenticate's status, and no sentence.
func TestClientErrorThatEchoesTheCandidateQuotesNoneOfIt(t *testing.T) {
	f, c, _ := newFakeAPI(t, fake.Options{})
	ctx := context.Background()
	f.FailAPIWithBody(1, http.StatusBadRequest, []byte(`{"errorMessage":"User Jane Roe (jane.roe@example.com, dob 03-02-1990) is invalid"}`))
	_, err := c.CreateUser(ctx, newUser())
	assert.Equal(t, &authenticate.APIError{Provider: "authenticate", Op: "POST /user/create", StatusCode: http.StatusBadRequest},
		apiError(t, err))
	assert.EqualError(t, err, "authenticate: POST /user/create: HTTP 400")

	f.FailAPIWithBody(1, http.StatusConflict, []byte(`{"code":"user_exists","errorMessage":"jane.roe@example.com already exists"}`))
	_, err = c.CreateUser(ctx, newUser())
	assert.EqualError(t, err, "authenticate: POST /user/create: HTTP 409, code: user_exists")
}
