//go:build fault && linux

package faultsuite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the tests read Postgres directly for their ledgers

	"github.com/screenflow/screenflow/devenv"
	"github.com/screenflow/screenflow/workflows"
)

// platform is what screenflow runs on in the fault suite and the deploy test, every part
// restartable at the same address: a throwaway Postgres cluster and Temporal's dev server on a
// SQLite file, both through devenv, in a run directory that also holds the binaries and every log.
type platform struct {
	t      *testing.T
	ledger *ledger
	root   string // the repository
	dir    string // everything this run writes: binaries, data, logs

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

	db *sqlx.DB // the test's own pool, for waiting and for the ledger
}

// startPlatform starts Postgres and Temporal in a new run directory named after the test. Cleanup
// stops them; the directory is removed unless the test failed, when its logs are what explains
// the failure.
func startPlatform(ctx context.Context, t *testing.T, l *ledger, name string) *platform {
	t.Helper()
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "screenflow-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	// When we are root, Postgres runs as another user, who must be able to enter the directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &platform{t: t, ledger: l, root: root, dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s: logs and data kept in %s", name, dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})

	p.startPostgres(ctx)
	p.startTemporal(ctx)

	p.db, err = sqlx.Open("postgres", p.pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	// No idle connections: Postgres restarts under the fault suite, and a fresh connection per
	// query never finds one of the old server's.
	p.db.SetMaxIdleConns(0)
	t.Cleanup(func() { p.db.Close() })
	return p
}

func (p *platform) startPostgres(ctx context.Context) {
	t := p.t
	pgLog, err := os.Create(filepath.Join(p.dir, "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	// NoFsync is safe here: the tests stop Postgres cleanly, and a crash of the machine only loses
	// a throwaway cluster.
	p.pgOpts = devenv.PostgresOptions{Dir: filepath.Join(p.dir, "postgres"), NoFsync: true, Log: pgLog}
	p.pg, err = devenv.StartPostgres(ctx, p.pgOpts)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(p.pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	// A restart must come back where serve and the worker look for it.
	if p.pgOpts.Port, err = strconv.Atoi(u.Port()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.pg.Stop(); err != nil {
			t.Error(err)
		}
		pgLog.Close()
	})
}

// stopPostgres stops Postgres the way pg_ctl's fast shutdown does: connections are cut and open
// transactions rolled back.
func (p *platform) stopPostgres() error {
	if err := p.pg.Stop(); err != nil {
		return err
	}
	p.pgStopped = time.Now()
	p.ledger.fault("postgres stopped (fast shutdown)")
	return nil
}

// startPostgresAgain starts Postgres on the same port and data directory it had.
func (p *platform) startPostgresAgain(ctx context.Context) error {
	pg, err := devenv.StartPostgres(ctx, p.pgOpts)
	if err != nil {
		return err
	}
	if pg.URL != p.pg.URL {
		pg.Stop()
		return fmt.Errorf("postgres came back at %s, not %s", pg.URL, p.pg.URL)
	}
	p.pg = pg
	p.ledger.fault("postgres started again, down %s", time.Since(p.pgStopped).Round(time.Millisecond))
	return nil
}

func (p *platform) startTemporal(ctx context.Context) {
	t := p.t
	cli, err := devenv.EnsureTemporalCLI(ctx, p.root, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	tLog, err := os.Create(filepath.Join(p.dir, "temporal.log"))
	if err != nil {
		t.Fatal(err)
	}
	p.tWedged = make(chan struct{}, 1)
	p.tOpts = devenv.TemporalOptions{CLIPath: cli, Headless: true, DBFile: filepath.Join(p.dir, "temporal.db"),
		SearchAttributes: workflows.SearchAttributeTypes,
		Log:              io.MultiWriter(tLog, &alarm{text: []byte(sqliteInterrupted), ring: p.tWedged})}
	p.temporal, err = devenv.StartTemporal(ctx, p.tOpts)
	if err != nil {
		t.Fatal(err)
	}
	p.temporalAddr = p.temporal.Address
	_, port, err := net.SplitHostPort(p.temporalAddr)
	if err != nil {
		t.Fatal(err)
	}
	if p.tOpts.Port, err = strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.tMu.Lock()
		defer p.tMu.Unlock()
		if err := p.temporal.Stop(); err != nil {
			t.Error(err)
		}
		tLog.Close()
	})

	// Registered after the cleanup above, so that the watchdog is gone before Temporal is stopped.
	watchCtx, stopWatching := context.WithCancel(ctx)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		p.watchTemporal(watchCtx)
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
func (p *platform) watchTemporal(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.tWedged:
		}
		p.tMu.Lock()
		if p.tDown {
			p.tMu.Unlock()
			continue
		}
		if p.tRestarts == maxWatchdogRestarts {
			p.tMu.Unlock()
			p.ledger.fault("temporal dev server wedged again; the watchdog gave up after %d restarts", maxWatchdogRestarts)
			return
		}
		p.tRestarts++
		p.ledger.fault("temporal dev server wedged (SQLite %q after a cancelled request): the watchdog restarts it", sqliteInterrupted)
		if err := p.temporal.Stop(); err != nil {
			p.ledger.fault("watchdog: %v", err)
		}
		started := time.Now()
		tmp, err := devenv.StartTemporal(ctx, p.tOpts)
		if err != nil {
			p.tMu.Unlock()
			p.ledger.fault("watchdog: temporal did not start again: %v", err)
			return
		}
		p.temporal = tmp
		p.ledger.fault("temporal started again by the watchdog (ready in %s)", time.Since(started).Round(time.Millisecond))
		// The stopped server's last lines rang too; only the new server's count from here.
		select {
		case <-p.tWedged:
		default:
		}
		p.tMu.Unlock()
	}
}

