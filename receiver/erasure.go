package receiver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// maxReferenceLength is as long, in characters, as a candidate reference may be when a screening
// is created (its binding's max counts characters too).
const maxReferenceLength = 200

// erasureResponse is the answer to DELETE /v1/candidates/{reference}: what the erasure will erase.
// It does not repeat the reference.
type erasureResponse struct {
	Status       string   `json:"status"`
	ErasureID    string   `json:"erasure_id"`
	ScreeningIDs []string `json:"screening_ids"`
}

// eraseCandidate answers DELETE /v1/candidates/{reference}: it starts the erasure of every
// candidate the tenant stored under the reference (workflows.ErasureWorkflow) and answers 202 with
// their screenings. The erasure runs on after the answer: it cancels the screenings still running,
// asks the providers that can to delete their copy, then erases the data here. A DELETE repeated
// while it runs answers the same; once it is done the reference is unknown: 404.
func (s *Server) eraseCandidate(c *gin.Context) {
	// The route's catch-all keeps a reference with a slash whole; it starts with the slash.
	reference := strings.TrimPrefix(c.Param("reference"), "/")
	switch {
	case reference == "":
		abortWithError(c, http.StatusBadRequest, "invalid_reference",
			"the candidate's reference is missing: DELETE /v1/candidates/{reference}")
		return
	case utf8.RuneCountInString(reference) > maxReferenceLength || !isText(reference):
		abortWithError(c, http.StatusBadRequest, "invalid_reference", fmt.Sprintf(
			"a candidate's reference is text without control characters, at most %d characters", maxReferenceLength))
		return
	}
	tenant := tenantOf(c)
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	target, err := s.store.CandidatesToErase(ctx, tenant.ID, reference)
	switch {
	case errors.Is(err, store.ErrNotFound):
		abortWithError(c, http.StatusNotFound, "not_found", "no candidate with this reference")
		return
	case err != nil:
		s.abortWithStoreError(c, err)
		return
	}

	erasureID := workflows.ErasureWorkflowID(target.CandidateIDs[0])
	tctx, cancelStart := context.WithTimeout(c.Request.Context(), temporalTimeout)
	defer cancelStart()
	in := workflows.ErasureInput{TenantID: tenant.ID, KeyID: tenant.KeyID, CandidateIDs: target.CandidateIDs}
	_, err = s.temporal.ExecuteWorkflow(tctx, client.StartWorkflowOptions{
		ID:            erasureID,
		TaskQueue:     workflows.TaskQueue,
		StaticSummary: workflows.ErasureSummary(in, "requested through DELETE /v1/candidates"),
		StaticDetails: workflows.ErasureDetails(in),
		// A DELETE while the erasure runs joins it; one after an erasure that failed before it
		// erased anything starts it again.
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		TypedSearchAttributes:    workflows.ErasureSearchAttributes(in),
	}, workflows.ErasureWorkflowName, in)
	// An erasure that completed under this id found these rows, so they are erased or about to be.
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		s.log.Warn("candidate erasure not started", "tenant_id", tenant.ID, "erasure_id", erasureID, "error", err)
		unavailable(c, "the erasure could not be started; retry later")
		return
	}
	s.log.Info("candidate erasure started", "tenant_id", tenant.ID, "erasure_id", erasureID,
		"screenings", len(target.ScreeningIDs))
	c.JSON(http.StatusAccepted, erasureResponse{Status: "erasing", ErasureID: erasureID, ScreeningIDs: target.ScreeningIDs})
}
