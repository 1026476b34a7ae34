package fakekit

import (
	"sync"
	"time"
)

// Timers runs a fake's scheduled work (a check completing, a search moving on) under the fake's
// own lock, and lets Close disarm it all. Its ...Locked methods are called with that lock held.
type Timers struct {
	lock sync.Locker
	// wg counts armed timers, which Close waits for.
	wg     sync.WaitGroup
	closed bool
	timers map[string]*time.Timer
}

// NewTimers returns Timers whose callbacks run under lock, the fake's.
func NewTimers(lock sync.Locker) *Timers {
	return &Timers{lock: lock, timers: make(map[string]*time.Timer)}
}

// ArmLocked runs fn under the lock after d, in place of whatever was armed for key, unless the
// timer is stopped or Close comes first.
func (t *Timers) ArmLocked(key string, d time.Duration, fn func()) {
	// A call served after Close must not start what Close already waited for.
	if t.closed {
		return
	}
	t.StopLocked(key)
	t.wg.Add(1)
	var timer *time.Timer
	timer = time.AfterFunc(d, func() {
		defer t.wg.Done()
		t.lock.Lock()
		defer t.lock.Unlock()
		if t.timers[key] != timer {
			return // stopped, replaced or closed while this callback waited for the lock
		}
		delete(t.timers, key)
		fn()
	})
	t.timers[key] = timer
}

// StopLocked disarms the timer of key, if any, and reports whether there was one. A timer that
// already fired has its callback running or waiting for the lock; that callback sees it is no
// longer armed and releases the wait group itself.
func (t *Timers) StopLocked(key string) bool {
	timer, ok := t.timers[key]
	if !ok {
		return false
	}
	delete(t.timers, key)
	if timer.Stop() {
		t.wg.Done()
	}
	return true
}

// Close disarms every timer, arms none from now on, and waits for the callbacks that already
// fired. Call it without the lock.
func (t *Timers) Close() {
	t.lock.Lock()
	t.closed = true
	for key := range t.timers {
		t.StopLocked(key)
	}
	t.lock.Unlock()
	t.wg.Wait()
}
