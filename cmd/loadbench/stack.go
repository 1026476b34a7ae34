package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the bench reads Postgres directly for its figures
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"

	"github.com/screenflow/screenflow/codec"
	"github.com/screenflow/screenflow/devenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/workflows"
)

const startTimeout = 2 * time.Minute

// stack is the system under test as the bench reaches it: the HR API, Postgres and Temporal, the
// fakes in this process, and the tenant the bench works as.
type stack struct {
	dir             string // the run's logs and data
	apiURL          string
	databaseURL     string
	temporalAddress string
	namespace       string
	source          Source

	fakes    *fakes
	fakesLog *os.File
	db       *sqlx.DB
	tc       client.Client
	apiKey   string
	tenantID string

	// What the bench started itself; nil when it measures a running stack.
	postgres *devenv.Postgres
	temporal *devenv.Temporal
	serve    *process
	worker   *process
	// encryptionKey is the key serve and worker seal with, for the bench to write the inbox as
	// the receiver does; "" on a running stack.
	encryptionKey string
	// pids names the running stack's processes given with -pids.
	pids map[string]int
}

// startStack starts the stack, or reaches the running one, and creates the bench's tenant.
func startStack(ctx context.Context, cfg config, stdout io.Writer) (*stack, error) {
	dir, err := os.MkdirTemp("", "screenflow-loadbench-")
	if err != nil {
		return nil, err
	}
	// When we are root, Postgres runs as another user, who must be able to enter the directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s := &stack{dir: dir, namespace: cfg.namespace}
	if err := s.start(ctx, cfg, stdout); err != nil {
		return nil, errors.Join(err, s.stop(false))
	}
	return s, nil
}

func (s *stack) start(ctx context.Context, cfg config, stdout io.Writer) error {
	var err error
	if s.fakesLog, err = os.Create(filepath.Join(s.dir, "fakes.log")); err != nil {
		return err
	}
	fakesLog := slog.New(slog.NewTextHandler(s.fakesLog, &slog.HandlerOptions{Level: slog.LevelWarn}))
	env := os.Environ()
	var bin string
	if cfg.external() {
		s.apiURL, s.databaseURL, s.temporalAddress = strings.TrimSuffix(cfg.apiURL, "/"), cfg.databaseURL, cfg.temporalAddress
		if s.pids, err = parsePIDs(cfg.pids); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "building screenflow from %s\n", cfg.source)
		if bin, err = s.build(ctx, cfg.source); err != nil {
			return err
		}
		if err := s.startServers(ctx); err != nil {
			return err
		}
		httpAddr, err := freeLoopbackAddr()
		if err != nil {
			return err
		}
		s.apiURL = "http://" + httpAddr
		// The bench's settings go last: they win over the same names inherited from its
		// environment, while tuning settings (pool sizes, say) set there reach serve and worker.
		// The relay signals as many workflows at once as the SDK baseline has goroutines, unless
		// the environment says otherwise.
		env = append([]string{"RELAY_CONCURRENCY=" + strconv.Itoa(cfg.signalers)}, env...)
		s.encryptionKey = vault.NewKey()
		env = append(env, "DATABASE_URL="+s.databaseURL, "TEMPORAL_ADDRESS="+s.temporalAddress,
			"TEMPORAL_NAMESPACE="+s.namespace, "HTTP_ADDR="+httpAddr, "LOG_LEVEL=warn", "LOG_FORMAT=text",
			"SCREENFLOW_ENCRYPTION_KEY="+s.encryptionKey)
	}
	s.source = sourceOf(cfg.source, cfg.external())

	if s.fakes, err = startFakes(cfg.fakesAddr, s.apiURL, fakesLog); err != nil {
		return err
	}
	if !cfg.external() {
		env = append(env, stackEnv(s.fakes.url, s.apiURL)...)
		migrate := exec.CommandContext(ctx, bin, "migrate")
		migrate.Env = env
		if out, err := migrate.CombinedOutput(); err != nil {
			return fmt.Errorf("screenflow migrate: %w\n%s", err, out)
		}
		if err := s.startProcesses(ctx, bin, env); err != nil {
			return err
		}
	}

	if s.db, err = sqlx.Open("postgres", s.databaseURL); err != nil {
		return err
	}
	s.db.SetMaxOpenConns(cfg.ingestClients + 8)
	s.db.SetMaxIdleConns(cfg.ingestClients + 8)
	tenant, key, err := store.New(s.db).CreateTenant(ctx, "loadbench "+time.Now().UTC().Format(time.RFC3339))
	if err != nil {
		return err
	}
	s.tenantID, s.apiKey = tenant.ID, key
	// The baselines call Temporal as serve does, without compression (TEMPORAL_GRPC_COMPRESSION):
	// with the SDK's default gzip they would pay for CPU that screenflow does not.
	// They also encrypt payloads as serve does, which the status queries need to read the answers.
	dataConverter, err := s.dataConverter()
	if err != nil {
		return err
	}
	s.tc, err = client.DialContext(ctx, client.Options{HostPort: s.temporalAddress, Namespace: s.namespace,
		Logger:            tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}},
		DataConverter:     dataConverter})
	if err != nil {
		return fmt.Errorf("temporal client: %w", err)
	}
	if !cfg.external() {
		return s.waitReady(ctx)
	}
	return nil
}

