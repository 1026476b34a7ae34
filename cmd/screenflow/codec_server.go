package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/screenflow/screenflow/codec"
	"github.com/screenflow/screenflow/internal/bearer"
	"github.com/screenflow/screenflow/providers/registry"
)

// The settings of `screenflow codec-server`, which decodes payloads for the Temporal Web UI and CLI.
var (
	settingCodecServerAddr = registry.Setting{Name: "CODEC_SERVER_ADDR", Default: ":8089"}
	// settingCodecServerToken has no default: whoever holds it reads every payload.
	settingCodecServerToken = registry.Setting{Name: "CODEC_SERVER_TOKEN"}
	// settingCodecCORSOrigins lists the Web UI origins (comma-separated) whose pages may call the
	// codec server from the browser.
	settingCodecCORSOrigins = registry.Setting{Name: "CODEC_CORS_ORIGINS"}
)

// maxCodecRequestBytes bounds a request's body: the UI sends the payloads of one event or one
// page of events, each at most Temporal's 2 MiB payload limit in practice.
const maxCodecRequestBytes = 16 << 20

type codecServerConfig struct {
	Addr        string
	Token       string
	CORSOrigins []string
}

func loadCodecServerConfig(env registry.Env) codecServerConfig {
	c := codecServerConfig{Addr: settingCodecServerAddr.Get(env), Token: settingCodecServerToken.Get(env)}
	for _, origin := range strings.Split(settingCodecCORSOrigins.Get(env), ",") {
		if origin = strings.TrimSpace(origin); origin != "" {
			c.CORSOrigins = append(c.CORSOrigins, strings.TrimSuffix(origin, "/"))
		}
	}
	return c
}

// runCodecServer serves POST /encode and POST /decode, as the Temporal Web UI and CLI call them,
// until ctx is done.
func runCodecServer(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.PayloadCodec == nil {
		return fmt.Errorf("%s is not set: the codec server decrypts with the keys that serve and worker encrypt with",
			settingEncryptionKey.Name)
	}
	if cfg.CodecServer.Token == "" {
		return fmt.Errorf("%s is not set: without it anyone who reaches the codec server reads every payload; "+
			"generate one with `openssl rand -hex 32`", settingCodecServerToken.Name)
	}
	ln, err := net.Listen("tcp", cfg.CodecServer.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.CodecServer.Addr, err)
	}
	handler := newCodecHandler(cfg.PayloadCodec, cfg.CodecServer.Token, cfg.CodecServer.CORSOrigins)
	log.Info("codec server listening", "addr", ln.Addr().String(), "key_id", cfg.PayloadCodec.PrimaryKeyID(),
		"cors_origins", cfg.CodecServer.CORSOrigins)
	return serveHTTP(ctx, ln, handler)
}

// serveCodec serves handler on ln until ctx is done.
func serveHTTP(ctx context.Context, ln net.Listener, handler http.Handler) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = srv.Shutdown(shutdownCtx)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// newCodecHandler answers the Temporal codec server protocol with c. token, when not empty, must
// come as "Authorization: Bearer <token>" (the CLI's --codec-auth). Browsers calling from one of
// corsOrigins (the Web UI) are allowed to: the UI sends Content-Type, X-Namespace and, with
// codec.passAccessToken, Authorization.
func newCodecHandler(c *codec.Codec, token string, corsOrigins []string) http.Handler {
	payloads := converter.NewPayloadCodecHTTPHandler(c)
	mux := http.NewServeMux()
	mux.Handle("POST /encode", payloads)
	mux.Handle("POST /decode", payloads)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(corsOrigins, origin)
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		w.Header().Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			// A preflight carries no credentials; it only asks what the real request may do.
			if !allowed {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if token != "" && !bearer.Matches(r.Header.Get("Authorization"), token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="screenflow codec server"`)
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxCodecRequestBytes)
		mux.ServeHTTP(w, r)
	})
}
