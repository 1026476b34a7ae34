package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/screenflow/screenflow/callbacks"
	"github.com/screenflow/screenflow/codec"
	"github.com/screenflow/screenflow/providers/builtin"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/relay"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/workflows"
)

// The settings screenflow itself reads; each provider reads its own (registry.Provider.Settings).
// The README's configuration table lists both, with the same defaults (TestREADMEConfiguration).
var (
	settingDatabaseURL     = registry.Setting{Name: "DATABASE_URL"}
	settingTemporalAddress = registry.Setting{Name: "TEMPORAL_ADDRESS", Default: "127.0.0.1:7233"}
	settingNamespace       = registry.Setting{Name: "TEMPORAL_NAMESPACE", Default: "default"}
	settingHTTPAddr        = registry.Setting{Name: "HTTP_ADDR", Default: ":8080"}
	settingPublicBaseURL   = registry.Setting{Name: "PUBLIC_BASE_URL"}
	settingEncryptionKey   = registry.Setting{Name: "SCREENFLOW_ENCRYPTION_KEY"}
	settingEncryptionOld   = registry.Setting{Name: "SCREENFLOW_ENCRYPTION_OLD_KEYS"}
	settingWebhookDeadline = registry.Setting{Name: "CHECK_WEBHOOK_DEADLINE", Default: "24h"}
	settingPollInterval    = registry.Setting{Name: "CHECK_POLL_INTERVAL", Default: "1h"}
	settingUnroutable      = registry.Setting{Name: "RELAY_UNROUTABLE_AFTER", Default: "1h"}
	settingMaxBackoff      = registry.Setting{Name: "RELAY_MAX_BACKOFF", Default: "1m"}
	settingConcurrency     = registry.Setting{Name: "RELAY_CONCURRENCY", Default: "32"}
	settingLease           = registry.Setting{Name: "RELAY_LEASE", Default: "30s"}
	settingMaxWebhookBytes = registry.Setting{Name: "WEBHOOK_MAX_BYTES", Default: "1048576"}
	settingInboxBatchSize  = registry.Setting{Name: "INBOX_BATCH_SIZE", Default: "128"}
	settingInboxFlush      = registry.Setting{Name: "INBOX_FLUSH_INTERVAL", Default: "2ms"}
	settingDatabaseConns   = registry.Setting{Name: "DATABASE_MAX_CONNS", Default: "20"}
	settingWorkflowTasks   = registry.Setting{Name: "WORKER_MAX_WORKFLOW_TASKS", Default: "1000"}
	settingActivities      = registry.Setting{Name: "WORKER_MAX_ACTIVITIES", Default: "1000"}
	settingLocalActivities = registry.Setting{Name: "WORKER_MAX_LOCAL_ACTIVITIES", Default: "1000"}
	settingWorkflowPollers = registry.Setting{Name: "WORKER_WORKFLOW_TASK_POLLERS", Default: "2"}
	settingActivityPollers = registry.Setting{Name: "WORKER_ACTIVITY_TASK_POLLERS", Default: "2"}
	settingWorkflowCache   = registry.Setting{Name: "WORKER_WORKFLOW_CACHE_SIZE", Default: "20000"}
	settingLogLevel        = registry.Setting{Name: "LOG_LEVEL", Default: "info"}
	settingLogFormat       = registry.Setting{Name: "LOG_FORMAT", Default: "json"}
)

// settingInboxBodyRetention: 30 days after an event was delivered (or given up), long past the
// providers' retries (Checkr retries for a day) and the relay's own, and long enough for operators
// to look into an event and replay it; its effect is already recorded in the check's record. No
// longer, because the bodies carry candidate PII: the row and its ids stay for audit, the body goes.
var settingInboxBodyRetention = registry.Setting{Name: "INBOX_BODY_RETENTION", Default: "720h"}

// settingTemporalCompression: gzip costs the Temporal server and screenflow CPU for every call,
// and saves nothing worth it on the small payloads (ids) screenflow sends; gzip is for a link
// where bandwidth costs more than CPU.
var settingTemporalCompression = registry.Setting{Name: "TEMPORAL_GRPC_COMPRESSION", Default: "none"}

