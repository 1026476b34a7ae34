//go:build fault && linux

package faultsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the suite reads Postgres directly for its ledger

	"github.com/screenflow/screenflow/devenv"
	"github.com/screenflow/screenflow/providers/complycube/fake"
	"github.com/screenflow/screenflow/workflows"
)

const (
	complyCubeKey    = "fault-complycube-key"
	complyCubeSecret = "fault-webhook-secret"
	// unusedBaseURL is where the providers this suite does not use point: a loopback port nothing
	// listens on, so that a mistake fails fast instead of reaching the internet.
	unusedBaseURL = "http://127.0.0.1:9"
	startTimeout  = time.Minute
)

// stack is the system under test, every part restartable at the same address: Postgres and
// Temporal through devenv, serve and worker as processes of the binary, and the fake ComplyCube
// served in this process behind a spy that counts what it creates.
type stack struct {
	t      *testing.T
	ledger *ledger
	root   string // the repository
	dir    string // everything this run writes: binary, data, logs
	bin    string

	pgOpts    devenv.PostgresOptions
	pg        *devenv.Postgres
	pgStopped time.Time

	tOpts        devenv.TemporalOptions
	temporalAddr string // host:port, the same across restarts
	tWedged      chan struct{}
	// tMu guards Temporal's lifecycle: a phase and the watchdog both stop and start it.
	tMu       sync.Mutex
	temporal  *devenv.Temporal
	tDown     bool // stopped on purpose by a phase
	tStopped  time.Time
	tRestarts int // by the watchdog

	fake    *fake.Server
	spy     *spy
	fakeSrv *httptest.Server
	apiURL  string // serve's, http://127.0.0.1:<port>
	apiKey  string // the tenant's
	env     []string

	serve  *proc
	worker *proc
	db     *sqlx.DB // the suite's own pool, for waiting and for the ledger
}

