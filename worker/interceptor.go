package worker

import (
	"context"

	"go.temporal.io/sdk/interceptor"

	"github.com/screenflow/screenflow/activities"
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
