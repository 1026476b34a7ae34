package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/screenflow/screenflow/devenv/testenv"
	"github.com/screenflow/screenflow/store"
	"github.com/screenflow/screenflow/vault"
)

var sealedCandidate = store.Candidate{Reference: "emp-4711", FirstName: "Augusta", LastName: "King-Noel",
	Email: "augusta.king@example.com", DOB: "1815-12-10", AddressLine1: "12 Analytical Row",
	City: "Marylebone", PostalCode: "NW1 5LR", Country: "GBR"}

// candidatePII is every PII value of sealedCandidate, to look for in raw rows.
var candidatePII = []string{"emp-4711", "Augusta", "King-Noel", "augusta.king@example.com", "1815-12-10",
	"Analytical", "Marylebone", "NW1 5LR"}

var pdf = append([]byte("%PDF-1.7 report of Augusta King-Noel "), bytes.Repeat([]byte{0xAB}, 4096)...)

func newKeyring(t *testing.T, keys ...string) *vault.Vault {
	t.Helper()
	var parsed [][]byte
	for _, k := range keys {
		key, err := vault.ParseKey(k)
		require.NoError(t, err)
		parsed = append(parsed, key)
	}
	v, err := vault.NewKeyring(parsed[0], parsed[1:]...)
	require.NoError(t, err)
	return v
}

// rotationFixture is a fresh database with one tenant, created by a store that has only oldKey:
// what a store given other keys makes of rows sealed before a rotation.
type rotationFixture struct {
	db             *sqlx.DB
	oldKey, newKey string
	before         *store.Store
	tenant         store.Tenant
}

func newRotationFixture(t *testing.T) rotationFixture {
	t.Helper()
	f := rotationFixture{db: testenv.NewDB(t), oldKey: vault.NewKey(), newKey: vault.NewKey()}
	f.before = store.NewSealed(f.db, newKeyring(t, f.oldKey))
	var err error
	f.tenant, _, err = f.before.CreateTenant(context.Background(), "acme")
	require.NoError(t, err)
	return f
}

type sealedFixture struct {
	tenantID, screeningID, checkID, documentID string
}

// createScreeningWithDocument stores a screening of sealedCandidate through st, and a PDF for its check.
func createScreeningWithDocument(t *testing.T, st *store.Store, tenantID string) sealedFixture {
	t.Helper()
	ctx := context.Background()
	scr, _, err := st.CreateScreening(ctx, store.NewScreening{TenantID: tenantID, Candidate: sealedCandidate,
		Checks: []store.NewCheck{{Provider: "complycube", Type: "standard_screening_check"}}})
	require.NoError(t, err)
	checks, err := st.ScreeningChecks(ctx, scr.ID)
	require.NoError(t, err)
	doc, err := st.SaveDocument(ctx, checks[0].ID, "complycube_report", "application/pdf", pdf)
	require.NoError(t, err)
	return sealedFixture{tenantID: tenantID, screeningID: scr.ID, checkID: checks[0].ID, documentID: doc.ID}
}

// rawRows is everything the candidates and documents tables hold, as Postgres returns it.
func rawRows(t *testing.T, db *sqlx.DB) []byte {
	t.Helper()
	var raw []byte
	for _, query := range []string{
		`SELECT coalesce(string_agg(convert_to(c::text, 'UTF8') || coalesce(c.pii_sealed, ''), '\x00'), '') FROM candidates c`,
		`SELECT coalesce(string_agg(d.content, '\x00'), '') FROM documents d`,
	} {
		var part []byte
		require.NoError(t, db.Get(&part, query))
		raw = append(raw, part...)
	}
	return raw
}

func requireNothingInTheClear(t *testing.T, db *sqlx.DB) {
	t.Helper()
	raw := rawRows(t, db)
	require.NotEmpty(t, raw)
	for _, pii := range candidatePII {
		require.NotContains(t, string(raw), pii, "a raw row holds candidate PII in the clear")
	}
	require.False(t, bytes.Contains(raw, pdf[:64]), "a raw row holds the PDF in the clear")
	require.False(t, bytes.Contains(raw, pdf[len(pdf)-64:]), "a raw row holds the PDF in the clear")
}

