package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

var keptCandidate = store.Candidate{Reference: "emp-1906", FirstName: "Grace", LastName: "Brewster-Murray",
	Email: "grace.murray@example.com", DOB: "1906-12-09", City: "Arlington", Country: "USA"}

// erasureFixture is one screening with everything that can hold its candidate's data: a document,
// a search, an invitation link, a timeline entry about the candidate, a route of the provider's
// client to the check's workflow, and the provider's events about that client in the inbox.
type erasureFixture struct {
	sealedFixture
	workflowID       string
	deliveredEventID string
	pendingEventID   string
}

// clientCreatedBody is an event about a provider's client that carries the candidate's data, as
// ComplyCube's client.created does.
func clientCreatedBody(c store.Candidate) []byte {
	return []byte(`{"type":"client.created","payload":{"email":"` + c.Email + `","firstName":"` + c.FirstName +
		`","lastName":"` + c.LastName + `","dob":"` + c.DOB + `"}}`)
}

func newErasureFixture(t *testing.T, st *store.Store, db *sqlx.DB, tenantID string, c store.Candidate, content []byte) erasureFixture {
	t.Helper()
	ctx := context.Background()
	scr, _, err := st.CreateScreening(ctx, store.NewScreening{TenantID: tenantID, Candidate: c,
		IdempotencyKey: uuid.NewString(), RequestHash: []byte("hash of the request"),
		Checks: []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}})
	require.NoError(t, err)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	checkID := checks[0].ID
	doc, err := st.SaveDocument(ctx, checkID, "complycube_report", "application/pdf", content)
	require.NoError(t, err)
	_, err = st.SaveSearch(ctx, store.Search{CheckID: checkID, UniqueIdentifier: uuid.NewString(),
		SearchType: "county " + c.City, SearchStatus: "complete", ProviderUpdatedAt: time.Now()})
	require.NoError(t, err)
	require.NoError(t, st.SetInvitationURL(ctx, checkID, "https://apply.example.com/invite/"+c.Email))
	require.NoError(t, st.AppendTimeline(ctx, store.TimelineEntry{ScreeningID: scr.ID, CheckID: &checkID,
		DedupeKey: uuid.NewString(), Kind: "provider.event", Detail: "client created for " + c.FirstName}))

	f := erasureFixture{sealedFixture: sealedFixture{tenantID: tenantID, screeningID: scr.ID, checkID: checkID,
		documentID: doc.ID}, workflowID: "screening/" + scr.ID + "/complycube/" + checkID}
	clientID := uuid.NewString()
	subject := "client:" + clientID
	require.NoError(t, st.SetProviderClient(ctx, checkID, "complycube", clientID, subject, f.workflowID))
	f.deliveredEventID, f.pendingEventID = uuid.NewString(), uuid.NewString()
	for _, eventID := range []string{f.deliveredEventID, f.pendingEventID} {
		_, inserted, err := st.InsertWebhookEvent(ctx, store.NewInboxEvent{Provider: "complycube", EventID: eventID,
			EventType: "client.created", Subject: subject, Headers: map[string]string{"X-Name": c.LastName},
			Body: clientCreatedBody(c)})
		require.NoError(t, err)
		require.True(t, inserted)
	}
	_, err = db.Exec(`UPDATE webhook_events SET status = 'delivered', delivered_at = now() WHERE event_id = $1`,
		f.deliveredEventID)
	require.NoError(t, err)
	return f
}

