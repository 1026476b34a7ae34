package apiclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/internal/apiclient"
)

// readError reads the code of error bodies of the shape {"code": "...", "message": "..."}, as a
// provider's client would.
func readError(body []byte) (code string) {
	var e struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Code
}

func serve(t *testing.T, h http.HandlerFunc) (*httptest.Server, *apiclient.Client) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, apiclient.New("test", srv.URL+"/v1/", srv.Client(), readError)
}

func bearer(req *http.Request) { req.Header.Set("Authorization", "Bearer k3y") }

func TestDoRequestAndAnswer(t *testing.T) {
	type seen struct {
		method, escapedPath, rawQuery, body string
		header                              http.Header
	}
	var mu sync.Mutex
	var requests []seen
	srv, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests = append(requests, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(body), r.Header.Clone()})
		mu.Unlock()
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = io.WriteString(w, `{"id":"t1","n":2}`)
	})
	assert.Equal(t, srv.URL+"/v1", c.BaseURL(), "the trailing slash is trimmed")
	ctx := context.Background()

	var out struct {
		ID string `json:"id"`
		N  int    `json:"n"`
	}
	err := c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: "/things/a%2Fb", Query: url.Values{"q": {"x y&z"}},
		Body: map[string]string{"name": "Jane"}, Auth: bearer}, &out)
	require.NoError(t, err)
	assert.Equal(t, "t1", out.ID)
	assert.Equal(t, 2, out.N)
	require.NoError(t, c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: "/things"}, &out))
	require.NoError(t, c.Do(ctx, apiclient.Request{Method: http.MethodDelete, Path: "/things/t1", Auth: bearer}, nil),
		"a nil out reads nothing, so an empty answer is fine")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, requests, 3)
	assert.Equal(t, http.MethodPost, requests[0].method)
	assert.Equal(t, "/v1/things/a%2Fb", requests[0].escapedPath, "the path as the caller escaped it")
	assert.Equal(t, "q=x+y%26z", requests[0].rawQuery)
	assert.JSONEq(t, `{"name":"Jane"}`, requests[0].body)
	assert.Equal(t, "Bearer k3y", requests[0].header.Get("Authorization"))
	assert.Empty(t, requests[1].header.Get("Authorization"), "no Auth, no credentials")
	assert.Empty(t, requests[1].rawQuery)
	assert.Empty(t, requests[1].body)
	for _, r := range requests {
		assert.Equal(t, "application/json", r.header.Get("Accept"))
		assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	}
}

func TestErrorAnswers(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		status     int
		want       apiclient.Error
		text       string
	}{
		{"provider's shape", `{"code":"not_found","message":"No client jane@example.com"}`, http.StatusNotFound,
			apiclient.Error{Provider: "test", Op: "POST /things", StatusCode: 404, Code: "not_found"},
			"test: POST /things: HTTP 404, code: not_found"},
		{"message only", `{"message":"Jane Roe, born 1990-02-03, is refused"}`, http.StatusBadRequest,
			apiclient.Error{Provider: "test", Op: "POST /things", StatusCode: 400}, "test: POST /things: HTTP 400"},
		{"code that is text", `{"code":"jane@example.com"}`, http.StatusBadRequest,
			apiclient.Error{Provider: "test", Op: "POST /things", StatusCode: 400}, "test: POST /things: HTTP 400"},
		{"another JSON shape", `{"detail":"jane@example.com"}`, http.StatusUnprocessableEntity,
			apiclient.Error{Provider: "test", Op: "POST /things", StatusCode: 422}, "test: POST /things: HTTP 422"},
		{"not JSON", `<html>upstream echoed jane@example.com</html>`, http.StatusServiceUnavailable,
			apiclient.Error{Provider: "test", Op: "POST /things", StatusCode: 503}, "test: POST /things: HTTP 503"},
		{"empty", ``, http.StatusInternalServerError,
			apiclient.Error{Provider: "test", Op: "POST /things", StatusCode: 500}, "test: POST /things: HTTP 500"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			var out struct{}
			err := c.Do(context.Background(), apiclient.Request{Method: http.MethodPost, Path: "/things",
				Query: url.Values{"email": {"jane@example.com"}}, Body: map[string]string{"email": "jane@example.com"}, Auth: bearer}, &out)
			var apiErr *apiclient.Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.want, *apiErr)
			assert.Equal(t, tt.text, err.Error(), "wrapped once: provider, call, status, code")
			for _, pii := range []string{"jane", "Jane", "Roe", "1990"} {
				assert.NotContains(t, err.Error(), pii, "neither the request nor the body's text is quoted")
			}
			assert.NotContains(t, err.Error(), "k3y")
		})
	}
}

