package receiver_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/workflows"
)

const (
	checkrAccessCode = "ck_live_4a1d9e0b7c2f6a3e8d5b1c9f0e7a2d4b"
	// checkrTokenDeauthorized names the revoked token in Checkr's shape, and the receiver's URL with
	// its Basic auth credentials as a partner may have registered it.
	checkrTokenDeauthorized = `{"id":"57a10deb4772616473010000","object":"event","type":"token.deauthorized",` +
		`"created_at":"2016-08-02T21:17:31Z","webhook_url":"https://hooks:b4sic-s3cret@screenflow.example.com/webhooks/checkr",` +
		`"data":{"object":{"access_code":"` + checkrAccessCode + `"}},"account_id":"5d78dfa52ea938723b2f2ba3"}`
)

func TestTokenDeauthorizedIsStoredWithoutItsAccessCodeAndStillFindsItsAccount(t *testing.T) {
	h := newWebhookHarness(t, 0)
	body := []byte(checkrTokenDeauthorized)
	a := h.postCheckr(t, body, checkr.Sign(checkrClientSecret, body))
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Equal(t, "stored", a.body["status"])
	require.Equal(t, "duplicate", h.postCheckr(t, body, checkr.Sign(checkrClientSecret, body)).body["status"],
		"a retry of the same event is still a duplicate")

	var row struct {
		Subject string `db:"subject"`
		Body    []byte `db:"body"`
	}
	require.NoError(t, h.db.Get(&row, `SELECT subject, body FROM webhook_events
		WHERE provider = 'checkr' AND event_id = '57a10deb4772616473010000'`))
	require.NotContains(t, string(row.Body), checkrAccessCode)
	require.NotContains(t, string(row.Body), "b4sic-s3cret")
	require.Contains(t, string(row.Body), "https://screenflow.example.com/webhooks/checkr")
	fingerprint := checkr.TokenFingerprint(checkrAccessCode)
	// Connecting an account routes token:<fingerprint> to its workflow (receiver/integrations.go).
	require.Equal(t, checkr.SubjectFor(checkr.KindToken, fingerprint), row.Subject)

	// What the relay translates at delivery is the stored body.
	stored, err := checkr.ParseEvent(row.Body)
	require.NoError(t, err)
	require.Equal(t, fingerprint, stored.DeauthorizedTokenFingerprint())
	sig, err := configuredProviders(t, nil).Translate(checkr.Name, row.Body)
	require.NoError(t, err)
	require.Equal(t, workflows.CheckrAccountEvent{Kind: workflows.CheckrAccountDeauthorized,
		EventID: "57a10deb4772616473010000", TokenFingerprint: fingerprint}, sig.Arg)
	require.Equal(t, 1, h.storedCount(t))
}

func TestTheInboxKeepsNoCredentialsOfTheRequest(t *testing.T) {
	h := newWebhookHarness(t, 0)
	req, err := http.NewRequest(http.MethodPost, h.base+"/webhooks/authenticate/"+authenticateToken,
		bytes.NewReader([]byte(authenticateEventBody)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Original-Url", "/webhooks/authenticate/"+authenticateToken)
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("Referer", "https://ops:hunter2@proxy.example.com/")
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	var headers string
	require.NoError(t, h.db.Get(&headers, `SELECT headers::text FROM webhook_events WHERE provider = 'authenticate'`))
	require.NotContains(t, headers, authenticateToken)
	require.NotContains(t, headers, "hunter2")
	require.Contains(t, headers, "/webhooks/authenticate/[redacted]")
	require.Contains(t, headers, "https://proxy.example.com/")
	require.Contains(t, headers, `"X-Forwarded-Proto": "https"`)
}
