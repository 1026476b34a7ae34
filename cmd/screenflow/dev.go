package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/screenflow/screenflow/devenv"
	"github.com/screenflow/screenflow/migrations"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/workflows"
)

// Fixed local addresses of the dev stack, printed at start.
const (
	devPostgresPort      = 55432
	devTemporalUIPort    = 8233
	devCodecServerPort   = 8234
	devEncryptionKeyFile = "dev-encryption.key"
	devWebhookDeadline   = 2 * time.Minute
	devPollInterval      = 15 * time.Second
	devTenantKeyFileName = "dev-tenant.key"
)

// runDev starts the whole stack on this machine and stops everything it started when ctx is done.
func runDev(ctx context.Context, cfg config, stdout io.Writer) error {
	cfg.LogFormat = "text"
	log := newLogger(cfg, os.Stderr)
	root, err := devenv.RepoRoot()
	if err != nil {
		return err
	}
	dataDir := filepath.Join(root, ".data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	// Short waits so that the webhook deadline and polling can be watched; the environment wins.
	if os.Getenv("CHECK_WEBHOOK_DEADLINE") == "" {
		cfg.Timing.WebhookDeadline = devWebhookDeadline
	}
	if os.Getenv("CHECK_POLL_INTERVAL") == "" {
		cfg.Timing.PollInterval = devPollInterval
	}

	if cfg.DatabaseURL == "" {
		log.Info("starting Postgres", "dir", filepath.Join(dataDir, "postgres"))
		pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{Dir: filepath.Join(dataDir, "postgres"), Port: devPostgresPort})
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		defer pg.Stop()
		cfg.DatabaseURL = pg.URL
	}
	if cfg.EncryptionKey == "" {
		if cfg.EncryptionKey, err = devSecret(filepath.Join(dataDir, devEncryptionKeyFile), vault.NewKey); err != nil {
			return err
		}
	}
	if err := cfg.loadPayloadCodec(); err != nil {
		return err
	}
	tenantKey, err := prepareDatabase(ctx, cfg, dataDir)
	if err != nil {
		return err
	}
	// The dev receiver of HR callbacks listens on loopback over http; the environment wins.
	if os.Getenv(settingCallbackAllowHTTP.Name) == "" {
		cfg.Callbacks.Policy.AllowHTTP = true
	}
	if os.Getenv(settingCallbackAllowPrivate.Name) == "" {
		cfg.Callbacks.Policy.AllowPrivate = true
	}
	callbackURL, stopCallbackReceiver, err := startDevCallbackReceiver(ctx, cfg, dataDir, tenantKey, stdout)
	if err != nil {
		return err
	}
	defer stopCallbackReceiver()

	// The Web UI decodes payloads through this codec server. It asks for no token, which the UI
	// has no way to send without an identity provider: it listens on loopback only, and a page of
	// another origin can neither preflight nor read it.
	codecLn, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(devCodecServerPort)))
	if err != nil {
		return fmt.Errorf("codec server: %w", err)
	}
	codecURL := "http://" + codecLn.Addr().String()
	temporal, err := startDevTemporal(ctx, cfg, root, dataDir, codecURL, log)
	if err != nil {
		codecLn.Close()
		return err
	}
	defer temporal.Stop()
	uiOrigins := append([]string{temporal.UIURL, "http://localhost:" + strconv.Itoa(devTemporalUIPort)}, cfg.CodecServer.CORSOrigins...)

	httpLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		codecLn.Close()
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	httpPort := httpLn.Addr().(*net.TCPAddr).Port
	apiURL := "http://127.0.0.1:" + strconv.Itoa(httpPort)

	if cfg.PublicBaseURL == "" {
		cfg.PublicBaseURL = apiURL
	}
	banner, stopFakes, err := startDevFakes(ctx, &cfg, apiURL, stdout, log)
	if err != nil {
		httpLn.Close()
		codecLn.Close()
		return err
	}
	defer stopFakes()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 3)
	go func() { errs <- serve(ctx, cfg, log.With("component", "serve"), httpLn) }()
	go func() { errs <- runWorker(ctx, cfg, log.With("component", "worker")) }()
	go func() { errs <- serveHTTP(ctx, codecLn, newCodecHandler(cfg.PayloadCodec, "", uiOrigins)) }()

	printDevBanner(stdout, cfg, apiURL, temporal, codecURL, banner, tenantKey)
	fmt.Fprintf(stdout, "The dev tenant's HR callbacks arrive at %s and are printed here once verified:\n\n", callbackURL)

	var firstErr error
	for range 3 {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	fmt.Fprintln(stdout, "screenflow dev stopped")
	return firstErr
}

// prepareDatabase applies migrations and returns the dev tenant's API key. The key is kept in
// .data (git-ignored, this machine only) because the database keeps only its hash.
func prepareDatabase(ctx context.Context, cfg config, dataDir string) (string, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if err := migrations.Up(ctx, db.DB); err != nil {
		return "", err
	}
	st := store.New(db)
	keyFile := filepath.Join(dataDir, devTenantKeyFileName)
	if raw, err := os.ReadFile(keyFile); err == nil {
		key := strings.TrimSpace(string(raw))
		if _, err := st.TenantByAPIKey(ctx, key); err == nil {
			return key, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	}
	_, key, err := st.CreateTenant(ctx, "dev")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		return "", err
	}
	return key, nil
}