// The settings of HR callbacks (package callbacks). Production refuses http and inside addresses;
// dev and tests, whose receivers listen on loopback over http, allow them.
var (
	settingCallbackAllowHTTP    = registry.Setting{Name: "CALLBACK_ALLOW_HTTP", Default: "false"}
	settingCallbackAllowPrivate = registry.Setting{Name: "CALLBACK_ALLOW_PRIVATE", Default: "false"}
	settingCallbackTimeout      = registry.Setting{Name: "CALLBACK_TIMEOUT", Default: "10s"}
	// settingCallbackLogRetention: a month of delivery log is enough to answer "did you send it?"
	// and to redeliver; pending deliveries are kept whatever their age.
	settingCallbackLogRetention = registry.Setting{Name: "CALLBACK_LOG_RETENTION", Default: "720h"}
)

// settingOperatorAPIKey opens the operator API (/v1/operator) to its bearer; unset, that API does
// not exist.
var settingOperatorAPIKey = registry.Setting{Name: "OPERATOR_API_KEY"}

// minOperatorAPIKeyLength: 32 characters of `openssl rand -hex 32` are 128 bits.
const minOperatorAPIKeyLength = 32

var coreSettings = []registry.Setting{settingDatabaseURL, settingTemporalAddress, settingNamespace, settingHTTPAddr,
	settingPublicBaseURL, settingEncryptionKey, settingEncryptionOld, settingWebhookDeadline, settingPollInterval, settingUnroutable,
	settingMaxBackoff, settingConcurrency, settingLease, settingMaxWebhookBytes, settingLogLevel, settingLogFormat,
	settingInboxBatchSize, settingInboxFlush, settingDatabaseConns, settingWorkflowTasks, settingActivities,
	settingLocalActivities, settingWorkflowPollers, settingActivityPollers, settingWorkflowCache,
	settingTemporalTLS, settingTemporalClientCert, settingTemporalClientKey, settingTemporalServerCA,
	settingTemporalServerName, settingTemporalAPIKey, settingScreeningRetention, settingPurgeInterval,
	settingInboxBodyRetention, settingTemporalCompression, settingCallbackAllowHTTP, settingCallbackAllowPrivate,
	settingOperatorAPIKey, settingCallbackTimeout, settingCallbackLogRetention, settingCodecServerAddr, settingCodecServerToken, settingCodecCORSOrigins,
	settingMetricsAddr, settingMetricsToken}

// config is everything screenflow reads from its environment.
type config struct {
	DatabaseURL       string
	TemporalAddress   string
	TemporalNamespace string
	TemporalSecurity  temporalSecurity
	// TemporalGzip compresses the calls to Temporal (TEMPORAL_GRPC_COMPRESSION=gzip).
	TemporalGzip      bool
	HTTPAddr          string
	PublicBaseURL     string
	EncryptionKey     string
	EncryptionOldKeys string
	Timing            workflows.Timing
	UnroutableAfter   time.Duration
	RelayMaxBackoff   time.Duration
	RelayConcurrency  int
	RelayLease        time.Duration
	MaxWebhookBytes   int64
	Inbox             store.InboxWriterConfig
	DatabaseMaxConns  int
	Worker            workerSizes
	Retention         retentionConfig
	LogLevel          string
	LogFormat         string

	// InboxBodyRetention is how long the inbox keeps a finished event's body (store.PurgeWebhookBodies).
	InboxBodyRetention time.Duration

	// Callbacks configures the HR callbacks' dispatcher and what their URLs may point at.
	Callbacks callbacks.Config

	// Metrics is how serve and the worker expose their Prometheus metrics.
	Metrics metricsConfig

	// OperatorAPIKey opens the operator API; "" leaves it out.
	OperatorAPIKey string

	// PayloadCodec encrypts every Temporal payload under keys derived from the encryption keys;
	// nil when SCREENFLOW_ENCRYPTION_KEY is not set, which serve and worker refuse.
	PayloadCodec *codec.Codec
	// CodecServer configures `screenflow codec-server`.
	CodecServer codecServerConfig

	// env is where the settings came from; dev lays the fakes' settings over it.
	env registry.Env
	// Providers are configured from env.
	Providers *registry.Registry
}

