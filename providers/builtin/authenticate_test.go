package builtin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/builtin"
	"github.com/screenflow/screenflow/providers/registry"
)

const (
	newToken = "9f1c2a7e1b3d5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4"
	oldToken = "0b7d44e1c2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
)

func configuredAuthenticate(t *testing.T, env map[string]string) *builtin.Authenticate {
	t.Helper()
	p := &builtin.Authenticate{}
	require.NoError(t, p.Configure(func(name string) string { return env[name] }))
	return p
}

func TestAuthenticateWebhookTokensRotate(t *testing.T) {
	p := configuredAuthenticate(t, map[string]string{"AUTHENTICATE_WEBHOOK_TOKEN": newToken + ", " + oldToken})
	for token, want := range map[string]bool{
		newToken:                   true,
		oldToken:                   true,
		newToken + "," + oldToken:  false,
		newToken + ", " + oldToken: false,
		"":                         false,
		newToken[:10]:              false,
		"wrong":                    false,
	} {
		assert.Equal(t, want, p.VerifyWebhook(http.Header{}, token, nil), "token %q", token)
	}
	assert.Empty(t, p.Warnings())

	for _, setting := range []string{"", " ", ",", " , "} {
		p := configuredAuthenticate(t, map[string]string{"AUTHENTICATE_WEBHOOK_TOKEN": setting})
		assert.False(t, p.VerifyWebhook(http.Header{}, "", nil), "no token (%q) lets nothing in", setting)
		assert.False(t, p.VerifyWebhook(http.Header{}, ",", nil), "no token (%q) lets nothing in", setting)
		assert.NotEmpty(t, p.Warnings(), "no token (%q) is warned about", setting)
	}
}

func TestAuthenticateSubscribeRegistersTheFirstToken(t *testing.T) {
	var mu sync.Mutex
	var registered string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			WebhookURL string `json:"webhookURL"`
		}
		assert.Equal(t, authenticate.DefaultPaths.CompanyWebhook, r.URL.Path)
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		mu.Lock()
		registered = body.WebhookURL
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	t.Cleanup(api.Close)
	p := configuredAuthenticate(t, map[string]string{
		"AUTHENTICATE_BASE_URL": api.URL, "AUTHENTICATE_API_KEY": "key", "AUTHENTICATE_COMPANY_ACCESS_CODE": "company",
		"AUTHENTICATE_WEBHOOK_TOKEN": newToken + "," + oldToken,
	})

	var out bytes.Buffer
	require.NoError(t, p.Subscribe(context.Background(), "https://screenflow.example.com", &out))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "https://screenflow.example.com/webhooks/authenticate/"+newToken, registered)
	assert.NotContains(t, out.String(), newToken)
	assert.NotContains(t, out.String(), oldToken)
	assert.False(t, strings.Contains(out.String(), ","), "one URL, for the first token only")
}

func TestAuthenticateReviveAmendsAClosedCheck(t *testing.T) {
	p := &builtin.Authenticate{}
	sig := registry.Signal{Name: "authenticate-event", Arg: authenticate.Summary{EventID: "k", Type: authenticate.EventMonitoringRecordFound}}

	workflowType, input, ok := p.Revive("screening/scr-1/authenticate/chk-1", sig)
	require.True(t, ok)
	assert.Equal(t, "AuthenticateAmendmentWorkflow", workflowType)
	raw, err := json.Marshal(input)
	require.NoError(t, err)
	assert.JSONEq(t, `{"ScreeningID":"scr-1","CheckID":"chk-1"}`, string(raw))

	for _, id := range []string{
		"screening/scr-1/complycube/chk-1",
		"screening/scr-1",
		"screening//authenticate/chk-1",
		"screening/scr-1/authenticate/",
		"screening/scr-1/authenticate/chk-1/more",
		"checkr-account/acc-1",
	} {
		_, _, ok := p.Revive(id, sig)
		assert.False(t, ok, id)
	}
	_, _, ok = p.Revive("screening/scr-1/authenticate/chk-1", registry.Signal{Name: "something-else"})
	assert.False(t, ok, "only Authenticate's events")
}
