package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/screenflow/screenflow/devenv/testenv"
	checkrfake "github.com/screenflow/screenflow/providers/checkr/fake"
	"github.com/screenflow/screenflow/providers/complycube"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/workflows"
)

// e2eDeletionContact is whom the requests to remove a candidate's PII at Checkr name.
const e2eDeletionContact = "privacy@acme.example"

// otherCandidate is a second candidate of the same tenant, who must keep everything.
var otherCandidate = map[string]string{"reference": "emp-77", "first_name": "Grace", "last_name": "Brewster-Murray",
	"email": "grace.murray@example.com", "dob": "1906-12-09", "address_line1": "1 Compiler Lane", "country": "USA"}

// candidateRaw is what Postgres holds of one screening's candidate, as stored: the sealed PII, the
// sealed documents and the inbox bodies of the events about its checks.
func candidateRaw(t *testing.T, db *sqlx.DB, screeningID string) [][]byte {
	t.Helper()
	var raw [][]byte
	for _, query := range []string{
		`SELECT ca.pii_sealed FROM candidates ca JOIN screenings s ON s.candidate_id = ca.id WHERE s.id = $1`,
		`SELECT content FROM documents WHERE screening_id = $1`,
		`SELECT e.body FROM webhook_events e JOIN routes r ON r.provider = e.provider AND r.subject = e.subject
			WHERE r.workflow_id LIKE 'screening/' || $1 || '/%' AND length(e.body) > 0`,
	} {
		var rows [][]byte
		require.NoError(t, db.Select(&rows, query, screeningID))
		raw = append(raw, rows...)
	}
	return raw
}

func (s *stack) erase(t *testing.T, reference string) (int, []byte) {
	t.Helper()
	return s.request(t, http.MethodDelete, "/v1/candidates/"+reference, nil)
}

// screeningErasedAt is when GET /v1/screenings/{id} says the screening's candidate was erased.
func (s *stack) screeningErasedAt(t *testing.T, screeningID string) *time.Time {
	t.Helper()
	status, raw := s.request(t, http.MethodGet, "/v1/screenings/"+screeningID, nil)
	require.Equal(t, http.StatusOK, status, string(raw))
	var scr struct {
		ErasedAt *time.Time `json:"erased_at"`
	}
	require.NoError(t, json.Unmarshal(raw, &scr))
	return scr.ErasedAt
}

type erasureJSON struct {
	Status       string   `json:"status"`
	ErasureID    string   `json:"erasure_id"`
	ScreeningIDs []string `json:"screening_ids"`
}

