package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
)

// ErasureWorkflowName is the type name the worker registers ErasureWorkflow under.
const ErasureWorkflowName = "CandidateErasureWorkflow"

// ErasureWorkflowID is the workflow id of the erasure of a candidate reference, made of the id of
// the oldest candidate row stored under it, never of the reference: a DELETE repeated while the
// erasure runs finds the same rows, and so the same workflow.
func ErasureWorkflowID(firstCandidateID string) string { return "erasure/" + firstCandidateID }

// ErrTypeProviderCopyKept is the error an erasure ends with when a provider refused, for good, to
// delete its copy of the candidate: everything screenflow held is erased, the provider's copy is
// for an operator to see to.
const ErrTypeProviderCopyKept = "ProviderCopyKept"

// ErasureInput starts the erasure of a tenant's candidate: every candidate row stored under its
// reference. Ids only.
type ErasureInput struct {
	TenantID     string
	KeyID        string // the API key that asked, for the audit log
	CandidateIDs []string
}

// ErasureSummary is the erasure's one line in the Temporal UI: whose rows and why, ids only,
// never the reference the DELETE named.
func ErasureSummary(in ErasureInput, why string) string {
	return fmt.Sprintf("Erasure of candidate %s (%d row(s)): %s", in.CandidateIDs[0], len(in.CandidateIDs), why)
}

// ErasureDetails lists the erasure's candidate rows and who asked, for the Temporal UI.
func ErasureDetails(in ErasureInput) string {
	return fmt.Sprintf("Tenant `%s` · asked by key `%s`\n\nCandidate rows: `%s`", in.TenantID, in.KeyID,
		strings.Join(in.CandidateIDs, "`, `"))
}

// ErasureSearchAttributes are those an erasure starts with: operators find it by its tenant, and
// by the candidate id of a screening it erased.
func ErasureSearchAttributes(in ErasureInput) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(SearchAttrTenantID.ValueSet(in.TenantID), SearchAttrCandidateID.ValueSet(in.CandidateIDs))
}

// ErasureResult says what was erased.
type ErasureResult struct {
	CandidateIDs []string // erased by this run; empty when an earlier run had erased them
	ScreeningIDs []string
	// ProviderDeletions are the providers asked to delete their copy, one per check.
	ProviderDeletions []ProviderDeletion
}

// ProviderDeletion is a provider asked to delete what it holds about the candidate of a check.
type ProviderDeletion struct {
	Provider      string
	CheckID       string
	FailureReason string // why the provider did not delete it; "" when it did
}

// providerCopyDeleters are the providers whose API deletes what they hold about a candidate, and
// the activity that asks them to, taking activities.ProviderCopyInput. Authenticate is not here:
// see the README's section on erasure.
var providerCopyDeleters = map[string]any{
	complycube.Name: (*activities.ComplyCube).DeleteClient,
	checkr.Name:     (*activities.Checkr).RemoveCandidatePII,
}

// awaitClosedOptions poll until the candidate's workflows have closed: a cancellation takes a few
// workflow tasks, a check being canceled at its provider a little longer.
func awaitClosedOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second},
	})
}

// ErasureWorkflow erases a candidate: it cancels the candidate's screenings still running and
// waits until every workflow of theirs has closed, asks each provider whose API allows it to delete
// its copy, then erases the candidate's data in Postgres in one transaction, with an entry per
// screening in the audit log. Every step can run again, and so can the whole workflow.
func ErasureWorkflow(ctx workflow.Context, in ErasureInput) (ErasureResult, error) {
	var a *activities.Erasure
	var result ErasureResult
	sctx := storeActivityOptions(ctx)
	var scope activities.ErasureScope
	if err := workflow.ExecuteActivity(sctx, a.CandidateScope, in.CandidateIDs).Get(ctx, &scope); err != nil {
		return result, err
	}
	workflowIDs := candidateWorkflowIDs(scope)
	showStep(ctx, fmt.Sprintf("Canceling the candidate's %d screening(s) and waiting until their workflows have closed", len(scope.ScreeningIDs)))
	if err := workflow.ExecuteActivity(sctx, a.CancelWorkflows, activities.CancelWorkflowsInput{
		ScreeningIDs: scope.ScreeningIDs, WorkflowIDs: workflowIDs}).Get(ctx, nil); err != nil {
		return result, err
	}
	if err := workflow.ExecuteActivity(awaitClosedOptions(ctx), a.AwaitWorkflowsClosed, workflowIDs).Get(ctx, nil); err != nil {
		return result, err
	}

	var kept []string
	showStep(ctx, "Asking the providers to delete their copy")
	for _, c := range scope.Checks {
		deleter, ok := providerCopyDeleters[c.Provider]
		if !ok {
			continue
		}
		deletion := ProviderDeletion{Provider: c.Provider, CheckID: c.CheckID}
		err := workflow.ExecuteActivity(withSummary(providerActivityOptions(ctx), "ask "+c.Provider+" to delete its copy for check "+c.CheckID),
			providerActivity(c.Provider, deleter),
			activities.ProviderCopyInput{CheckID: c.CheckID}).Get(ctx, nil)
		if err != nil {
			// Refused for good, or still failing after a day of retries: the data screenflow
			// holds is erased all the same, and the workflow fails below so that operators see it.
			deletion.FailureReason = failureReason(err)
			kept = append(kept, fmt.Sprintf("%s (check %s): %s", c.Provider, c.CheckID, deletion.FailureReason))
		}
		result.ProviderDeletions = append(result.ProviderDeletions, deletion)
	}

	var erased store.Erased
	showStep(ctx, "Erasing the candidate's data in Postgres")
	if err := workflow.ExecuteActivity(sctx, a.EraseCandidates, store.Erasure{TenantID: in.TenantID, KeyID: in.KeyID,
		CandidateIDs: in.CandidateIDs}).Get(ctx, &erased); err != nil {
		return result, err
	}
	result.CandidateIDs, result.ScreeningIDs = erased.CandidateIDs, erased.ScreeningIDs
	if len(kept) > 0 {
		return result, temporal.NewNonRetryableApplicationError(
			"the candidate is erased here, but a provider still holds a copy: "+strings.Join(kept, "; "),
			ErrTypeProviderCopyKept, nil)
	}
	return result, nil
}

// candidateWorkflowIDs are the ids every workflow of the candidate's screenings runs under: each
// screening's and each check's, under which an amendment of a finished check runs too.
func candidateWorkflowIDs(scope activities.ErasureScope) []string {
	ids := make([]string, 0, len(scope.ScreeningIDs)+len(scope.Checks))
	for _, id := range scope.ScreeningIDs {
		ids = append(ids, ScreeningWorkflowID(id))
	}
	for _, c := range scope.Checks {
		ids = append(ids, CheckWorkflowID(c.ScreeningID, c.Provider, c.CheckID))
	}
	return ids
}
