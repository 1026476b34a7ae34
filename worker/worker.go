// Package worker builds the Temporal worker that runs screenflow's workflows and activities.
package worker

import (
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
	"github.com/screenflow/screenflow/workflows"
)

// Deps are what the activities need.
type Deps struct {
	Store        *store.Store
	ComplyCube   *complycube.Client
	Authenticate *authenticate.Client
	Checkr       *checkr.Client // direct account; integrated accounts use their sealed tokens
	Vault        *vault.Vault
}

// New builds a worker on workflows.TaskQueue with every workflow and activity registered.
func New(c client.Client, deps Deps) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{})
	Register(w, deps)
	return w
}

// Registry is the part of a worker (or of the Temporal test suite's environment) that registers.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivity(a interface{})
}

// Register registers every workflow and activity on r.
func Register(r Registry, deps Deps) {
	r.RegisterWorkflowWithOptions(workflows.ScreeningWorkflow, workflow.RegisterOptions{Name: "ScreeningWorkflow"})
	r.RegisterWorkflowWithOptions(workflows.ComplyCubeCheckWorkflow, workflow.RegisterOptions{Name: "ComplyCubeCheckWorkflow"})
	r.RegisterWorkflowWithOptions(workflows.AuthenticateCheckWorkflow, workflow.RegisterOptions{Name: "AuthenticateCheckWorkflow"})
	r.RegisterWorkflowWithOptions(workflows.CheckrCheckWorkflow, workflow.RegisterOptions{Name: "CheckrCheckWorkflow"})
	r.RegisterWorkflowWithOptions(workflows.CheckrAccountWorkflow, workflow.RegisterOptions{Name: "CheckrAccountWorkflow"})
	r.RegisterActivity(&activities.Screenings{Store: deps.Store})
	r.RegisterActivity(&activities.ComplyCube{Store: deps.Store, Client: deps.ComplyCube})
	r.RegisterActivity(&activities.Authenticate{Store: deps.Store, Client: deps.Authenticate})
	r.RegisterActivity(&activities.Checkr{Store: deps.Store, Client: deps.Checkr, Vault: deps.Vault})
	r.RegisterActivity(&activities.CheckrAccounts{Store: deps.Store})
}
