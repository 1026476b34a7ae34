package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

type outboxRow struct {
	EndpointID string `db:"endpoint_id"`
	EventID    string `db:"event_id"`
	EventType  string `db:"event_type"`
	Sequence   int64  `db:"sequence"`
	Payload    []byte `db:"payload"`
}

func outbox(t *testing.T, db *sqlx.DB, screeningID string) []outboxRow {
	t.Helper()
	var rows []outboxRow
	require.NoError(t, db.Select(&rows, `SELECT endpoint_id, event_id, event_type, sequence, payload
		FROM callback_deliveries WHERE screening_id = $1 ORDER BY sequence, endpoint_id`, screeningID))
	return rows
}

func eventTypes(rows []outboxRow) []string {
	var types []string
	for _, r := range rows {
		types = append(types, r.EventType)
	}
	return types
}

func newEndpoint(t *testing.T, st *store.Store, tenantID string, events ...string) store.WebhookEndpoint {
	t.Helper()
	if len(events) == 0 {
		events = store.CallbackEventTypes
	}
	e, secret, err := st.CreateWebhookEndpoint(context.Background(), store.NewWebhookEndpoint{TenantID: tenantID,
		URL: "https://hr.example.com/callbacks", EventTypes: events, Enabled: true})
	require.NoError(t, err)
	require.Regexp(t, `^whsec_[A-Za-z0-9+/]{43}=$`, secret)
	return e
}

func TestAScreeningsStateChangesAreWrittenToTheOutboxInOrder(t *testing.T) {
	db, st, tenant := outboxFixture(t)
	ctx := context.Background()
	all := newEndpoint(t, st, tenant.ID)
	finals := newEndpoint(t, st, tenant.ID, store.EventScreeningCompleted)

	scr, _, err := st.CreateScreening(ctx, store.NewScreening{TenantID: tenant.ID,
		Candidate: store.Candidate{Reference: "emp-42", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", DOB: "1990-12-10"},
		Checks:    []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}})
	require.NoError(t, err)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	checkID := checks[0].ID

	require.NoError(t, st.SetProviderCheck(ctx, checkID, "complycube", "cc-1", "cc-1", "wf"))
	require.NoError(t, st.SetProviderCheck(ctx, checkID, "complycube", "cc-1", "cc-1", "wf"), "a retried write")
	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: checkID, Status: store.StatusInProgress}),
		"a write that changes no status is no event")
	doc, err := st.SaveDocument(ctx, checkID, "report", "application/pdf", []byte("%PDF-1.4"))
	require.NoError(t, err)
	_, err = st.SaveDocument(ctx, checkID, "report", "application/pdf", []byte("%PDF-1.4"))
	require.NoError(t, err, "a retried download")
	clear := "clear"
	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: checkID, Status: store.StatusCompleted, Outcome: &clear}))
	require.NoError(t, st.SetScreeningConclusion(ctx, scr.ID, store.StatusCompleted, &clear, store.TimelineEntry{}),
		"the workflow's conclusion finds the screening settled")

	rows := outbox(t, db, scr.ID)
	var toAll []outboxRow
	for _, r := range rows {
		if r.EndpointID == all.ID {
			toAll = append(toAll, r)
		}
	}
	require.Equal(t, []string{store.EventScreeningCreated, store.EventCheckUpdated, store.EventDocumentAvailable,
		store.EventCheckCompleted, store.EventScreeningCompleted}, eventTypes(toAll))
	for i, r := range toAll {
		require.Equal(t, int64(i+1), r.Sequence)
		require.Regexp(t, `^msg_[0-9a-f]{32}$`, r.EventID)
	}
	require.Len(t, rows, len(toAll)+1, "the other endpoint subscribed to screening.completed only")
	var toFinals []outboxRow
	for _, r := range rows {
		if r.EndpointID == finals.ID {
			toFinals = append(toFinals, r)
		}
	}
	require.Len(t, toFinals, 1)
	require.Equal(t, toAll[4].EventID, toFinals[0].EventID, "one event, one webhook-id for every endpoint")
	require.Equal(t, toAll[4].Payload, toFinals[0].Payload)

	for _, r := range rows {
		for _, pii := range []string{"Ada", "Lovelace", "ada@example.com", "1990-12-10", "emp-42"} {
			require.NotContains(t, string(r.Payload), pii, "no candidate data in callbacks")
		}
	}
	var completed struct {
		ID        string    `json:"id"`
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Sequence  int64     `json:"sequence"`
		Data      struct {
			ScreeningID string `json:"screening_id"`
			Status      string `json:"status"`
			Result      string `json:"result"`
			Links       struct {
				Screening string `json:"screening"`
			} `json:"links"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(toAll[4].Payload, &completed))
	require.Equal(t, toAll[4].EventID, completed.ID)
	require.Equal(t, store.EventScreeningCompleted, completed.Type)
	require.Equal(t, int64(5), completed.Sequence)
	require.WithinDuration(t, time.Now(), completed.Timestamp, time.Minute)
	require.Equal(t, scr.ID, completed.Data.ScreeningID)
	require.Equal(t, "completed", completed.Data.Status)
	require.Equal(t, "clear", completed.Data.Result)
	require.Equal(t, "/v1/screenings/"+scr.ID, completed.Data.Links.Screening)

	var document struct {
		Data struct {
			CheckID  string `json:"check_id"`
			Document struct {
				ID     string `json:"id"`
				SHA256 string `json:"sha256"`
			} `json:"document"`
			Links struct {
				Document string `json:"document"`
			} `json:"links"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(toAll[2].Payload, &document))
	require.Equal(t, checkID, document.Data.CheckID)
	require.Equal(t, doc.ID, document.Data.Document.ID)
	require.Equal(t, doc.SHA256, document.Data.Document.SHA256)
	require.Equal(t, "/v1/screenings/"+scr.ID+"/documents/"+doc.ID, document.Data.Links.Document)
}

