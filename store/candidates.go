package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/screenflow/screenflow/vault"
)

// NewSealed wraps an open connection pool with the vault that seals candidate PII and documents
// at rest and opens them again. serve, worker and `keys rotate` always use it. A Store from New
// has no vault: it writes candidate data in the clear as releases before migration 00010 did, and
// is for tests that are not about encryption.
func NewSealed(db *sqlx.DB, v *vault.Vault) *Store { return &Store{db: db, vault: v} }

// errNoVault means a sealed row was read by a Store without a vault.
var errNoVault = errors.New("store: the row is sealed and this store has no encryption key")

// referenceIndexPurpose keeps the candidates' blind index apart from any other the vault computes.
const referenceIndexPurpose = "candidates.reference"

// candidatePII is what pii_sealed holds: every PII field of a candidate, as JSON.
type candidatePII struct {
	Reference    string `json:"reference"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Email        string `json:"email"`
	DOB          string `json:"dob"`
	AddressLine1 string `json:"address_line1"`
	AddressLine2 string `json:"address_line2"`
	City         string `json:"city"`
	State        string `json:"state"`
	PostalCode   string `json:"postal_code"`
	Country      string `json:"country"`
}

func piiOf(c Candidate) candidatePII {
	return candidatePII{Reference: c.Reference, FirstName: c.FirstName, LastName: c.LastName, Email: c.Email,
		DOB: c.DOB, AddressLine1: c.AddressLine1, AddressLine2: c.AddressLine2, City: c.City, State: c.State,
		PostalCode: c.PostalCode, Country: c.Country}
}

func (p candidatePII) into(c *Candidate) {
	c.Reference, c.FirstName, c.LastName, c.Email, c.DOB = p.Reference, p.FirstName, p.LastName, p.Email, p.DOB
	c.AddressLine1, c.AddressLine2, c.City, c.State = p.AddressLine1, p.AddressLine2, p.City, p.State
	c.PostalCode, c.Country = p.PostalCode, p.Country
}

// candidateAD binds a candidate's sealed PII to its row: moved to another row, it does not open.
func candidateAD(id string) []byte { return []byte("candidates/" + id) }

// documentAD binds a document's sealed bytes to its row.
func documentAD(id string) []byte { return []byte("documents/" + id) }

// referenceIndexInput is what the blind index hashes: the tenant is part of it, so that two
// tenants' equal references do not show as equal.
func referenceIndexInput(tenantID, reference string) []byte {
	return []byte(tenantID + "\x00" + reference)
}

// sealedCandidate is a candidate's PII sealed under the primary key, with its blind index.
type sealedCandidate struct {
	pii            []byte
	referenceIndex []byte
}

func sealCandidate(v *vault.Vault, c Candidate) (sealedCandidate, error) {
	plaintext, err := json.Marshal(piiOf(c))
	if err != nil {
		return sealedCandidate{}, fmt.Errorf("store: encode candidate: %w", err)
	}
	return sealedCandidate{
		pii:            v.Seal(plaintext, candidateAD(c.ID)),
		referenceIndex: v.BlindIndex(referenceIndexPurpose, referenceIndexInput(c.TenantID, c.Reference)),
	}, nil
}

// insertCandidate stores c (with its ID and TenantID set): sealed when the store has a vault.
func (s *Store) insertCandidate(ctx context.Context, tx *sqlx.Tx, c Candidate) error {
	if s.vault == nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO candidates
			(id, tenant_id, reference, first_name, last_name, email, dob,
			 address_line1, address_line2, city, state, postal_code, country)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			c.ID, c.TenantID, c.Reference, c.FirstName, c.LastName, c.Email, c.DOB,
			c.AddressLine1, c.AddressLine2, c.City, c.State, c.PostalCode, c.Country); err != nil {
			return fmt.Errorf("store: insert candidate: %w", err)
		}
		return nil
	}
	sealed, err := sealCandidate(s.vault, c)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO candidates (id, tenant_id, reference, first_name, last_name,
			email, dob, pii_sealed, reference_index)
		VALUES ($1, $2, '', '', '', '', NULL, $3, $4)`,
		c.ID, c.TenantID, sealed.pii, sealed.referenceIndex); err != nil {
		return fmt.Errorf("store: insert candidate: %w", err)
	}
	return nil
}