func startDevTemporal(ctx context.Context, cfg config, root, dataDir, codecURL string, log *slog.Logger) (*devenv.Temporal, error) {
	host, portText, err := net.SplitHostPort(cfg.TemporalAddress)
	if err != nil {
		return nil, fmt.Errorf("TEMPORAL_ADDRESS %q: %w", cfg.TemporalAddress, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("TEMPORAL_ADDRESS %q: port: %w", cfg.TemporalAddress, err)
	}
	cli, err := devenv.EnsureTemporalCLI(ctx, root, os.Stderr)
	if err != nil {
		return nil, err
	}
	serverLog, err := os.OpenFile(filepath.Join(dataDir, "temporal.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	log.Info("starting Temporal dev server", "address", cfg.TemporalAddress, "log", serverLog.Name())
	t, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{
		CLIPath: cli, IP: host, Port: port, UIPort: devTemporalUIPort,
		DBFile:           filepath.Join(dataDir, "temporal.db"),
		Namespace:        cfg.TemporalNamespace,
		SearchAttributes: workflows.SearchAttributeTypes,
		Log:              serverLog,
		UICodecEndpoint:  codecURL,
	})
	if err != nil {
		serverLog.Close()
		return nil, fmt.Errorf("temporal: %w", err)
	}
	return t, nil
}

// startDevFakes starts the fake of every provider that has one and the environment does not point
// at the real provider, and configures the providers with the fakes' settings laid over the
// environment. It returns the fakes' banner lines.
func startDevFakes(ctx context.Context, cfg *config, apiURL string, stdout io.Writer, log *slog.Logger) (banner []string, stop func(), err error) {
	var runs []registry.DevFakeRun
	stop = func() {
		for _, r := range runs {
			r.Stop()
		}
	}
	settings := map[string]string{}
	for _, p := range cfg.Providers.All() {
		f, ok := p.(registry.DevFake)
		if !ok {
			continue
		}
		run, err := f.StartDevFake(ctx, registry.DevEnv{APIURL: apiURL, PublicBaseURL: cfg.PublicBaseURL, Env: cfg.env, Log: log})
		if err != nil {
			stop()
			return nil, nil, err
		}
		if run.Stop == nil {
			continue // the environment names the real provider
		}
		runs = append(runs, run)
		banner = append(banner, run.Banner)
		maps.Copy(settings, run.Settings)
	}
	base := cfg.env
	cfg.env = func(name string) string {
		if v, ok := settings[name]; ok {
			return v
		}
		return base(name)
	}
	if err := cfg.Providers.Configure(cfg.env); err != nil {
		stop()
		return nil, nil, err
	}
	for _, r := range runs {
		if r.Started == nil {
			continue
		}
		if err := r.Started(ctx, stdout); err != nil {
			stop()
			return nil, nil, err
		}
	}
	return banner, stop, nil
}

// devSecret reads a secret kept in .data (git-ignored, this machine only), making it once.
func devSecret(path string, make func() string) (string, error) {
	if raw, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(raw)), nil
	}
	secret := make()
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return secret, nil
}

func printDevBanner(w io.Writer, cfg config, apiURL string, t *devenv.Temporal, codecURL string, fakes []string, key string) {
	fmt.Fprintf(w, `
screenflow dev is running. Ctrl-C stops everything it started.

  HR API and webhooks  %s
  Temporal Web UI      %s   (filter with Provider, CandidateId, ScreeningStatus, TenantId)
  Temporal frontend    %s
  Codec server         %s   (payloads are encrypted; the Web UI decodes them here;
                       temporal workflow show -w ID --codec-endpoint %s)
  Postgres             %s
`, apiURL, t.UIURL, t.Address, codecURL, codecURL, cfg.DatabaseURL)
	for _, line := range fakes {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintf(w, `
  Dev tenant API key   %s

Start a screening:

  curl -s -X POST %s/v1/screenings \
    -H 'Authorization: Bearer %s' \
    -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $(date +%%s)" \
    -d '{"candidate":{"reference":"emp-42","first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","dob":"1990-12-10"},"checks":[{"provider":"complycube","type":"standard_screening_check"},{"provider":"authenticate","type":"criminal","options":{"sex_offender":true}}]}'

Then read it (use the "id" from the answer):

  curl -s %s/v1/screenings/<id> -H 'Authorization: Bearer %s'

Connect a Checkr account through OAuth (follows Checkr's sign-up and the callback), then order a
Checkr check on it with {"provider":"checkr","package":"tasker_standard","mode":"report","account":"<account>"}:

  curl -sL %s/v1/integrations/checkr/connect -H 'Authorization: Bearer %s'

`, key, apiURL, key, apiURL, key, apiURL, key)
}