// loadConfig reads screenflow's settings and every provider's through env (os.Getenv, or a map
// in tests), and stops at the first setting it cannot use.
func loadConfig(env registry.Env) (config, error) {
	c := config{
		DatabaseURL:       settingDatabaseURL.Get(env),
		TemporalAddress:   settingTemporalAddress.Get(env),
		TemporalNamespace: settingNamespace.Get(env),
		HTTPAddr:          settingHTTPAddr.Get(env),
		PublicBaseURL:     settingPublicBaseURL.Get(env),
		EncryptionKey:     settingEncryptionKey.Get(env),
		EncryptionOldKeys: settingEncryptionOld.Get(env),
		LogLevel:          settingLogLevel.Get(env),
		LogFormat:         settingLogFormat.Get(env),
		OperatorAPIKey:    settingOperatorAPIKey.Get(env),
		env:               env,
		Providers:         builtin.Providers(),
	}
	var err error
	// The operator key reads every provider's events and replays them: one that can be guessed is
	// refused rather than served. The error names the setting, never the key.
	if c.OperatorAPIKey != "" && len(c.OperatorAPIKey) < minOperatorAPIKeyLength {
		return c, fmt.Errorf("%s is shorter than %d characters; generate one with `openssl rand -hex 32`",
			settingOperatorAPIKey.Name, minOperatorAPIKeyLength)
	}
	if c.TemporalSecurity, err = loadTemporalSecurity(env); err != nil {
		return c, err
	}
	switch compression := settingTemporalCompression.Get(env); compression {
	case "none", "gzip":
		c.TemporalGzip = compression == "gzip"
	default:
		return c, fmt.Errorf("%s: %q is neither none nor gzip", settingTemporalCompression.Name, compression)
	}
	if c.Timing.WebhookDeadline, err = envDuration(env, settingWebhookDeadline); err != nil {
		return c, err
	}
	if c.Timing.PollInterval, err = envDuration(env, settingPollInterval); err != nil {
		return c, err
	}
	if c.UnroutableAfter, err = envDuration(env, settingUnroutable); err != nil {
		return c, err
	}
	if c.RelayMaxBackoff, err = envDuration(env, settingMaxBackoff); err != nil {
		return c, err
	}
	relayConcurrency, err := envInt(env, settingConcurrency)
	if err != nil {
		return c, err
	}
	c.RelayConcurrency = int(relayConcurrency)
	if c.RelayLease, err = envDuration(env, settingLease); err != nil {
		return c, err
	}
	if c.MaxWebhookBytes, err = envInt(env, settingMaxWebhookBytes); err != nil {
		return c, err
	}
	if c.Inbox.BatchSize, err = envCount(env, settingInboxBatchSize); err != nil {
		return c, err
	}
	if c.Inbox.FlushInterval, err = envDuration(env, settingInboxFlush); err != nil {
		return c, err
	}
	c.Inbox.AwaitRouteFor = c.UnroutableAfter
	if c.InboxBodyRetention, err = envDuration(env, settingInboxBodyRetention); err != nil {
		return c, err
	}
	if c.DatabaseMaxConns, err = envCount(env, settingDatabaseConns); err != nil {
		return c, err
	}
	if c.Worker, err = loadWorkerSizes(env); err != nil {
		return c, err
	}
	if c.Retention, err = loadRetention(env); err != nil {
		return c, err
	}
	if c.Callbacks.Policy.AllowHTTP, err = envBool(env, settingCallbackAllowHTTP); err != nil {
		return c, err
	}
	if c.Callbacks.Policy.AllowPrivate, err = envBool(env, settingCallbackAllowPrivate); err != nil {
		return c, err
	}
	if c.Callbacks.Timeout, err = envDuration(env, settingCallbackTimeout); err != nil {
		return c, err
	}
	if c.Callbacks.LogRetention, err = envDuration(env, settingCallbackLogRetention); err != nil {
		return c, err
	}
	if c.Metrics, err = loadMetricsConfig(env); err != nil {
		return c, err
	}
	c.CodecServer = loadCodecServerConfig(env)
	if err = c.loadPayloadCodec(); err != nil {
		return c, err
	}
	return c, c.Providers.Configure(env)
}

// envCount reads a setting that counts something: a positive whole number that fits an int.
func envCount(env registry.Env, s registry.Setting) (int, error) {
	n, err := envInt(env, s)
	if err != nil || n > 1<<31-1 {
		return 0, fmt.Errorf("%s=%q is not a positive whole number below 2^31", s.Name, s.Get(env))
	}
	return int(n), nil
}

func (c config) relayConfig() relay.Config {
	return relay.Config{UnroutableAfter: c.UnroutableAfter, MaxBackoff: c.RelayMaxBackoff,
		Concurrency: c.RelayConcurrency, Lease: c.RelayLease, Timing: c.Timing}
}

func (c config) requireDatabase() error {
	if c.DatabaseURL == "" {
		return fmt.Errorf("DATABASE_URL is not set")
	}
	return nil
}