func requireReadable(t *testing.T, st *store.Store, f sealedFixture) {
	t.Helper()
	ctx := context.Background()
	c, err := st.CandidateForCheck(ctx, f.checkID)
	require.NoError(t, err)
	want := sealedCandidate
	want.ID, want.TenantID = c.ID, f.tenantID
	require.Equal(t, want, c)

	detail, err := st.ScreeningDetail(ctx, f.tenantID, f.screeningID)
	require.NoError(t, err)
	require.Equal(t, sealedCandidate.Reference, detail.CandidateReference)

	doc, content, err := st.DocumentContent(ctx, f.tenantID, f.screeningID, f.documentID)
	require.NoError(t, err)
	require.Equal(t, pdf, content)
	sum := sha256.Sum256(pdf)
	require.Equal(t, hex.EncodeToString(sum[:]), doc.SHA256, "the plaintext's hash, as before encryption")
	require.Equal(t, int64(len(pdf)), doc.Size)

	found, err := st.ScreeningsByReference(ctx, f.tenantID, sealedCandidate.Reference)
	require.NoError(t, err)
	require.Contains(t, screeningIDs(found), f.screeningID)
}

func screeningIDs(screenings []store.Screening) []string {
	var ids []string
	for _, s := range screenings {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestCandidatesAndDocumentsAreSealedAtRestAndReadInTheClear(t *testing.T) {
	db := testenv.NewDB(t)
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	tenant, _, err := st.CreateTenant(context.Background(), "acme")
	require.NoError(t, err)

	f := createScreeningWithDocument(t, st, tenant.ID)

	requireNothingInTheClear(t, db)
	requireReadable(t, st, f)
	var sealed bool
	require.NoError(t, db.Get(&sealed, `SELECT content_sealed FROM documents WHERE id = $1`, f.documentID))
	require.True(t, sealed)

	other, err := st.ScreeningsByReference(context.Background(), tenant.ID, "emp-4712")
	require.NoError(t, err)
	require.Empty(t, other)
	another, _, err := st.CreateTenant(context.Background(), "globex")
	require.NoError(t, err)
	other, err = st.ScreeningsByReference(context.Background(), another.ID, sealedCandidate.Reference)
	require.NoError(t, err)
	require.Empty(t, other, "another tenant's equal reference is not found")
}

func TestSealedRowsDoNotOpenWithoutTheirKeyNorWhenMovedToAnotherRow(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	tenant, _, err := st.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	f := createScreeningWithDocument(t, st, tenant.ID)
	g := createScreeningWithDocument(t, st, tenant.ID)

	stranger := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	_, err = stranger.CandidateForCheck(ctx, f.checkID)
	require.ErrorIs(t, err, vault.ErrCannotOpen)
	_, _, err = stranger.DocumentContent(ctx, f.tenantID, f.screeningID, f.documentID)
	require.ErrorIs(t, err, vault.ErrCannotOpen)

	// The associated data binds each value to its row.
	_, err = db.Exec(`UPDATE candidates SET pii_sealed = (SELECT pii_sealed FROM candidates c
		JOIN screenings s ON s.candidate_id = c.id WHERE s.id = $1)
		WHERE id = (SELECT candidate_id FROM screenings WHERE id = $2)`, g.screeningID, f.screeningID)
	require.NoError(t, err)
	_, err = st.CandidateForCheck(ctx, f.checkID)
	require.ErrorIs(t, err, vault.ErrCannotOpen)
	_, err = db.Exec(`UPDATE documents SET content = (SELECT content FROM documents WHERE id = $1) WHERE id = $2`,
		g.documentID, f.documentID)
	require.NoError(t, err)
	_, _, err = st.DocumentContent(ctx, f.tenantID, f.screeningID, f.documentID)
	require.ErrorIs(t, err, vault.ErrCannotOpen)
}

func TestRowsFromBeforeEncryptionAreReadAndSealedByAPass(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	// A Store without a vault writes as releases before encryption did.
	before := store.New(db)
	tenant, _, err := before.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	f := createScreeningWithDocument(t, before, tenant.ID)
	raw := rawRows(t, db)
	require.Contains(t, string(raw), "augusta.king@example.com", "the fixture is in the clear")

	st := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	requireReadable(t, st, f)
	left, err := st.NotUnderPrimaryKey(ctx)
	require.NoError(t, err)
	require.Equal(t, store.SealedValues{Candidates: 1, Documents: 1}, left)

	resealed, err := st.ResealPass(ctx, 500)
	require.NoError(t, err)
	require.Equal(t, store.SealedValues{Candidates: 1, Documents: 1}, resealed)
	requireNothingInTheClear(t, db)
	requireReadable(t, st, f)
	left, err = st.NotUnderPrimaryKey(ctx)
	require.NoError(t, err)
	require.Zero(t, left.Total())
}

func TestRotationReSealsEveryValueInBatchesSoTheOldKeyCanBeRemoved(t *testing.T) {
	rf := newRotationFixture(t)
	db, oldKey, newKey, before, tenant := rf.db, rf.oldKey, rf.newKey, rf.before, rf.tenant
	ctx := context.Background()
	var fixtures []sealedFixture
	for range 7 {
		fixtures = append(fixtures, createScreeningWithDocument(t, before, tenant.ID))
	}
	oldVault := newKeyring(t, oldKey)
	_, err := before.ConnectCheckrAccount(ctx, tenant.ID, "acct-1", oldVault.Seal([]byte("checkr-token"), []byte("acct-1")), "fp-1")
	require.NoError(t, err)

	rotating := store.NewSealed(db, newKeyring(t, newKey, oldKey))
	for _, f := range fixtures {
		requireReadable(t, rotating, f)
	}
	resealed, err := rotating.ResealPass(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, store.SealedValues{Candidates: 7, Documents: 7, CheckrTokens: 1}, resealed)
	again, err := rotating.ResealPass(ctx, 3)
	require.NoError(t, err)
	require.Zero(t, again.Total(), "a second pass has nothing left to do")

	after := store.NewSealed(db, newKeyring(t, newKey))
	left, err := after.NotUnderPrimaryKey(ctx)
	require.NoError(t, err)
	require.Zero(t, left.Total())
	for _, f := range fixtures {
		requireReadable(t, after, f)
	}
	acct, err := after.CheckrAccount(ctx, "acct-1")
	require.NoError(t, err)
	token, err := newKeyring(t, newKey).Open(acct.AccessTokenSealed, []byte("acct-1"))
	require.NoError(t, err)
	require.Equal(t, "checkr-token", string(token))
	requireNothingInTheClear(t, db)

	_, err = store.NewSealed(db, newKeyring(t, oldKey)).CandidateForCheck(ctx, fixtures[0].checkID)
	require.ErrorIs(t, err, vault.ErrCannotOpen, "the old key no longer opens anything")
}

func TestAPassSkipsRowsLockedByOthersAndTheNextPassTakesThem(t *testing.T) {
	rf := newRotationFixture(t)
	db, oldKey, newKey, before, tenant := rf.db, rf.oldKey, rf.newKey, rf.before, rf.tenant
	ctx := context.Background()
	f := createScreeningWithDocument(t, before, tenant.ID)
	createScreeningWithDocument(t, before, tenant.ID)

	other, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	_, err = other.Exec(`SELECT 1 FROM candidates WHERE id = (SELECT candidate_id FROM screenings WHERE id = $1) FOR UPDATE`,
		f.screeningID)
	require.NoError(t, err)

	rotating := store.NewSealed(db, newKeyring(t, newKey, oldKey))
	resealed, err := rotating.ResealPass(ctx, 500)
	require.NoError(t, err, "a locked row does not block the pass")
	require.Equal(t, store.SealedValues{Candidates: 1, Documents: 2}, resealed)
	left, err := rotating.NotUnderPrimaryKey(ctx)
	require.NoError(t, err)
	require.Equal(t, store.SealedValues{Candidates: 1}, left)

	require.NoError(t, other.Rollback())
	resealed, err = rotating.ResealPass(ctx, 500)
	require.NoError(t, err)
	require.Equal(t, store.SealedValues{Candidates: 1}, resealed)
	requireReadable(t, store.NewSealed(db, newKeyring(t, newKey)), f)
}

func TestAPassStopsAtAValueNoLoadedKeyOpens(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	before := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	tenant, _, err := before.CreateTenant(ctx, "acme")
	require.NoError(t, err)
	createScreeningWithDocument(t, before, tenant.ID)

	forgotten := store.NewSealed(db, newKeyring(t, vault.NewKey()))
	_, err = forgotten.ResealPass(ctx, 500)
	require.ErrorIs(t, err, vault.ErrCannotOpen)
	require.ErrorContains(t, err, "is the key that sealed it loaded?")
	left, err := forgotten.NotUnderPrimaryKey(ctx)
	require.NoError(t, err)
	require.Equal(t, store.SealedValues{Candidates: 1, Documents: 1}, left, "nothing was lost or half written")
}
