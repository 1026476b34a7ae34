package relay

import (
	"errors"

	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/checkr"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/workflows"
)

// Translators maps each provider to the translator of its webhooks.
var Translators = map[string]Translator{
	activities.ProviderComplyCube:   translateComplyCube,
	activities.ProviderAuthenticate: translateAuthenticate,
	activities.ProviderCheckr:       translateCheckr,
}

// translateComplyCube keeps the summary only: client and document payloads carry PII.
func translateComplyCube(body []byte) (Signal, error) {
	ev, err := complycube.ParseEvent(body)
	if err != nil {
		return Signal{}, err
	}
	s := ev.Summary()
	return Signal{Name: workflows.ComplyCubeEventSignal, Arg: workflows.ComplyCubeEvent{
		EventID: s.EventID, Type: s.Type, ResourceType: s.ResourceType, ResourceID: s.ResourceID,
		Status: s.Status, Outcome: s.Outcome, OccurredAt: s.OccurredAt,
	}}, nil
}

// translateAuthenticate keeps the summary only: it has no PII, and no report link either.
func translateAuthenticate(body []byte) (Signal, error) {
	ev, err := authenticate.ParseEvent(body)
	if err != nil {
		return Signal{}, err
	}
	s := ev.Summary()
	return Signal{Name: workflows.AuthenticateEventSignal, Arg: workflows.AuthenticateEvent{
		EventID: s.EventID, Type: s.Type, OccurredAt: s.OccurredAt, Status: s.Status,
		VerificationMethod: s.VerificationMethod, ReportUUID: s.ReportUUID, Expires: s.Expires, Search: s.Search,
	}}, nil
}

// translateCheckr sends account events to the account's workflow (starting it if an early
// account.credentialed comes before the OAuth callback did) and the rest to the check workflows.
// Candidate payloads carry PII and token events the access code: only the summary travels.
func translateCheckr(body []byte) (Signal, error) {
	ev, err := checkr.ParseEvent(body)
	if err != nil {
		return Signal{}, err
	}
	switch ev.Type {
	case checkr.EventAccountCredentialed:
		accountID := ev.CredentialedAccountID()
		if accountID == "" {
			return Signal{}, errors.New("account.credentialed names no account")
		}
		return Signal{Name: workflows.CheckrAccountEventSignal,
			Arg:           workflows.CheckrAccountEvent{Kind: workflows.CheckrAccountCredentialed, EventID: ev.ID},
			WorkflowID:    workflows.CheckrAccountWorkflowID(accountID),
			StartWorkflow: workflows.CheckrAccountWorkflow, StartInput: workflows.CheckrAccountInput{AccountID: accountID}}, nil
	case checkr.EventTokenDeauthorized:
		return Signal{Name: workflows.CheckrAccountEventSignal,
			Arg: workflows.CheckrAccountEvent{Kind: workflows.CheckrAccountDeauthorized, EventID: ev.ID,
				TokenFingerprint: ev.DeauthorizedTokenFingerprint()}}, nil
	}
	s := ev.Summary()
	return Signal{Name: workflows.CheckrEventSignal, Arg: workflows.CheckrEvent{
		EventID: s.EventID, Type: s.Type, CreatedAt: s.CreatedAt, ObjectID: s.ObjectID, ObjectType: s.ObjectType,
		Status: s.Status, Result: s.Result, Assessment: s.Assessment, Adjudication: s.Adjudication, ReportID: s.ReportID,
	}}, nil
}