func TestEndToEndErasureLeavesNothingOfTheCandidate(t *testing.T) {
	tmp := testenv.Temporal(t)
	s := startStack(t, stackOptions{temporalAddress: tmp.Address, completionDelay: -1,
		timing: workflows.Timing{WebhookDeadline: time.Hour, PollInterval: time.Hour},
		env:    map[string]string{"CHECKR_DELETION_CONTACT_EMAIL": e2eDeletionContact}})
	ctx := context.Background()
	db := s.db.DB()

	// A completed screening of the candidate, with its report; then one in flight.
	completed := s.createScreening(t)
	s.waitForStatus(t, completed.ID, store.StatusInProgress, time.Minute)
	require.NoError(t, s.fake.CompleteCheck(s.providerCheckID(t, completed.Checks[0].ID), complycube.OutcomeClear))
	completed = s.waitForStatus(t, completed.ID, store.StatusCompleted, time.Minute)
	s.assertReportDownloads(t, completed)
	report, ok := s.fake.ReportPDF(s.providerCheckID(t, completed.Checks[0].ID))
	require.True(t, ok)
	inFlight := s.createScreening(t)
	s.waitForStatus(t, inFlight.ID, store.StatusInProgress, time.Minute)
	s.providerCheckID(t, inFlight.Checks[0].ID)
	// A Checkr screening of the candidate on the direct account, completed with its report.
	checkrScreening := s.createScreening(t, map[string]any{"provider": "checkr", "package": "tasker_standard", "mode": "report"})
	checkrScreening = s.waitForStatus(t, checkrScreening.ID, store.StatusCompleted, time.Minute)
	require.Len(t, checkrScreening.Documents, 1)
	checkrCheck, err := s.db.Check(ctx, checkrScreening.Checks[0].ID)
	require.NoError(t, err)
	require.NotNil(t, checkrCheck.ProviderClientID)
	checkrCandidateID := *checkrCheck.ProviderClientID

	// Another candidate of the tenant, completed with a report.
	status, raw := s.request(t, http.MethodPost, "/v1/screenings", map[string]any{"candidate": otherCandidate,
		"checks": []map[string]any{{"provider": "complycube", "type": "standard_screening_check"}}})
	require.Equal(t, http.StatusCreated, status, string(raw))
	var other screeningJSON
	require.NoError(t, json.Unmarshal(raw, &other))
	s.waitForStatus(t, other.ID, store.StatusInProgress, time.Minute)
	require.NoError(t, s.fake.CompleteCheck(s.providerCheckID(t, other.Checks[0].ID), complycube.OutcomeClear))
	other = s.waitForStatus(t, other.ID, store.StatusCompleted, time.Minute)

	var clientIDs []string
	var stored [][]byte
	for _, scr := range []screeningJSON{completed, inFlight} {
		check, err := s.db.Check(ctx, scr.Checks[0].ID)
		require.NoError(t, err)
		require.NotNil(t, check.ProviderClientID)
		clientIDs = append(clientIDs, *check.ProviderClientID)
	}
	// The candidate's sealed data, its sealed report and the client.created event about it.
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, db.Get(&n, `SELECT count(*) FROM webhook_events e JOIN routes r
			ON r.provider = e.provider AND r.subject = e.subject
			WHERE r.workflow_id LIKE 'screening/' || $1 || '/%' AND e.event_type = $2`, inFlight.ID, complycube.EventClientCreated))
		return n > 0
	}, 30*time.Second, 100*time.Millisecond)
	stored = append(candidateRaw(t, db, completed.ID), candidateRaw(t, db, inFlight.ID)...)
	stored = append(stored, candidateRaw(t, db, checkrScreening.ID)...)
	require.GreaterOrEqual(t, len(stored), 8, "each candidate row, the reports, and at least an event each")

	status, raw = s.erase(t, "emp-42")
	require.Equal(t, http.StatusAccepted, status, string(raw))
	var erasure erasureJSON
	require.NoError(t, json.Unmarshal(raw, &erasure))
	assert.Equal(t, "erasing", erasure.Status)
	assert.Equal(t, []string{completed.ID, inFlight.ID, checkrScreening.ID}, erasure.ScreeningIDs)
	assert.NotContains(t, string(raw), "emp-42", "the answer does not repeat the reference")
	status, raw = s.erase(t, "emp-42")
	require.Equal(t, http.StatusAccepted, status, "a DELETE while the erasure runs joins it: %s", raw)
	var again erasureJSON
	require.NoError(t, json.Unmarshal(raw, &again))
	assert.Equal(t, erasure.ErasureID, again.ErasureID)

	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var result workflows.ErasureResult
	require.NoError(t, s.temporal.GetWorkflow(waitCtx, erasure.ErasureID, "").Get(waitCtx, &result))
	assert.Len(t, result.CandidateIDs, 3)
	assert.ElementsMatch(t, []string{completed.ID, inFlight.ID, checkrScreening.ID}, result.ScreeningIDs)

	// The fake ComplyCube was asked to delete both clients, and the other candidate's is kept; the
	// fake Checkr to remove the PII of the Checkr candidate, with the direct key.
	assert.ElementsMatch(t, clientIDs, s.fake.DeletedClients())
	assert.Equal(t, []checkrfake.PIIRemoval{{CandidateID: checkrCandidateID, AccountID: checkrfake.DirectAccountID,
		ContactEmail: e2eDeletionContact}}, s.checkr.PIIRemovals())

	// Nothing of the candidate is left in any table; the other candidate keeps everything.
	raw, tables := rawDatabase(t, db)
	require.Contains(t, tables, "candidates")
	dump := string(raw)
	for _, pii := range []string{"emp-42", "Ada", candidateLastName, candidateEmail, candidateDOB, "Analytical Row"} {
		require.NotContains(t, dump, pii, "a table still holds the erased candidate's %q", pii)
		require.NotContains(t, dump, hex.EncodeToString([]byte(pii)), "a table still holds the erased candidate's %q in hex", pii)
	}
	for _, part := range [][]byte{report[:32], report[len(report)/2 : len(report)/2+32], report[len(report)-32:]} {
		require.NotContains(t, dump, hex.EncodeToString(part), "a table still holds the report")
	}
	require.NotContains(t, dump, hex.EncodeToString([]byte("%PDF")), "no PDF is left in the clear")
	for i, sealed := range stored {
		require.Greater(t, len(sealed), 16)
		require.NotContains(t, dump, hex.EncodeToString(sealed[len(sealed)-16:]),
			"sealed data %d of the candidate is still stored", i)
	}
	assert.Contains(t, dump, completed.ID, "the ids stay, to say what was erased")
	assert.Contains(t, dump, "result clear", "the other candidate's timeline is kept")
	otherScreening := s.screening(t, other.ID)
	assert.Nil(t, s.screeningErasedAt(t, other.ID))
	assert.Equal(t, "emp-77", s.candidateReference(t, other.ID))
	s.assertReportDownloads(t, otherScreening)

	// Every screening reads as erased: no candidate data, no documents; the one in flight was
	// canceled first.
	for _, scr := range []screeningJSON{completed, inFlight, checkrScreening} {
		erased := s.screening(t, scr.ID)
		require.NotNil(t, s.screeningErasedAt(t, scr.ID), "screening %s", scr.ID)
		assert.Empty(t, erased.Documents)
		assert.Empty(t, s.candidateReference(t, scr.ID))
		var kinds []string
		for _, e := range erased.Timeline {
			kinds = append(kinds, e.Kind)
			if e.Kind != "candidate.erased" {
				assert.Empty(t, e.Detail)
			}
		}
		assert.Contains(t, kinds, "candidate.erased")
	}
	assert.Equal(t, store.StatusCanceled, s.screening(t, inFlight.ID).Status)
	assert.Equal(t, store.StatusCompleted, s.screening(t, completed.ID).Status)
	assert.Equal(t, store.StatusCompleted, s.screening(t, checkrScreening.ID).Status)
	status, _ = s.request(t, http.MethodGet, completed.Documents[0].URL, nil)
	assert.Equal(t, http.StatusNotFound, status, "the report of an erased candidate is gone")

	// The erasure is in the audit log, once per screening, with ids only.
	status, raw = s.request(t, http.MethodGet, "/v1/audit-events?limit=1000", nil)
	require.Equal(t, http.StatusOK, status, string(raw))
	var audit struct {
		Events []struct {
			Action      string  `json:"action"`
			KeyID       string  `json:"key_id"`
			ScreeningID string  `json:"screening_id"`
			CandidateID *string `json:"candidate_id"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal(raw, &audit))
	var erasedScreenings []string
	for _, e := range audit.Events {
		if e.Action == string(store.AuditCandidateErased) {
			require.NotNil(t, e.CandidateID)
			assert.Contains(t, result.CandidateIDs, *e.CandidateID)
			assert.Equal(t, store.APIKeyID(s.apiKey), e.KeyID)
			erasedScreenings = append(erasedScreenings, e.ScreeningID)
		}
	}
	assert.ElementsMatch(t, []string{completed.ID, inFlight.ID, checkrScreening.ID}, erasedScreenings)

	// The reference names nobody now; a DELETE without one is a mistake.
	status, raw = s.erase(t, "emp-42")
	assert.Equal(t, http.StatusNotFound, status, string(raw))
	status, raw = s.erase(t, "")
	assert.Equal(t, http.StatusBadRequest, status, string(raw))
	assert.Contains(t, string(raw), "reference is missing")

	// The erasure's own history carries ids only.
	iter := s.temporal.GetWorkflowHistory(ctx, erasure.ErasureID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var history bytes.Buffer
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		history.WriteString(ev.String())
	}
	require.NotEmpty(t, history.String())
	for _, pii := range []string{"emp-42", candidateEmail, candidateLastName, candidateDOB} {
		require.NotContains(t, history.String(), pii)
	}
}
