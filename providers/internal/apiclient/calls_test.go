package apiclient_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/metrics/apicalls"
	"github.com/screenflow/screenflow/providers/internal/apiclient"
)

func TestRouteTemplateKeepsRoutesAndDropsIDs(t *testing.T) {
	for path, want := range map[string]string{
		"/checks":                                            "/checks",
		"/checks/5eb04fcd0f3e360008035eb1":                   "/checks/:id",
		"/v1/reports/4722c07dd9a10c3985ae432a":               "/v1/reports/:id",
		"/v1/candidates/e44aa283528e6fde7d542194/pii":        "/v1/candidates/:id/pii",
		"/user/verify/criminal/soc":                          "/user/verify/criminal/soc",
		"/v1/documents/9f8e1c2a-6b1d-4a54-8f47-0c5b0a2e9d11": "/v1/documents/:id",
		"/oauth/tokens":                                      "/oauth/tokens",
		"/check_reports/x%2Fy":                               "/check_reports/:id",
		"":                                                   "",
	} {
		require.Equal(t, want, apiclient.RouteTemplate(path), path)
	}
}

// callCount is how many calls apicalls.Calls counted for provider, operation and status.
func callCount(t *testing.T, provider, operation, status string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(apicalls.Calls)
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "screenflow_provider_calls_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["provider"] == provider && labels["operation"] == operation && labels["status"] == status {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestEveryCallIsCountedByRouteAndStatusClass(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/checks/5eb04fcd0f3e360008035eb1":
			_, _ = w.Write([]byte(`{}`))
		case "/v1/checks/0123456789abcdef01234567":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	// A provider name of its own: the counts are the process's, shared with the other tests.
	c := apiclient.New("counted-test", srv.URL+"/v1", srv.Client(), nil)
	ctx := context.Background()
	require.NoError(t, c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: "/checks/5eb04fcd0f3e360008035eb1"}, nil))
	require.Error(t, c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: "/checks/0123456789abcdef01234567"}, nil))
	require.Error(t, c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: "/checks/ffffffffffffffffffff0000"}, nil))
	_, err := c.Download(ctx, "download report", c.BaseURL()+"/missing?token=abc", "", 1024)
	require.Error(t, err)

	require.Equal(t, 1.0, callCount(t, "counted-test", "GET /checks/:id", "2xx"))
	require.Equal(t, 1.0, callCount(t, "counted-test", "GET /checks/:id", "5xx"))
	require.Equal(t, 1.0, callCount(t, "counted-test", "GET /checks/:id", "4xx"))
	require.Equal(t, 1.0, callCount(t, "counted-test", "download report", "4xx"), "a download is counted under the name it was given")
}

func TestACallWithNoAnswerIsCountedByItsFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c := apiclient.New("refused-test", "http://"+addr, nil, nil)
	require.Error(t, c.Do(context.Background(), apiclient.Request{Method: http.MethodPost, Path: "/clients"}, nil))
	require.Equal(t, 1.0, callCount(t, "refused-test", "POST /clients", "connection_refused"))
}
