package receiver

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
)

// healthTimeout keeps a readiness probe short when a dependency hangs.
const healthTimeout = 2 * time.Second

// healthz is the liveness probe: the process answers. It checks no dependency, so that an outage
// of Postgres or Temporal does not get every replica restarted.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz is the readiness probe: Postgres and Temporal both answer.
func (s *Server) readyz(c *gin.Context) {
	checks := map[string]string{
		"postgres": probe(c.Request.Context(), s.store.Ping),
		"temporal": probe(c.Request.Context(), func(ctx context.Context) error {
			_, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}),
	}
	for _, result := range checks {
		if result != "ok" {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": checks})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": checks})
}

// probe runs one dependency check and returns "ok" or why it failed.
func probe(ctx context.Context, check func(context.Context) error) string {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	if err := check(ctx); err != nil {
		return err.Error()
	}
	return "ok"
}
