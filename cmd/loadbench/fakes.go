package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	authfake "github.com/screenflow/screenflow/providers/authenticate/fake"
	checkrfake "github.com/screenflow/screenflow/providers/checkr/fake"
	"github.com/screenflow/screenflow/providers/complycube"
	ccfake "github.com/screenflow/screenflow/providers/complycube/fake"
)

// The fakes' credentials. A running stack measured with -api-url must be configured with them
// (-print-env prints its settings).
const (
	complyCubeKey    = "loadbench-complycube-key"
	complyCubeSecret = "loadbench-complycube-webhook-secret"
	authenticateKey  = "loadbench-authenticate-key"
	authCompanyCode  = "loadbench-company"
	authWebhookToken = "loadbench5f0e1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433"
	checkrKey        = "loadbench-checkr-direct-key"
	// holdPath is where the fake ComplyCube sends its webhooks: the bench's completionHolder.
	holdPath = "/hold/complycube"
)

// fakes are the three providers' fakes on one listener in the bench's process, each under its
// name (/complycube/v1/..., /authenticate/..., /checkr/v1/...).
type fakes struct {
	url          string
	complyCube   *ccfake.Server
	authenticate *authfake.Server
	checkr       *checkrfake.Server
	holder       *completionHolder
	srv          *http.Server
}

// webhookClient sends the fakes' webhooks and the holder's forwards. Its connections are bounded
// and kept, so that thousands of webhooks at once do not exhaust loopback ports.
func webhookClient() *http.Client {
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 64, MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, IdleConnTimeout: time.Minute,
	}}
}

// startFakes serves the fakes on addr. Their webhooks go to the screenflow at apiURL: Authenticate's
// and Checkr's straight away, ComplyCube's through the holder, which keeps check completions
// until the bench sends them.
func startFakes(addr, apiURL string, log *slog.Logger) (*fakes, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakes: listen on %s: %w", addr, err)
	}
	url := "http://" + ln.Addr().String()
	f := &fakes{url: url, holder: newCompletionHolder(apiURL + "/webhooks/complycube")}
	f.complyCube = ccfake.New(ccfake.Options{
		APIKey: complyCubeKey, WebhookSecret: complyCubeSecret, WebhookURL: url + holdPath,
		CompletionDelay: -1, // the bench completes every check, when its phase says so
		HTTPClient:      webhookClient(), Logger: log.With("fake", "complycube"),
	})
	f.authenticate = authfake.New(authfake.Options{
		APIKey: authenticateKey, CompanyAccessCode: authCompanyCode,
		WebhookURL:  apiURL + "/webhooks/authenticate/" + authWebhookToken,
		SearchDelay: 150 * time.Millisecond, PDFDelay: 100 * time.Millisecond, RateLimit: 50 * time.Millisecond,
		HTTPClient: webhookClient(), Logger: log.With("fake", "authenticate"),
	})
	f.authenticate.SetBaseURL(url + "/authenticate")
	f.checkr = checkrfake.New(checkrfake.Options{
		APIKey: checkrKey, WebhookURL: apiURL + "/webhooks/checkr",
		ReportDelay: 300 * time.Millisecond, InvitationDelay: -1,
		HTTPClient: webhookClient(), Logger: log.With("fake", "checkr"),
	})
	f.checkr.SetBaseURL(url + "/checkr")

	mux := http.NewServeMux()
	mux.Handle("/complycube/", http.StripPrefix("/complycube", f.complyCube))
	mux.Handle("/authenticate/", http.StripPrefix("/authenticate", f.authenticate))
	mux.Handle("/checkr/", http.StripPrefix("/checkr", f.checkr))
	mux.Handle(holdPath, f.holder)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(ln)
	return f, nil
}

func (f *fakes) close() {
	f.srv.Close()
	f.complyCube.Close()
	f.authenticate.Close()
	f.checkr.Close()
}

