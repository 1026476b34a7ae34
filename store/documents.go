package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Document is a stored provider report, without its bytes.
type Document struct {
	ID          string    `db:"id"`
	ScreeningID string    `db:"screening_id"`
	CheckID     string    `db:"check_id"`
	Kind        string    `db:"kind"`
	ContentType string    `db:"content_type"`
	Size        int64     `db:"size_bytes"`
	SHA256      string    `db:"sha256"`
	CreatedAt   time.Time `db:"created_at"`
}

const documentColumns = `id, screening_id, check_id, kind, content_type, size_bytes, sha256, created_at`

// SaveDocument stores a check's document of a kind once: saving it again returns the stored one,
// so a retried download activity does not duplicate it. The bytes are sealed when the store has a
// vault; the size and SHA-256 are always the plaintext's, which the HR API shows and serves as ETag.
func (s *Store) SaveDocument(ctx context.Context, checkID, kind, contentType string, content []byte) (Document, error) {
	sum := sha256.Sum256(content)
	id := uuid.NewString()
	stored, sealed := content, false
	if s.vault != nil {
		stored, sealed = s.vault.Seal(content, documentAD(id)), true
	}
	var d Document
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &d, `INSERT INTO documents
			(id, screening_id, check_id, kind, content_type, size_bytes, sha256, content, content_sealed)
			SELECT $1, screening_id, id, $3, $4, $5, $6, $7, $8 FROM checks WHERE id = $2
			ON CONFLICT (check_id, kind) DO NOTHING RETURNING `+documentColumns,
			id, checkID, kind, contentType, len(content), hex.EncodeToString(sum[:]), stored, sealed)
		if err == nil {
			return enqueueDocumentCallback(ctx, tx, d)
		}
		if notFound(err) != ErrNotFound {
			return fmt.Errorf("store: save document: %w", err)
		}
		err = tx.GetContext(ctx, &d, `SELECT `+documentColumns+` FROM documents WHERE check_id = $1 AND kind = $2`,
			checkID, kind)
		if err != nil {
			return fmt.Errorf("store: read saved document: %w", notFound(err))
		}
		return nil
	})
	return d, err
}

// DocumentContent reads a document of a tenant's screening with its bytes.
func (s *Store) DocumentContent(ctx context.Context, tenantID, screeningID, documentID string) (Document, []byte, error) {
	if _, err := uuid.Parse(documentID); err != nil {
		return Document{}, nil, ErrNotFound
	}
	if _, err := s.Screening(ctx, tenantID, screeningID); err != nil {
		return Document{}, nil, err
	}
	var row struct {
		Document
		Content []byte `db:"content"`
		Sealed  bool   `db:"content_sealed"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT `+documentColumns+`, content, content_sealed FROM documents
		WHERE id = $1 AND screening_id = $2`, documentID, screeningID)
	if err != nil {
		return Document{}, nil, fmt.Errorf("store: document: %w", notFound(err))
	}
	content, err := s.openDocument(row.ID, row.Content, row.Sealed)
	if err != nil {
		return Document{}, nil, err
	}
	return row.Document, content, nil
}

// openDocument returns a document's bytes in the clear, whichever way the row holds them.
func (s *Store) openDocument(id string, content []byte, sealed bool) ([]byte, error) {
	if !sealed {
		return content, nil
	}
	if s.vault == nil {
		return nil, errNoVault
	}
	plaintext, err := s.vault.Open(content, documentAD(id))
	if err != nil {
		return nil, fmt.Errorf("store: document %s: %w", id, err)
	}
	return plaintext, nil
}