func TestFailedAndCanceledScreeningsAndActionRequiredChecksAreEvents(t *testing.T) {
	db, st, tenant := outboxFixture(t)
	ctx := context.Background()
	newEndpoint(t, st, tenant.ID)

	create := func() (store.Screening, string) {
		scr, _, err := st.CreateScreening(ctx, store.NewScreening{TenantID: tenant.ID,
			Candidate: store.Candidate{Reference: "r", FirstName: "A", LastName: "B", Email: "a@b.c", DOB: "1990-01-01"},
			Checks:    []store.NewCheck{{Provider: "checkr", Type: "tasker_standard"}}})
		require.NoError(t, err)
		checks, err := st.ScreeningChecks(ctx, scr.ID)
		require.NoError(t, err)
		return scr, checks[0].ID
	}

	failing, checkID := create()
	require.NoError(t, st.SetCheckActionRequired(ctx, checkID, true))
	require.NoError(t, st.SetCheckActionRequired(ctx, checkID, true), "already awaiting action: no event")
	require.NoError(t, st.SetCheckActionRequired(ctx, checkID, false))
	reason := "provider_error"
	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: checkID, Status: store.StatusFailed, FailureReason: &reason}))
	require.NoError(t, st.SetScreeningConclusion(ctx, failing.ID, store.StatusFailed, nil, store.TimelineEntry{}))
	require.NoError(t, st.SetScreeningConclusion(ctx, failing.ID, store.StatusFailed, nil, store.TimelineEntry{}),
		"a retried conclusion is no second event")
	require.Equal(t, []string{store.EventScreeningCreated, store.EventCheckActionRequired, store.EventCheckUpdated,
		store.EventCheckUpdated, store.EventScreeningFailed}, eventTypes(outbox(t, db, failing.ID)))

	canceled, _ := create()
	canceledNow, err := st.CancelUnstarted(ctx, canceled.ID)
	require.NoError(t, err)
	require.True(t, canceledNow)
	require.Equal(t, []string{store.EventScreeningCreated, store.EventScreeningCanceled}, eventTypes(outbox(t, db, canceled.ID)))
}

func TestWithoutASubscribedEndpointNothingIsWritten(t *testing.T) {
	db, st, tenant := outboxFixture(t)
	ctx := context.Background()
	other, _, err := st.CreateTenant(ctx, "other")
	require.NoError(t, err)
	newEndpoint(t, st, other.ID)
	disabled, _, err := st.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{TenantID: tenant.ID,
		URL: "https://hr.example.com/off", EventTypes: store.CallbackEventTypes, Enabled: false})
	require.NoError(t, err)
	require.False(t, disabled.Enabled)
	newEndpoint(t, st, tenant.ID, store.EventDocumentAvailable)

	scr := createComplyCubeScreening(t, st, tenant.ID)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	clear := "clear"
	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: checks[0].ID, Status: store.StatusCompleted, Outcome: &clear}))

	require.Empty(t, outbox(t, db, scr.ID), "another tenant's endpoint, a disabled one and one subscribed to other events get nothing")
	var sequence int64
	require.NoError(t, db.Get(&sequence, `SELECT callback_sequence FROM screenings WHERE id = $1`, scr.ID))
	require.Zero(t, sequence, "no event, no number taken")
}

