package worker

import (
	"context"
	"log/slog"
	"slices"

	"go.temporal.io/sdk/interceptor"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/workflows"
)

// storeErrors classifies every activity's errors with activities.StoreError, in one place rather
// than at each of the activities' store calls.
type storeErrors struct {
	interceptor.WorkerInterceptorBase
}

func (*storeErrors) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &storeErrorsActivity{}
	i.Next = next
	return i
}

type storeErrorsActivity struct {
	interceptor.ActivityInboundInterceptorBase
}

func (a *storeErrorsActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	result, err := a.Next.ExecuteActivity(ctx, in)
	return result, activities.StoreError(err)
}

// temporalWorkflowIDKey is the attribute the Temporal SDK names a workflow's id with on every log
// line about a workflow or one of its activities, its own and those of workflow.GetLogger and
// activity.GetLogger.
const temporalWorkflowIDKey = "WorkflowID"

// LogIDs wraps the handler of the logger given to the Temporal SDK so that every line the SDK
// writes about a workflow or an activity carries screenflow's ids under the names the rest of
// screenflow logs them with: workflow_id, and the screening_id and check_id that screenflow's
// deterministic workflow ids (screening/<screening>/<provider>/<check>) hold. Ids only: workflow
// ids carry no PII (architecture principle 7).
func LogIDs(h slog.Handler) slog.Handler { return logIDs{h} }

type logIDs struct{ slog.Handler }

func (h logIDs) Handle(ctx context.Context, r slog.Record) error {
	var ids []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == temporalWorkflowIDKey {
			ids = WorkflowLogIDs(a.Value.String())
			return false
		}
		return true
	})
	if len(ids) > 0 {
		r = r.Clone()
		r.AddAttrs(ids...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h logIDs) WithAttrs(attrs []slog.Attr) slog.Handler {
	for _, a := range attrs {
		if a.Key == temporalWorkflowIDKey {
			attrs = append(slices.Clone(attrs), WorkflowLogIDs(a.Value.String())...)
			break
		}
	}
	return logIDs{h.Handler.WithAttrs(attrs)}
}

func (h logIDs) WithGroup(name string) slog.Handler { return logIDs{h.Handler.WithGroup(name)} }

// WorkflowLogIDs are the log attributes of a workflow id: workflow_id, and screening_id and
// check_id when it is a screening's or a check's workflow.
func WorkflowLogIDs(workflowID string) []slog.Attr {
	ids := []slog.Attr{slog.String("workflow_id", workflowID)}
	screeningID, _, checkID, ok := workflows.ParseWorkflowID(workflowID)
	if !ok {
		return ids
	}
	ids = append(ids, slog.String("screening_id", screeningID))
	if checkID != "" {
		ids = append(ids, slog.String("check_id", checkID))
	}
	return ids
}
