//go:build fault && linux

package faultsuite

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/screenflow/screenflow/workflows"
)

// checkrAccountWorkflowType is the one workflow meant to outlive its screenings: it runs as long
// as the account is connected.
const checkrAccountWorkflowType = workflows.CheckrAccountWorkflowName

// workflowRun is one workflow execution as Temporal lists it, with what its history shows.
type workflowRun struct {
	ID, RunID, Type, Status string
	FailedTasks             int
	FirstFailure            string // the first failed workflow task's cause and message
	// RedoneTasks counts the tasks Temporal refused because events (a late signal) came in
	// while the worker completed them: it then hands the workflow a new task with those events.
	// That is how no signal gets past a closing workflow, not a failure of the workflow's code.
	RedoneTasks int
}

func (d *deployment) temporalClient(ctx context.Context) client.Client {
	tc, err := client.DialContext(ctx, client.Options{HostPort: d.temporalAddr, Namespace: "default",
		Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		d.t.Fatal(err)
	}
	return tc
}

// listWorkflows lists every workflow execution in the namespace, closed runs included: the
// screenings, their checks (children), the Checkr accounts' and any other.
func listWorkflows(ctx context.Context, tc client.Client) ([]workflowRun, error) {
	var runs []workflowRun
	var page []byte
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: page})
		if err != nil {
			return runs, err
		}
		for _, e := range resp.GetExecutions() {
			runs = append(runs, workflowRun{ID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(),
				Type: e.GetType().GetName(), Status: e.GetStatus().String()})
		}
		if page = resp.GetNextPageToken(); len(page) == 0 {
			return runs, nil
		}
	}
}

// readFailedTasks counts the WorkflowTaskFailed events in the run's history, the redone ones
// apart.
func readFailedTasks(ctx context.Context, tc client.Client, r *workflowRun) error {
	r.FailedTasks, r.FirstFailure, r.RedoneTasks = 0, "", 0
	iter := tc.GetWorkflowHistory(ctx, r.ID, r.RunID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return err
		}
		a := ev.GetWorkflowTaskFailedEventAttributes()
		switch {
		case a == nil:
		case a.GetCause() == enums.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND:
			r.RedoneTasks++
		default:
			r.FailedTasks++
			if r.FirstFailure == "" {
				r.FirstFailure = a.GetCause().String() + ": " + firstLine(a.GetFailure().GetMessage())
			}
		}
	}
	return nil
}

// failedTasksOfRunning counts the failed workflow tasks of the running workflows, where a
// deploy that broke them shows first.
func failedTasksOfRunning(ctx context.Context, tc client.Client, runs []workflowRun) (int, error) {
	n := 0
	for i := range runs {
		if runs[i].Status != "Running" {
			continue
		}
		if err := readFailedTasks(ctx, tc, &runs[i]); err != nil {
			return n, err
		}
		n += runs[i].FailedTasks
	}
	return n, nil
}

func workflowIDsOf(s *deployScreening) []string {
	ids := []string{workflows.ScreeningWorkflowID(s.ID)}
	for _, c := range s.Checks {
		ids = append(ids, checkWorkflowID(s, c))
	}
	return ids
}

func checkWorkflowID(s *deployScreening, c deployCheck) string {
	return workflows.CheckWorkflowID(s.ID, c.Provider, c.ID)
}

