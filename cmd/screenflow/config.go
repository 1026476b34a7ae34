package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/relay"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/workflows"
)

// config is everything screenflow reads from its environment. The README's configuration table
// lists the same variables with the same defaults.
type config struct {
	DatabaseURL              string
	TemporalAddress          string
	TemporalNamespace        string
	HTTPAddr                 string
	ComplyCubeAPIKey         string
	ComplyCubeBaseURL        string
	ComplyCubeWebhookSecret  string
	AuthenticateBaseURL      string
	AuthenticateAPIKey       string
	AuthenticateCompanyCode  string
	AuthenticateWebhookToken string
	AuthenticatePaths        authenticate.Paths
	PublicBaseURL            string
	CheckrBaseURL            string
	CheckrAPIKey             string
	CheckrClientID           string
	CheckrClientSecret       string
	CheckrAuthorizeURL       string
	CheckrRedirectURL        string
	EncryptionKey            string
	Timing                   workflows.Timing
	UnroutableAfter          time.Duration
	RelayMaxBackoff          time.Duration
	MaxWebhookBytes          int64
	LogLevel                 string
	LogFormat                string
}

func loadConfig() (config, error) {
	c := config{
		DatabaseURL:              os.Getenv("DATABASE_URL"),
		TemporalAddress:          envOr("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace:        envOr("TEMPORAL_NAMESPACE", "default"),
		HTTPAddr:                 envOr("HTTP_ADDR", ":8080"),
		ComplyCubeAPIKey:         os.Getenv("COMPLYCUBE_API_KEY"),
		ComplyCubeBaseURL:        envOr("COMPLYCUBE_BASE_URL", complycube.DefaultBaseURL),
		ComplyCubeWebhookSecret:  os.Getenv("COMPLYCUBE_WEBHOOK_SECRET"),
		AuthenticateBaseURL:      envOr("AUTHENTICATE_BASE_URL", authenticate.DefaultBaseURL),
		AuthenticateAPIKey:       os.Getenv("AUTHENTICATE_API_KEY"),
		AuthenticateCompanyCode:  os.Getenv("AUTHENTICATE_COMPANY_ACCESS_CODE"),
		AuthenticateWebhookToken: os.Getenv("AUTHENTICATE_WEBHOOK_TOKEN"),
		// The paths Authenticate's docs leave uncertain can be corrected without a release.
		AuthenticatePaths: authenticate.Paths{
			CriminalSearch: os.Getenv("AUTHENTICATE_PATH_CRIMINAL_SEARCH"),
			TestResult:     os.Getenv("AUTHENTICATE_PATH_TEST_RESULT"),
			InitiatePDF:    os.Getenv("AUTHENTICATE_PATH_INITIATE_PDF"),
			RetrievePDF:    os.Getenv("AUTHENTICATE_PATH_RETRIEVE_PDF"),
		},
		PublicBaseURL:      os.Getenv("PUBLIC_BASE_URL"),
		CheckrBaseURL:      envOr("CHECKR_BASE_URL", checkr.DefaultBaseURL),
		CheckrAPIKey:       os.Getenv("CHECKR_API_KEY"),
		CheckrClientID:     os.Getenv("CHECKR_OAUTH_CLIENT_ID"),
		CheckrClientSecret: os.Getenv("CHECKR_OAUTH_CLIENT_SECRET"),
		CheckrAuthorizeURL: envOr("CHECKR_AUTHORIZE_URL", checkr.DefaultAuthorizeURL),
		CheckrRedirectURL:  os.Getenv("CHECKR_OAUTH_REDIRECT_URL"),
		EncryptionKey:      os.Getenv("SCREENFLOW_ENCRYPTION_KEY"),
		LogLevel:           envOr("LOG_LEVEL", "info"),
		LogFormat:          envOr("LOG_FORMAT", "json"),
	}
	var err error
	if c.Timing.WebhookDeadline, err = envDuration("CHECK_WEBHOOK_DEADLINE", workflows.DefaultTiming.WebhookDeadline); err != nil {
		return c, err
	}
	if c.Timing.PollInterval, err = envDuration("CHECK_POLL_INTERVAL", workflows.DefaultTiming.PollInterval); err != nil {
		return c, err
	}
	if c.UnroutableAfter, err = envDuration("RELAY_UNROUTABLE_AFTER", time.Hour); err != nil {
		return c, err
	}
	if c.RelayMaxBackoff, err = envDuration("RELAY_MAX_BACKOFF", time.Minute); err != nil {
		return c, err
	}
	if c.MaxWebhookBytes, err = envInt("WEBHOOK_MAX_BYTES", 1<<20); err != nil {
		return c, err
	}
	return c, nil
}

func (c config) relayConfig() relay.Config {
	return relay.Config{UnroutableAfter: c.UnroutableAfter, MaxBackoff: c.RelayMaxBackoff, Timing: c.Timing}
}

func (c config) requireDatabase() error {
	if c.DatabaseURL == "" {
		return fmt.Errorf("DATABASE_URL is not set")
	}
	return nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func envDuration(name string, fallback time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive duration such as 30s or 24h", name, v)
	}
	return d, nil
}

func envInt(name string, fallback int64) (int64, error) {
	v := os.Getenv(name)
	if v == "" {
		return fallback, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive whole number", name, v)
	}
	return n, nil
}

func (c config) authenticateClient() *authenticate.Client {
	return authenticate.NewClient(c.AuthenticateBaseURL, c.AuthenticateAPIKey, c.AuthenticatePaths, nil)
}

func (c config) checkrClient() *checkr.Client {
	return checkr.NewClient(c.CheckrBaseURL, c.CheckrAPIKey, nil)
}

// vault opens the key that seals Checkr access tokens; nil when none is configured, which leaves
// Checkr OAuth off.
func (c config) vault() (*vault.Vault, error) {
	if c.EncryptionKey == "" {
		return nil, nil
	}
	key, err := vault.ParseKey(c.EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("SCREENFLOW_ENCRYPTION_KEY: %w", err)
	}
	return vault.New(key)
}
