package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/screenflow/screenflow/providers/registry"
)

// runSubscribe registers this deployment's webhook URL with a provider whose webhooks are set up
// through its API (registry.Subscriber), a one-time step per deployment.
func runSubscribe(ctx context.Context, cfg config, provider string, stdout io.Writer) error {
	p, ok := cfg.Providers.Get(provider)
	if !ok {
		return fmt.Errorf("unknown provider %q: one of %s", provider, strings.Join(cfg.Providers.Names(), ", "))
	}
	s, ok := p.(registry.Subscriber)
	if !ok {
		return fmt.Errorf("%s's webhooks are not set up through its API: see README.md", provider)
	}
	return s.Subscribe(ctx, cfg.PublicBaseURL, stdout)
}
