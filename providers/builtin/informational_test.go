package builtin_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/providers/authenticate"
	"github.com/screenflow/screenflow/store"
)

func TestAuthenticateTranslateMarksTheEventsItsWorkflowOnlyRecords(t *testing.T) {
	p := configuredAuthenticate(t, map[string]string{"AUTHENTICATE_WEBHOOK_TOKEN": newToken})
	search := func(status string) string {
		return `,"orderDetails":{"unique_identifier":"s1","search_type":"COUNTY_CRIMINAL","search_status":"` + status +
			`","search_sub_status":""}`
	}
	for _, tc := range []struct {
		event, order  string
		informational bool
		promptAfter   string
		noted         bool
	}{
		{"CRIMINAL_REQUEST_STATUS_UPDATE", search("IN_PROGRESS"), true, "", true},
		{"SEX_OFFENDER_CHECK_STATUS_UPDATE", search("PENDING"), true, "", true},
		{"CRIMINAL_REQUEST_STATUS_UPDATE", search("COMPLETE"), true, authenticate.EventAllCriminalComplete, true},
		{"SEX_OFFENDER_CHECK_STATUS_UPDATE", search("COMPLETE"), true, authenticate.EventAllCriminalComplete, true},
		{"ALL_CRIMINAL_REQUESTS_COMPLETE", "", false, "", true},
		{"USER_PDF_REPORT_GENERATION", `,"reportUUID":"r1","status":"INITIATED"`, true, "", true},
		{"USER_PDF_REPORT_GENERATION", `,"reportUUID":"r1","status":"COMPLETED"`, false, "", true},
		{"USER_PDF_REPORT_GENERATION", `,"reportUUID":"r1","status":"FAILED"`, false, "", true},
		{"USER_PDF_REPORT_GENERATION", `,"status":"COMPLETED"`, true, "", true},
		{"MONITORING_RECORD_FOUND", "", false, "", false},
		{"USER_PII_UPDATE", "", true, "", true},
		{"SOMETHING_NEW", "", true, "", true},
	} {
		name := tc.event + tc.order
		body := fmt.Sprintf(`{"id":"x","event":%q,"eventDate":"2026-11-01T09:00:00Z","order":{"userAccessCode":"uac-1"%s}}`,
			tc.event, tc.order)
		sig, err := p.Translate([]byte(body))
		require.NoError(t, err, name)
		assert.Equal(t, tc.informational, sig.Informational, name)
		assert.Equal(t, tc.promptAfter, sig.PromptAfter, name)
		if !tc.noted {
			assert.Nil(t, sig.Note, name)
			continue
		}
		require.NotNil(t, sig.Note, name)
		assert.Equal(t, "authenticate:"+authenticate.BodyKey([]byte(body)), sig.Note.DedupeKey, name)
		assert.Equal(t, "provider.event", sig.Note.Kind, name)
		assert.Equal(t, time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), sig.Note.OccurredAt, name)
	}
}

func TestAuthenticateTranslateNotesASearchUpdateAsItsWorkflowRecordedIt(t *testing.T) {
	p := configuredAuthenticate(t, map[string]string{"AUTHENTICATE_WEBHOOK_TOKEN": newToken})
	sig, err := p.Translate([]byte(`{"id":"x","event":"CRIMINAL_REQUEST_STATUS_UPDATE","eventDate":"2026-11-01T09:00:00Z",
		"order":{"userAccessCode":"uac-1","orderDetails":{"unique_identifier":"s1","search_type":"COUNTY_CRIMINAL",
		"search_status":"COMPLETE","search_sub_status":"CLEAR"}}}`))
	require.NoError(t, err)
	require.NotNil(t, sig.Note)
	assert.Equal(t, "COUNTY_CRIMINAL s1: COMPLETE (CLEAR)", sig.Note.Detail)
	assert.Equal(t, &store.Search{UniqueIdentifier: "s1", SearchType: "COUNTY_CRIMINAL", SearchStatus: "COMPLETE",
		SearchSubStatus: "CLEAR"}, sig.Note.Search)
}

func TestCheckrTranslateMarksTheEventsItsWorkflowOnlyRecords(t *testing.T) {
	p := configuredCheckr(t, map[string]string{"CHECKR_API_KEY": "k"})
	for _, tc := range []struct {
		typ, object   string
		informational bool
	}{
		{"candidate.created", `"object":"candidate"`, true},
		{"candidate.updated", `"object":"candidate"`, true},
		{"candidate.id_required", `"object":"candidate"`, false},
		{"candidate.driver_license_required", `"object":"candidate"`, false},
		{"invitation.created", `"object":"invitation","status":"pending","candidate_id":"c1"`, true},
		{"invitation.completed", `"object":"invitation","status":"completed","candidate_id":"c1"`, false},
		{"invitation.expired", `"object":"invitation","status":"expired","candidate_id":"c1"`, false},
		{"report.created", `"object":"report","status":"pending","candidate_id":"c1"`, false},
		{"report.completed", `"object":"report","status":"complete","candidate_id":"c1"`, false},
	} {
		body := fmt.Sprintf(`{"id":"ev1","object":"event","type":%q,"created_at":"2026-11-01T09:00:00Z",
			"data":{"object":{"id":"o1",%s}}}`, tc.typ, tc.object)
		sig, err := p.Translate([]byte(body))
		require.NoError(t, err, tc.typ)
		assert.Equal(t, tc.informational, sig.Informational, tc.typ)
		assert.Empty(t, sig.PromptAfter, tc.typ)
		require.NotNil(t, sig.Note, tc.typ, "every event about a check is noted by the relay")
		assert.Equal(t, "checkr:ev1", sig.Note.DedupeKey, tc.typ)
	}
}
