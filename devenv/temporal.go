package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

const (
	// TemporalCLIVersion is the newest Temporal CLI that `go install` can build: later versions
	// carry replace directives in their go.mod.
	TemporalCLIVersion = "v1.5.1"
	TemporalCLIModule  = "github.com/temporalio/cli/cmd/temporal"
)

// temporalReadyTimeout bounds how long StartTemporal waits for the server to answer.
const temporalReadyTimeout = 60 * time.Second

// EnsureTemporalCLI returns the path of a Temporal CLI binary: $TEMPORAL_CLI if set (it must
// exist), else <repoRoot>/.bin/temporal-<version>/temporal, built there with `go install` when it
// is missing. A file lock on .bin/temporal.lock keeps concurrent callers, such as the test
// binaries of several packages, from building it more than once. progress receives
// human-readable lines and the build's output; nil discards them.
func EnsureTemporalCLI(ctx context.Context, repoRoot string, progress io.Writer) (string, error) {
	if progress == nil {
		progress = io.Discard
	}
	if path := os.Getenv("TEMPORAL_CLI"); path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("devenv: TEMPORAL_CLI: %w", err)
		}
		return path, nil
	}

	binDir := filepath.Join(repoRoot, ".bin")
	path := filepath.Join(binDir, "temporal-"+TemporalCLIVersion, "temporal")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("devenv: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(binDir, "temporal.lock"), progress)
	if err != nil {
		return "", err
	}
	defer unlock()
	// Whoever held the lock before us may have just built it.
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}

	fmt.Fprintf(progress, "building Temporal CLI %s, the first build takes ~13 minutes\n", TemporalCLIVersion)
	start := time.Now()
	// Built into a private directory and renamed into place, so a reader never sees half a binary.
	tmp, err := os.MkdirTemp(binDir, "temporal-build-")
	if err != nil {
		return "", fmt.Errorf("devenv: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", TemporalCLIModule+"@"+TemporalCLIVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp)
	cmd.Stdout = progress
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("devenv: go install %s@%s: %w", TemporalCLIModule, TemporalCLIVersion, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("devenv: %w", err)
	}
	if err := os.Rename(filepath.Join(tmp, "temporal"), path); err != nil {
		return "", fmt.Errorf("devenv: install Temporal CLI: %w", err)
	}
	fmt.Fprintf(progress, "built Temporal CLI %s in %s: %s\n", TemporalCLIVersion, time.Since(start).Round(time.Second), path)
	return path, nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can cancel the wait.
func lockFile(ctx context.Context, path string, progress io.Writer) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("devenv: open lock: %w", err)
	}
	waiting := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			// Closing the file releases the lock.
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("devenv: lock %s: %w", path, err)
		}
		if !waiting {
			fmt.Fprintf(progress, "waiting for another process building the Temporal CLI (%s)\n", path)
			waiting = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("devenv: wait for %s: %w", path, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// TemporalOptions configures StartTemporal.
type TemporalOptions struct {
	CLIPath          string            // from EnsureTemporalCLI
	IP               string            // default 127.0.0.1
	Port             int               // gRPC frontend; 0 picks a free port
	UIPort           int               // 0 picks a free port; ignored when Headless
	Headless         bool              // no Web UI
	DBFile           string            // SQLite file for state that survives restarts; "" keeps it in memory
	Namespace        string            // default "default"; created at launch
	SearchAttributes map[string]string // name → type, e.g. "ScreeningStatus": "Keyword"
	Log              io.Writer         // server output; nil discards it
	// UICodecEndpoint, when set, is the codec server the Web UI decodes payloads with, e.g.
	// http://127.0.0.1:8234; the browser calls it, so it must be reachable from there.
	UICodecEndpoint string
}

// Temporal is a running `temporal server start-dev`.
type Temporal struct {
	Address   string // gRPC frontend, host:port
	UIURL     string // "" when headless
	Namespace string

	proc     *process
	stopOnce sync.Once
	stopErr  error
}

// StartTemporal starts `temporal server start-dev` as a child process and returns once the
// frontend passes a health check and the search attributes are registered in the namespace. ctx
// bounds the startup only; the server runs until Stop or until the caller dies.
func StartTemporal(ctx context.Context, opts TemporalOptions) (*Temporal, error) {
	if opts.CLIPath == "" {
		return nil, errors.New("devenv: TemporalOptions.CLIPath is required")
	}
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	var err error
	if opts.Port == 0 {
		if opts.Port, err = freePort(); err != nil {
			return nil, err
		}
	}
	if !opts.Headless && opts.UIPort == 0 {
		if opts.UIPort, err = freePort(); err != nil {
			return nil, err
		}
	}

	args := []string{"server", "start-dev", "--ip", opts.IP, "--port", strconv.Itoa(opts.Port)}
	if opts.Headless {
		args = append(args, "--headless")
	} else {
		args = append(args, "--ui-port", strconv.Itoa(opts.UIPort))
		if opts.UICodecEndpoint != "" {
			args = append(args, "--ui-codec-endpoint", opts.UICodecEndpoint)
		}
	}
	if opts.DBFile != "" {
		// SQLite's defaults make the dev server crawl.
		args = append(args, "--db-filename", opts.DBFile,
			"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")
	}
	// Eager activities: a workflow task's completion hands the activities it schedules straight
	// back to its worker, when that worker has a free slot, instead of through a task queue. It
	// saves a round trip per activity (the README's Performance section measures it), and the
	// server leaves it off unless told.
	args = append(args, "--dynamic-config-value", "system.enableActivityEagerExecution=true")
	if opts.Namespace != "default" {
		args = append(args, "--namespace", opts.Namespace)
	}
	for _, name := range slices.Sorted(maps.Keys(opts.SearchAttributes)) {
		args = append(args, "--search-attribute", name+"="+opts.SearchAttributes[name])
	}

	tail := newTailBuffer(4096)
	out := io.MultiWriter(opts.Log, tail)
	cmd := exec.Command(opts.CLIPath, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	dieWithParent(cmd.SysProcAttr, syscall.SIGTERM)
	proc, err := startProcess("temporal server", cmd)
	if err != nil {
		return nil, err
	}
	t := &Temporal{
		Address:   net.JoinHostPort(opts.IP, strconv.Itoa(opts.Port)),
		Namespace: opts.Namespace,
		proc:      proc,
	}
	if !opts.Headless {
		t.UIURL = "http://" + net.JoinHostPort(opts.IP, strconv.Itoa(opts.UIPort))
	}
	if err := t.waitReady(ctx, slices.Collect(maps.Keys(opts.SearchAttributes))); err != nil {
		t.Stop()
		return nil, fmt.Errorf("devenv: temporal server on %s: %w\n--- server output (tail) ---\n%s", t.Address, err, tail)
	}
	return t, nil
}

func (t *Temporal) waitReady(ctx context.Context, attrs []string) error {
	ctx, cancel := context.WithTimeout(ctx, temporalReadyTimeout)
	defer cancel()
	for {
		err := t.check(ctx, attrs)
		if err == nil {
			return nil
		}
		if exitErr := t.proc.exited(); exitErr != nil {
			return exitErr
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// check dials the server and verifies that it is healthy and knows the search attributes.
func (t *Temporal) check(ctx context.Context, attrs []string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  t.Address,
		Namespace: t.Namespace,
		Logger:    tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return err
	}
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: t.Namespace})
	if err != nil {
		return err
	}
	for _, name := range attrs {
		if _, ok := resp.GetCustomAttributes()[name]; !ok {
			return fmt.Errorf("search attribute %s not registered yet", name)
		}
	}
	return nil
}

// Stop sends SIGTERM, waits up to 10s, then kills the server. It is safe to call more than once.
func (t *Temporal) Stop() error {
	t.stopOnce.Do(func() { t.stopErr = t.proc.stop(syscall.SIGTERM, 10*time.Second) })
	return t.stopErr
}