// watchdogRestarts returns how often the watchdog restarted Temporal.
func (p *platform) watchdogRestarts() int {
	p.tMu.Lock()
	defer p.tMu.Unlock()
	return p.tRestarts
}

func (p *platform) stopTemporal() error {
	p.tMu.Lock()
	defer p.tMu.Unlock()
	if err := p.temporal.Stop(); err != nil {
		return err
	}
	p.tDown, p.tStopped = true, time.Now()
	p.ledger.fault("temporal stopped (SIGTERM)")
	return nil
}

// startTemporalAgain starts the dev server on the same port and SQLite file it had.
func (p *platform) startTemporalAgain(ctx context.Context) error {
	p.tMu.Lock()
	defer p.tMu.Unlock()
	started := time.Now()
	tmp, err := devenv.StartTemporal(ctx, p.tOpts)
	if err != nil {
		return err
	}
	p.temporal, p.tDown = tmp, false
	p.ledger.fault("temporal started again (ready in %s), down %s", time.Since(started).Round(time.Millisecond),
		time.Since(p.tStopped).Round(time.Millisecond))
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

// newProc describes a long-running screenflow command (serve, worker) of the binary bin, logging
// to <name>.log in the run directory.
func (p *platform) newProc(name, bin string, env []string, ready string, args ...string) *proc {
	return &proc{name: name, bin: bin, args: args, env: env,
		logPath: filepath.Join(p.dir, name+".log"), ready: ready, ledger: p.ledger}
}

// buildScreenflow builds ./cmd/screenflow of the source tree src into the file out. -trimpath
// keeps the build cache shared between source trees at different paths.
func buildScreenflow(ctx context.Context, src, out string) error {
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./cmd/screenflow")
	build.Dir = src
	if output, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/screenflow in %s: %w\n%s", src, err, output)
	}
	return nil
}

// runCommand runs a one-shot screenflow command (migrate, tenant create) with env as its whole
// environment and returns its output.
func runCommand(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
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

// sleep waits for d, or less if ctx ends first.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
