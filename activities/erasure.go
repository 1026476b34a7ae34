package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/screenflow/screenflow/store"
)

// Erasure carries out the erasure of a candidate (workflows.ErasureWorkflow): it ends the
// candidate's workflows, then erases the candidate's data in Postgres. Asking each provider to
// delete its copy is the provider's own activity (ComplyCube.DeleteClient,
// Checkr.RemoveCandidatePII).
type Erasure struct {
	Store    *store.Store
	Temporal client.Client
}

// ErasureScope is what an erasure covers: the candidates' screenings and their checks.
type ErasureScope struct {
	ScreeningIDs []string
	Checks       []ErasureCheck
}

// ErasureCheck is one check of a candidate: its workflow's id is made of these, and its provider
// may hold a copy of the candidate.
type ErasureCheck struct {
	ScreeningID string
	CheckID     string
	Provider    string
}

// CandidateScope lists the candidates' screenings and checks.
func (a *Erasure) CandidateScope(ctx context.Context, candidateIDs []string) (ErasureScope, error) {
	screenings, err := a.Store.CandidateScreenings(ctx, candidateIDs)
	if err != nil {
		return ErasureScope{}, err
	}
	checks, err := a.Store.CandidateChecks(ctx, candidateIDs)
	if err != nil {
		return ErasureScope{}, err
	}
	var scope ErasureScope
	for _, s := range screenings {
		scope.ScreeningIDs = append(scope.ScreeningIDs, s.ID)
	}
	for _, c := range checks {
		scope.Checks = append(scope.Checks, ErasureCheck{ScreeningID: c.ScreeningID, CheckID: c.ID, Provider: c.Provider})
	}
	return scope, nil
}

// CancelWorkflowsInput names what to cancel: the screenings, and every workflow that may run for
// them (each screening's, each check's, and an amendment that runs under a finished check's id).
type CancelWorkflowsInput struct {
	ScreeningIDs []string
	WorkflowIDs  []string
}

// CancelWorkflows cancels as POST /v1/screenings/{id}/cancel does: a screening whose workflow never
// started is canceled in Postgres, so that it never starts; every workflow is asked to cancel
// through Temporal, which a closed or unknown one does not need. Asking again is harmless, so the
// activity can be retried.
func (a *Erasure) CancelWorkflows(ctx context.Context, in CancelWorkflowsInput) error {
	for _, id := range in.ScreeningIDs {
		if _, err := a.Store.CancelUnstarted(ctx, id); err != nil {
			return err
		}
	}
	for _, id := range in.WorkflowIDs {
		err := a.Temporal.CancelWorkflow(ctx, id, "")
		var gone *serviceerror.NotFound
		if err != nil && !errors.As(err, &gone) {
			return fmt.Errorf("cancel workflow %s: %w", id, err)
		}
	}
	return nil
}

// AwaitWorkflowsClosed fails with ErrTypeNotReady while one of the workflows still runs, so that
// its retry policy polls until all have closed: only then can nothing write the candidate's data
// again.
func (a *Erasure) AwaitWorkflowsClosed(ctx context.Context, workflowIDs []string) error {
	for _, id := range workflowIDs {
		d, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
		var gone *serviceerror.NotFound
		switch {
		case errors.As(err, &gone):
			continue
		case err != nil:
			return fmt.Errorf("describe workflow %s: %w", id, err)
		case d.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
			return notReady("workflow " + id + " is still running")
		}
	}
	return nil
}

// EraseCandidates erases the candidates' data in Postgres in one transaction and records the
// erasure in the audit log (store.EraseCandidates). Run again, it erases nothing more.
func (a *Erasure) EraseCandidates(ctx context.Context, e store.Erasure) (store.Erased, error) {
	return a.Store.EraseCandidates(ctx, e)
}

// ProviderCopyInput names a check whose provider is to delete what it holds about the check's
// candidate.
type ProviderCopyInput struct {
	CheckID string
}

// DeleteClient deletes the ComplyCube client created for the check, and with it what ComplyCube
// holds about the candidate. A check whose client id was never stored (its creation's answer was
// lost) finds the client by its externalId, our check id; one that never made a client has
// nothing to delete. A client already gone counts as deleted.
func (a *ComplyCube) DeleteClient(ctx context.Context, in ProviderCopyInput) error {
	check, err := a.Store.Check(ctx, in.CheckID)
	if err != nil {
		return err
	}
	var clientID string
	if check.ProviderClientID != nil {
		clientID = *check.ProviderClientID
	} else {
		cl, found, err := a.Client.FindClient(ctx, in.CheckID)
		if err != nil {
			return providerError("ComplyCube", err)
		}
		if !found {
			return nil
		}
		clientID = cl.ID
	}
	if err := a.Client.DeleteClient(ctx, clientID); err != nil {
		return providerError("ComplyCube", err)
	}
	return nil
}

// RemoveCandidatePII asks Checkr to remove the personal data of the candidate created for the
// check, on the account the check ran on: with the integrated account's access token, or the
// direct key. A check whose candidate id was never stored (its creation's answer was lost) finds
// the candidate by its custom_id, our check id; one that never made a candidate has nothing to
// remove. A candidate already gone, or whose PII was removed before, counts as done. Checkr wants
// a contact for the request: without CHECKR_DELETION_CONTACT_EMAIL it fails for good, and so
// does it on an account whose access was revoked, which nothing but reconnecting it lets us use.
func (a *Checkr) RemoveCandidatePII(ctx context.Context, in ProviderCopyInput) error {
	check, err := a.Store.Check(ctx, in.CheckID)
	if err != nil {
		return err
	}
	client, err := a.clientFor(ctx, orEmpty(check.CheckrAccountID))
	if err != nil {
		return err
	}
	var candidateID string
	if check.ProviderClientID != nil {
		candidateID = *check.ProviderClientID
	} else {
		cand, found, err := client.FindCandidate(ctx, in.CheckID)
		if err != nil {
			return providerError("Checkr", err)
		}
		if !found {
			return nil
		}
		candidateID = cand.ID
	}
	if a.DeletionContact == "" {
		return permanent("CHECKR_DELETION_CONTACT_EMAIL is not set: Checkr's copy of the candidate cannot be removed",
			ErrTypeNotConfigured)
	}
	if err := client.RemoveCandidatePII(ctx, candidateID, a.DeletionContact); err != nil {
		return providerError("Checkr", err)
	}
	return nil
}