// stackEnv is the configuration screenflow needs to run against the bench's fakes, as the
// README's configuration table names it. Long webhook deadlines keep polling out of the figures.
func stackEnv(fakesURL, apiURL string) []string {
	return []string{
		"COMPLYCUBE_BASE_URL=" + fakesURL + "/complycube/v1",
		"COMPLYCUBE_API_KEY=" + complyCubeKey,
		"COMPLYCUBE_WEBHOOK_SECRET=" + complyCubeSecret,
		"AUTHENTICATE_BASE_URL=" + fakesURL + "/authenticate",
		"AUTHENTICATE_API_KEY=" + authenticateKey,
		"AUTHENTICATE_COMPANY_ACCESS_CODE=" + authCompanyCode,
		"AUTHENTICATE_WEBHOOK_TOKEN=" + authWebhookToken,
		"PUBLIC_BASE_URL=" + apiURL,
		"CHECKR_BASE_URL=" + fakesURL + "/checkr",
		"CHECKR_API_KEY=" + checkrKey,
		"CHECK_WEBHOOK_DEADLINE=1h",
		"CHECK_POLL_INTERVAL=1h",
	}
}

// printStackEnv prints the settings of a stack to be measured with -api-url: its fakes must be
// where -fakes-addr says, so that address needs a fixed port.
func printStackEnv(w io.Writer, cfg config) {
	apiURL := cfg.apiURL
	if apiURL == "" {
		apiURL = "http://<the stack's HTTP_ADDR>"
	}
	fmt.Fprintf(w, "# settings for serve and worker, to measure them with loadbench -api-url %s -fakes-addr %s\n", apiURL, cfg.fakesAddr)
	for _, kv := range stackEnv("http://"+cfg.fakesAddr, apiURL) {
		fmt.Fprintln(w, kv)
	}
}

// heldWebhook is a signed webhook of the fake ComplyCube, kept as it was sent.
type heldWebhook struct {
	CheckID   string
	EventID   string
	Type      string
	Body      []byte
	Signature string
}

// completionHolder stands between the fake ComplyCube and screenflow. It passes every webhook on
// at once except check completions, which it keeps by check until the bench sends them itself, at
// the rate and concurrency a phase needs.
type completionHolder struct {
	target string
	client *http.Client

	mu   sync.Mutex
	held map[string][]heldWebhook // by ComplyCube check id
}

func newCompletionHolder(target string) *completionHolder {
	return &completionHolder{target: target, client: webhookClient(), held: map[string][]heldWebhook{}}
}

func (h *completionHolder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ev struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Payload struct {
			ID string `json:"id"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "not a ComplyCube event: "+err.Error(), http.StatusBadRequest)
		return
	}
	signature := r.Header.Get(complycube.SignatureHeader)
	if complycube.IsCheckCompletion(ev.Type) {
		h.mu.Lock()
		h.held[ev.Payload.ID] = append(h.held[ev.Payload.ID],
			heldWebhook{CheckID: ev.Payload.ID, EventID: ev.ID, Type: ev.Type, Body: body, Signature: signature})
		h.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, h.target, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(complycube.SignatureHeader, signature)
	resp, err := h.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
}

// completionsPerCheck is what the fake sends when a check completes: check.completed and
// check.completed.<outcome>.
const completionsPerCheck = 2

// waitHeld waits until every check's completions are held.
func (h *completionHolder) waitHeld(ctx context.Context, checkIDs []string, within time.Duration) error {
	return waitUntil(ctx, within, "completion webhooks held", func() (bool, string, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		missing := 0
		for _, id := range checkIDs {
			if len(h.held[id]) < completionsPerCheck {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d checks still missing their completions", missing, len(checkIDs)), nil
	})
}

// take removes and returns the held completions of the checks, in the checks' order and, within
// a check, check.completed first, as ComplyCube sends them.
func (h *completionHolder) take(checkIDs []string) []heldWebhook {
	h.mu.Lock()
	defer h.mu.Unlock()
	var all []heldWebhook
	for _, id := range checkIDs {
		events := h.held[id]
		delete(h.held, id)
		slices.SortStableFunc(events, func(a, b heldWebhook) int { return len(a.Type) - len(b.Type) })
		all = append(all, events...)
	}
	return all
}

// completeChecks completes the checks at the fake ComplyCube, whose completions the holder then
// keeps, and waits until it has them all.
func (f *fakes) completeChecks(ctx context.Context, providerCheckIDs []string, within time.Duration) error {
	for _, id := range providerCheckIDs {
		if err := f.complyCube.CompleteCheck(id, complycube.OutcomeClear); err != nil {
			return err
		}
	}
	return f.holder.waitHeld(ctx, providerCheckIDs, within)
}