// judge reads the end state through the HR API and Temporal, and returns the ledger and what is
// wrong: a screening not completed, a document missing or not the PDF it claims, a workflow task
// failed, a workflow still running (the Checkr accounts' aside) or ended otherwise than
// completed, a process that crashed.
func (d *deployment) judge(ctx context.Context) (string, []string) {
	var violations []string
	violate := func(format string, args ...any) { violations = append(violations, fmt.Sprintf(format, args...)) }

	tc := d.temporalClient(ctx)
	defer tc.Close()
	runs, err := listWorkflows(ctx, tc)
	if err != nil {
		violate("list workflows: %v", err)
	}
	failedTasks, redoneTasks := 0, 0
	runsOf := map[string][]workflowRun{} // by screening id; "" for the rest
	for i := range runs {
		r := &runs[i]
		if err := readFailedTasks(ctx, tc, r); err != nil {
			violate("history of %s: %v", r.ID, err)
		}
		failedTasks += r.FailedTasks
		redoneTasks += r.RedoneTasks
		if r.FailedTasks > 0 {
			violate("workflow %s (%s, %s): %d failed workflow tasks, the first %s", r.ID, r.Type, r.Status, r.FailedTasks, r.FirstFailure)
		}
		switch {
		case r.Status == "Completed":
		case r.Type == checkrAccountWorkflowType && (r.Status == "Running" || r.Status == "ContinuedAsNew"):
		default:
			violate("workflow %s (%s) is %s", r.ID, r.Type, r.Status)
		}
		owner := ""
		for _, s := range d.screenings {
			if r.ID == workflows.ScreeningWorkflowID(s.ID) || strings.HasPrefix(r.ID, workflows.ScreeningWorkflowID(s.ID)+"/") {
				owner = s.ID
			}
		}
		runsOf[owner] = append(runsOf[owner], *r)
	}

	var out strings.Builder
	fmt.Fprintf(&out, "from %s (%s) to the working tree\n", short(d.previous.commit), d.from)
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tscenario\tproviders\tbefore deploy\tafter\tresult\tdocs\tworkflows\tfailed wf tasks")
	type tally struct{ checks, completed int }
	byProvider := map[string]*tally{}
	completed := 0
	for _, s := range d.screenings {
		name := fmt.Sprintf("screening %d (%s)", s.N, s.Scenario)
		scr, err := d.screening(ctx, s.ID)
		if err != nil {
			violate("%s: %v", name, err)
		}
		var providers []string
		for _, c := range s.Checks {
			providers = append(providers, c.Provider)
		}
		for _, c := range scr.Checks {
			t := byProvider[c.Provider]
			if t == nil {
				t = &tally{}
				byProvider[c.Provider] = t
			}
			t.checks++
			if c.Status == "completed" {
				t.completed++
			} else {
				violate("%s: %s check %s is %s", name, c.Provider, c.ID, c.Status)
			}
		}
		if scr.Status == "completed" {
			completed++
		} else {
			violate("%s: %s, want completed", name, dash(scr.Status))
		}
		if scr.Status == "completed" && scr.Result != "clear" {
			violate("%s: result %q, want clear", name, scr.Result)
		}
		// Every check here is asked for its report: one document each.
		docsOK := 0
		for _, doc := range scr.Documents {
			if err := d.documentOK(ctx, doc.URL, doc.Size, doc.SHA256); err != nil {
				violate("%s: %v", name, err)
				continue
			}
			docsOK++
		}
		if len(scr.Documents) != len(s.Checks) {
			violate("%s: %d documents, want %d, one per check", name, len(scr.Documents), len(s.Checks))
		}
		statuses := map[string]int{}
		tasks := 0
		for _, r := range runsOf[s.ID] {
			statuses[r.Status]++
			tasks += r.FailedTasks
		}
		if want := len(workflowIDsOf(s)); len(runsOf[s.ID]) < want {
			violate("%s: Temporal lists %d of its %d workflows", name, len(runsOf[s.ID]), want)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%d\n", s.N, s.Scenario, strings.Join(providers, "+"), dash(s.Before),
			dash(scr.Status), dash(scr.Result), docsOK, len(s.Checks), countsText(statuses), tasks)
	}
	tw.Flush()

	var providerLines []string
	for _, p := range slices.Sorted(maps.Keys(byProvider)) {
		providerLines = append(providerLines, fmt.Sprintf("%s %d/%d", p, byProvider[p].completed, byProvider[p].checks))
	}
	fmt.Fprintf(&out, "\nscreenings completed: %d/%d; checks completed by provider: %s\n", completed, len(d.screenings),
		strings.Join(providerLines, ", "))
	byType := map[string]int{}
	for _, r := range runs {
		byType[r.Type+" "+r.Status]++
	}
	fmt.Fprintf(&out, "workflows: %d (%s); failed workflow tasks: %d; tasks redone for events that came in meanwhile: %d\n",
		len(runs), countsText(byType), failedTasks, redoneTasks)
	for _, r := range runsOf[""] {
		fmt.Fprintf(&out, "  outside the screenings: %s (%s, %s)\n", r.ID, r.Type, r.Status)
	}
	if len(d.skipped) > 0 {
		fmt.Fprintf(&out, "scenarios skipped: %s\n", strings.Join(d.skipped, "; "))
	}

	for _, p := range append(d.stopped, d.serve, d.worker) {
		if p == nil {
			continue
		}
		for _, c := range p.crashes() {
			violate("%s", c)
		}
	}
	fmt.Fprintf(&out, "steps:\n%s", d.ledger.faultLog())
	fmt.Fprintf(&out, "timings:\n%s", d.ledger.timings())
	return out.String(), violations
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
