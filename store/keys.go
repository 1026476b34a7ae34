package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// SealedValues counts the values at rest of each kind: candidates' PII, documents' bytes, Checkr
// access tokens, webhook bodies and the signing secrets of HR webhook endpoints.
type SealedValues struct {
	Candidates     int `db:"candidates"`
	Documents      int `db:"documents"`
	CheckrTokens   int `db:"checkr_tokens"`
	InboxBodies    int `db:"inbox_bodies"`
	WebhookSecrets int `db:"webhook_secrets"`
}

// Total is the sum of them all.
func (v SealedValues) Total() int {
	return v.Candidates + v.Documents + v.CheckrTokens + v.InboxBodies + v.WebhookSecrets
}

// documentsPerBatch keeps a batch of documents, which are up to a few MiB each, small in memory
// and short in time, whatever the batch size of the small rows.
const documentsPerBatch = 20

// firstUUID sorts before every uuid, and "" before every text: where the keyset cursors start.
const firstUUID = "00000000-0000-0000-0000-000000000000"

// ResealPass re-seals under the primary key, in one pass over each table, every value sealed under
// another key or still in the clear from before encryption, and counts them. Each batch of at most
// batchSize rows (documentsPerBatch documents) is one short transaction that locks only its rows
// and skips rows locked by others, so serve and worker carry on meanwhile; a skipped row is left
// for the next pass. A pass that stops half way leaves every batch done before it done: running it
// again resumes, and a pass over values all under the primary key changes nothing.
func (s *Store) ResealPass(ctx context.Context, batchSize int) (SealedValues, error) {
	var n SealedValues
	if s.vault == nil {
		return n, errNoVault
	}
	var err error
	if n.Candidates, err = s.resealAll(ctx, firstUUID, batchSize, s.resealCandidates); err != nil {
		return n, err
	}
	if n.Documents, err = s.resealAll(ctx, firstUUID, min(batchSize, documentsPerBatch), s.resealDocuments); err != nil {
		return n, err
	}
	if n.CheckrTokens, err = s.resealAll(ctx, "", batchSize, s.resealCheckrTokens); err != nil {
		return n, err
	}
	// Webhook event ids are bigserial, from 1.
	if n.InboxBodies, err = s.resealAll(ctx, "0", batchSize, s.resealInboxBodies); err != nil {
		return n, err
	}
	if n.WebhookSecrets, err = s.resealAll(ctx, firstUUID, batchSize, s.resealWebhookSecrets); err != nil {
		return n, err
	}
	return n, nil
}

// NotUnderPrimaryKey counts the values that are sealed under another key than the primary or are
// in the clear: when it is zero, the keys other than the primary may be removed.
func (s *Store) NotUnderPrimaryKey(ctx context.Context) (SealedValues, error) {
	var n SealedValues
	if s.vault == nil {
		return n, errNoVault
	}
	err := s.db.GetContext(ctx, &n, `SELECT
		(SELECT count(*) FROM candidates
			WHERE pii_sealed IS NULL OR substring(pii_sealed FROM 1 FOR $2) <> $1) AS candidates,
		(SELECT count(*) FROM documents
			WHERE NOT content_sealed OR substring(content FROM 1 FOR $2) <> $1) AS documents,
		(SELECT count(*) FROM checkr_accounts WHERE access_token_sealed IS NOT NULL
			AND substring(access_token_sealed FROM 1 FOR $2) <> $1) AS checkr_tokens,
		(SELECT count(*) FROM webhook_events WHERE body_purged_at IS NULL
			AND (NOT body_sealed OR substring(body FROM 1 FOR $2) <> $1)) AS inbox_bodies,
		(SELECT count(*) FROM webhook_endpoints WHERE `+webhookSecretsNotUnder("$1", "$2")+`) AS webhook_secrets`,
		s.vault.PrimaryPrefix(), len(s.vault.PrimaryPrefix()))
	if err != nil {
		return n, fmt.Errorf("store: count values not under the primary key: %w", err)
	}
	return n, nil
}

// resealBatch re-seals up to limit rows with ids after the cursor, in tx, and returns how many it
// re-sealed and the last id it saw ("" when there was none).
type resealBatch func(ctx context.Context, tx *sqlx.Tx, after string, limit int) (resealed int, last string, err error)

