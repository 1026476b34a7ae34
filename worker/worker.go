// Package worker builds the Temporal worker that runs screenflow's workflows and activities.
package worker

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/workflows"
)

// New builds a worker on workflows.TaskQueue with the screening workflow and every provider's
// workflows and activities registered.
func New(c client.Client, providers *registry.Registry, deps registry.Deps) (sdkworker.Worker, error) {
	return NewWithOptions(c, providers, deps, sdkworker.Options{})
}

// NewWithOptions is New with the worker's limits (concurrent executions, pollers) set in options;
// the interceptors are added to those the options carry.
func NewWithOptions(c client.Client, providers *registry.Registry, deps registry.Deps, options sdkworker.Options) (sdkworker.Worker, error) {
	options.Interceptors = append(options.Interceptors, Interceptors()...)
	w := sdkworker.New(c, workflows.TaskQueue, options)
	if err := Register(w, providers, deps); err != nil {
		return nil, err
	}
	// The erasure's activities cancel and watch workflows, so they need the worker's client.
	w.RegisterActivityWithOptions(&activities.Erasure{Store: deps.Store, Temporal: c}, activity.RegisterOptions{})
	return w, nil
}

// Interceptors are the worker's interceptors, for tests that run workflows in the test suite.
func Interceptors() []interceptor.WorkerInterceptor {
	return []interceptor.WorkerInterceptor{&storeErrors{}}
}

// Register registers the screening workflow, the activities every check shares, and each
// provider's own on w (a worker, or the Temporal test suite's environment).
func Register(w registry.Worker, providers *registry.Registry, deps registry.Deps) error {
	w.RegisterWorkflowWithOptions(workflows.ScreeningWorkflow, workflow.RegisterOptions{Name: workflows.ScreeningWorkflowName})
	w.RegisterActivityWithOptions(&activities.Screenings{Store: deps.Store}, activity.RegisterOptions{})
	w.RegisterWorkflowWithOptions(workflows.ErasureWorkflow, workflow.RegisterOptions{Name: workflows.ErasureWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.PurgeWorkflow, workflow.RegisterOptions{Name: workflows.PurgeWorkflowName})
	w.RegisterActivityWithOptions(&activities.Purge{Store: deps.Store}, activity.RegisterOptions{})
	return providers.Register(w, deps)
}
