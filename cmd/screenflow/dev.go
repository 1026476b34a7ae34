package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/screenflow/screenflow/devenv"
	"github.com/screenflow/screenflow/migrations"
	authfake "github.com/screenflow/screenflow/providers/authenticate/fake"
	checkrfake "github.com/screenflow/screenflow/providers/checkr/fake"
	"github.com/screenflow/screenflow/providers/complycube/fake"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/workflows"
)

// Fixed local addresses of the dev stack, printed at start.
const (
	devPostgresPort      = 55432
	devTemporalUIPort    = 8233
	devFakeComplyCube    = "127.0.0.1:8090"
	devFakeAuthenticate  = "127.0.0.1:8091"
	devFakeCheckr        = "127.0.0.1:8092"
	devEncryptionKeyFile = "dev-encryption.key"
	devCompletionDelay   = 5 * time.Second
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
	tenantKey, err := prepareDatabase(ctx, cfg, dataDir)
	if err != nil {
		return err
	}

	temporal, err := startDevTemporal(ctx, cfg, root, dataDir, log)
	if err != nil {
		return err
	}
	defer temporal.Stop()

	httpLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	httpPort := httpLn.Addr().(*net.TCPAddr).Port
	apiURL := "http://127.0.0.1:" + strconv.Itoa(httpPort)

	fakeURL := ""
	if os.Getenv("COMPLYCUBE_BASE_URL") == "" {
		stopFake, err := startDevFakeComplyCube(&cfg, apiURL+"/webhooks/complycube", log)
		if err != nil {
			httpLn.Close()
			return err
		}
		defer stopFake()
		fakeURL = cfg.ComplyCubeBaseURL
	}
	fakeAuthURL := ""
	if os.Getenv("AUTHENTICATE_BASE_URL") == "" {
		stopFake, err := startDevFakeAuthenticate(ctx, &cfg, apiURL, stdout, log)
		if err != nil {
			httpLn.Close()
			return err
		}
		defer stopFake()
		fakeAuthURL = cfg.AuthenticateBaseURL
	}
	fakeCheckrURL := ""
	if os.Getenv("CHECKR_BASE_URL") == "" {
		stopFake, err := startDevFakeCheckr(&cfg, apiURL, log)
		if err != nil {
			httpLn.Close()
			return err
		}
		defer stopFake()
		fakeCheckrURL = cfg.CheckrBaseURL
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- serve(ctx, cfg, log.With("component", "serve"), httpLn) }()
	go func() { errs <- runWorker(ctx, cfg, log.With("component", "worker")) }()

	printDevBanner(stdout, cfg, apiURL, temporal, devFakes{fakeURL, fakeAuthURL, fakeCheckrURL}, tenantKey)

	var firstErr error
	for range 2 {
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

func startDevTemporal(ctx context.Context, cfg config, root, dataDir string, log *slog.Logger) (*devenv.Temporal, error) {
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
	})
	if err != nil {
		serverLog.Close()
		return nil, fmt.Errorf("temporal: %w", err)
	}
	return t, nil
}

// startDevFakeComplyCube runs the fake ComplyCube and points cfg at it, with secrets made up for
// this run unless the environment sets them.
func startDevFakeComplyCube(cfg *config, webhookURL string, log *slog.Logger) (stop func(), err error) {
	if cfg.ComplyCubeAPIKey == "" {
		cfg.ComplyCubeAPIKey = "dev-" + randomHex(16)
	}
	if cfg.ComplyCubeWebhookSecret == "" {
		cfg.ComplyCubeWebhookSecret = randomHex(32)
	}
	f := fake.New(fake.Options{
		APIKey: cfg.ComplyCubeAPIKey, WebhookURL: webhookURL, WebhookSecret: cfg.ComplyCubeWebhookSecret,
		CompletionDelay: devCompletionDelay, Logger: log.With("component", "fake-complycube"),
	})
	cfg.ComplyCubeBaseURL = "http://" + devFakeComplyCube + "/v1"
	return serveFake("complycube", devFakeComplyCube, f, f.Close)
}

