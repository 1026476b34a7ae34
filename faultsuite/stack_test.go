//go:build fault && linux

package faultsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/screenflow/screenflow/providers/complycube/fake"
	"github.com/screenflow/screenflow/vault"
)

const (
	complyCubeKey    = "fault-complycube-key"
	complyCubeSecret = "fault-webhook-secret"
	// unusedBaseURL is where the providers this suite does not use point: a loopback port nothing
	// listens on, so that a mistake fails fast instead of reaching the internet.
	unusedBaseURL = "http://127.0.0.1:9"
)

// stack is the fault suite's system under test on its platform: serve and worker as processes of
// the binary, and the fake ComplyCube served in this process behind a spy that counts what it
// creates.
type stack struct {
	*platform
	bin string

	fake    *fake.Server
	spy     *spy
	fakeSrv *httptest.Server
	apiURL  string // serve's, http://127.0.0.1:<port>
	apiKey  string // the tenant's
	env     []string

	serve  *proc
	worker *proc
}

// startStack builds the binary and starts everything. Cleanup stops it all.
func startStack(ctx context.Context, t *testing.T, l *ledger) *stack {
	t.Helper()
	s := &stack{platform: startPlatform(ctx, t, l, "fault")}
	s.bin = filepath.Join(s.dir, "screenflow")
	if err := buildScreenflow(ctx, s.root, s.bin); err != nil {
		t.Fatal(err)
	}

	// serve's address is fixed for the run: the fake's webhook URL points at it across restarts.
	httpAddr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	s.apiURL = "http://" + httpAddr
	fakeLog, err := os.Create(filepath.Join(s.dir, "fake-complycube.log"))
	if err != nil {
		t.Fatal(err)
	}
	// The fake keeps ComplyCube's retry schedule (scaled from seconds to milliseconds): ten retries
	// over about two minutes, then the webhook is disabled. Every outage here is shorter.
	s.fake = fake.New(fake.Options{
		APIKey: complyCubeKey, WebhookSecret: complyCubeSecret, WebhookURL: s.apiURL + "/webhooks/complycube",
		CompletionDelay: -1, // the suite completes every check itself, when its phase says so
		Logger:          slog.New(slog.NewTextHandler(fakeLog, nil)),
	})
	s.spy = newSpy(s.fake)
	s.fakeSrv = httptest.NewServer(s.spy) // 127.0.0.1
	t.Cleanup(func() {
		s.fakeSrv.Close()
		s.fake.Close()
		fakeLog.Close()
	})

	// Settings as the README's configuration table names them, plus PATH and HOME; nothing else is
	// inherited from the suite's environment, so that a DATABASE_URL there cannot redirect it.
	s.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + s.pg.URL,
		"TEMPORAL_ADDRESS=" + s.temporalAddr,
		"TEMPORAL_NAMESPACE=default",
		"HTTP_ADDR=" + httpAddr,
		"COMPLYCUBE_BASE_URL=" + s.fakeSrv.URL + "/v1",
		"COMPLYCUBE_API_KEY=" + complyCubeKey,
		"COMPLYCUBE_WEBHOOK_SECRET=" + complyCubeSecret,
		"AUTHENTICATE_BASE_URL=" + unusedBaseURL,
		"CHECKR_BASE_URL=" + unusedBaseURL,
		"CHECK_WEBHOOK_DEADLINE=" + webhookDeadline.String(),
		"CHECK_POLL_INTERVAL=" + pollInterval.String(),
		"RELAY_MAX_BACKOFF=1s",
		"SCREENFLOW_ENCRYPTION_KEY=" + vault.NewKey(),
		"LOG_LEVEL=info",
		"LOG_FORMAT=text",
	}

	if out, err := runCommand(ctx, s.bin, s.env, "migrate"); err != nil {
		t.Fatalf("screenflow migrate: %v\n%s", err, out)
	}
	out, err := runCommand(ctx, s.bin, s.env, "tenant", "create", "fault-suite")
	if err != nil {
		t.Fatalf("screenflow tenant create: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s.apiKey = strings.TrimSpace(lines[len(lines)-1])

	s.serve = s.newProc("serve", s.bin, s.env, serveReady, "serve")
	s.worker = s.newProc("worker", s.bin, s.env, workerReady, "worker")
	t.Cleanup(func() {
		// Stopped before Temporal and Postgres, and gracefully: both must shut down cleanly.
		for _, p := range []*proc{s.serve, s.worker} {
			if err := p.stop(); err != nil {
				t.Error(err)
			}
		}
	})
	for _, p := range []*proc{s.serve, s.worker} {
		if err := p.start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// spy stands between the worker and the fake ComplyCube. It counts what the fake created, read
// from the fake's own answers (the ids and the client's externalId, our check id), so that a second
// client or check ordered for one of our checks shows. A trap holds one answer back, runs its
// action (SIGKILL the worker), and only then lets the answer go to a caller that is dead: the
// provider did the work, and the worker never learnt it.
type spy struct {
	next http.Handler

	mu       sync.Mutex
	clients  []createdResource // POST /v1/clients answered 200
	checks   []createdResource // POST /v1/checks answered 200
	answered map[string]int    // by route, every status
	traps    []*trap
}

type createdResource struct {
	ID    string
	Owner string // a client's externalId (our check id); a check's clientId
}

// trap fires once, at the after-th 200 answer on its route (about what match accepts, if set)
// counted from when it was set.
type trap struct {
	route  string
	match  func(about createdResource) bool
	after  int
	seen   int
	action func()
	fired  chan struct{} // closed once action has run
	// hit is what the withheld answer was about: the client or check it created (with its
	// externalId or clientId), or for a report the check id asked for. Read it once fired.
	hit createdResource
}

func newSpy(next http.Handler) *spy {
	return &spy{next: next, answered: map[string]int{}}
}

// setTrap arms a trap; its fired channel closes once it has fired. match may be nil.
func (s *spy) setTrap(route string, match func(createdResource) bool, after int, action func()) *trap {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr := &trap{route: route, match: match, after: after, action: action, fired: make(chan struct{})}
	s.traps = append(s.traps, tr)
	return tr
}

func (s *spy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	s.next.ServeHTTP(rec, r)
	route := routeOf(r)
	if tr := s.record(route, r, rec); tr != nil {
		tr.action()
		close(tr.fired)
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes()) // the caller may be dead: that is the point of a trap
}

// record counts one answer and returns the trap it springs, if any.
func (s *spy) record(route string, r *http.Request, rec *httptest.ResponseRecorder) *trap {
	if rec.Code != http.StatusOK {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.answered[route]++
		return nil
	}
	var answer struct {
		ID         string `json:"id"`
		ExternalID string `json:"externalId"`
		ClientID   string `json:"clientId"`
	}
	var about createdResource
	switch route {
	case routeCreateClient:
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		about = createdResource{ID: answer.ID, Owner: answer.ExternalID}
	case routeCreateCheck:
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		about = createdResource{ID: answer.ID, Owner: answer.ClientID}
	case routeGetReport:
		about = createdResource{ID: r.URL.Query().Get("checkId")}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answered[route]++
	switch route {
	case routeCreateClient:
		s.clients = append(s.clients, about)
	case routeCreateCheck:
		s.checks = append(s.checks, about)
	}
	for i, tr := range s.traps {
		if tr.route != route || (tr.match != nil && !tr.match(about)) {
			continue
		}
		if tr.seen++; tr.seen == tr.after {
			tr.hit = about
			s.traps = append(s.traps[:i], s.traps[i+1:]...)
			return tr
		}
	}
	return nil
}

// snapshot returns what the fake created and how often each route answered.
func (s *spy) snapshot() (clients, checks []createdResource, answered map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]createdResource(nil), s.clients...), append([]createdResource(nil), s.checks...), maps.Clone(s.answered)
}

const (
	routeCreateClient = "POST /v1/clients"
	routeCreateCheck  = "POST /v1/checks"
	routeListChecks   = "GET /v1/checks"
	routeGetCheck     = "GET /v1/checks/{id}"
	routeGetReport    = "GET /v1/reports"
)

func routeOf(r *http.Request) string {
	route := r.Method + " " + r.URL.Path
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/checks/") {
		return routeGetCheck
	}
	return route
}

// createScreening orders a screening with one ComplyCube check through the HR API.
func (s *stack) createScreening(ctx context.Context, n int) (screeningID, checkID string, err error) {
	body, err := json.Marshal(map[string]any{
		"candidate": map[string]string{
			"reference": fmt.Sprintf("fault-%02d", n), "first_name": "Grace", "last_name": fmt.Sprintf("Hopper-%02d", n),
			"email": fmt.Sprintf("candidate-%02d@example.com", n), "dob": "1990-12-09",
			"address_line1": "1 Loopback Lane", "country": "GBR",
		},
		"checks": []map[string]string{{"provider": "complycube", "type": "standard_screening_check"}},
	})
	if err != nil {
		return "", "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+"/v1/screenings", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("fault-suite-%02d", n))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("POST /v1/screenings: %s: %s", resp.Status, raw)
	}
	var created struct {
		ID     string `json:"id"`
		Checks []struct {
			ID string `json:"id"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(raw, &created); err != nil {
		return "", "", err
	}
	if len(created.Checks) != 1 {
		return "", "", fmt.Errorf("POST /v1/screenings answered %d checks: %s", len(created.Checks), raw)
	}
	return created.ID, created.Checks[0].ID, nil
}
