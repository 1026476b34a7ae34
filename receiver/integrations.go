package receiver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// oauthStateTTL bounds how long a connection may take between our redirect and Checkr's.
const oauthStateTTL = 30 * time.Minute

// checkrConnect starts connecting a Checkr account: it redirects to Checkr's sign-up page with an
// unguessable, single-use state tied to the tenant. The same URL is in the body, for a backend
// that hands it to a browser.
func (s *Server) checkrConnect(c *gin.Context) {
	cfg := s.cfg.Checkr
	if cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.Vault == nil {
		abortWithError(c, http.StatusNotImplemented, "checkr_oauth_not_configured",
			"connecting Checkr accounts needs CHECKR_OAUTH_CLIENT_ID, CHECKR_OAUTH_CLIENT_SECRET and SCREENFLOW_ENCRYPTION_KEY")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	state, err := s.store.CreateOAuthState(ctx, tenantOf(c).ID, oauthStateTTL)
	if err != nil {
		s.abortWithStoreError(c, err)
		return
	}
	q := url.Values{"state": {state}}
	if cfg.RedirectURL != "" {
		q.Set("redirect_uri", cfg.RedirectURL)
	}
	authorize := cfg.AuthorizeURL + "/" + url.PathEscape(cfg.ClientID) + "/signup?" + q.Encode()
	c.Header("Location", authorize)
	c.JSON(http.StatusFound, gin.H{"authorize_url": authorize})
}

// checkrCallback finishes a connection: it spends the state, exchanges the code for the account's
// access token, keeps the token sealed, and tells the account's workflow (starting it if need be).
func (s *Server) checkrCallback(c *gin.Context) {
	if s.cfg.Checkr.Vault == nil {
		abortWithError(c, http.StatusNotImplemented, "checkr_oauth_not_configured", "Checkr OAuth is not configured")
		return
	}
	code, state := c.Query("code"), c.Query("state")
	if code == "" || state == "" {
		abortWithError(c, http.StatusBadRequest, "invalid_callback", "the callback needs both code and state")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*storeTimeout)
	defer cancel()
	tenantID, err := s.store.ConsumeOAuthState(ctx, state)
	if errors.Is(err, store.ErrInvalidOAuthState) {
		abortWithError(c, http.StatusBadRequest, "invalid_state",
			"the state is unknown, expired or already used: start again from /v1/integrations/checkr/connect")
		return
	}
	if err != nil {
		s.abortWithStoreError(c, err)
		return
	}
	cfg := s.cfg.Checkr
	token, err := cfg.Client.ExchangeToken(ctx, cfg.ClientID, cfg.ClientSecret, code)
	if err != nil {
		s.log.Warn("checkr token exchange failed", "tenant_id", tenantID, "error", err)
		abortWithError(c, http.StatusBadGateway, "token_exchange_failed", "Checkr did not accept the authorization code")
		return
	}
	fingerprint := checkr.TokenFingerprint(token.AccessToken)
	sealed := cfg.Vault.Seal([]byte(token.AccessToken), []byte(token.CheckrAccountID))
	acct, err := s.store.ConnectCheckrAccount(ctx, tenantID, token.CheckrAccountID, sealed, fingerprint)
	if errors.Is(err, store.ErrAccountOwnedElsewhere) {
		s.revokeRefusedToken(ctx, token.AccessToken, token.CheckrAccountID, fingerprint)
		abortWithError(c, http.StatusConflict, "account_owned_elsewhere", "this Checkr account is connected to another tenant")
		return
	}
	if err != nil {
		s.abortWithStoreError(c, err)
		return
	}
	workflowID := workflows.CheckrAccountWorkflowID(acct.ID)
	// token.deauthorized names the token, not the account: this route leads it to the account.
	if err := s.store.AddRoute(ctx, checkr.Name, checkr.SubjectFor("token", fingerprint), workflowID); err != nil {
		s.abortWithStoreError(c, err)
		return
	}
	s.tellCheckrAccount(ctx, acct.ID, workflows.CheckrAccountEvent{Kind: workflows.CheckrAccountConnected,
		EventID: "connect:" + uuid.NewString(), Status: acct.Status})
	s.log.Info("checkr account connected", "tenant_id", tenantID, "checkr_account_id", acct.ID, "status", acct.Status)
	c.JSON(http.StatusOK, gin.H{"account": acct.ID, "status": acct.Status})
}

// revokeRefusedToken revokes a token the code was already exchanged for but that is not kept (the
// account is another tenant's): a live grant nobody holds must not linger at Checkr. The owner's
// own token is left alone, in case Checkr handed the same one out again.
func (s *Server) revokeRefusedToken(ctx context.Context, accessToken, accountID, fingerprint string) {
	owner, err := s.store.CheckrAccount(ctx, accountID)
	if err != nil {
		s.log.Warn("checkr token not revoked: its account could not be read", "checkr_account_id", accountID, "error", err)
		return
	}
	if owner.AccessTokenFingerprint != nil && *owner.AccessTokenFingerprint == fingerprint {
		return
	}
	if err := s.cfg.Checkr.Client.WithKey(accessToken).Deauthorize(ctx); err != nil {
		s.log.Warn("checkr token of a refused connection not revoked", "checkr_account_id", accountID, "error", err)
	}
}

// checkrDisconnect revokes our access to a tenant's Checkr account at Checkr, and records it at
// once rather than waiting for token.deauthorized.
func (s *Server) checkrDisconnect(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*storeTimeout)
	defer cancel()
	acct, err := s.store.TenantCheckrAccount(ctx, tenantOf(c).ID, c.Param("account"))
	if err != nil {
		s.abortWithStoreError(c, err)
		return
	}
	if acct.Status == store.CheckrDeauthorized || len(acct.AccessTokenSealed) == 0 {
		abortWithError(c, http.StatusConflict, "already_disconnected", "the Checkr account is already deauthorized")
		return
	}
	token, err := s.cfg.Checkr.Vault.Open(acct.AccessTokenSealed, []byte(acct.ID))
	if err != nil {
		s.log.Error("checkr access token cannot be opened; is the encryption key right?", "checkr_account_id", acct.ID)
		abortWithError(c, http.StatusInternalServerError, "token_unreadable", "the stored access token cannot be decrypted")
		return
	}
	if err := s.cfg.Checkr.Client.WithKey(string(token)).Deauthorize(ctx); err != nil {
		s.log.Warn("checkr deauthorize failed", "checkr_account_id", acct.ID, "error", err)
		abortWithError(c, http.StatusBadGateway, "deauthorize_failed", "Checkr did not confirm the disconnection; retry")
		return
	}
	fingerprint := checkr.TokenFingerprint(string(token))
	if _, err := s.store.MarkCheckrDeauthorized(ctx, acct.ID, fingerprint); err != nil {
		s.abortWithStoreError(c, err)
		return
	}
	s.tellCheckrAccount(ctx, acct.ID, workflows.CheckrAccountEvent{Kind: workflows.CheckrAccountDeauthorized,
		EventID: "disconnect:" + uuid.NewString(), TokenFingerprint: fingerprint})
	c.JSON(http.StatusOK, gin.H{"account": acct.ID, "status": store.CheckrDeauthorized})
}

// tellCheckrAccount signals the account's workflow, starting it if need be. Postgres already holds
// the change: checks read it when they subscribe, and the workflow when it next starts. So a
// failure here (Temporal down) is logged, not returned; Checkr's own event about the change (the
// relay starts the workflow for it) tells the checks in flight.
func (s *Server) tellCheckrAccount(ctx context.Context, accountID string, ev workflows.CheckrAccountEvent) {
	ctx, cancel := context.WithTimeout(ctx, temporalTimeout)
	defer cancel()
	id := workflows.CheckrAccountWorkflowID(accountID)
	_, err := s.temporal.SignalWithStartWorkflow(ctx, id, workflows.CheckrAccountEventSignal, ev,
		client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
		workflows.CheckrAccountWorkflow, workflows.CheckrAccountInput{AccountID: accountID})
	if err != nil {
		s.log.Warn("checkr account workflow not signalled", "checkr_account_id", accountID, "workflow_id", id,
			"kind", ev.Kind, "error", err)
	}
}