// startStack builds the binary and starts everything. Cleanup stops it all; the run's directory
// is removed unless the test failed, when its logs are what explains the failure.
func startStack(ctx context.Context, t *testing.T, l *ledger) *stack {
	t.Helper()
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "screenflow-fault-")
	if err != nil {
		t.Fatal(err)
	}
	// When we are root, Postgres runs as another user, who must be able to enter the directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, ledger: l, root: root, dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("fault suite: logs and data kept in %s", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})

	s.bin = filepath.Join(dir, "screenflow")
	build := exec.CommandContext(ctx, "go", "build", "-o", s.bin, "./cmd/screenflow")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/screenflow: %v\n%s", err, out)
	}

	s.startPostgres(ctx)
	s.startTemporal(ctx)

	// serve's address is fixed for the run: the fake's webhook URL points at it across restarts.
	httpAddr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	s.apiURL = "http://" + httpAddr
	fakeLog, err := os.Create(filepath.Join(dir, "fake-complycube.log"))
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
		"LOG_LEVEL=info",
		"LOG_FORMAT=text",
	}

	if out, err := s.runCommand(ctx, "migrate"); err != nil {
		t.Fatalf("screenflow migrate: %v\n%s", err, out)
	}
	out, err := s.runCommand(ctx, "tenant", "create", "fault-suite")
	if err != nil {
		t.Fatalf("screenflow tenant create: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s.apiKey = strings.TrimSpace(lines[len(lines)-1])

	s.serve = s.newProc("serve", "http server listening")
	s.worker = s.newProc("worker", "worker started")
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

	s.db, err = sqlx.Open("postgres", s.pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	// No idle connections: Postgres restarts under the suite, and a fresh connection per query
	// never finds one of the old server's.
	s.db.SetMaxIdleConns(0)
	t.Cleanup(func() { s.db.Close() })
	return s
}

func (s *stack) startPostgres(ctx context.Context) {
	t := s.t
	pgLog, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	// NoFsync is safe here: the suite stops Postgres cleanly, and a crash of the machine only loses
	// a throwaway cluster.
	s.pgOpts = devenv.PostgresOptions{Dir: filepath.Join(s.dir, "postgres"), NoFsync: true, Log: pgLog}
	s.pg, err = devenv.StartPostgres(ctx, s.pgOpts)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	// A restart must come back where serve and the worker look for it.
	if s.pgOpts.Port, err = strconv.Atoi(u.Port()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.pg.Stop(); err != nil {
			t.Error(err)
		}
		pgLog.Close()
	})
}

// stopPostgres stops Postgres the way pg_ctl's fast shutdown does: connections are cut and open
// transactions rolled back.
func (s *stack) stopPostgres() error {
	if err := s.pg.Stop(); err != nil {
		return err
	}
	s.pgStopped = time.Now()
	s.ledger.fault("postgres stopped (fast shutdown)")
	return nil
}

// startPostgresAgain starts Postgres on the same port and data directory it had.
func (s *stack) startPostgresAgain(ctx context.Context) error {
	pg, err := devenv.StartPostgres(ctx, s.pgOpts)
	if err != nil {
		return err
	}
	if pg.URL != s.pg.URL {
		pg.Stop()
		return fmt.Errorf("postgres came back at %s, not %s", pg.URL, s.pg.URL)
	}
	s.pg = pg
	s.ledger.fault("postgres started again, down %s", time.Since(s.pgStopped).Round(time.Millisecond))
	return nil
}

func (s *stack) startTemporal(ctx context.Context) {
	t := s.t
	cli, err := devenv.EnsureTemporalCLI(ctx, s.root, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	tLog, err := os.Create(filepath.Join(s.dir, "temporal.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.tWedged = make(chan struct{}, 1)
	s.tOpts = devenv.TemporalOptions{CLIPath: cli, Headless: true, DBFile: filepath.Join(s.dir, "temporal.db"),
		SearchAttributes: workflows.SearchAttributeTypes,
		Log:              io.MultiWriter(tLog, &alarm{text: []byte(sqliteInterrupted), ring: s.tWedged})}
	s.temporal, err = devenv.StartTemporal(ctx, s.tOpts)
	if err != nil {
		t.Fatal(err)
	}
	s.temporalAddr = s.temporal.Address
	_, port, err := net.SplitHostPort(s.temporalAddr)
	if err != nil {
		t.Fatal(err)
	}
	if s.tOpts.Port, err = strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.tMu.Lock()
		defer s.tMu.Unlock()
		if err := s.temporal.Stop(); err != nil {
			t.Error(err)
		}
		tLog.Close()
	})

	// Registered after the cleanup above, so that the watchdog is gone before Temporal is stopped.
	watchCtx, stopWatching := context.WithCancel(ctx)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		s.watchTemporal(watchCtx)
	}()
	t.Cleanup(func() {
		stopWatching()
		<-watching
	})
}

// sqliteInterrupted is what the Temporal dev server logs on every persistence call once its
// SQLite connection is stuck interrupted. A request cancelled in the middle of a transaction (its
// caller, the worker, was SIGKILLed) can leave it so: modernc.org/sqlite's sqlite3_interrupt stays
// in force while a statement is left active, and the dev server keeps one connection. This is the
// dev server's weakness, not screenflow's; a production Temporal runs on Postgres or Cassandra.
const sqliteInterrupted = "interrupted (9)"

// maxWatchdogRestarts bounds how often the watchdog restarts a wedged Temporal in one run.
const maxWatchdogRestarts = 5

// watchTemporal restarts the Temporal dev server, at the same address on the same file, each time
// its log shows it wedged, as its operator would; the ledger lists every such restart. While a
// phase has Temporal stopped on purpose, the phase's own restart clears the wedge.
func (s *stack) watchTemporal(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.tWedged:
		}
		s.tMu.Lock()
		if s.tDown {
			s.tMu.Unlock()
			continue
		}
		if s.tRestarts == maxWatchdogRestarts {
			s.tMu.Unlock()
			s.ledger.fault("temporal dev server wedged again; the watchdog gave up after %d restarts", maxWatchdogRestarts)
			return
		}
		s.tRestarts++
		s.ledger.fault("temporal dev server wedged (SQLite %q after a cancelled request): the watchdog restarts it", sqliteInterrupted)
		if err := s.temporal.Stop(); err != nil {
			s.ledger.fault("watchdog: %v", err)
		}
		started := time.Now()
		tmp, err := devenv.StartTemporal(ctx, s.tOpts)
		if err != nil {
			s.tMu.Unlock()
			s.ledger.fault("watchdog: temporal did not start again: %v", err)
			return
		}
		s.temporal = tmp
		s.ledger.fault("temporal started again by the watchdog (ready in %s)", time.Since(started).Round(time.Millisecond))
		// The stopped server's last lines rang too; only the new server's count from here.
		select {
		case <-s.tWedged:
		default:
		}
		s.tMu.Unlock()
	}
}

