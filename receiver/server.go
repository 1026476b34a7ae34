// Package receiver is screenflow's HTTP edge (gin): provider webhooks, the HR API and health
// checks. It is thin: it verifies, stores and hands off; workflows do the work.
package receiver

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/screenflow/screenflow/callbacks"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/workflows"
)

// DefaultMaxWebhookBytes bounds a webhook body: larger ones are refused with 413, never truncated.
const DefaultMaxWebhookBytes = 1 << 20

// Relay hands stored work to Temporal (see package relay).
type Relay interface {
	// Notify asks for a newly stored webhook event to be delivered at once.
	Notify(eventID int64)
	// StartScreening starts a stored screening's workflow and records that it started.
	StartScreening(ctx context.Context, scr store.Screening) error
}

// Inbox commits verified webhook events: store.InboxWriter, which commits concurrent ones in one
// transaction.
type Inbox interface {
	InsertWebhookEvent(ctx context.Context, e store.NewInboxEvent) (store.StoredEvent, error)
}

// eventByEvent is the inbox of a receiver given none: each event in its own transaction, none
// parked to await its route.
type eventByEvent struct{ st *store.Store }

func (i eventByEvent) InsertWebhookEvent(ctx context.Context, e store.NewInboxEvent) (store.StoredEvent, error) {
	id, inserted, err := i.st.InsertWebhookEvent(ctx, e)
	return store.StoredEvent{ID: id, Inserted: inserted}, err
}

// Config holds the receiver's settings.
type Config struct {
	// Providers are the configured providers: their checks, webhooks (/webhooks/<name>) and
	// signals.
	Providers       *registry.Registry
	MaxWebhookBytes int64
	Timing          workflows.Timing
	Checkr          CheckrConfig
	// Inbox stores the webhooks; nil stores each in its own transaction through the store.
	Inbox Inbox
	// Callbacks is what a tenant's webhook endpoint URL may point at.
	Callbacks callbacks.Policy
	// Webhooks, when set, is told of every webhook answered (metrics).
	Webhooks WebhookObserver
	// Metrics, when set, is served at GET /metrics: operators', not the HR API's, and guarded by
	// its own token (METRICS_TOKEN) rather than a tenant's key.
	Metrics http.Handler
	// OperatorAPIKey opens the operator API (/v1/operator, see operator.go) to its bearer; without
	// it the operator API does not exist.
	OperatorAPIKey string
}

// CheckrConfig is what connecting customers' Checkr accounts through OAuth needs.
type CheckrConfig struct {
	ClientID     string         // partner app, for OAuth
	ClientSecret string         // partner app, for OAuth
	AuthorizeURL string         // e.g. https://partners.checkr.com/authorize
	RedirectURL  string         // our /oauth/checkr/callback as registered with Checkr
	Client       *checkr.Client // for token exchange and deauthorization
	Vault        *vault.Vault   // seals access tokens at rest
}

// Server holds the receiver's dependencies.
type Server struct {
	cfg      Config
	store    *store.Store
	inbox    Inbox
	temporal client.Client
	relay    Relay
	log      *slog.Logger
}

// New builds the gin engine with every route.
func New(cfg Config, st *store.Store, tc client.Client, relay Relay, log *slog.Logger) *gin.Engine {
	if cfg.MaxWebhookBytes <= 0 {
		cfg.MaxWebhookBytes = DefaultMaxWebhookBytes
	}
	inbox := cfg.Inbox
	if inbox == nil {
		inbox = eventByEvent{st}
	}
	s := &Server{cfg: cfg, store: st, inbox: inbox, temporal: tc, relay: relay, log: log}

	r := gin.New()
	// A webhook or API path with an extra slash is answered for what it is, not redirected: a
	// provider does not follow a redirect with its POST, and a 307 would hide the real answer.
	r.RedirectTrailingSlash = false
	r.Use(gin.Recovery(), s.accessLog)
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/openapi.json", openAPI)
	if cfg.Metrics != nil {
		r.GET("/metrics", gin.WrapH(cfg.Metrics))
	}
	for _, p := range cfg.Providers.All() {
		// A provider that signs nothing (Authenticate) is told apart by a secret last segment.
		// Without it too, so that a missing token gets the same 401 as a wrong one, not a 404.
		r.POST("/webhooks/"+p.Name(), s.webhook(p))
		r.POST("/webhooks/"+p.Name()+"/", s.webhook(p))
		r.POST("/webhooks/"+p.Name()+"/:token", s.webhook(p))
	}
	r.GET("/oauth/checkr/callback", s.checkrCallback)

	api := r.Group("/v1", s.authenticate)
	api.POST("/screenings", s.createScreening)
	api.GET("/screenings/:id", s.getScreening)
	api.GET("/screenings/:id/documents/:document_id", s.getDocument)
	api.POST("/screenings/:id/cancel", s.cancelScreening)
	api.DELETE("/candidates/*reference", s.eraseCandidate)
	api.GET("/integrations/checkr/connect", s.checkrConnect)
	api.POST("/integrations/checkr/:account/disconnect", s.checkrDisconnect)
	api.GET("/audit-events", s.listAuditEvents)
	api.POST("/webhook-endpoints", s.createWebhookEndpoint)
	api.GET("/webhook-endpoints", s.listWebhookEndpoints)
	api.GET("/webhook-endpoints/:id", s.getWebhookEndpoint)
	api.DELETE("/webhook-endpoints/:id", s.deleteWebhookEndpoint)
	api.POST("/webhook-endpoints/:id/rotate-secret", s.rotateWebhookSecret)
	api.POST("/webhook-endpoints/:id/enable", s.enableWebhookEndpoint)
	api.GET("/webhook-endpoints/:id/deliveries", s.listDeliveries)
	api.POST("/webhook-endpoints/:id/deliveries/:delivery_id/redeliver", s.redeliver)
	if cfg.OperatorAPIKey != "" {
		s.registerOperatorRoutes(r)
	}
	return r
}

// accessLog logs method, route pattern and status only: paths and bodies may carry ids the HR
// platform considers sensitive, and bodies carry PII.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	level := slog.LevelDebug
	if c.Writer.Status() >= http.StatusInternalServerError {
		level = slog.LevelWarn
	}
	s.log.Log(c.Request.Context(), level, "http request", "method", c.Request.Method, "route", c.FullPath(),
		"status", c.Writer.Status(), "duration", time.Since(start))
}

// errorBody is every error answer's shape.
type errorBody struct {
	Error   string            `json:"error"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func abortWithError(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, errorBody{Error: code, Message: message})
}
