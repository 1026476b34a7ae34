package fakekit

import (
	"net/http"
	"sync"
)

// Failures are the API failures a test injects into a fake: the next calls answer a status, with
// a body of the test's choosing (one a provider may send, such as a message echoing the request's
// data) or with the fake's own error body. Safe for concurrent use; the zero value injects none.
type Failures struct {
	mu     sync.Mutex
	left   int
	status int
	body   []byte // nil: the fake's own error body
}

// Inject makes the next n calls fail with status, answering body, or the fake's own error body
// when body is nil.
func (f *Failures) Inject(n, status int, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.left, f.status, f.body = n, status, body
}

// Answer takes one injected failure and answers it: with its body, or through ownError, which
// writes the fake's own error body for status. It reports whether a failure was answered.
func (f *Failures) Answer(w http.ResponseWriter, ownError func(status int)) bool {
	f.mu.Lock()
	if f.left <= 0 {
		f.mu.Unlock()
		return false
	}
	f.left--
	status, body := f.status, f.body
	f.mu.Unlock()
	if body == nil {
		ownError(status)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The client may have gone; there is nobody left to tell.
	_, _ = w.Write(body)
	return true
}