// watchdogRestarts returns how often the watchdog restarted Temporal.
func (s *stack) watchdogRestarts() int {
	s.tMu.Lock()
	defer s.tMu.Unlock()
	return s.tRestarts
}

func (s *stack) stopTemporal() error {
	s.tMu.Lock()
	defer s.tMu.Unlock()
	if err := s.temporal.Stop(); err != nil {
		return err
	}
	s.tDown, s.tStopped = true, time.Now()
	s.ledger.fault("temporal stopped (SIGTERM)")
	return nil
}

// startTemporalAgain starts the dev server on the same port and SQLite file it had.
func (s *stack) startTemporalAgain(ctx context.Context) error {
	s.tMu.Lock()
	defer s.tMu.Unlock()
	started := time.Now()
	tmp, err := devenv.StartTemporal(ctx, s.tOpts)
	if err != nil {
		return err
	}
	s.temporal, s.tDown = tmp, false
	s.ledger.fault("temporal started again (ready in %s), down %s", time.Since(started).Round(time.Millisecond),
		time.Since(s.tStopped).Round(time.Millisecond))
	return nil
}

// alarm rings (without blocking) each time text is written to it.
type alarm struct {
	text []byte
	ring chan<- struct{}
}

func (a *alarm) Write(p []byte) (int, error) {
	if bytes.Contains(p, a.text) {
		select {
		case a.ring <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// runCommand runs a one-shot screenflow command with the stack's settings and returns its output.
func (s *stack) runCommand(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func (s *stack) newProc(command, readyText string) *proc {
	return &proc{name: command, bin: s.bin, args: []string{command}, env: s.env,
		logPath: filepath.Join(s.dir, command+".log"), ready: readyText, ledger: s.ledger}
}

// freeLoopbackAddr asks the kernel for a free port on 127.0.0.1. Another process may take it
// before serve binds it; that race is accepted, as devenv accepts it.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// proc is serve or the worker as a child process of the suite: started, SIGKILLed and started
// again at will, every run's output appended to one log file.
type proc struct {
	name    string
	bin     string
	args    []string
	env     []string
	logPath string
	ready   string // what the process logs once it is up
	ledger  *ledger

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the current run has exited
	killed bool          // the current run was ended by the suite
	starts int
	kills  int
	// crashed lists runs that ended without the suite ending them: each is a finding.
	crashed []string
}

// errExitedWhileStarting: the run ended before it was up, as the worker does when Temporal does
// not answer its start-up calls.
var errExitedWhileStarting = errors.New("exited while starting")

// start starts a run and waits until it is up. A run that exits before it is up is started again
// after a second, as a supervisor (systemd, Kubernetes) would, up to five times: the suite judges
// what a process does once it runs, and lists these in the ledger.
func (p *proc) start(ctx context.Context) error {
	var err error
	for range 5 {
		if err = p.startOnce(ctx); !errors.Is(err, errExitedWhileStarting) {
			return err
		}
		p.ledger.fault("%v; starting it again", err)
		sleep(ctx, time.Second)
	}
	return err
}

// startOnce starts a run and waits until it logs its ready text.
func (p *proc) startOnce(ctx context.Context) error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.starts++
	n := p.starts
	p.mu.Unlock()
	fmt.Fprintf(logFile, "\n===== fault suite: %s run %d, started %s =====\n", p.name, n, time.Now().Format(time.RFC3339Nano))

	up := newWatch(p.ready)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout = logFile
	cmd.Stderr = io.MultiWriter(logFile, up)
	// SIGKILL when the suite dies (a test timeout, say), so that no process outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.killed = cmd, done, false
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		select {
		case <-up.seen:
			// It was up: an exit the suite did not cause is a crash.
			if !p.killed {
				p.crashed = append(p.crashed, fmt.Sprintf("%s run %d exited by itself: %v", p.name, n, err))
			}
		default:
		}
		p.mu.Unlock()
		close(done)
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-up.seen:
		p.ledger.fault("%s started (run %d)", p.name, n)
		return nil
	case <-done:
		return fmt.Errorf("%s run %d %w (%s); see %s", p.name, n, errExitedWhileStarting, cmd.ProcessState, p.logPath)
	case <-timer.C:
		p.kill("did not start in time")
		return fmt.Errorf("%s run %d did not log %q within %s; see %s", p.name, n, p.ready, startTimeout, p.logPath)
	case <-ctx.Done():
		p.kill("suite deadline")
		return ctx.Err()
	}
}

// kill SIGKILLs the current run and waits until it is gone. why goes into the ledger.
func (p *proc) kill(why string) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd == nil {
		p.mu.Unlock()
		return
	}
	select {
	case <-done:
		// Already gone, by itself: start's goroutine recorded it as a crash.
		p.mu.Unlock()
		return
	default:
	}
	p.killed = true
	p.kills++
	p.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	p.ledger.fault("%s SIGKILLed: %s", p.name, why)
}

// restart is kill, then start.
func (p *proc) restart(ctx context.Context, why string) error {
	p.kill(why)
	return p.start(ctx)
}

// stop ends the run as a deploy does, with SIGTERM, and fails unless it exits cleanly in time.
func (p *proc) stop() error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd == nil {
		p.mu.Unlock()
		return nil
	}
	select {
	case <-done:
		p.mu.Unlock()
		return nil // killed, or a crash already recorded
	default:
	}
	p.killed = true
	p.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not stop within 20s of SIGTERM and was killed", p.name)
	}
	if !cmd.ProcessState.Success() {
		return fmt.Errorf("%s did not shut down cleanly on SIGTERM: %s; see %s", p.name, cmd.ProcessState, p.logPath)
	}
	return nil
}

