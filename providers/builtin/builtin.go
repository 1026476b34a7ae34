// Package builtin wires screenflow's providers into the registry: for each, its package's webhook
// verification and parsing, its check workflow and activities, its settings and its dev fake. It
// sits above workflows, activities and the provider packages, and below the receiver, relay,
// worker and cmd, which read the list through registry.Registry.
package builtin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/screenflow/screenflow/providers/registry"
)

// Providers returns screenflow's providers, unconfigured. A new provider adds one line here.
func Providers() *registry.Registry {
	return registry.MustNew(
		&ComplyCube{},
		&Authenticate{},
		&Checkr{},
	)
}

// devCompletionDelay is how long the dev fakes take to finish a check: long enough to watch.
const devCompletionDelay = 5 * time.Second

// checkFields is what every provider's check in POST /v1/screenings has.
type checkFields struct {
	Type    string          `json:"type"`
	Options json.RawMessage `json:"options"`
}

// hasOptions tells an options member that is there from one that is absent or null.
func (c checkFields) hasOptions() bool {
	return len(c.Options) > 0 && string(c.Options) != "null"
}

// validateType checks a check's type against the provider's list.
func validateType(checkType string, types []string) registry.FieldErrors {
	switch {
	case checkType == "":
		return registry.FieldErrors{"type": "is required"}
	case !slices.Contains(types, checkType):
		return registry.FieldErrors{"type": "must be one of: " + strings.Join(types, ", ")}
	}
	return nil
}

func noOptions(provider string) registry.FieldErrors {
	return registry.FieldErrors{"options": provider + " checks take no options"}
}

// absoluteURL checks a base URL setting: a typo must stop start-up, not fail every call later.
func absoluteURL(name, value string) error {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s=%q must be an absolute http(s) URL", name, value)
	}
	return nil
}

// serveFake serves a fake provider on addr until stop, which also closes the fake.
func serveFake(name, addr string, handler http.Handler, closeFake func()) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		closeFake()
		return nil, fmt.Errorf("fake %s: listen on %s: %w", name, addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return func() {
		srv.Close()
		closeFake()
	}, nil
}

// devSecret is a setting the environment gives, or a secret made up for this dev run.
func devSecret(env registry.Env, name, prefix string, bytes int) string {
	if v := env(name); v != "" {
		return v
	}
	b := make([]byte, bytes)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// merge adds b's field errors to a's, keeping a's where both name a field.
func merge(a, b registry.FieldErrors) registry.FieldErrors {
	if a == nil {
		a = registry.FieldErrors{}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			a[k] = v
		}
	}
	return a
}
