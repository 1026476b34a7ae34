package builtin

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/complycube/fake"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/workflows"
)

func configuredComplyCube(t *testing.T, settings map[string]string) *ComplyCube {
	t.Helper()
	p := &ComplyCube{}
	require.NoError(t, p.Configure(func(name string) string { return settings[name] }))
	return p
}

func signed(secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set(complycube.SignatureHeader, complycube.Sign(secret, body))
	return h
}

func TestComplyCubeWebhookSecretRotation(t *testing.T) {
	body := []byte(`{"id":"e1","type":"check.pending","payload":{"id":"c1"}}`)
	p := configuredComplyCube(t, map[string]string{"COMPLYCUBE_WEBHOOK_SECRET": "new-secret, old-secret"})
	assert.True(t, p.VerifyWebhook(signed("new-secret", body), "", body))
	assert.True(t, p.VerifyWebhook(signed("old-secret", body), "", body), "events signed before the rotation still verify")
	assert.False(t, p.VerifyWebhook(signed("other", body), "", body))
	assert.False(t, p.VerifyWebhook(signed("new-secret, old-secret", body), "", body), "the list is not itself a secret")
	assert.False(t, p.VerifyWebhook(http.Header{}, "", body))
	assert.NotContains(t, strings.Join(p.Warnings(), "\n"), "COMPLYCUBE_WEBHOOK_SECRET")

	none := configuredComplyCube(t, map[string]string{"COMPLYCUBE_WEBHOOK_SECRET": " , "})
	assert.False(t, none.VerifyWebhook(signed("", body), "", body), "fail closed")
	assert.Contains(t, strings.Join(none.Warnings(), "\n"), "COMPLYCUBE_WEBHOOK_SECRET is not set")
}

// TestComplyCubeKeepsEventsWithOddTimestamps: what the receiver stores. Before, these authentic
// events failed ParseWebhook and were kept as unparsed, never delivered.
func TestComplyCubeKeepsEventsWithOddTimestamps(t *testing.T) {
	p := configuredComplyCube(t, nil)
	for _, createdAt := range []string{`""`, `"2020-01-01 11:14:23"`, `1577877263`, `"1577877263"`, `1577877263964`} {
		body := []byte(`{"id":"e1","type":"check.updated","resourceType":"check",
			"payload":{"id":"c1","status":"complete","outcome":"attention","updatedAt":` + createdAt + `},"createdAt":` + createdAt + `}`)
		env, err := p.ParseWebhook(body)
		require.NoError(t, err, createdAt)
		assert.Equal(t, registry.Envelope{ID: "e1", Type: "check.updated", Subject: "check:c1", Routed: true}, env)
		sig, err := p.Translate(body)
		require.NoError(t, err)
		assert.Equal(t, workflows.ComplyCubeEventSignal, sig.Name)
		summary := sig.Arg.(complycube.Summary)
		assert.Equal(t, "attention", summary.Outcome)
		if createdAt != `""` {
			assert.True(t, summary.OccurredAt.Equal(time.Date(2020, 1, 1, 11, 14, 23, 0, time.UTC)) ||
				summary.OccurredAt.Equal(time.Date(2020, 1, 1, 11, 14, 23, 964e6, time.UTC)), "%s: %v", createdAt, summary.OccurredAt)
		}
	}
}

func TestComplyCubeRevivesClosedCheckWorkflowsWithAnAmendment(t *testing.T) {
	p := &ComplyCube{}
	sig := registry.Signal{Name: workflows.ComplyCubeEventSignal, Arg: complycube.Summary{EventID: "e1"}}
	typ, input, ok := p.Revive(workflows.CheckWorkflowID("s-1", "complycube", "c-1"), sig)
	require.True(t, ok)
	assert.Equal(t, workflows.ComplyCubeAmendmentWorkflowName, typ)
	assert.Equal(t, workflows.AmendmentInput{ScreeningID: "s-1", CheckID: "c-1"}, input)

	_, _, ok = p.Revive(workflows.ScreeningWorkflowID("s-1"), sig)
	assert.False(t, ok, "only a check's workflow")
	_, _, ok = p.Revive(workflows.CheckWorkflowID("s-1", "complycube", "c-1"), registry.Signal{Name: "other"})
	assert.False(t, ok, "only ComplyCube's events")
	_, isReviver := registry.Provider(p).(registry.Reviver)
	assert.True(t, isReviver, "the relay finds it")
	_, isSubscriber := registry.Provider(p).(registry.Subscriber)
	assert.True(t, isSubscriber, "`providers subscribe complycube` finds it")
}

func TestComplyCubeSubscribe(t *testing.T) {
	f := fake.New(fake.Options{APIKey: "key", CompletionDelay: -1})
	srv := httptest.NewServer(f)
	t.Cleanup(func() { srv.Close(); f.Close() })
	ctx := context.Background()

	missing := configuredComplyCube(t, map[string]string{"COMPLYCUBE_BASE_URL": srv.URL + "/v1"})
	assert.ErrorContains(t, missing.Subscribe(ctx, "", &bytes.Buffer{}), "set COMPLYCUBE_API_KEY, PUBLIC_BASE_URL to subscribe")

	p := configuredComplyCube(t, map[string]string{"COMPLYCUBE_BASE_URL": srv.URL + "/v1", "COMPLYCUBE_API_KEY": "key"})
	assert.ErrorContains(t, p.Subscribe(ctx, "screenflow.example.com", &bytes.Buffer{}), "absolute URL")

	var out bytes.Buffer
	require.NoError(t, p.Subscribe(ctx, "https://screenflow.example.com/", &out))
	hooks, err := complycube.NewClient(srv.URL+"/v1", "key", nil).ListWebhooks(ctx)
	require.NoError(t, err)
	require.Len(t, hooks, 1)
	assert.Equal(t, "https://screenflow.example.com/webhooks/complycube", hooks[0].URL)
	assert.Equal(t, []string{"*"}, hooks[0].Events)
	assert.True(t, hooks[0].Enabled)
	assert.Contains(t, out.String(), hooks[0].ID)
	assert.Contains(t, out.String(), "https://screenflow.example.com/webhooks/complycube")
	assert.Contains(t, out.String(), "only time it is printed")
	assert.Contains(t, out.String(), "COMPLYCUBE_WEBHOOK_SECRET")
	secret := secretIn(t, out.String())

	out.Reset()
	require.NoError(t, p.Subscribe(ctx, "https://screenflow.example.com", &out), "subscribing again is a no-op")
	assert.Contains(t, out.String(), "already has webhook "+hooks[0].ID)
	assert.NotContains(t, out.String(), secret)
	hooks, err = complycube.NewClient(srv.URL+"/v1", "key", nil).ListWebhooks(ctx)
	require.NoError(t, err)
	assert.Len(t, hooks, 1)
}

// secretIn finds the secret Subscribe printed: the one line of 64 hex digits.
func secretIn(t *testing.T, out string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if s := strings.TrimSpace(line); len(s) == 64 && strings.Trim(s, "0123456789abcdef") == "" {
			return s
		}
	}
	t.Fatalf("no secret in %q", out)
	return ""
}