// crashes returns the runs that ended without the suite ending them.
func (p *proc) crashes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.crashed...)
}

func (p *proc) counts() (starts, kills int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts, p.kills
}

// watch closes seen once the text has been written to it.
type watch struct {
	mu   sync.Mutex
	text []byte
	buf  []byte
	seen chan struct{}
	once sync.Once
}

func newWatch(text string) *watch { return &watch{text: []byte(text), seen: make(chan struct{})} }

func (w *watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if bytes.Contains(w.buf, w.text) {
		w.once.Do(func() { close(w.seen) })
	}
	// Only a text cut across two writes needs the previous bytes.
	if keep := len(w.text); len(w.buf) > keep {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-keep:]...)
	}
	return len(p), nil
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

// waitFor polls cond every 250ms until it holds, within and ctx allowing. The error says what was
// awaited and what cond last said.
func waitFor(ctx context.Context, within time.Duration, what string, cond func() (bool, string)) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last string
	for {
		ok, state := cond()
		if ok {
			return nil
		}
		last = state
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %s for %s: %w; last seen: %s", within, what, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// tail returns up to the last n bytes of a file, for a failure message.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	if info.Size() > n {
		if _, err := f.Seek(info.Size()-n, io.SeekStart); err != nil {
			return err.Error()
		}
	}
	b, err := io.ReadAll(f)
	if err != nil && !errors.Is(err, io.EOF) {
		return err.Error()
	}
	return string(b)
}
