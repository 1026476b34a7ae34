package workflows

import (
	"encoding/json"
	"errors"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/store"
)

// ScreeningInput starts the workflow of one screening. Ids only: the candidate is in Postgres.
type ScreeningInput struct {
	ScreeningID string
	TenantID    string
	// CandidateID is our id of the candidate row, for operators in the Temporal UI; "" in
	// workflows started before it was added.
	CandidateID string
	Checks      []CheckRef
	Timing      Timing
}

// CheckRef is one ordered check.
type CheckRef struct {
	CheckID  string
	Provider string
	Type     string
	// Workflow is the provider's check workflow type; "" when the provider is not registered.
	Workflow  string
	Options   json.RawMessage
	AccountID string
}

// ScreeningStatus answers QueryStatus and is the workflow's result.
type ScreeningStatus struct {
	Status store.Status
	Result string // clear or consider, once completed
	Checks []CheckStatus
}

// CheckStatus is one check as the screening sees it.
type CheckStatus struct {
	CheckID       string
	Provider      string
	Type          string
	Status        store.Status
	Outcome       string
	FailureReason string
	DocumentIDs   []string
}

// Screening results.
const (
	ResultClear    = store.ResultClear
	ResultConsider = store.ResultConsider
)

// NewScreeningInput builds the workflow input from the stored screening and its checks;
// checkWorkflow names each provider's check workflow (see registry.Provider.CheckWorkflow), "" for
// an unknown provider.
func NewScreeningInput(scr store.Screening, checks []store.Check, timing Timing,
	checkWorkflow func(provider string) string) ScreeningInput {
	in := ScreeningInput{ScreeningID: scr.ID, TenantID: scr.TenantID, CandidateID: scr.CandidateID, Timing: timing}
	for _, c := range checks {
		ref := CheckRef{CheckID: c.ID, Provider: c.Provider, Type: c.Type, Workflow: checkWorkflow(c.Provider),
			Options: c.Options}
		if c.CheckrAccountID != nil {
			ref.AccountID = *c.CheckrAccountID
		}
		in.Checks = append(in.Checks, ref)
	}
	return in
}

// ScreeningWorkflowName is the type name the worker registers ScreeningWorkflow under.
const ScreeningWorkflowName = "ScreeningWorkflow"

// ScreeningWorkflow runs one screening: a child workflow per check, the screening's status in
// Postgres and in its search attributes, and cancellation of everything on request.
func ScreeningWorkflow(ctx workflow.Context, in ScreeningInput) (ScreeningStatus, error) {
	s := ScreeningStatus{Status: store.StatusInProgress}
	for _, c := range in.Checks {
		s.Checks = append(s.Checks, CheckStatus{CheckID: c.CheckID, Provider: c.Provider, Type: c.Type,
			Status: store.StatusPending})
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (ScreeningStatus, error) { return s, nil }); err != nil {
		return s, err
	}
	showScreeningProgress(ctx, s)
	version := historyVersion(ctx)
	local := version >= fewerEventsVersion
	var sa *activities.Screenings
	var begun bool
	if err := storeWrite(ctx, local, sa.BeginScreening, in.ScreeningID).Get(ctx, &begun); err != nil {
		if errors.Is(ctx.Err(), workflow.ErrCanceled) {
			return cancelScreening(ctx, local, in, &s)
		}
		return s, err
	}
	if !begun {
		s.Status = store.StatusCanceled
		showScreeningProgress(ctx, s)
		return s, workflow.UpsertTypedSearchAttributes(ctx,
			SearchAttrScreeningStatus.ValueSet(string(store.StatusCanceled)), SearchAttrTenantID.ValueSet(in.TenantID))
	}
	if version < eventsBypassVersion || !startedInProgress(ctx) {
		if err := workflow.UpsertTypedSearchAttributes(ctx,
			SearchAttrScreeningStatus.ValueSet(string(store.StatusInProgress)), SearchAttrTenantID.ValueSet(in.TenantID)); err != nil {
			return s, err
		}
	}

	selector := workflow.NewSelector(ctx)
	for i, c := range in.Checks {
		future, err := startCheck(ctx, in, c)
		if err != nil {
			s.Checks[i].Status, s.Checks[i].FailureReason = store.StatusFailed, err.Error()
			continue
		}
		s.Checks[i].Status = store.StatusInProgress
		selector.AddFuture(future, func(f workflow.Future) {
			defer showScreeningProgress(ctx, s)
			var r CheckResult
			if err := f.Get(ctx, &r); err != nil {
				if temporal.IsCanceledError(err) {
					s.Checks[i].Status = store.StatusCanceled
					return
				}
				s.Checks[i].Status, s.Checks[i].FailureReason = store.StatusFailed, failureReason(err)
				return
			}
			s.Checks[i].Status, s.Checks[i].Outcome, s.Checks[i].FailureReason = r.Status, r.Outcome, r.FailureReason
			for _, d := range r.Documents {
				s.Checks[i].DocumentIDs = append(s.Checks[i].DocumentIDs, d.DocumentID)
			}
		})
	}
	showScreeningProgress(ctx, s)
	for !allChecksFinished(s.Checks) {
		selector.Select(ctx)
	}
	if errors.Is(ctx.Err(), workflow.ErrCanceled) {
		return cancelScreening(ctx, local, in, &s)
	}

	status, result, detail := conclude(s.Checks)
	// Every check has finished: the outcome stands even if a cancellation comes now, and it must
	// reach Postgres, so its write is not canceled with the workflow.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if err := setStatus(dctx, local, in, &s, status, result, "screening."+string(status), detail); err != nil {
		return s, err
	}
	return s, nil
}