// outboxFixture is a sealed store on a fresh database with one tenant.
func outboxFixture(t *testing.T) (*sqlx.DB, *store.Store, store.Tenant) {
	t.Helper()
	db := testenv.NewDB(t)
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	tenant, _, err := st.CreateTenant(context.Background(), "acme")
	require.NoError(t, err)
	return db, st, tenant
}

// createComplyCubeScreening creates a screening of tenantID with one ComplyCube check.
func createComplyCubeScreening(t *testing.T, st *store.Store, tenantID string) store.Screening {
	t.Helper()
	scr, _, err := st.CreateScreening(context.Background(), store.NewScreening{TenantID: tenantID,
		Candidate: store.Candidate{Reference: "r", FirstName: "A", LastName: "B", Email: "a@b.c", DOB: "1990-01-01"},
		Checks:    []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}})
	require.NoError(t, err)
	return scr
}

// beganScreening is a screening of tenantID with one ComplyCube check, begun.
func beganScreening(t *testing.T, st *store.Store, tenantID string) (store.Screening, []store.Check) {
	t.Helper()
	ctx := context.Background()
	scr := createComplyCubeScreening(t, st, tenantID)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	_, err = st.BeginScreening(ctx, scr.ID)
	require.NoError(t, err)
	return scr, checks
}

func TestAnOutboxRowIsWrittenInTheTransactionOfItsStateChange(t *testing.T) {
	db, st, tenant := outboxFixture(t)
	ctx := context.Background()
	newEndpoint(t, st, tenant.ID)
	scr, checks := beganScreening(t, st, tenant.ID)

	// The outbox refuses every new row: the state change it reports must not commit without it.
	_, err := db.Exec(`ALTER TABLE callback_deliveries ADD CONSTRAINT refuse_all CHECK (false) NOT VALID`)
	require.NoError(t, err)
	clear := "clear"
	err = st.UpdateCheck(ctx, store.CheckUpdate{CheckID: checks[0].ID, Status: store.StatusCompleted, Outcome: &clear,
		Timeline: store.TimelineEntry{Kind: "check.completed", DedupeKey: "done", OccurredAt: time.Now()}})
	require.Error(t, err)
	check, err := st.Check(ctx, checks[0].ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusPending, check.Status, "the check's change rolled back with its callback")
	got, err := st.Screening(ctx, tenant.ID, scr.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusInProgress, got.Status)

	_, err = db.Exec(`ALTER TABLE callback_deliveries DROP CONSTRAINT refuse_all`)
	require.NoError(t, err)
	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: checks[0].ID, Status: store.StatusCompleted, Outcome: &clear}))
	require.Equal(t, []string{store.EventScreeningCreated, store.EventCheckCompleted, store.EventScreeningCompleted},
		eventTypes(outbox(t, db, scr.ID)))
}

