package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/screenflow/screenflow/store"
)

// devCallbackAddr is where `screenflow dev` plays the HR platform: the dev tenant's webhook
// endpoint points here, and every callback that arrives is verified and printed.
const (
	devCallbackAddr     = "127.0.0.1:8088"
	devCallbackPath     = "/hr-callbacks"
	devCallbackFileName = "dev-callback-endpoint"
	maxDevCallbackBytes = 1 << 20
)

// startDevCallbackReceiver listens on devCallbackAddr, makes sure the dev tenant has an endpoint
// subscribed to every event there, and prints each callback to out once it verified its signature
// with the endpoint's secret, the way an HR platform would. It returns the receiver's URL.
func startDevCallbackReceiver(ctx context.Context, cfg config, dataDir, tenantKey string, out io.Writer) (string, func(), error) {
	ln, err := net.Listen("tcp", devCallbackAddr)
	if err != nil {
		return "", nil, fmt.Errorf("dev callback receiver: listen on %s: %w", devCallbackAddr, err)
	}
	url := "http://" + devCallbackAddr + devCallbackPath
	secret, err := ensureDevEndpoint(ctx, cfg, filepath.Join(dataDir, devCallbackFileName), tenantKey, url)
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	verifier, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		ln.Close()
		return "", nil, fmt.Errorf("dev callback receiver: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+devCallbackPath, devCallbackHandler(verifier, out))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return url, func() { srv.Close() }, nil
}

// ensureDevEndpoint returns the secret of the dev tenant's endpoint at url, registering one the
// first time. The secret is shown once, so it is kept in .data (git-ignored, this machine only)
// with the endpoint's id; a new database, or an endpoint deleted through the API, gets a new one.
func ensureDevEndpoint(ctx context.Context, cfg config, file, tenantKey, url string) (string, error) {
	db, st, _, err := cfg.openSealedStore(ctx)
	if err != nil {
		return "", err
	}
	defer db.Close()
	tenant, err := st.TenantByAPIKey(ctx, tenantKey)
	if err != nil {
		return "", fmt.Errorf("dev tenant: %w", err)
	}
	if raw, err := os.ReadFile(file); err == nil {
		if id, secret, ok := strings.Cut(strings.TrimSpace(string(raw)), " "); ok {
			e, err := st.WebhookEndpoint(ctx, tenant.ID, id)
			if err == nil && e.URL == url {
				return secret, nil
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return "", err
			}
		}
	}
	e, secret, err := st.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{TenantID: tenant.ID, URL: url,
		EventTypes: store.CallbackEventTypes, Enabled: true})
	if err != nil {
		return "", fmt.Errorf("dev callback endpoint: %w", err)
	}
	if err := os.WriteFile(file, []byte(e.ID+" "+secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return secret, nil
}

// devCallbackHandler answers 204 to a callback whose signature verifies and prints it; anything
// else it answers 400 and reports, so a broken signature shows in the dev output at once.
func devCallbackHandler(verifier *standardwebhooks.Webhook, out io.Writer) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDevCallbackBytes))
		if err == nil {
			err = verifier.Verify(body, r.Header)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			fmt.Fprintf(out, "callback %s NOT verified: %v\n", r.Header.Get("webhook-id"), err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		fmt.Fprintln(out, describeCallback(body))
		w.WriteHeader(http.StatusNoContent)
	})
}

// describeCallback is the one line the dev output shows of a verified callback.
func describeCallback(body []byte) string {
	var event struct {
		Type     string `json:"type"`
		Sequence int64  `json:"sequence"`
		Data     struct {
			ScreeningID     string `json:"screening_id"`
			Status          string `json:"status"`
			Result          string `json:"result"`
			PreviousResult  string `json:"previous_result"`
			Provider        string `json:"provider"`
			Outcome         string `json:"outcome"`
			PreviousOutcome string `json:"previous_outcome"`
			Links           struct {
				Document string `json:"document"`
			} `json:"links"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &event); err != nil {
		return "callback verified, but not JSON: " + err.Error()
	}
	d := event.Data
	line := fmt.Sprintf("callback verified  %-24s screening %s #%d", event.Type, d.ScreeningID, event.Sequence)
	for _, f := range []struct{ name, value string }{{"provider", d.Provider}, {"status", d.Status},
		{"outcome", d.Outcome}, {"was", d.PreviousOutcome}, {"result", d.Result}, {"was", d.PreviousResult},
		{"document", d.Links.Document}} {
		if f.value != "" {
			line += " " + f.name + "=" + f.value
		}
	}
	return line
}