// startedInProgress reports whether the workflow was started showing the screening in progress,
// as StartScreening does: then it need not say so once the screening has begun.
func startedInProgress(ctx workflow.Context) bool {
	status, _ := workflow.GetTypedSearchAttributes(ctx).GetKeyword(SearchAttrScreeningStatus)
	return status == string(store.StatusInProgress)
}

func startCheck(ctx workflow.Context, in ScreeningInput, c CheckRef) (workflow.ChildWorkflowFuture, error) {
	if c.Workflow == "" {
		return nil, fmt.Errorf("provider %q is not supported", c.Provider)
	}
	return workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, checkOptions(in, c)), c.Workflow, CheckInput{
		ScreeningID: in.ScreeningID, CheckID: c.CheckID, TenantID: in.TenantID, Type: c.Type,
		Options: c.Options, AccountID: c.AccountID, Timing: in.Timing,
	}), nil
}

// checkOptions are those the screening starts a check's workflow with.
func checkOptions(in ScreeningInput, c CheckRef) workflow.ChildWorkflowOptions {
	return workflow.ChildWorkflowOptions{
		WorkflowID: CheckWorkflowID(in.ScreeningID, c.Provider, c.CheckID),
		// Operators find a tenant's checks too, e.g. those awaiting credentialing, and a
		// provider's. The SDK compares neither these nor the summary with a recorded history.
		TypedSearchAttributes: temporal.NewSearchAttributes(checkSearchAttributes(in, c)...),
		StaticSummary:         checkSummary(in, c),
		StaticDetails:         checkDetails(in, c),
		// A canceled screening waits for its checks to record their cancellation.
		WaitForCancellation: true,
		ParentClosePolicy:   enums.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
	}
}

// checkSearchAttributes are those a check starts with: in progress, its tenant, its provider and
// its candidate.
func checkSearchAttributes(in ScreeningInput, c CheckRef) []temporal.SearchAttributeUpdate {
	attrs := []temporal.SearchAttributeUpdate{
		SearchAttrScreeningStatus.ValueSet(string(store.StatusInProgress)),
		SearchAttrTenantID.ValueSet(in.TenantID),
		SearchAttrProvider.ValueSet([]string{c.Provider}),
	}
	if in.CandidateID != "" {
		attrs = append(attrs, SearchAttrCandidateID.ValueSet([]string{in.CandidateID}))
	}
	return attrs
}

func allChecksFinished(checks []CheckStatus) bool {
	for _, c := range checks {
		if !store.IsTerminal(c.Status) {
			return false
		}
	}
	return true
}

// conclude derives the screening's status from its checks with store.ConcludeScreening, the rule
// a check's last write settles the screening with too.
func conclude(checks []CheckStatus) (status store.Status, result, detail string) {
	concluded := make([]store.CheckConclusion, len(checks))
	for i, c := range checks {
		concluded[i] = store.CheckConclusion{Provider: c.Provider, Status: c.Status, Outcome: c.Outcome, FailureReason: c.FailureReason}
	}
	return store.ConcludeScreening(concluded)
}

func setStatus(ctx workflow.Context, local bool, in ScreeningInput, s *ScreeningStatus, status store.Status, result, kind, detail string) error {
	s.Status, s.Result = status, result
	showScreeningProgress(ctx, *s)
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		SearchAttrScreeningStatus.ValueSet(string(status)), SearchAttrTenantID.ValueSet(in.TenantID)); err != nil {
		return err
	}
	var sa *activities.Screenings
	return storeWrite(ctx, local, sa.SetScreeningStatus, activities.ScreeningStatusInput{
		ScreeningID: in.ScreeningID, Status: status, Result: result,
		Timeline: activities.TimelineInput{DedupeKey: kind, Kind: kind, Detail: detail, OccurredAt: workflow.Now(ctx)},
	}).Get(ctx, nil)
}

func cancelScreening(ctx workflow.Context, local bool, in ScreeningInput, s *ScreeningStatus) (ScreeningStatus, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if err := setStatus(dctx, local, in, s, store.StatusCanceled, "", "screening.canceled", "canceled on request"); err != nil {
		return *s, err
	}
	return *s, temporal.NewCanceledError()
}