// openDatabase opens the pool of the commands that only read and write rows of their own (no
// sealed data): migrate, tenant, providers lost-calls. The caller closes it.
func (c config) openDatabase(ctx context.Context) (*sqlx.DB, error) {
	if err := c.requireDatabase(); err != nil {
		return nil, err
	}
	return store.Open(ctx, c.DatabaseURL)
}

func envDuration(env registry.Env, s registry.Setting) (time.Duration, error) {
	v := s.Get(env)
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive duration such as 30s or 24h", s.Name, v)
	}
	return d, nil
}

func envBool(env registry.Env, s registry.Setting) (bool, error) {
	v := s.Get(env)
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q is neither true nor false", s.Name, v)
	}
	return b, nil
}

func envInt(env registry.Env, s registry.Setting) (int64, error) {
	v := s.Get(env)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive whole number", s.Name, v)
	}
	return n, nil
}

// openSealedStore opens the database pool, sized by DATABASE_MAX_CONNS, and the store that seals
// candidate data and documents with the keyring, which it returns too: what serve, worker and
// keys rotate start from. The caller closes the pool.
func (c config) openSealedStore(ctx context.Context) (*sqlx.DB, *store.Store, *vault.Vault, error) {
	if err := c.requireDatabase(); err != nil {
		return nil, nil, nil, err
	}
	v, err := c.vault()
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := store.Open(ctx, c.DatabaseURL)
	if err != nil {
		return nil, nil, nil, err
	}
	store.SetPoolSize(db, c.DatabaseMaxConns)
	return db, store.NewSealed(db, v), v, nil
}

// vault loads the keyring that seals candidate PII, documents and Checkr access tokens at rest:
// SCREENFLOW_ENCRYPTION_KEY seals and opens, and the keys of SCREENFLOW_ENCRYPTION_OLD_KEYS, being
// rotated away from, only open. Errors name the setting, never a key.
func (c config) vault() (*vault.Vault, error) {
	if c.EncryptionKey == "" {
		return nil, fmt.Errorf("%s is not set: it seals candidate data and documents at rest; "+
			"generate one with `openssl rand -hex 32`", settingEncryptionKey.Name)
	}
	primary, older, err := c.encryptionKeys()
	if err != nil {
		return nil, err
	}
	v, err := vault.NewKeyring(primary, older...)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", settingEncryptionKey.Name, settingEncryptionOld.Name, err)
	}
	return v, nil
}

// encryptionKeys parses SCREENFLOW_ENCRYPTION_KEY and SCREENFLOW_ENCRYPTION_OLD_KEYS.
func (c config) encryptionKeys() (primary []byte, older [][]byte, err error) {
	if primary, err = vault.ParseKey(c.EncryptionKey); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", settingEncryptionKey.Name, err)
	}
	for i, s := range strings.Split(c.EncryptionOldKeys, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		key, err := vault.ParseKey(s)
		if err != nil {
			return nil, nil, fmt.Errorf("%s, key %d: %w", settingEncryptionOld.Name, i+1, err)
		}
		older = append(older, key)
	}
	return primary, older, nil
}

// loadPayloadCodec sets PayloadCodec from the encryption keys, or to nil when none is set: the
// commands that talk to Temporal (serve, worker, codec-server) refuse to run without one.
func (c *config) loadPayloadCodec() error {
	c.PayloadCodec = nil
	if c.EncryptionKey == "" {
		return nil
	}
	primary, older, err := c.encryptionKeys()
	if err != nil {
		return err
	}
	if c.PayloadCodec, err = codec.New(primary, older...); err != nil {
		return fmt.Errorf("%s, %s: %w", settingEncryptionKey.Name, settingEncryptionOld.Name, err)
	}
	return nil
}

// checkrOAuth is the configured Checkr provider's partner app, for the OAuth endpoints; zero when
// Checkr is not in the registry.
func (c config) checkrOAuth() (builtin.CheckrOAuth, *checkr.Client) {
	p, ok := c.Providers.Get(checkr.Name)
	if !ok {
		return builtin.CheckrOAuth{}, nil
	}
	ck := p.(*builtin.Checkr)
	return ck.OAuth(), ck.Client()
}

// warnings are what the providers' settings leave crippled, to be logged at start-up.
func (c config) warnings() []string {
	var all []string
	for _, p := range c.Providers.All() {
		if w, ok := p.(registry.Warner); ok {
			all = append(all, w.Warnings()...)
		}
	}
	return all
}

// osEnv is the process's environment.
func osEnv(name string) string { return os.Getenv(name) }