func TestRetryable(t *testing.T) {
	for status, want := range map[int]bool{
		http.StatusRequestTimeout:      true,
		http.StatusTooManyRequests:     true,
		http.StatusInternalServerError: true,
		http.StatusBadGateway:          true,
		http.StatusServiceUnavailable:  true,
		http.StatusBadRequest:          false,
		http.StatusUnauthorized:        false,
		http.StatusForbidden:           false,
		http.StatusNotFound:            false,
		http.StatusConflict:            false,
		http.StatusUnprocessableEntity: false,
	} {
		_, c := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
		err := c.Do(context.Background(), apiclient.Request{Method: http.MethodGet, Path: "/x"}, nil)
		var apiErr *apiclient.Error
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, want, apiErr.Retryable(), "HTTP %d", status)
	}
}

func TestRetryAfter(t *testing.T) {
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
			_, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(http.StatusTooManyRequests)
			})
			err := c.Do(context.Background(), apiclient.Request{Method: http.MethodPost, Path: "/x"}, nil)
			var apiErr *apiclient.Error
			require.ErrorAs(t, err, &apiErr)
			assert.GreaterOrEqual(t, apiErr.RetryAfter, tt.min)
			assert.LessOrEqual(t, apiErr.RetryAfter, tt.max)
		})
	}
	assert.Equal(t, "test: POST /x: HTTP 429, code: rate_limited (retry after 3s)",
		(&apiclient.Error{Provider: "test", Op: "POST /x", StatusCode: 429, Code: "rate_limited", RetryAfter: 3 * time.Second}).Error())
}

// TestConnectionIsReused checks that every way a call ends (an error answer, a decoded answer with
// bytes after the JSON, an answer that is not read, a download) leaves the connection reusable.
func TestConnectionIsReused(t *testing.T) {
	padding := strings.Repeat(" ", 32<<10) // more than a decoder reads ahead
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/fail":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"message":"no"}`+padding)
		case "/v1/gone":
			w.WriteHeader(http.StatusGone)
			_, _ = io.WriteString(w, padding)
		default:
			_, _ = io.WriteString(w, `{"id":"t1"}`+padding)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := apiclient.New("test", srv.URL+"/v1", srv.Client(), readError)
	ctx := context.Background()

	for range 2 {
		var out struct{ ID string }
		require.NoError(t, c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: "/ok"}, &out))
		require.Equal(t, "t1", out.ID)
		require.NoError(t, c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: "/ok"}, nil))
		require.Error(t, c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: "/fail"}, nil))
		_, err := c.Download(ctx, "download", srv.URL+"/v1/gone", "", 1<<20)
		require.ErrorIs(t, err, apiclient.ErrLinkExpired)
		_, err = c.Download(ctx, "download", srv.URL+"/v1/ok", "", 1<<20)
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, conns, "every answer is drained and closed, so one connection serves every call")
}

func TestTransportAndDecodeErrors(t *testing.T) {
	ctx := context.Background()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	t.Run("transport error", func(t *testing.T) {
		c := apiclient.New("test", closed.URL+"/v1", nil, readError)
		err := c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: "/things/t1", Query: url.Values{"token": {"s3cret"}}, Auth: bearer}, nil)
		assert.EqualError(t, err, "test: GET /things/t1: connection refused", "the class of the failure, no URL")
		var apiErr *apiclient.Error
		assert.False(t, errors.As(err, &apiErr), "transport errors are not API errors")
		var transportErr *apiclient.TransportError
		require.ErrorAs(t, err, &transportErr)
		assert.True(t, transportErr.Retryable())
		assert.Equal(t, "GET /things/t1", transportErr.Operation())
		assert.Equal(t, "connection refused", transportErr.Reason())
		var urlErr *url.Error
		require.ErrorAs(t, err, &urlErr, "the cause stays wrapped")
		assert.Equal(t, closed.URL+"/[redacted]", urlErr.URL, "and quotes no more of the URL than its host")
		var opErr *net.OpError
		assert.ErrorAs(t, err, &opErr, "callers can tell a request that never left")
	})

	t.Run("unparsable URL", func(t *testing.T) {
		c := apiclient.New("test", "http://[::1]:namedport/v1", nil, readError)
		err := c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: "/things", Query: url.Values{"token": {"s3cret"}}}, nil)
		require.Error(t, err)
		assert.Equal(t, `test: GET /things: parse "[redacted URL]": invalid port ":namedport" after host`, err.Error())
	})

	t.Run("cancelled context", func(t *testing.T) {
		_, c := serve(t, func(w http.ResponseWriter, r *http.Request) {})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := c.Do(cctx, apiclient.Request{Method: http.MethodGet, Path: "/x", Query: url.Values{"token": {"s3cret"}}}, nil)
		assert.ErrorIs(t, err, context.Canceled)
		assert.EqualError(t, err, "test: GET /x: canceled")
	})

	t.Run("timeout", func(t *testing.T) {
		srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		c := apiclient.New("test", srv.URL, &http.Client{Timeout: 50 * time.Millisecond}, readError)
		err := c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: "/x", Query: url.Values{"email": {"jane@example.com"}}}, nil)
		assert.EqualError(t, err, "test: POST /x: timeout")
	})

	t.Run("answer that is not JSON", func(t *testing.T) {
		_, c := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `<html>`) })
		var out struct{}
		err := c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: "/x"}, &out)
		assert.EqualError(t, err, "test: GET /x: decode response: invalid character '<' looking for beginning of value")
	})

	t.Run("request that cannot be encoded", func(t *testing.T) {
		c := apiclient.New("test", closed.URL, nil, readError)
		err := c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: "/x", Body: make(chan int)}, nil)
		assert.EqualError(t, err, "test: POST /x: encode request: json: unsupported type: chan int")
	})
}