// everyTable is every row of every table of the database, as text: bytea columns as hex, which
// the needles are looked for in too.
func everyTable(t *testing.T, db *sqlx.DB) string {
	t.Helper()
	var tables []string
	require.NoError(t, db.Select(&tables, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`))
	var all bytes.Buffer
	for _, table := range tables {
		var rows []string
		require.NoError(t, db.Select(&rows, `SELECT t::text FROM `+table+` t`))
		for _, r := range rows {
			all.WriteString(table + ": " + r + "\n")
		}
	}
	return all.String()
}

type inboxRow struct {
	Status       string     `db:"status"`
	Body         []byte     `db:"body"`
	Headers      string     `db:"headers"`
	BodyPurgedAt *time.Time `db:"body_purged_at"`
}

func inboxRowOf(t *testing.T, db *sqlx.DB, eventID string) inboxRow {
	t.Helper()
	var r inboxRow
	require.NoError(t, db.Get(&r, `SELECT status, body, headers::text AS headers, body_purged_at FROM webhook_events
		WHERE event_id = $1`, eventID))
	return r
}

func TestEraseCandidatesLeavesNothingOfTheCandidateAndKeepsTheOthers(t *testing.T) {
	db := testenv.NewDB(t)
	key := vault.NewKey()
	sealed := store.NewSealed(db, newKeyring(t, key))
	ctx := context.Background()
	tenant, _, err := sealed.CreateTenant(ctx, "acme")
	require.NoError(t, err)

	// The same reference twice: sealed, and in the clear as written before encryption.
	first := newErasureFixture(t, sealed, db, tenant.ID, sealedCandidate, pdf)
	second := newErasureFixture(t, store.New(db), db, tenant.ID, sealedCandidate, pdf)
	keptPDF := append([]byte("%PDF-1.7 report of Grace Brewster-Murray "), bytes.Repeat([]byte{0xCD}, 4096)...)
	kept := newErasureFixture(t, sealed, db, tenant.ID, keptCandidate, keptPDF)

	target, err := sealed.CandidatesToErase(ctx, tenant.ID, sealedCandidate.Reference)
	require.NoError(t, err)
	require.Len(t, target.CandidateIDs, 2)
	require.Equal(t, []string{first.screeningID, second.screeningID}, target.ScreeningIDs)

	erased, err := sealed.EraseCandidates(ctx, store.Erasure{TenantID: tenant.ID, KeyID: "key-1",
		CandidateIDs: target.CandidateIDs})
	require.NoError(t, err)
	require.Equal(t, target.CandidateIDs, erased.CandidateIDs)
	require.ElementsMatch(t, target.ScreeningIDs, erased.ScreeningIDs)

	dump := everyTable(t, db)
	require.Contains(t, dump, "client created for "+keptCandidate.FirstName, "the dump shows what the tables hold")
	require.Contains(t, dump, "county "+keptCandidate.City)
	for _, pii := range append(candidatePII, "Lovelace", "augusta.king%40example.com") {
		require.NotContains(t, dump, pii, "a table still holds the erased candidate's data")
	}
	for _, marker := range [][]byte{pdf[:40], pdf[len(pdf)-64:]} {
		require.NotContains(t, dump, string(marker))
		require.NotContains(t, dump, hexOf(marker), "a bytea column still holds the PDF")
	}

	for _, f := range []erasureFixture{first, second} {
		d, err := sealed.ScreeningDetail(ctx, tenant.ID, f.screeningID)
		require.NoError(t, err)
		require.NotNil(t, d.ErasedAt)
		assert.Empty(t, d.CandidateReference)
		assert.Empty(t, d.Documents)
		assert.Empty(t, d.Searches)
		assert.Nil(t, d.Checks[0].InvitationURL)
		require.NotNil(t, d.Checks[0].ProviderClientID, "the provider's id stays, to say what was deleted there")
		for _, e := range d.Timeline {
			if e.Kind == "candidate.erased" {
				assert.Equal(t, "the candidate's data was erased on request", e.Detail)
				continue
			}
			assert.Empty(t, e.Detail, "entry %s", e.Kind)
		}
		_, _, err = sealed.DocumentContent(ctx, tenant.ID, f.screeningID, f.documentID)
		require.ErrorIs(t, err, store.ErrNotFound)
		var requestHash []byte
		require.NoError(t, db.Get(&requestHash, `SELECT request_hash FROM screenings WHERE id = $1`, f.screeningID))
		assert.Nil(t, requestHash)

		delivered, pending := inboxRowOf(t, db, f.deliveredEventID), inboxRowOf(t, db, f.pendingEventID)
		for _, r := range []inboxRow{delivered, pending} {
			assert.Empty(t, r.Body)
			assert.Equal(t, "{}", r.Headers)
			assert.NotNil(t, r.BodyPurgedAt)
		}
		assert.Equal(t, store.InboxDelivered, delivered.Status)
		assert.Equal(t, store.InboxDiscarded, pending.Status, "an event still pending is never delivered")
		var routes int
		require.NoError(t, db.Get(&routes, `SELECT count(*) FROM routes WHERE workflow_id = $1`, f.workflowID))
		assert.Zero(t, routes, "a later event about the client reaches no workflow")
	}

	// The other candidate keeps everything.
	detail, err := sealed.ScreeningDetail(ctx, tenant.ID, kept.screeningID)
	require.NoError(t, err)
	assert.Nil(t, detail.ErasedAt)
	assert.Equal(t, keptCandidate.Reference, detail.CandidateReference)
	_, content, err := sealed.DocumentContent(ctx, tenant.ID, kept.screeningID, kept.documentID)
	require.NoError(t, err)
	assert.Equal(t, keptPDF, content)
	assert.NotEmpty(t, detail.Searches)
	assert.NotNil(t, detail.Checks[0].InvitationURL)
	keptEvent := inboxRowOf(t, db, kept.pendingEventID)
	assert.Equal(t, store.InboxPending, keptEvent.Status)
	assert.NotEmpty(t, keptEvent.Body)
	assert.Nil(t, keptEvent.BodyPurgedAt)
	candidate, err := sealed.CandidateForCheck(ctx, kept.checkID)
	require.NoError(t, err)
	assert.Equal(t, keptCandidate.Email, candidate.Email)

	events, err := sealed.AuditEvents(ctx, store.AuditQuery{TenantID: tenant.ID, Limit: 10})
	require.NoError(t, err)
	require.Len(t, events, 2)
	for _, e := range events {
		assert.Equal(t, store.AuditCandidateErased, e.Action)
		assert.Equal(t, "key-1", e.KeyID)
		require.NotNil(t, e.CandidateID)
		assert.Contains(t, target.CandidateIDs, *e.CandidateID)
		assert.Contains(t, target.ScreeningIDs, e.ScreeningID)
	}

	// Erased, the reference names nobody, and erasing again erases and records nothing.
	_, err = sealed.CandidatesToErase(ctx, tenant.ID, sealedCandidate.Reference)
	require.ErrorIs(t, err, store.ErrNotFound)
	again, err := sealed.EraseCandidates(ctx, store.Erasure{TenantID: tenant.ID, KeyID: "key-2",
		CandidateIDs: target.CandidateIDs})
	require.NoError(t, err)
	assert.Empty(t, again.CandidateIDs)
	events, err = sealed.AuditEvents(ctx, store.AuditQuery{TenantID: tenant.ID, Limit: 10})
	require.NoError(t, err)
	assert.Len(t, events, 2)
}

func TestEraseCandidatesTouchesOnlyTheTenantsOwn(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	other, _, err := st.CreateTenant(ctx, "globex")
	require.NoError(t, err)
	f := newErasureFixture(t, st, db, tenant.ID, sealedCandidate, pdf)
	target, err := st.CandidatesToErase(ctx, tenant.ID, sealedCandidate.Reference)
	require.NoError(t, err)

	_, err = st.CandidatesToErase(ctx, other.ID, sealedCandidate.Reference)
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant's equal reference is not found")
	erased, err := st.EraseCandidates(ctx, store.Erasure{TenantID: other.ID, KeyID: "key-1",
		CandidateIDs: target.CandidateIDs})
	require.NoError(t, err)
	assert.Empty(t, erased.CandidateIDs, "another tenant cannot erase the candidate by its id")
	requireReadable(t, st, f.sealedFixture)
	_, err = st.CandidatesToErase(ctx, tenant.ID, "")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestAnErasedCandidateCannotHoldPII(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	tenant, _, err := st.CreateTenant(context.Background(), "acme")
	require.NoError(t, err)
	f := newErasureFixture(t, st, db, tenant.ID, sealedCandidate, pdf)

	_, err = db.Exec(`UPDATE candidates SET erased_at = now()
		WHERE id = (SELECT candidate_id FROM screenings WHERE id = $1)`, f.screeningID)
	require.ErrorContains(t, err, "candidates_erased_rows_hold_no_pii")
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

func TestAnErasureByThePurgeSaysSoInTheTimeline(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	ctx := context.Background()
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	f := newErasureFixture(t, st, db, tenant.ID, sealedCandidate, pdf)
	target, err := st.CandidatesToErase(ctx, tenant.ID, sealedCandidate.Reference)
	require.NoError(t, err)

	_, err = st.EraseCandidates(ctx, store.Erasure{TenantID: tenant.ID, KeyID: store.RetentionKeyID,
		CandidateIDs: target.CandidateIDs})
	require.NoError(t, err)
	d, err := st.ScreeningDetail(ctx, tenant.ID, f.screeningID)
	require.NoError(t, err)
	var details []string
	for _, e := range d.Timeline {
		if e.Kind == "candidate.erased" {
			details = append(details, e.Detail)
		}
	}
	require.Equal(t, []string{"the candidate's data was erased: its retention period ended"}, details)
}
