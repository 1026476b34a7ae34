package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/screenflow/screenflow/callbacks"
	"github.com/screenflow/screenflow/codec"
	"github.com/screenflow/screenflow/receiver"
	"github.com/screenflow/screenflow/relay"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/worker"
)

func runServe(ctx context.Context, cfg config, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	return serve(ctx, cfg, log, ln)
}

// serve runs the HTTP server, the relay and the callbacks' dispatcher on ln until ctx is done. The
// Temporal client is lazy: the server starts, stores and acknowledges webhooks while Temporal is
// down; the relay delivers once it is back.
func serve(ctx context.Context, cfg config, log *slog.Logger, ln net.Listener) error {
	for _, w := range cfg.warnings() {
		log.Warn(w)
	}
	db, st, v, err := cfg.openSealedStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	oauth, checkrClient := cfg.checkrOAuth()
	// Closed after the HTTP server has shut down (defers run last first), so that the webhooks
	// still in flight are committed and answered.
	inbox := store.NewInboxWriter(st, cfg.Inbox)
	defer inbox.Close()
	m := newServeMetrics(cfg, st, log)
	defer m.close()
	cfg.Metrics.Temporal = m.temporal

	tc, err := client.NewLazyClient(temporalOptions(cfg, log))
	if err != nil {
		return fmt.Errorf("temporal client: %w", err)
	}
	defer tc.Close()

	relayConfig := cfg.relayConfig()
	relayConfig.Observer = m.relay
	rl := relay.New(st, tc, cfg.Providers, relayConfig, log)
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		rl.Run(ctx)
	}()
	dispatcher := callbacks.NewDispatcher(st, cfg.Callbacks, log)
	dispatcherDone := make(chan struct{})
	go func() {
		defer close(dispatcherDone)
		dispatcher.Run(ctx)
	}()

	gin.SetMode(gin.ReleaseMode)
	srv := &http.Server{
		Handler: receiver.New(receiver.Config{
			Providers: cfg.Providers,
			Checkr: receiver.CheckrConfig{
				ClientID: oauth.ClientID, ClientSecret: oauth.ClientSecret,
				AuthorizeURL: oauth.AuthorizeURL, RedirectURL: oauth.RedirectURL,
				Client: checkrClient, Vault: v,
			},
			MaxWebhookBytes: cfg.MaxWebhookBytes,
			Timing:          cfg.Timing,
			Inbox:           inbox,
			Callbacks:       cfg.Callbacks.Policy,
			OperatorAPIKey:  cfg.OperatorAPIKey,
			Webhooks:        m.webhooks,
			Metrics:         m.handler,
		}, st, tc, rl, log),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("http server listening", "addr", ln.Addr().String())

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = srv.Shutdown(shutdownCtx)
	}
	<-relayDone
	<-dispatcherDone
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func temporalOptions(cfg config, log *slog.Logger) client.Options {
	opts := client.Options{
		HostPort:          cfg.TemporalAddress,
		Namespace:         cfg.TemporalNamespace,
		Logger:            tlog.NewStructuredLogger(slog.New(worker.LogIDs(log.Handler())).With("component", "temporal")),
		MetricsHandler:    cfg.Metrics.Temporal,
		ConnectionOptions: client.ConnectionOptions{TLS: cfg.TemporalSecurity.TLS, GrpcCompression: &client.GrpcCompressionNone{}},
	}
	if cfg.TemporalGzip {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionGzip{}
	}
	if cfg.TemporalSecurity.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.TemporalSecurity.APIKey)
	}
	// Every payload is encrypted before it leaves the process, so that Temporal's history holds
	// none readable. Failure messages are not (see codec.DataConverter).
	if cfg.PayloadCodec != nil {
		opts.DataConverter = codec.DataConverter(cfg.PayloadCodec)
	}
	return opts
}