func TestWebhookEndpointsAreTenantScopedAndTheirSecretsSealed(t *testing.T) {
	db, st, tenant := outboxFixture(t)
	ctx := context.Background()
	other, _, err := st.CreateTenant(ctx, "other")
	require.NoError(t, err)
	e, secret, err := st.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{TenantID: tenant.ID,
		URL: "https://hr.example.com/callbacks", EventTypes: []string{store.EventScreeningCompleted}, Enabled: true})
	require.NoError(t, err)

	var sealed []byte
	require.NoError(t, db.Get(&sealed, `SELECT secret_sealed FROM webhook_endpoints WHERE id = $1`, e.ID))
	require.NotContains(t, string(sealed), secret[len("whsec_"):])

	_, err = st.WebhookEndpoint(ctx, other.ID, e.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = st.RotateWebhookSecret(ctx, other.ID, e.ID, time.Hour)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, st.DeleteWebhookEndpoint(ctx, other.ID, e.ID), store.ErrNotFound)
	_, err = st.CallbackDeliveries(ctx, other.ID, e.ID, 0, 10)
	require.ErrorIs(t, err, store.ErrNotFound)
	listed, err := st.WebhookEndpoints(ctx, other.ID)
	require.NoError(t, err)
	require.Empty(t, listed)

	rotated, newSecret, err := st.RotateWebhookSecret(ctx, tenant.ID, e.ID, time.Hour)
	require.NoError(t, err)
	require.NotEqual(t, secret, newSecret)
	require.NotNil(t, rotated.PreviousSecretExpiresAt)
	require.WithinDuration(t, time.Now().Add(time.Hour), *rotated.PreviousSecretExpiresAt, time.Minute)

	require.NoError(t, st.DeleteWebhookEndpoint(ctx, tenant.ID, e.ID))
	_, err = st.WebhookEndpoint(ctx, tenant.ID, e.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestClaimsKeepEachScreeningsOrderPerEndpoint(t *testing.T) {
	_, st, tenant := outboxFixture(t)
	ctx := context.Background()
	e, secret, err := st.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{TenantID: tenant.ID,
		URL: "https://hr.example.com/callbacks", EventTypes: store.CallbackEventTypes, Enabled: true})
	require.NoError(t, err)
	scr := createComplyCubeScreening(t, st, tenant.ID)
	_, err = st.CancelUnstarted(ctx, scr.ID)
	require.NoError(t, err)

	first, err := st.ClaimDueCallbacks(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, first, 1, "the screening's second event waits for its first")
	require.Equal(t, []string{secret}, first[0].Secrets)
	require.Equal(t, e.URL, first[0].URL)
	again, err := st.ClaimDueCallbacks(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, again, "the first is leased, the second still waits for it")

	stale := store.CallbackAttempt{DeliveryID: first[0].ID, LeaseID: "00000000-0000-0000-0000-000000000000",
		EndpointID: e.ID, AttemptedAt: time.Now(), Delivered: true}
	_, err = st.RecordCallbackAttempt(ctx, stale)
	require.NoError(t, err)
	log, err := st.CallbackDeliveries(ctx, tenant.ID, e.ID, 0, 10)
	require.NoError(t, err)
	require.Len(t, log, 2)
	require.Equal(t, store.CallbackPending, log[1].Status, "an outcome under another lease is not recorded")
	require.Empty(t, log[1].Log)

	_, err = st.RecordCallbackAttempt(ctx, store.CallbackAttempt{DeliveryID: first[0].ID, LeaseID: first[0].LeaseID,
		EndpointID: e.ID, AttemptedAt: time.Now(), Duration: 12 * time.Millisecond, StatusCode: 204, Delivered: true})
	require.NoError(t, err)
	second, err := st.ClaimDueCallbacks(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, second, 1)
	require.NotEqual(t, first[0].EventID, second[0].EventID)

	_, newSecret, err := st.RotateWebhookSecret(ctx, tenant.ID, e.ID, time.Hour)
	require.NoError(t, err)
	redelivered, err := st.RedeliverCallback(ctx, tenant.ID, e.ID, first[0].ID)
	require.NoError(t, err)
	require.Equal(t, store.CallbackPending, redelivered.Status)
	require.Len(t, redelivered.Log, 1, "the log keeps the earlier attempt")
	require.Equal(t, 204, *redelivered.Log[0].StatusCode)
	_, err = st.RecordCallbackAttempt(ctx, store.CallbackAttempt{DeliveryID: second[0].ID, LeaseID: second[0].LeaseID,
		EndpointID: e.ID, AttemptedAt: time.Now(), Delivered: true})
	require.NoError(t, err)
	third, err := st.ClaimDueCallbacks(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, third, 1)
	require.Equal(t, first[0].EventID, third[0].EventID, "redelivered with its webhook-id")
	require.Equal(t, first[0].Payload, third[0].Payload)
	require.Equal(t, []string{newSecret, secret}, third[0].Secrets, "signed by both secrets during the overlap")
}

func TestKeyRotationReSealsWebhookSecrets(t *testing.T) {
	rf := newRotationFixture(t)
	db, oldKey, newKey, before, tenant := rf.db, rf.oldKey, rf.newKey, rf.before, rf.tenant
	ctx := context.Background()
	e, oldSecret, err := before.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{TenantID: tenant.ID,
		URL: "https://hr.example.com/callbacks", EventTypes: store.CallbackEventTypes, Enabled: true})
	require.NoError(t, err)
	_, secret, err := before.RotateWebhookSecret(ctx, tenant.ID, e.ID, time.Hour)
	require.NoError(t, err)

	rotating := store.NewSealed(db, newKeyring(t, newKey, oldKey))
	left, err := rotating.NotUnderPrimaryKey(ctx)
	require.NoError(t, err)
	require.Equal(t, store.SealedValues{WebhookSecrets: 1}, left)
	resealed, err := rotating.ResealPass(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, store.SealedValues{WebhookSecrets: 1}, resealed)
	left, err = rotating.NotUnderPrimaryKey(ctx)
	require.NoError(t, err)
	require.Zero(t, left.Total())

	after := store.NewSealed(db, newKeyring(t, newKey))
	createComplyCubeScreening(t, after, tenant.ID)
	due, err := after.ClaimDueCallbacks(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.Equal(t, []string{secret, oldSecret}, due[0].Secrets, "both secrets open under the new key alone")
}

