//go:build fault && linux

package faultsuite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

const (
	// serveReady and workerReady are what serve and the worker log once they are up.
	serveReady  = "http server listening"
	workerReady = "worker started"
	// startTimeout bounds how long a process may take to log that it is up.
	startTimeout = time.Minute
)

// proc is serve or the worker as a child process of the test: started, SIGKILLed and started
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
	fmt.Fprintf(logFile, "\n===== %s run %d, started %s =====\n", p.name, n, time.Now().Format(time.RFC3339Nano))

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
