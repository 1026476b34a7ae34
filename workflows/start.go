package workflows

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/screenflow/screenflow/store"
)

// StartScreening starts the screening's workflow. Starting it again is a no-op, so the HR API and
// the relay's sweep may both try. The workflow shows the screening in progress from its start: it
// runs from then on (a screening canceled before it began shows canceled as soon as the workflow
// finds out), and the workflow need not say so in an event of its own. Its summary, details and
// search attributes tell operators in the Temporal UI what it screens, with ids only.
func StartScreening(ctx context.Context, c client.Client, in ScreeningInput) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       ScreeningWorkflowID(in.ScreeningID),
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            screeningSummary(in),
		StaticDetails:            screeningDetails(in),
		TypedSearchAttributes:    temporal.NewSearchAttributes(screeningSearchAttributes(in)...),
	}, ScreeningWorkflow, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("start screening workflow: %w", err)
	}
	return nil
}

// screeningSearchAttributes are those a screening starts with: in progress, its tenant, its
// providers and its candidate.
func screeningSearchAttributes(in ScreeningInput) []temporal.SearchAttributeUpdate {
	attrs := []temporal.SearchAttributeUpdate{
		SearchAttrScreeningStatus.ValueSet(string(store.StatusInProgress)),
		SearchAttrTenantID.ValueSet(in.TenantID),
	}
	if providers := in.providers(); len(providers) > 0 {
		attrs = append(attrs, SearchAttrProvider.ValueSet(providers))
	}
	if in.CandidateID != "" {
		attrs = append(attrs, SearchAttrCandidateID.ValueSet([]string{in.CandidateID}))
	}
	return attrs
}