func TestAmendedOutcomesAfterCompletionAreEvents(t *testing.T) {
	db, st, tenant := outboxFixture(t)
	ctx := context.Background()
	newEndpoint(t, st, tenant.ID)
	scr, checks := beganScreening(t, st, tenant.ID)
	clear := "clear"
	require.NoError(t, st.UpdateCheck(ctx, store.CheckUpdate{CheckID: checks[0].ID, Status: store.StatusCompleted, Outcome: &clear}))
	done, err := st.Screening(ctx, tenant.ID, scr.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusCompleted, done.Status, "the last check's completion settled the screening")
	before := len(outbox(t, db, scr.ID))

	amend := store.CheckAmendment{CheckID: checks[0].ID, Outcome: "attention", Reason: "monitoring", DedupeKey: "amend-1"}
	for range 2 {
		applied, err := st.AmendCheckOutcome(ctx, amend)
		require.NoError(t, err)
		require.True(t, applied)
		running, err := st.RederiveScreeningResult(ctx, scr.ID, "checks amended", "rederive-1")
		require.NoError(t, err)
		require.False(t, running)
	}

	rows := outbox(t, db, scr.ID)[before:]
	require.Equal(t, []string{store.EventCheckAmended, store.EventScreeningResultChanged}, eventTypes(rows),
		"one event each, a retry adds none")
	var amended, changed struct {
		Sequence int64 `json:"sequence"`
		Data     struct {
			CheckID         string `json:"check_id"`
			Status          string `json:"status"`
			Outcome         string `json:"outcome"`
			PreviousOutcome string `json:"previous_outcome"`
			Result          string `json:"result"`
			PreviousResult  string `json:"previous_result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(rows[0].Payload, &amended))
	require.Equal(t, checks[0].ID, amended.Data.CheckID)
	require.Equal(t, "completed", amended.Data.Status)
	require.Equal(t, "attention", amended.Data.Outcome)
	require.Equal(t, "clear", amended.Data.PreviousOutcome)
	require.NoError(t, json.Unmarshal(rows[1].Payload, &changed))
	require.Equal(t, "consider", changed.Data.Result)
	require.Equal(t, "clear", changed.Data.PreviousResult)
	require.Equal(t, amended.Sequence+1, changed.Sequence)
}

// TestADeliveryWhoseSecretDoesNotOpenHoldsUpNoOther: an endpoint's secret sealed under a key this
// replica lacks leaves its own delivery leased, with the reason, while the other endpoints'
// deliveries are claimed and sent.
func TestADeliveryWhoseSecretDoesNotOpenHoldsUpNoOther(t *testing.T) {
	rf := newRotationFixture(t)
	db, oldKey, newKey, before, tenant := rf.db, rf.oldKey, rf.newKey, rf.before, rf.tenant
	ctx := context.Background()
	sealedBefore, _, err := before.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{TenantID: tenant.ID,
		URL: "https://old.example.com/callbacks", EventTypes: store.CallbackEventTypes, Enabled: true})
	require.NoError(t, err)
	// A replica given only the new key, before the rotation re-sealed the first secret.
	after := store.NewSealed(db, newKeyring(t, newKey))
	sealedAfter, secret, err := after.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{TenantID: tenant.ID,
		URL: "https://new.example.com/callbacks", EventTypes: store.CallbackEventTypes, Enabled: true})
	require.NoError(t, err)
	createComplyCubeScreening(t, after, tenant.ID)

	due, err := after.ClaimDueCallbacks(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.Equal(t, sealedAfter.ID, due[0].EndpointID)
	require.Equal(t, []string{secret}, due[0].Secrets)

	var held struct {
		Leased    bool    `db:"leased"`
		LastError *string `db:"last_error"`
	}
	require.NoError(t, db.Get(&held, `SELECT lease_id IS NOT NULL AS leased, last_error FROM callback_deliveries
		WHERE endpoint_id = $1`, sealedBefore.ID))
	require.True(t, held.Leased, "due again when its lease ends, for a replica that has the key")
	require.Contains(t, *held.LastError, "SCREENFLOW_ENCRYPTION_OLD_KEYS")

	// Its lease ends; a replica with both keys takes it.
	_, err = db.Exec(`UPDATE callback_deliveries SET next_attempt_at = now() WHERE endpoint_id = $1`, sealedBefore.ID)
	require.NoError(t, err)
	again, err := store.NewSealed(db, newKeyring(t, newKey, oldKey)).ClaimDueCallbacks(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, again, 1)
	require.Equal(t, sealedBefore.ID, again[0].EndpointID)
}