// dataConverter encrypts payloads under the key serve and worker use: the one the bench gave them,
// or, on a running stack, SCREENFLOW_ENCRYPTION_KEY from the bench's environment. Without either it
// is the SDK's default, and the answers of the Checkr status queries do not decode.
func (s *stack) dataConverter() (converter.DataConverter, error) {
	keyText := s.encryptionKey
	if keyText == "" {
		keyText = os.Getenv("SCREENFLOW_ENCRYPTION_KEY")
	}
	if keyText == "" {
		return converter.GetDefaultDataConverter(), nil
	}
	key, err := vault.ParseKey(keyText)
	if err != nil {
		return nil, fmt.Errorf("SCREENFLOW_ENCRYPTION_KEY: %w", err)
	}
	c, err := codec.New(key)
	if err != nil {
		return nil, err
	}
	return codec.DataConverter(c), nil
}

// build compiles screenflow from source into the run's directory.
func (s *stack) build(ctx context.Context, source string) (string, error) {
	bin := filepath.Join(s.dir, "screenflow")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/screenflow")
	build.Dir = source
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/screenflow in %s: %w\n%s", source, err, out)
	}
	return bin, nil
}

// startServers starts Postgres, with fsync on as in production (the inbox's commits are what
// ingest measures), and the Temporal dev server on a SQLite file.
func (s *stack) startServers(ctx context.Context) error {
	pgLog, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return err
	}
	s.postgres, err = devenv.StartPostgres(ctx, devenv.PostgresOptions{Dir: filepath.Join(s.dir, "postgres"), Log: pgLog})
	if err != nil {
		return err
	}
	s.databaseURL = s.postgres.URL

	root, err := devenv.RepoRoot()
	if err != nil {
		return err
	}
	cli, err := devenv.EnsureTemporalCLI(ctx, root, os.Stderr)
	if err != nil {
		return err
	}
	tLog, err := os.Create(filepath.Join(s.dir, "temporal.log"))
	if err != nil {
		return err
	}
	s.temporal, err = devenv.StartTemporal(ctx, devenv.TemporalOptions{CLIPath: cli, Headless: true,
		DBFile: filepath.Join(s.dir, "temporal.db"), SearchAttributes: workflows.SearchAttributeTypes, Log: tLog})
	if err != nil {
		return err
	}
	s.temporalAddress = s.temporal.Address
	return nil
}

func (s *stack) startProcesses(ctx context.Context, bin string, env []string) error {
	var err error
	if s.serve, err = startProcess(bin, "serve", env, filepath.Join(s.dir, "serve.log")); err != nil {
		return err
	}
	s.worker, err = startProcess(bin, "worker", env, filepath.Join(s.dir, "worker.log"))
	return err
}

// pauseWorker stops the worker the bench started (SIGSTOP) until resume is called; resume may be
// called more than once. On a running stack it does nothing.
func (s *stack) pauseWorker() (resume func(), err error) {
	return pause(s.worker, "worker")
}

// pauseServe stops serve, and with it its relay, as pauseWorker stops the worker.
func (s *stack) pauseServe() (resume func(), err error) {
	return pause(s.serve, "serve")
}

func pause(p *process, name string) (resume func(), err error) {
	if p == nil {
		return func() {}, nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("pause %s: %w", name, err)
	}
	var once sync.Once
	return func() { once.Do(func() { _ = p.cmd.Process.Signal(syscall.SIGCONT) }) }, nil
}

