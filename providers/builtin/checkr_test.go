package builtin_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/builtin"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/workflows"
)

func configuredCheckr(t *testing.T, env map[string]string) *builtin.Checkr {
	t.Helper()
	p := &builtin.Checkr{}
	require.NoError(t, p.Configure(func(name string) string { return env[name] }))
	return p
}

func signed(key string, body []byte) http.Header {
	return http.Header{checkr.SignatureHeader: {checkr.Sign(key, body)}}
}

func TestCheckrWebhookKeysRotate(t *testing.T) {
	body := []byte(`{"id":"e1","object":"event","type":"report.completed","data":{"object":{"id":"r1"}}}`)
	p := configuredCheckr(t, map[string]string{"CHECKR_API_KEY": "direct-new", "CHECKR_OAUTH_CLIENT_SECRET": "secret-new",
		"CHECKR_WEBHOOK_PREVIOUS_KEYS": " direct-old ,, secret-old,"})
	for key, want := range map[string]bool{
		"direct-new": true, "secret-new": true, "direct-old": true, "secret-old": true,
		" direct-old ": false, "": false, "someone-else": false,
	} {
		assert.Equal(t, want, p.VerifyWebhook(signed(key, body), "", body), "signed with %q", key)
	}
	assert.False(t, p.VerifyWebhook(signed("direct-old", []byte(`{}`)), "", body), "a signature of another body")

	fresh := configuredCheckr(t, map[string]string{"CHECKR_API_KEY": "direct-new"})
	assert.False(t, fresh.VerifyWebhook(signed("direct-old", body), "", body), "no previous keys: only the current ones")
	assert.True(t, fresh.VerifyWebhook(signed("direct-new", body), "", body))

	assert.Contains(t, p.Settings(), registry.Setting{Name: "CHECKR_WEBHOOK_PREVIOUS_KEYS"})
}

func TestCheckrRevivesAccountWorkflowsAndAmendsClosedChecks(t *testing.T) {
	p := configuredCheckr(t, map[string]string{"CHECKR_API_KEY": "k"})
	accountEvent := registry.Signal{Name: workflows.CheckrAccountEventSignal, Arg: workflows.CheckrAccountEvent{Kind: workflows.CheckrAccountDeauthorized}}
	checkEvent := registry.Signal{Name: workflows.CheckrEventSignal, Arg: workflows.CheckrEvent{Type: checkr.EventReportUpgraded}}

	typ, input, ok := p.Revive(workflows.CheckrAccountWorkflowID("acct-1"), accountEvent)
	require.True(t, ok, "a token.deauthorized for a stopped account workflow starts it")
	assert.Equal(t, workflows.CheckrAccountWorkflowName, typ)
	assert.Equal(t, workflows.CheckrAccountInput{AccountID: "acct-1"}, input)

	typ, input, ok = p.Revive(workflows.CheckWorkflowID("scr-1", checkr.Name, "check-1"), checkEvent)
	require.True(t, ok, "an event after the check closed starts its amendment")
	assert.Equal(t, workflows.CheckrAmendmentWorkflowName, typ)
	assert.Equal(t, workflows.AmendmentInput{ScreeningID: "scr-1", CheckID: "check-1"}, input)

	for name, c := range map[string]struct {
		id  string
		sig registry.Signal
	}{
		"another provider's check":             {workflows.CheckWorkflowID("scr-1", "complycube", "check-1"), checkEvent},
		"a screening":                          {workflows.ScreeningWorkflowID("scr-1"), checkEvent},
		"a check event to an account workflow": {workflows.CheckrAccountWorkflowID("acct-1"), checkEvent},
		"an account event to a check":          {workflows.CheckWorkflowID("scr-1", checkr.Name, "check-1"), accountEvent},
	} {
		_, _, ok := p.Revive(c.id, c.sig)
		assert.False(t, ok, name)
	}
}

// account.credentialed reaches the credentialed account's workflow in both documented shapes,
// whatever the top-level account_id says (a partner application's own account).
func TestCheckrCredentialedEventsGoToTheCredentialedAccount(t *testing.T) {
	p := configuredCheckr(t, map[string]string{"CHECKR_API_KEY": "k"})
	for name, body := range map[string]string{
		"account object": `{"id":"e1","object":"event","type":"account.credentialed","data":{"object":{"id":"acct-1",
			"object":"account","uri":"/v1/accounts/acct-1"}},"account_id":"partner-account"}`,
		"seed's nested account": `{"id":"e1","object":"event","type":"account.credentialed","data":{"object":{"account":{"id":"acct-1"}}},
			"account_id":"partner-account"}`,
	} {
		env, err := p.ParseWebhook([]byte(body))
		require.NoError(t, err, name)
		assert.Equal(t, "account:acct-1", env.Subject, name)
		sig, err := p.Translate([]byte(body))
		require.NoError(t, err, name)
		assert.Equal(t, workflows.CheckrAccountWorkflowID("acct-1"), sig.WorkflowID, name)
		assert.Equal(t, workflows.CheckrAccountInput{AccountID: "acct-1"}, sig.StartInput, name)
	}
}