func TestDownload(t *testing.T) {
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
			_, _ = io.WriteString(w, `{"message":"bad token s3cret"}`)
		default:
			_, _ = io.WriteString(w, "%PDF-")
		}
	}))
	t.Cleanup(srv.Close)
	c := apiclient.New("test", "http://127.0.0.1:1", srv.Client(), readError)
	ctx := context.Background()

	b, err := c.Download(ctx, "download report", srv.URL+"/ok?token=s3cret", "application/pdf", 5)
	require.NoError(t, err)
	assert.Equal(t, "%PDF-", string(b), "an answer of exactly the limit is whole")

	_, err = c.Download(ctx, "download report", srv.URL+"/ok?token=s3cret", "", 4)
	assert.EqualError(t, err, "test: download report: answer larger than 4 bytes")

	for _, path := range []string{"/forbidden", "/gone"} {
		_, err = c.Download(ctx, "download report", srv.URL+path+"?token=s3cret", "", 5)
		assert.ErrorIs(t, err, apiclient.ErrLinkExpired, path)
		var apiErr *apiclient.Error
		assert.False(t, errors.As(err, &apiErr), "an expired link is not an API error")
	}
	assert.EqualError(t, err, "test: download report: HTTP 410: link expired")

	_, err = c.Download(ctx, "download report", srv.URL+"/broken?token=s3cret", "", 5)
	var apiErr *apiclient.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, apiclient.Error{Provider: "test", Op: "download report", StatusCode: http.StatusBadGateway}, *apiErr,
		"what serves a link is not the provider's API: its body is not read")
	assert.True(t, apiErr.Retryable())
	assert.EqualError(t, err, "test: download report: HTTP 502")

	mu.Lock()
	assert.Equal(t, "application/pdf", headers[0].Get("Accept"))
	assert.Empty(t, headers[1].Get("Accept"))
	for _, h := range headers {
		assert.Empty(t, h.Get("Authorization"), "a link is its own credential")
	}
	mu.Unlock()

	t.Run("transport errors do not quote the link", func(t *testing.T) {
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		_, err := c.Download(ctx, "download report", closed.URL+"/reports/r1?token=s3cret", "", 5)
		assert.EqualError(t, err, "test: download report: connection refused")
		var urlErr *url.Error
		require.ErrorAs(t, err, &urlErr, "the cause stays wrapped")
		assert.NotContains(t, urlErr.Error(), "r1")

		_, err = c.Download(ctx, "download report", "http://[::1]:namedport/reports/r1?token=s3cret", "", 5)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cret")
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Download(cctx, "download report", srv.URL+"/ok?token=s3cret", "", 5)
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotContains(t, err.Error(), "s3cret")
	})
}

func TestIsCode(t *testing.T) {
	for _, code := range []string{"validation_error", "resource_not_found", "unauthorized", "rate.limited", "two-sides-expected", "e404"} {
		assert.True(t, apiclient.IsCode(code), code)
	}
	for _, text := range []string{"", "Jane", "Jane Roe", "jane@example.com", "1990-02-03", "03-02-1990",
		"email is invalid", "Not_found", "_x", "x_", "a__b", strings.Repeat("a", 65)} {
		assert.False(t, apiclient.IsCode(text), text)
	}
}