// candidateRow is a candidates row as stored: the plaintext columns of a row from before
// encryption, or the sealed PII.
type candidateRow struct {
	Candidate
	PIISealed []byte `db:"pii_sealed"`
}

// candidateRowColumns reads a candidates row aliased ca.
const candidateRowColumns = `ca.id, ca.tenant_id, ca.reference, ca.first_name, ca.last_name, ca.email,
	COALESCE(to_char(ca.dob, 'YYYY-MM-DD'), '') AS dob, ca.address_line1, ca.address_line2, ca.city,
	ca.state, ca.postal_code, ca.country, ca.pii_sealed`

// openCandidate returns the candidate with its PII in the clear, whichever way the row holds it.
func (s *Store) openCandidate(row candidateRow) (Candidate, error) {
	c := row.Candidate
	if row.PIISealed == nil {
		return c, nil
	}
	if s.vault == nil {
		return Candidate{}, errNoVault
	}
	plaintext, err := s.vault.Open(row.PIISealed, candidateAD(c.ID))
	if err != nil {
		return Candidate{}, fmt.Errorf("store: candidate %s: %w", c.ID, err)
	}
	var pii candidatePII
	if err := json.Unmarshal(plaintext, &pii); err != nil {
		return Candidate{}, fmt.Errorf("store: candidate %s: decode: %w", c.ID, err)
	}
	pii.into(&c)
	return c, nil
}

// candidateForCheck reads the PII of the candidate a check is about, opened.
func (s *Store) candidateForCheck(ctx context.Context, checkID string) (Candidate, error) {
	var row candidateRow
	err := s.db.GetContext(ctx, &row, `SELECT `+candidateRowColumns+`
		FROM checks ch
		JOIN screenings s ON s.id = ch.screening_id
		JOIN candidates ca ON ca.id = s.candidate_id
		WHERE ch.id = $1`, checkID)
	if err != nil {
		return Candidate{}, fmt.Errorf("store: candidate for check: %w", notFound(err))
	}
	return s.openCandidate(row)
}

// candidate reads one candidate, opened.
func (s *Store) candidate(ctx context.Context, id string) (Candidate, error) {
	var row candidateRow
	if err := s.db.GetContext(ctx, &row, `SELECT `+candidateRowColumns+` FROM candidates ca WHERE ca.id = $1`,
		id); err != nil {
		return Candidate{}, fmt.Errorf("store: candidate: %w", notFound(err))
	}
	return s.openCandidate(row)
}

// ScreeningsByReference lists a tenant's screenings of candidates with the HR platform's reference,
// oldest first. Sealed rows are found by their blind index under every loaded key, so the lookup
// works before, during and after a key rotation; rows from before encryption by their plaintext.
func (s *Store) ScreeningsByReference(ctx context.Context, tenantID, reference string) ([]Screening, error) {
	var indexes [][]byte
	if s.vault != nil {
		indexes = s.vault.BlindIndexes(referenceIndexPurpose, referenceIndexInput(tenantID, reference))
	}
	var out []Screening
	err := s.db.SelectContext(ctx, &out, `SELECT `+screeningColumns+` FROM screenings
		WHERE tenant_id = $1 AND candidate_id IN (SELECT id FROM candidates WHERE tenant_id = $1
			AND (reference_index = ANY($2) OR (pii_sealed IS NULL AND reference = $3)))
		ORDER BY created_at, id`, tenantID, pq.ByteaArray(indexes), reference)
	if err != nil {
		return nil, fmt.Errorf("store: screenings by reference: %w", err)
	}
	return out, nil
}
