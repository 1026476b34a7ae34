package relay

import (
	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/workflows"
)

// Translators maps each provider to the translator of its webhooks.
var Translators = map[string]Translator{
	activities.ProviderComplyCube:   translateComplyCube,
	activities.ProviderAuthenticate: translateAuthenticate,
}

// translateComplyCube keeps the summary only: client and document payloads carry PII.
func translateComplyCube(body []byte) (string, any, error) {
	ev, err := complycube.ParseEvent(body)
	if err != nil {
		return "", nil, err
	}
	s := ev.Summary()
	return workflows.ComplyCubeEventSignal, workflows.ComplyCubeEvent{
		EventID: s.EventID, Type: s.Type, ResourceType: s.ResourceType, ResourceID: s.ResourceID,
		Status: s.Status, Outcome: s.Outcome, OccurredAt: s.OccurredAt,
	}, nil
}

// translateAuthenticate keeps the summary only: it has no PII, and no report link either.
func translateAuthenticate(body []byte) (string, any, error) {
	ev, err := authenticate.ParseEvent(body)
	if err != nil {
		return "", nil, err
	}
	s := ev.Summary()
	return workflows.AuthenticateEventSignal, workflows.AuthenticateEvent{
		EventID: s.EventID, Type: s.Type, OccurredAt: s.OccurredAt, Status: s.Status,
		VerificationMethod: s.VerificationMethod, ReportUUID: s.ReportUUID, Expires: s.Expires, Search: s.Search,
	}, nil
}
