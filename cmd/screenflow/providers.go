package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// authenticateWebhookURL is where Authenticate must send events: the token in the path is the
// credential, since Authenticate signs nothing.
func authenticateWebhookURL(publicBaseURL, token string) string {
	return strings.TrimRight(publicBaseURL, "/") + "/webhooks/authenticate/" + token
}

// runSubscribeAuthenticate registers the webhook URL with Authenticate (POST /company/webhook), a
// one-time step per deployment, and prints what it registered with the token masked.
func runSubscribeAuthenticate(ctx context.Context, cfg config, stdout io.Writer) error {
	var missing []string
	for name, value := range map[string]string{
		"AUTHENTICATE_API_KEY": cfg.AuthenticateAPIKey, "AUTHENTICATE_COMPANY_ACCESS_CODE": cfg.AuthenticateCompanyCode,
		"AUTHENTICATE_WEBHOOK_TOKEN": cfg.AuthenticateWebhookToken, "PUBLIC_BASE_URL": cfg.PublicBaseURL,
	} {
		if value == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("set %s to subscribe", strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(cfg.PublicBaseURL, "https://") && !strings.HasPrefix(cfg.PublicBaseURL, "http://") {
		return errors.New("PUBLIC_BASE_URL must be an absolute http(s) URL, e.g. https://screenflow.example.com")
	}
	url := authenticateWebhookURL(cfg.PublicBaseURL, cfg.AuthenticateWebhookToken)
	if err := cfg.authenticateClient().RegisterWebhook(ctx, cfg.AuthenticateCompanyCode, url); err != nil {
		return fmt.Errorf("register the webhook with Authenticate: %w", err)
	}
	fmt.Fprintf(stdout, "registered with Authenticate for company %s:\n  %s\n",
		cfg.AuthenticateCompanyCode, authenticateWebhookURL(cfg.PublicBaseURL, maskToken(cfg.AuthenticateWebhookToken)))
	return nil
}

// maskToken shows enough of a token to recognise it, not enough to use it.
func maskToken(token string) string {
	if len(token) <= 8 {
		return "****"
	}
	return token[:4] + "…" + token[len(token)-2:]
}
