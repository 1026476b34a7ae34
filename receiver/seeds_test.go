package receiver_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/providers/registry"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// seedOutcome is what one example of the providers' documents does in screenflow.
type seedOutcome struct {
	provider string
	inbox    string // the inbox status it is stored with
	subject  string // what routes it, unless the signal names its workflow
	signal   string // the signal it becomes
	check    func(t *testing.T, sig registry.Signal)
}

// TestSeedExamples feeds every JSON example of the provider documents in shared/seeds, byte for
// byte (testdata/seeds), through the receiver as its provider would send it (signed, or to the
// token URL), then translates what was stored: verify → parse → store → route → translate.
func TestSeedExamples(t *testing.T) {
	authenticateStored := func(kind string) seedOutcome {
		return seedOutcome{provider: authenticate.Name, inbox: store.InboxPending, subject: "user:string",
			signal: workflows.AuthenticateEventSignal, check: func(t *testing.T, sig registry.Signal) {
				ev := sig.Arg.(workflows.AuthenticateEvent)
				require.Equal(t, kind, ev.Type)
				require.NotEqual(t, "string", ev.EventID, "keyed by the body, not by the shared id")
			}}
	}
	unparsed := seedOutcome{provider: authenticate.Name, inbox: store.InboxUnparsed}
	cases := map[string]seedOutcome{
		// As documented, with a trailing comma: not JSON, kept for operators, acknowledged.
		"authenticate-events-1.json":       unparsed,
		"authenticate-subscription-1.json": unparsed,
		// As documented, three event names separated by "/": not JSON either.
		"authenticate-events-2.json":       unparsed,
		"authenticate-subscription-2.json": unparsed,
		"authenticate-events-3.json":       searchUpdate(authenticateStored(authenticate.EventCriminalStatusUpdate)),
		"authenticate-subscription-3.json": searchUpdate(authenticateStored(authenticate.EventCriminalStatusUpdate)),
		"authenticate-events-4.json":       authenticateStored(authenticate.EventAllCriminalComplete),
		"authenticate-subscription-4.json": authenticateStored(authenticate.EventAllCriminalComplete),
		"authenticate-events-5.json":       reportStage(authenticateStored(authenticate.EventPDFReportGeneration)),
		"authenticate-subscription-5.json": reportStage(authenticateStored(authenticate.EventPDFReportGeneration)),
		"authenticate-subscription-6.json": searchUpdate(authenticateStored(authenticate.EventSexOffenderStatusUpdate)),
		"checkr-oauth-1.json": {provider: checkr.Name, inbox: store.InboxPending,
			subject: "account:credentialed integrated account id", signal: workflows.CheckrAccountEventSignal,
			check: func(t *testing.T, sig registry.Signal) {
				require.Equal(t, workflows.CheckrAccountWorkflowID("credentialed integrated account id"), sig.WorkflowID,
					"the integrated account, not the partner's account_id")
				require.NotNil(t, sig.StartWorkflow, "started if the callback has not run yet")
				require.Equal(t, workflows.CheckrAccountCredentialed, sig.Arg.(workflows.CheckrAccountEvent).Kind)
			}},
		"checkr-oauth-2.json": {provider: checkr.Name, inbox: store.InboxPending,
			subject: "token:" + checkr.TokenFingerprint("dummy access token"), signal: workflows.CheckrAccountEventSignal,
			check: func(t *testing.T, sig registry.Signal) {
				ev := sig.Arg.(workflows.CheckrAccountEvent)
				require.Equal(t, workflows.CheckrAccountDeauthorized, ev.Kind)
				require.Equal(t, checkr.TokenFingerprint("dummy access token"), ev.TokenFingerprint)
			}},
		"checkr-oauth-3.json": {provider: checkr.Name, inbox: store.InboxPending, subject: "candidate:3cd3d2bf54acfd7207caa276",
			signal: workflows.CheckrEventSignal, check: func(t *testing.T, sig registry.Signal) {
				ev := sig.Arg.(workflows.CheckrEvent)
				require.Equal(t, checkr.EventReportCreated, ev.Type)
				require.Equal(t, "f4bda8bd0201d322e41301aa", ev.ObjectID)
				require.Equal(t, "pending", ev.Status)
			}},
		"complycube-1.json": {provider: complycube.Name, inbox: store.InboxPending, subject: "check:5ed3918fbf06f30008e552c9",
			signal: workflows.ComplyCubeEventSignal, check: func(t *testing.T, sig registry.Signal) {
				ev := sig.Arg.(workflows.ComplyCubeEvent)
				require.Equal(t, "check.completed.clear", ev.Type)
				require.Equal(t, "clear", ev.Outcome)
				require.Equal(t, "5ed3918fbf06f30008e552c9", ev.ResourceID)
			}},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "seeds", "*.json"))
	require.NoError(t, err)
	require.Len(t, files, len(cases), "every example has its expectation")

	h := newWebhookHarness(t, 0)
	providers := configuredProviders(t, nil)
	for _, f := range files {
		name := filepath.Base(f)
		want, ok := cases[name]
		require.True(t, ok, name)
		body, err := os.ReadFile(f)
		require.NoError(t, err)

		var a webhookAnswer
		switch want.provider {
		case complycube.Name:
			a = h.post(t, body, complycube.Sign(webhookSecret, body))
		case checkr.Name:
			a = h.postCheckr(t, body, checkr.Sign(checkrClientSecret, body))
		case authenticate.Name:
			a = h.postAuthenticate(t, "/webhooks/authenticate/"+authenticateToken, body)
		}
		require.Equal(t, 200, a.status, "%s: an authentic event is never refused: %s", name, a.raw)

		// The inbox stores the body without its secrets (registry.Scrub), and the relay translates that.
		p, _ := providers.Get(want.provider)
		stored := registry.Scrub(p, store.NewInboxEvent{Headers: map[string]string{}, Body: body}, "").Body
		var row struct {
			Status  string `db:"status"`
			Subject string `db:"subject"`
		}
		require.NoError(t, h.db.Get(&row, `SELECT status, subject FROM webhook_events WHERE provider = $1 AND body = $2`,
			want.provider, stored), name)
		require.Equal(t, want.inbox, row.Status, name)
		if want.inbox == store.InboxUnparsed {
			continue
		}
		require.Equal(t, want.subject, row.Subject, name)
		sig, err := providers.Translate(want.provider, stored)
		require.NoError(t, err, name)
		require.Equal(t, want.signal, sig.Name, name)
		env, err := p.ParseWebhook(stored)
		require.NoError(t, err, name)
		require.Equal(t, sig.WorkflowID == "", env.Routed, "%s: routed exactly when its signal names no workflow", name)
		t.Run(name, func(t *testing.T) { want.check(t, sig) })
	}
}

func searchUpdate(o seedOutcome) seedOutcome {
	check := o.check
	o.check = func(t *testing.T, sig registry.Signal) {
		check(t, sig)
		ev := sig.Arg.(workflows.AuthenticateEvent)
		require.NotNil(t, ev.Search, "the search's status travels")
		require.Equal(t, "string", ev.Search.SearchStatus)
	}
	return o
}

func reportStage(o seedOutcome) seedOutcome {
	check := o.check
	o.check = func(t *testing.T, sig registry.Signal) {
		check(t, sig)
		ev := sig.Arg.(workflows.AuthenticateEvent)
		require.Equal(t, "string", ev.ReportUUID)
		require.Equal(t, "string", ev.Status)
	}
	return o
}
