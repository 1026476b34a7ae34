package registry_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
)

func TestStripURLCredentials(t *testing.T) {
	for in, want := range map[string]string{
		`{"webhook_url":"https://user:pa55@hooks.example.com/checkr"}`:    `{"webhook_url":"https://hooks.example.com/checkr"}`,
		`{"webhook_url":"https:\/\/user:pa55@hooks.example.com\/checkr"}`: `{"webhook_url":"https:\/\/hooks.example.com\/checkr"}`,
		`a http://u@h b ftp://x:y@z/ c https://@e`:                        `a http://h b ftp://z/ c https://e`,
		`{"url":"https://hooks.example.com/x?email=ada@example.com"}`:     `{"url":"https://hooks.example.com/x?email=ada@example.com"}`,
		`{"url":"https://hooks.example.com","email":"ada@example.com"}`:   `{"url":"https://hooks.example.com","email":"ada@example.com"}`,
		`{"email":"ada@example.com"}`:                                     `{"email":"ada@example.com"}`,
		`https://example.com#frag@x`:                                      `https://example.com#frag@x`,
		`://@`:                                                            `://`,
		`trailing ://`:                                                    `trailing ://`,
	} {
		got := registry.StripURLCredentials([]byte(in))
		assert.Equal(t, want, string(got), in)
		if json.Valid([]byte(in)) {
			assert.True(t, json.Valid(got), "%s stays valid JSON", in)
		}
	}
}

// scrubbingProvider is a Provider that is also a Scrubber; Scrub calls nothing else of it.
type scrubbingProvider struct{ registry.Provider }

func (scrubbingProvider) ScrubWebhook(body []byte) []byte { return []byte(`{"secret":"gone"}`) }

func TestScrubRemovesTheProvidersSecretsURLCredentialsAndThePathToken(t *testing.T) {
	e := store.NewInboxEvent{Provider: "p", EventID: "ev-1", EventType: "thing.happened", Subject: "thing:1",
		Headers: map[string]string{
			"X-Forwarded-Uri": "/webhooks/p/s3cret-path-token",
			"Referer":         "https://admin:hunter2@proxy.example.com/",
			"Content-Type":    "application/json",
		},
		Body: []byte(`{"secret":"tok"}`)}

	scrubbed := registry.Scrub(scrubbingProvider{}, e, "s3cret-path-token")
	assert.Equal(t, `{"secret":"gone"}`, string(scrubbed.Body))
	assert.Equal(t, map[string]string{
		"X-Forwarded-Uri": "/webhooks/p/[redacted]",
		"Referer":         "https://proxy.example.com/",
		"Content-Type":    "application/json",
	}, scrubbed.Headers)
	assert.Equal(t, "ev-1", scrubbed.EventID, "what identifies the event is kept")
	assert.Equal(t, "thing:1", scrubbed.Subject)

	// A provider that is no Scrubber still has the URLs in its body scrubbed.
	plain := registry.Scrub(struct{ registry.Provider }{}, store.NewInboxEvent{Headers: map[string]string{},
		Body: []byte(`{"u":"https://a:b@c"}`)}, "")
	require.Equal(t, `{"u":"https://c"}`, string(plain.Body))
}