func (s *Store) resealAll(ctx context.Context, cursor string, limit int, batch resealBatch) (int, error) {
	total := 0
	for {
		var resealed int
		var last string
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			var err error
			resealed, last, err = batch(ctx, tx, cursor, limit)
			return err
		})
		if err != nil {
			return total, err
		}
		total += resealed
		if last == "" {
			return total, nil
		}
		cursor = last
	}
}

func (s *Store) resealCandidates(ctx context.Context, tx *sqlx.Tx, after string, limit int) (int, string, error) {
	var rows []candidateRow
	if err := tx.SelectContext(ctx, &rows, `SELECT `+candidateRowColumns+` FROM candidates ca
		WHERE ca.id > $1 AND (ca.pii_sealed IS NULL OR substring(ca.pii_sealed FROM 1 FOR $4) <> $2)
		ORDER BY ca.id LIMIT $3 FOR UPDATE SKIP LOCKED`,
		after, s.vault.PrimaryPrefix(), limit, len(s.vault.PrimaryPrefix())); err != nil {
		return 0, "", fmt.Errorf("store: candidates to re-seal: %w", err)
	}
	for _, row := range rows {
		c, err := s.openCandidate(row)
		if err != nil {
			return 0, "", fmt.Errorf("%w (is the key that sealed it loaded?)", err)
		}
		sealed, err := sealCandidate(s.vault, c)
		if err != nil {
			return 0, "", err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE candidates SET reference = '', first_name = '', last_name = '',
				email = '', dob = NULL, address_line1 = '', address_line2 = '', city = '', state = '',
				postal_code = '', country = '', pii_sealed = $2, reference_index = $3
			WHERE id = $1`, c.ID, sealed.pii, sealed.referenceIndex); err != nil {
			return 0, "", fmt.Errorf("store: re-seal candidate %s: %w", c.ID, err)
		}
	}
	if len(rows) == 0 {
		return 0, "", nil
	}
	return len(rows), rows[len(rows)-1].ID, nil
}

func (s *Store) resealDocuments(ctx context.Context, tx *sqlx.Tx, after string, limit int) (int, string, error) {
	var rows []struct {
		ID      string `db:"id"`
		Content []byte `db:"content"`
		Sealed  bool   `db:"content_sealed"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT id, content, content_sealed FROM documents
		WHERE id > $1 AND (NOT content_sealed OR substring(content FROM 1 FOR $4) <> $2)
		ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`,
		after, s.vault.PrimaryPrefix(), limit, len(s.vault.PrimaryPrefix())); err != nil {
		return 0, "", fmt.Errorf("store: documents to re-seal: %w", err)
	}
	for _, row := range rows {
		content, err := s.openDocument(row.ID, row.Content, row.Sealed)
		if err != nil {
			return 0, "", fmt.Errorf("%w (is the key that sealed it loaded?)", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE documents SET content = $2, content_sealed = true WHERE id = $1`,
			row.ID, s.vault.Seal(content, documentAD(row.ID))); err != nil {
			return 0, "", fmt.Errorf("store: re-seal document %s: %w", row.ID, err)
		}
	}
	if len(rows) == 0 {
		return 0, "", nil
	}
	return len(rows), rows[len(rows)-1].ID, nil
}

// resealCheckrTokens re-seals Checkr access tokens, which are bound to their account id as
// receiver/integrations.go seals them.
func (s *Store) resealCheckrTokens(ctx context.Context, tx *sqlx.Tx, after string, limit int) (int, string, error) {
	var rows []struct {
		ID     string `db:"id"`
		Sealed []byte `db:"access_token_sealed"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT id, access_token_sealed FROM checkr_accounts
		WHERE id > $1 AND access_token_sealed IS NOT NULL AND substring(access_token_sealed FROM 1 FOR $4) <> $2
		ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`,
		after, s.vault.PrimaryPrefix(), limit, len(s.vault.PrimaryPrefix())); err != nil {
		return 0, "", fmt.Errorf("store: Checkr tokens to re-seal: %w", err)
	}
	for _, row := range rows {
		token, err := s.vault.Open(row.Sealed, []byte(row.ID))
		if err != nil {
			return 0, "", fmt.Errorf("store: Checkr account %s token: %w (is the key that sealed it loaded?)", row.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE checkr_accounts SET access_token_sealed = $2 WHERE id = $1`,
			row.ID, s.vault.Seal(token, []byte(row.ID))); err != nil {
			return 0, "", fmt.Errorf("store: re-seal Checkr account %s token: %w", row.ID, err)
		}
	}
	if len(rows) == 0 {
		return 0, "", nil
	}
	return len(rows), rows[len(rows)-1].ID, nil
}