// waitReady waits until serve answers /healthz and the worker polls both of its task queues'
// kinds.
func (s *stack) waitReady(ctx context.Context) error {
	return waitUntil(ctx, startTimeout, "serve and worker up", func() (bool, string, error) {
		for _, p := range []*process{s.serve, s.worker} {
			if err := p.exited(); err != nil {
				return false, "", err
			}
		}
		resp, err := http.Get(s.apiURL + "/healthz")
		if err != nil {
			return false, "serve: " + err.Error(), nil
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, "serve: /healthz " + resp.Status, nil
		}
		for _, kind := range []enums.TaskQueueType{enums.TASK_QUEUE_TYPE_WORKFLOW, enums.TASK_QUEUE_TYPE_ACTIVITY} {
			desc, err := s.tc.DescribeTaskQueue(ctx, workflows.TaskQueue, kind)
			if err != nil {
				return false, "worker: " + err.Error(), nil
			}
			if len(desc.GetPollers()) == 0 {
				return false, "worker: no " + kind.String() + " poller yet", nil
			}
		}
		return true, "", nil
	})
}

// stop stops what the bench started, serve and the worker first and gracefully, and removes the
// run's directory if asked to; otherwise it says where the logs are.
func (s *stack) stop(removeDir bool) error {
	var errs []error
	if s.tc != nil {
		s.tc.Close()
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	for _, p := range []*process{s.serve, s.worker} {
		if p != nil {
			errs = append(errs, p.stop())
		}
	}
	if s.fakes != nil {
		s.fakes.close()
	}
	if s.fakesLog != nil {
		s.fakesLog.Close()
	}
	if s.temporal != nil {
		errs = append(errs, s.temporal.Stop())
	}
	if s.postgres != nil {
		errs = append(errs, s.postgres.Stop())
	}
	err := errors.Join(errs...)
	if removeDir && err == nil {
		return os.RemoveAll(s.dir)
	}
	fmt.Fprintf(os.Stderr, "loadbench: logs and data kept in %s\n", s.dir)
	return err
}

// process is serve or the worker, a child process of the bench.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func startProcess(bin, command string, env []string, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, command)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// SIGKILL when the bench dies, so that no process outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start screenflow %s: %w", command, err)
	}
	p := &process{name: command, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited is an error once the process has ended.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("screenflow %s exited (%v); see %s", p.name, p.err, p.logPath)
	default:
		return nil
	}
}

// stop ends the process with SIGTERM, as a deploy does, and fails unless it exits cleanly in time.
func (p *process) stop() error {
	if err := p.exited(); err != nil {
		return err
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("screenflow %s did not stop within 30s of SIGTERM", p.name)
	}
	if p.err != nil {
		return fmt.Errorf("screenflow %s did not shut down cleanly: %w; see %s", p.name, p.err, p.logPath)
	}
	return nil
}

// freeLoopbackAddr asks the kernel for a free port on 127.0.0.1. Another process may take it before
// serve binds it; that race is accepted, as devenv accepts it.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func parsePIDs(spec string) (map[string]int, error) {
	pids := map[string]int{}
	if spec == "" {
		return pids, nil
	}
	for part := range strings.SplitSeq(spec, ",") {
		name, value, ok := strings.Cut(part, "=")
		pid, err := strconv.Atoi(value)
		if !ok || err != nil || pid <= 0 {
			return nil, fmt.Errorf("-pids: %q is not name=pid", part)
		}
		pids[name] = pid
	}
	return pids, nil
}

// processIDs names the stack's processes whose memory the bench reads: those it started, found
// among its children, or those given with -pids.
func (s *stack) processIDs() (map[string]int, error) {
	if s.serve == nil {
		return s.pids, nil
	}
	pids := map[string]int{"serve": s.serve.cmd.Process.Pid, "worker": s.worker.cmd.Process.Pid}
	children, err := childrenOf(os.Getpid())
	if err != nil {
		return nil, err
	}
	for _, pid := range children {
		switch comm := processName(pid); comm {
		case "temporal", "postgres":
			pids[comm] = pid
		}
	}
	return pids, nil
}

// Source is the code the figures were measured on.
type Source struct {
	Dir    string   `json:"dir"`
	Commit string   `json:"commit,omitempty"`
	Dirty  []string `json:"uncommitted_changes,omitempty"` // git status --porcelain
}

// sourceOf reads which commit screenflow was built from, and what was changed in the tree
// beside it. Neither is known for a tree that is not a git checkout.
func sourceOf(dir string, external bool) Source {
	if external {
		return Source{Dir: "(a running stack)"}
	}
	src := Source{Dir: dir}
	if out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output(); err == nil {
		src.Commit = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "-C", dir, "status", "--porcelain").Output(); err == nil {
		for line := range bytes.Lines(out) {
			if l := strings.TrimSpace(string(line)); l != "" {
				src.Dirty = append(src.Dirty, l)
			}
		}
	}
	return src
}
