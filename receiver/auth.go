package receiver

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/screenflow/screenflow/internal/bearer"
	"github.com/screenflow/screenflow/store"
)

// tenantKey is the gin context key of the authenticated tenant; unexported so that nothing else
// can set it.
type tenantKey struct{}

// authenticate lets a request through only with "Authorization: Bearer <tenant API key>" and puts
// the key's tenant in the context for tenantOf.
func (s *Server) authenticate(c *gin.Context) {
	key, ok := bearer.Token(c.GetHeader("Authorization"))
	if !ok {
		unauthorized(c, "send the tenant API key as \"Authorization: Bearer <key>\"")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	tenant, err := s.store.TenantByAPIKey(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		unauthorized(c, "the API key is not valid")
		return
	case err != nil:
		s.log.Error("api key not checked", "error", err)
		unavailable(c, "the API key could not be checked; retry later")
		return
	}
	c.Set(tenantKey{}, tenant)
	c.Next()
}

// tenantOf returns the tenant authenticate found; only handlers behind it may call it.
func tenantOf(c *gin.Context) store.Tenant {
	return c.MustGet(tenantKey{}).(store.Tenant)
}

func unauthorized(c *gin.Context, message string) {
	c.Header("WWW-Authenticate", "Bearer")
	abortWithError(c, http.StatusUnauthorized, "unauthorized", message)
}

// unavailable answers 503 when a dependency (Postgres, Temporal) is down: the client should retry.
func unavailable(c *gin.Context, message string) {
	c.Header("Retry-After", retryAfterSeconds)
	abortWithError(c, http.StatusServiceUnavailable, "unavailable", message)
}