// startDevFakeAuthenticate runs the fake Authenticate, points cfg at it, and registers the webhook
// URL the way an operator would, with `providers subscribe authenticate`.
func startDevFakeAuthenticate(ctx context.Context, cfg *config, apiURL string, stdout io.Writer, log *slog.Logger) (stop func(), err error) {
	if cfg.AuthenticateAPIKey == "" {
		cfg.AuthenticateAPIKey = "dev-" + randomHex(16)
	}
	if cfg.AuthenticateCompanyCode == "" {
		cfg.AuthenticateCompanyCode = "dev-company"
	}
	if cfg.AuthenticateWebhookToken == "" {
		cfg.AuthenticateWebhookToken = randomHex(32)
	}
	if cfg.PublicBaseURL == "" {
		cfg.PublicBaseURL = apiURL
	}
	f := authfake.New(authfake.Options{
		APIKey: cfg.AuthenticateAPIKey, CompanyAccessCode: cfg.AuthenticateCompanyCode,
		SearchDelay: devCompletionDelay / 2, Logger: log.With("component", "fake-authenticate"),
	})
	cfg.AuthenticateBaseURL = "http://" + devFakeAuthenticate
	f.SetBaseURL(cfg.AuthenticateBaseURL)
	if stop, err = serveFake("authenticate", devFakeAuthenticate, f, f.Close); err != nil {
		return nil, err
	}
	if err := runSubscribeAuthenticate(ctx, *cfg, stdout); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// startDevFakeCheckr runs the fake Checkr as a partner app's world: a direct account, an OAuth
// client, and a stand-in for Checkr's hosted sign-up page that signs the account holder up at
// once, redirects back with a code, and credentials the account a few seconds later.
func startDevFakeCheckr(cfg *config, apiURL string, log *slog.Logger) (stop func(), err error) {
	if cfg.CheckrAPIKey == "" {
		cfg.CheckrAPIKey = "dev-" + randomHex(16)
	}
	if cfg.CheckrClientID == "" {
		cfg.CheckrClientID = "dev-client"
	}
	if cfg.CheckrClientSecret == "" {
		cfg.CheckrClientSecret = randomHex(32)
	}
	cfg.CheckrRedirectURL = apiURL + "/oauth/checkr/callback"
	base := "http://" + devFakeCheckr
	f := checkrfake.New(checkrfake.Options{
		APIKey: cfg.CheckrAPIKey, ClientID: cfg.CheckrClientID, ClientSecret: cfg.CheckrClientSecret,
		WebhookURL: apiURL + "/webhooks/checkr", ReportDelay: devCompletionDelay, InvitationDelay: devCompletionDelay,
		Logger: log.With("component", "fake-checkr"),
	})
	f.SetBaseURL(base)
	mux := http.NewServeMux()
	mux.Handle("/", f)
	mux.HandleFunc("GET /authorize/{client}/signup", func(w http.ResponseWriter, r *http.Request) {
		code, account := f.Authorize("")
		time.AfterFunc(devCompletionDelay, func() { _ = f.Credential(account) })
		back := r.URL.Query().Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {r.URL.Query().Get("state")}}.Encode()
		http.Redirect(w, r, back, http.StatusFound)
	})
	cfg.CheckrBaseURL, cfg.CheckrAuthorizeURL = base, base+"/authorize"
	return serveFake("checkr", devFakeCheckr, mux, f.Close)
}

// serveFake serves a fake provider on addr until stop, which also closes the fake.
func serveFake(name, addr string, handler http.Handler, closeFake func()) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		closeFake()
		return nil, fmt.Errorf("fake %s: listen on %s: %w", name, addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return func() {
		srv.Close()
		closeFake()
	}, nil
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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// devFakes are the base URLs of the fakes dev started; "" for a real provider.
type devFakes struct {
	complyCube, authenticate, checkr string
}

func printDevBanner(w io.Writer, cfg config, apiURL string, t *devenv.Temporal, fakes devFakes, key string) {
	fmt.Fprintf(w, `
screenflow dev is running. Ctrl-C stops everything it started.

  HR API and webhooks  %s
  Temporal Web UI      %s   (filter with ScreeningStatus, TenantId)
  Temporal frontend    %s
  Postgres             %s
`, apiURL, t.UIURL, t.Address, cfg.DatabaseURL)
	if fakes.complyCube != "" {
		fmt.Fprintf(w, "  Fake ComplyCube      %s   (checks complete after %s)\n", fakes.complyCube, devCompletionDelay)
	}
	if fakes.authenticate != "" {
		fmt.Fprintf(w, "  Fake Authenticate    %s\n", fakes.authenticate)
	}
	if fakes.checkr != "" {
		fmt.Fprintf(w, "  Fake Checkr          %s   (sign-up is instant; credentialed after %s)\n", fakes.checkr, devCompletionDelay)
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
