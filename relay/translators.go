package relay

import (
	"github.com/screenflow/screenflow/activities"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/workflows"
)

// Translators maps each provider to the translator of its webhooks.
var Translators = map[string]Translator{
	activities.ProviderComplyCube: translateComplyCube,
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
