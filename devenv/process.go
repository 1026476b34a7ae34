package devenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// process is a started server whose exit is observed in the background, so that startup loops
// can notice a crash and Stop can wait with a deadline.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the result of cmd.Wait, valid once done is closed
}

func startProcess(name string, cmd *exec.Cmd) (*process, error) {
	// Bounds how long Wait blocks on output pipes held open by a grandchild after the server exits.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("devenv: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports the error of a process that has already ended, and nil while it runs.
func (p *process) exited() error {
	select {
	case <-p.done:
		if p.err == nil {
			return fmt.Errorf("%s exited", p.name)
		}
		return fmt.Errorf("%s exited: %w", p.name, p.err)
	default:
		return nil
	}
}

// stop sends sig, waits up to grace for the process to exit, then kills it. A process that had
// already died on its own is reported as an error: something went wrong while it was in use.
func (p *process) stop(sig syscall.Signal, grace time.Duration) error {
	if err := p.exited(); err != nil {
		return fmt.Errorf("devenv: %w before it was stopped", err)
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("devenv: signal %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("devenv: kill %s: %w", p.name, err)
	}
	<-p.done
	return fmt.Errorf("devenv: %s did not stop within %s and was killed", p.name, grace)
}
